# engine/tokenizer: the tokenizers GGUF metadata describes: SentencePiece
# ("llama") and byte-level BPE ("gpt2").
ENGINE_SRC += engine/tokenizer/tokenizer.c engine/tokenizer/vocab.c engine/tokenizer/spm.c engine/tokenizer/bpe.c \
              engine/tokenizer/heap.c engine/tokenizer/unicode_tables.c
