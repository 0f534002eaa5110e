/* tokenizer.h: the SentencePiece-style ("llama") tokenizer of a GGUF model,
 * reproducing llama.cpp's SPM tokenizer token for token.
 *
 * Encoding, as llama.cpp does it:
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
 * BOS is prepended when the caller asks and tokenizer.ggml.add_bos_token
 * (default true) allows it. Special tokens written in the text ("<s>") are
 * not parsed: they are encoded as plain text, like llama.cpp's
 * parse_special = false.
 *
 * The tokenizer copies everything it needs out of the GGUF: it keeps no
 * pointer into the file's buffer, which may be unmapped after loading. */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"

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
};

/* Loads the vocabulary from f's tokenizer.ggml.* keys. tokenizer.ggml.model
 * must be "llama"; tokens are required, scores (default 0) and token_type
 * (default NORMAL) must have n_vocab entries when present. On failure tok
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
 * useful. U+2581 decodes to ' ', <0xXX> to that byte; control, unknown and
 * unused tokens and ids out of range decode to nothing (length 0). */
size_t tokenizer_piece(const struct tokenizer *tok, int32_t id, char *buf, size_t cap);

/* As tokenizer_piece, but control and unknown tokens give their text
 * ("<s>", "<unk>"), as llama.cpp's token_to_piece with special = true. */
size_t tokenizer_piece_special(const struct tokenizer *tok, int32_t id, char *buf, size_t cap);

#endif
