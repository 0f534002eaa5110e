/* gate.c: extraction of the compared bytes, byte comparison with context,
 * and the final perplexity value. */
#include "gate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTX_BYTES 20

/* Appends "[k]value," for every such token in out, then the Final line. */
enum status gate_identity_text(enum sweep_wl kind, const char *out, size_t n, char **text, size_t *len,
                               struct err *e)
{
    char *buf = malloc(n + 2);
    if (!buf)
        return err_set(e, "out of memory");
    if (kind == SWEEP_WL_COMPLETE) {
        memcpy(buf, out, n);
        *text = buf, *len = n;
        return STATUS_OK;
    }
    size_t o = 0;
    int n_values = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '[' && i + 1 < n && isdigit((unsigned char)out[i + 1])) {
            size_t j = i + 1;
            while (j < n && isdigit((unsigned char)out[j]))
                j++;
            if (j + 1 < n && out[j] == ']' && (isdigit((unsigned char)out[j + 1]) || out[j + 1] == 'n' || out[j + 1] == 'i')) {
                size_t k = j + 1;
                while (k < n && (isalnum((unsigned char)out[k]) || out[k] == '.' || out[k] == '+' || out[k] == '-'))
                    k++;
                memcpy(buf + o, out + i, k - i);
                o += k - i;
                buf[o++] = ',';
                n_values++;
                i = k - 1;
                continue;
            }
        }
        static const char final[] = "Final estimate:";
        if (out[i] == 'F' && n - i >= sizeof final - 1 && memcmp(out + i, final, sizeof final - 1) == 0) {
            size_t k = i;
            while (k < n && out[k] != '\n')
                k++;
            buf[o++] = '\n';
            memcpy(buf + o, out + i, k - i);
            o += k - i;
            i = k;
            n_values++;
        }
    }
    if (!n_values) {
        free(buf);
        return err_set(e, "no perplexity values ([k]x.xxxx or 'Final estimate') in the output");
    }
    *text = buf, *len = o;
    return STATUS_OK;
}

static void context(char *dst, size_t cap, const char *s, size_t n, size_t at)
{
    size_t from = at > CTX_BYTES ? at - CTX_BYTES : 0, to = at + CTX_BYTES < n ? at + CTX_BYTES : n;
    size_t o = 0;
    for (size_t i = from; i <= to && o + 12 < cap; i++) {
        if (i == at)
            o += (size_t)snprintf(dst + o, cap - o, ">>");
        if (i == n) {
            if (i == at)
                o += (size_t)snprintf(dst + o, cap - o, "(end)<<");
            break;
        }
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            o += (size_t)snprintf(dst + o, cap - o, "\\n");
        else if (c == '\\' || c == '"')
            o += (size_t)snprintf(dst + o, cap - o, "\\%c", c);
        else if (c < 32 || c >= 127)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
        if (i == at)
            o += (size_t)snprintf(dst + o, cap - o, "<<");
    }
    dst[o < cap ? o : cap - 1] = '\0';
}

int gate_compare(const char *ref, size_t n_ref, const char *got, size_t n_got, struct gate_diff *d)
{
    size_t n = n_ref < n_got ? n_ref : n_got, i = 0;
    while (i < n && ref[i] == got[i])
        i++;
    if (i == n && n_ref == n_got)
        return 1;
    if (d) {
        d->offset = (int64_t)i;
        context(d->ref_ctx, sizeof d->ref_ctx, ref, n_ref, i);
        context(d->new_ctx, sizeof d->new_ctx, got, n_got, i);
    }
    return 0;
}

double gate_ppl_final(const char *text)
{
    const char *p = strstr(text, "Final estimate: PPL = ");
    if (!p)
        return -1;
    return strtod(p + strlen("Final estimate: PPL = "), NULL);
}
