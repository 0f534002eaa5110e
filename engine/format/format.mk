# engine/format: the GGUF file format, read (bounds-checked) and written.
ENGINE_SRC += engine/format/gguf.c engine/format/gguf_write.c
