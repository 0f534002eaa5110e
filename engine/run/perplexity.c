/* perplexity.c: reads the text, tokenizes it, evaluates chunk after chunk and
 * accumulates the negative log-likelihood in double as llama.cpp does
 * (log-softmax with the max subtracted, the sum of exps in double). Each
 * chunk is evaluated as llama.cpp evaluates it: as one batch of n_ctx
 * tokens, fed here n_batch at a time. */
#include "run/perplexity.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The largest text perplexity reads: 1 GiB, about 250 million tokens, far
 * beyond any evaluation set (WikiText-2's test split is 1.3 MB). */
#define TEXT_MAX_BYTES (1ull << 30)

/* Reads a whole regular file of at most TEXT_MAX_BYTES. A FIFO, device or
 * directory is refused before any read (O_NONBLOCK: opening a FIFO must not
 * wait for a writer), and exactly the size fstat reported is read, so a file
 * that grows meanwhile cannot grow the buffer. */
static enum status slurp(const char *path, char **out, size_t *n, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return err_set(e, "perplexity: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return err_set(e, "perplexity: %s is not a regular file (-f takes a text file)", path);
    }
    if ((uint64_t)sb.st_size > TEXT_MAX_BYTES) {
        close(fd);
        return err_set(e, "perplexity: %s is %.1f MiB; the text limit is %llu MiB", path,
                       (double)sb.st_size / 1048576.0, TEXT_MAX_BYTES >> 20);
    }
    size_t want = (size_t)sb.st_size, len = 0;
    char *buf = malloc(want ? want : 1);
    if (!buf) {
        close(fd);
        return err_set(e, "perplexity: out of memory reading %s (%zu bytes)", path, want);
    }
    while (len < want) {
        ssize_t r = read(fd, buf + len, want - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int er = r < 0 ? errno : 0;
            free(buf);
            close(fd);
            return err_set(e, "perplexity: read error on %s: %s", path, er ? strerror(er) : "the file shrank");
        }
        len += (size_t)r;
    }
    close(fd);
    *out = buf;
    *n = len;
    return STATUS_OK;
}

/* -log softmax(logits)[tok] */
static double nll_of(const float *logits, int n_vocab, int tok)
{
    float mx = logits[0];
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > mx)
            mx = logits[i];
    double sum = 0.0;
    for (int i = 0; i < n_vocab; i++)
        sum += (double)expf(logits[i] - mx);
    return -((double)(logits[tok] - mx) - log(sum));
}

enum status perplexity_run(struct context *c, const char *path, int n_chunks, FILE *out, FILE *log,
                           struct memreport *mr, struct err *e)
{
    const struct model *m = c->m;
    char *text = NULL;
    size_t n_text = 0;
    int32_t *toks = NULL;
    size_t n_toks = 0;
    if (slurp(path, &text, &n_text, e))
        return STATUS_ERR;
    double t0 = (double)clock();
    enum status st = tokenizer_encode(&m->tok, text, n_text, 1, &toks, &n_toks, e);
    free(text);
    if (st)
        return STATUS_ERR;
    int n_ctx = c->n_ctx;
    if (n_toks < 2 * (size_t)n_ctx) {
        free(toks);
        return err_set(e, "perplexity: %s has %zu tokens; at least 2 * n_ctx = %d are needed", path, n_toks,
                       2 * n_ctx);
    }
    int max_chunks = (int)(n_toks / (size_t)n_ctx);
    if (n_chunks <= 0 || n_chunks > max_chunks)
        n_chunks = max_chunks;
    if (log)
        fprintf(log, "perplexity: tokenized %s into %zu tokens in %.2f s; %d chunks of n_ctx=%d\n", path, n_toks,
                ((double)clock() - t0) / CLOCKS_PER_SEC, n_chunks, n_ctx);

    int first = n_ctx / 2;
    double nll = 0.0, nll2 = 0.0;
    long count = 0;
    for (int k = 0; k < n_chunks; k++) {
        int32_t *chunk = toks + (size_t)k * (size_t)n_ctx;
        if (m->tok.add_bos)
            chunk[0] = m->tok.bos_id; /* the token it replaces is never predicted */
        for (int i = 0; i < n_ctx - 1;) { /* positions 0 .. n_ctx-2, a batch at a time */
            int nb = n_ctx - 1 - i < c->n_batch ? n_ctx - 1 - i : c->n_batch;
            /* positions before `first` are not scored: their logits are not needed; the
             * chunk is one llama.cpp batch (its attention form: forward.h) */
            const float *logits = forward_batch(c, chunk + i, nb, i, i + nb > first, n_ctx);
            if (k == 0 && i == 0 && mr)
                memreport_phase(mr, "first_token");
            for (int b = 0; b < nb && i + nb > first; b++) {
                if (i + b < first)
                    continue;
                double v = nll_of(logits + (size_t)b * (size_t)m->cfg.n_vocab, m->cfg.n_vocab, chunk[i + b + 1]);
                nll += v;
                nll2 += v * v;
                count++;
            }
            i += nb;
        }
        fprintf(out, "[%d]%.4f,", k + 1, exp(nll / (double)count));
        fflush(out);
    }
    fprintf(out, "\n");
    double mean = nll / (double)count, var = nll2 / (double)count - mean * mean;
    double ppl = exp(mean);
    if (var > 0.0)
        fprintf(out, "Final estimate: PPL = %.4f +/- %.5f\n", ppl, sqrt(var / (double)(count - 1)) * ppl);
    else
        fprintf(out, "Final estimate: PPL = %.4f\n", ppl);
    fflush(out);
    free(toks);
    return STATUS_OK;
}
