/* tokenizer.h: the tokenizer of a GGUF model, reproducing llama.cpp token
 * for token. tokenizer.ggml.model selects the algorithm:
 *
 * "llama": SentencePiece-style (spm.c), as llama.cpp's SPM tokenizer:
 *   1. user-defined tokens (type 4) found in the text are cut out as whole
 *      tokens, longest first; the text between them is encoded as below;
 *   2. a raw fragment gets a leading space when add_space_prefix is set
 *      (default true) and it is the first fragment or follows a cut-out
 *      token; every ' ' becomes U+2581 "\xE2\x96\x81";
 *   3. the fragment is split into UTF-8 characters; adjacent pairs whose
 *      concatenation is a vocab entry are merged, highest score first (ties:
 *      leftmost first), until no pair is in the vocab;
 *   4. every resulting symbol is its vocab id, or else one byte token
 *      <0xXX> per byte.
 *
 * "gpt2": byte-level BPE (bpe.c), as llama.cpp's BPE tokenizer
 * with tokenizer.ggml.pre "gpt-2" or "default" (also when the key is absent):
 *   1. user-defined tokens are cut out as above (no space prefix);
 *   2. the fragment is decoded to code points (an invalid UTF-8 byte becomes
 *      U+FFFD, as llama.cpp does) and split into words by the GPT-2 regex
 *      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      ("default" first splits off runs of [\p{P}$+<=>^`|], and afterwards
 *      \p{N}+ runs and then groups of three ASCII digits);
 *   3. each word's UTF-8 bytes become GPT-2 byte-alphabet characters, one
 *      symbol per byte; adjacent symbols are merged by tokenizer.ggml.merges,
 *      lowest rank (merge index) first, ties leftmost first;
 *   4. every symbol is its vocab id; a symbol that is not (only possible with
 *      a vocab lacking alphabet characters) is looked up byte by byte.
 *
 * BOS is prepended when the caller asks and tokenizer.ggml.add_bos_token
 * allows it (default true for "llama", false for "gpt2"). Special tokens
 * written in the text ("<s>", "<|endoftext|>") are not parsed: they are
 * encoded as plain text, like llama.cpp's parse_special = false.
 *
 * The tokenizer copies everything it needs out of the GGUF: it keeps no
 * pointer into the file's buffer, which may be unmapped after loading. */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "format/gguf.h"

/* tokenizer.ggml.token_type values, as stored on disk (append-only). */
enum tokenizer_token_type {
    TOKENIZER_TYPE_UNDEFINED = 0,
    TOKENIZER_TYPE_NORMAL = 1,
    TOKENIZER_TYPE_UNKNOWN = 2,
    TOKENIZER_TYPE_CONTROL = 3,
    TOKENIZER_TYPE_USER_DEFINED = 4,
    TOKENIZER_TYPE_UNUSED = 5,
    TOKENIZER_TYPE_BYTE = 6,
};

struct tokenizer {
    int32_t n_vocab;
    int32_t bos_id, eos_id, unk_id; /* -1 when the vocab has none */
    int add_bos;                    /* tokenizer.ggml.add_bos_token */

    /* private: owned by the tokenizer, released by tokenizer_free */
    int add_space_prefix;     /* tokenizer.ggml.add_space_prefix */
    char *text;               /* every token's text, concatenated */
    uint32_t *text_off;       /* [n_vocab + 1]: token i is text[off[i], off[i+1]) */
    float *score;             /* [n_vocab] */
    uint8_t *type;            /* [n_vocab] enum tokenizer_token_type */
    uint8_t *byte_val;        /* [n_vocab] the byte of a BYTE token "<0xXX>" */
    int32_t byte_id[256];     /* token for a fallback byte, -1 if none */
    int32_t *hash_ids;        /* open-addressing table text -> id, -1 = empty */
    uint32_t *hash_val;       /* the stored ids' hashes */
    uint32_t hash_mask;       /* table size - 1 (a power of two) */
    uint32_t max_token_len;   /* longest token text, in bytes */
    int32_t *user_ids;        /* user-defined tokens, longest first */
    int32_t n_user;

    int kind;                 /* enum tokenizer_kind */
    int pre;                  /* BPE: enum tokenizer_pre */
    /* The string table text/text_off holds n_text >= n_vocab strings: BPE
     * appends merge parts and results that are not tokens ("pseudo ids"
     * >= n_vocab, never output), so merges work on ids alone. */
    int32_t n_text;
    uint32_t text_cap;        /* bytes allocated for text */
    int32_t off_cap;          /* entries allocated for text_off */
    /* BPE merges: open-addressing table (left id, right id) -> rank, result */
    uint64_t *merge_key;      /* left << 32 | right; UINT64_MAX = empty */
    int32_t *merge_rank;      /* the merge's index in tokenizer.ggml.merges */
    int32_t *merge_out;       /* id of left + right */
    uint32_t merge_mask;      /* table size - 1 (a power of two) */
    int32_t n_merges;
    int32_t byte_sym[256];    /* id of each byte's alphabet character, or -1 */
};

/* Loads the vocabulary from f's tokenizer.ggml.* keys. tokenizer.ggml.model
 * must be "llama" or "gpt2"; tokens are required, scores (default 0) and
 * token_type (default NORMAL) must have n_vocab entries when present; "gpt2"
 * also requires merges ("left right", split at the first space after the
 * first byte) and a known pre ("gpt-2", "default" or none). On failure tok
 * holds nothing to free and e names the missing key or bad value. */
enum status tokenizer_load(struct tokenizer *tok, const struct gguf_file *f, struct err *e);

/* Releases what tokenizer_load allocated; tok may be NULL or already freed. */
void tokenizer_free(struct tokenizer *tok);

/* Encodes len bytes of text (any bytes; NULs included). add_bos: prepend BOS
 * if the vocab says add_bos_token. *out is malloc'd (caller frees; it may be
 * NULL when *n_out is 0). Fails when BOS is wanted but the vocab has none, or
 * a byte needs a fallback token the vocab lacks. */
enum status tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len,
                             int add_bos, int32_t **out, size_t *n_out, struct err *e);

/* Writes token id's piece (not NUL-terminated) to buf, up to cap bytes, and
 * returns the piece's length; when that exceeds cap, buf holds nothing
 * useful. SPM: U+2581 decodes to ' ', <0xXX> to that byte. BPE: each byte-
 * alphabet character to its byte (other characters are kept as they are).
 * Control, unknown and unused tokens and ids out of range decode to nothing
 * (length 0); user-defined tokens to their text. */
size_t tokenizer_piece(const struct tokenizer *tok, int32_t id, char *buf, size_t cap);

/* As tokenizer_piece, but control and unknown tokens give their text
 * ("<s>", "<unk>"), as llama.cpp's token_to_piece with special = true. */
size_t tokenizer_piece_special(const struct tokenizer *tok, int32_t id, char *buf, size_t cap);

/* ---- internal: shared by tokenizer.c (the front door), spm.c, bpe.c and vocab.c -- */

enum tokenizer_kind {
    TOKENIZER_KIND_SPM = 0,
    TOKENIZER_KIND_BPE = 1,
};

enum tokenizer_pre {
    TOKENIZER_PRE_DEFAULT = 0,
    TOKENIZER_PRE_GPT2 = 1,
};

/* A growing list of token ids. */
struct tokenizer_ids {
    int32_t *p;
    size_t n, cap;
};

enum status tokenizer_ids_push(struct tokenizer_ids *v, int32_t id, struct err *e);

/* Id of the string s[0..n) in the string table (a token, or a BPE pseudo
 * id >= n_vocab), or -1. */
int32_t tokenizer_lookup(const struct tokenizer *tok, const char *s, size_t n);

/* *id = the id of s[0..n), appending it as a pseudo id if it is new. */
enum status tokenizer_intern(struct tokenizer *tok, const char *s, size_t n, int32_t *id,
                             struct err *e);

/* (Re)builds the hash table with `size` slots (a power of two) from the
 * string table; a duplicate text maps to its last id. */
enum status tokenizer_hash_build(struct tokenizer *tok, uint32_t size, struct err *e);

/* Text of string id (a token or pseudo id) and its length. */
const char *tokenizer_text(const struct tokenizer *tok, int32_t id, size_t *len);

/* SPM escapes a space as U+2581 LOWER ONE EIGHTH BLOCK. */
#define TOKENIZER_SPACE_ESC "\xE2\x96\x81"
#define TOKENIZER_SPACE_ESC_LEN 3

/* SPM: appends the ids of the raw text[0, len) (no special tokens in it),
 * escaped with a leading U+2581 when space_prefix (spm.c). */
enum status tokenizer_spm_encode(const struct tokenizer *tok, const char *text, size_t len, int space_prefix,
                                 struct tokenizer_ids *out, struct err *e);

/* BPE: reads tokenizer.ggml.pre and .merges into tok, whose vocab and
 * string table are loaded; the caller frees tok on failure. */
enum status tokenizer_bpe_load(struct tokenizer *tok, const struct gguf_file *f, struct err *e);

/* BPE: appends the ids of the raw text[0, len) (no special tokens in it). */
enum status tokenizer_bpe_encode(const struct tokenizer *tok, const char *text, size_t len,
                                 struct tokenizer_ids *out, struct err *e);

/* BPE: the bytes of a normal token's byte-alphabet text, as tokenizer_piece. */
size_t tokenizer_bpe_piece(const char *s, size_t len, char *buf, size_t cap);

#endif
