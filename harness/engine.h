/* engine.h: how a run becomes a command line, and where its files come from.
 *
 * The adapter maps a sweep run (mode, workload, threads) to the flags of
 * minillm or of llama.cpp's llama-completion / llama-perplexity. A mode the
 * engine lacks yields a skip reason instead of a command. Models are resolved
 * (data dir lookup), quantized or generated into a cache dir on first use. */
#ifndef RB_ENGINE_H
#define RB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "spec.h"

#define ENGINE_MAX_DATA_DIRS 4
#define ENGINE_MAX_ARGS 64

#define ENGINE_MAX_FILES 24

/* One engine build of the sweep, as found on this machine. */
struct engine_build {
    const struct sweep_engine_spec *spec;  /* borrowed from the sweep */
    char minillm[SWEEP_PATH_LEN];          /* kind minillm */
    char llama_completion[SWEEP_PATH_LEN]; /* kind llama.cpp */
    char llama_perplexity[SWEEP_PATH_LEN];
    int llama_has_reclaim;                 /* --reclaim-mmap-source in --help */
    int llama_load_mode;                   /* --load-mode none|mlock|mmap+mlock in --help */
    int llama_no_mmap, llama_mlock;        /* the older --no-mmap / --mlock spellings */
    int llama_no_repack;                   /* --no-repack in --help */
    int llama_verbosity;                   /* --log-verbosity in --help: runs get -lv 4, which logs the
                                              CPU_REPACK buffer size (level 3 does not, in current builds) */
    char version[256];
    char digest[17];                       /* xxh64 of the version line and every file below, hex */
    int n_files;                           /* the binaries, and for llama.cpp every lib*.so* beside them */
    char files[ENGINE_MAX_FILES][SWEEP_PATH_LEN];
    long long size[ENGINE_MAX_FILES], mtime_ns[ENGINE_MAX_FILES]; /* to notice a rebuild mid-sweep */
};

struct engine {
    const struct sweep *sweep;   /* borrowed */
    char data_dirs[ENGINE_MAX_DATA_DIRS][SWEEP_PATH_LEN];
    int n_data_dirs;
    char cache_dir[SWEEP_PATH_LEN];
    char minillm[SWEEP_PATH_LEN];          /* the tool for quantize/gen: the first minillm engine's */
    struct engine_build builds[SWEEP_MAX_ENGINES]; /* one per sweep engine, same order */
    int n_builds;
};

/* Fills en: data dirs (data_dir if given, $RB_DATA_DIR, build/data,
 * ../shared), the cache dir, and per sweep engine the binaries (sweep
 * settings, then $RB_MINILLM, $LLAMA_COMPLETION, $LLAMA_PERPLEXITY, then next
 * to rbench (self_dir), then PATH), the version (first line of --version),
 * llama.cpp's flag spellings (from --help) and the digest. */
enum status engine_init(struct engine *en, const struct sweep *s, const char *data_dir, const char *cache_dir,
                        const char *self_dir, struct err *e);

/* Resolves a data file name: a path that exists, else NAME, NAME.gguf,
 * models/NAME[.gguf], datasets/NAME in each data dir. */
enum status engine_find_data(const struct engine *en, const char *name, char *out, size_t n, struct err *e);

/* The model file for (model, quant): as is for f32 of a real file, else made
 * once into the cache dir by `minillm quantize` or `minillm gen`; the cache
 * name carries a digest of the source and the engine binary, so a rebuilt
 * engine makes fresh files. log gets the tool's stderr. */
enum status engine_prepare_model(const struct engine *en, int model, int quant, char *out, size_t n,
                                 const char *log, struct err *e);

struct engine_cmd {
    char *argv[ENGINE_MAX_ARGS + 1];
    int argc;
    char store[16384];
    size_t used;
};

/* Builds the command for run r on model_path. mem_report is a path for the
 * engine's --mem-report, or NULL. When the engine lacks the mode, returns
 * STATUS_OK with skip (>= 128 bytes) holding the reason and no command. */
enum status engine_command(const struct engine *en, const struct sweep_run *r, const char *model_path,
                           const char *mem_report, struct engine_cmd *cmd, char *skip, size_t n_skip,
                           struct err *e);

/* The name of the first engine file whose size or mtime changed since
 * engine_init (a rebuild mid-sweep would mix two builds in one result), or NULL. */
const char *engine_binary_changed(const struct engine *en);

/* Whether the identity text of a perplexity run is found in stdout only
 * (minillm) or in stdout followed by stderr (llama.cpp logs there). */
int engine_ppl_in_stderr(const struct engine *en, int engine);

/* The identity text (gate.h) of a finished run of engine `engine` from its
 * saved stdout (out_path) and, for a perplexity run of an engine that logs
 * its values there (llama.cpp), its stderr (err_path) after it. hash, when
 * not NULL, gets the xxh64 of the stdout. */
enum status engine_identity_text(const struct engine *en, int engine, enum sweep_wl kind, const char *out_path,
                                 const char *err_path, char **text, size_t *len, uint64_t *hash, struct err *e);

/* Whether a finished llama.cpp run printed all it meant to: its async logger is
 * not flushed at exit, so an exit 0 can come with output cut short. Complete
 * means stderr holds the closing performance report ("llama_perf_context_print")
 * and, for perplexity, the "Final estimate" line. minillm runs are always
 * complete. err_text: the run's stderr (may be NULL). */
int engine_output_complete(const struct engine *en, int engine, enum sweep_wl kind, const char *err_text);

/* The generation time the engine reports on stderr, in ms: minillm's
 * "generated N tokens X s", llama.cpp's "eval time = X ms". Timed inside the
 * engine, it leaves out loading, whose cost moves with the page cache; -1 when
 * not found (perplexity runs, or another format). */
double engine_gen_ms(const struct engine *en, int engine, const char *err_text);

#endif
