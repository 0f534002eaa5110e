/* cli.h: option parsing shared by the minillm commands, and the small commands.
 *
 * cli_parse fills struct cli_opts from argv (argv[0] is the command name) and
 * prints a precise message and the command's usage on a bad value; only the
 * options valid for the command are accepted. */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>

#include "core/err.h"
#include "model/memreport.h"
#include "model/model.h"

#define CLI_VERSION "0.1.0"

enum cli_cmd { CLI_COMPLETE, CLI_PERPLEXITY, CLI_BENCH };

struct cli_opts {
    const char *model;
    const char *prompt;
    const char *text_file;
    const char *mem_report;
    int n_predict;
    int n_threads;
    int32_t n_ctx; /* 0: the command's default */
    int n_chunks;
    int n_pp; /* bench: prompt tokens */
    int reps; /* bench: repetitions */
    int logits_digest; /* complete: --logits-digest */
    int help;          /* -h/--help was given and the usage printed */
    struct load_opts load;
};

/* Returns STATUS_ERR after printing the problem and the usage (the caller
 * exits 2). On -h/--help it prints the usage to stdout, sets o->help and
 * returns STATUS_OK: the caller exits 0. */
enum status cli_parse(struct cli_opts *o, enum cli_cmd cmd, int argc, char **argv);

/* Resolves the default context and checks it against the model's trained context. */
enum status cli_check_ctx(int32_t *n_ctx, const struct model *m, struct err *e);

int cli_info(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_gen(int argc, char **argv);

#endif
