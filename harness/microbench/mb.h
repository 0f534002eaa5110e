/* mb.h: the C side of the microbenchmarks.
 *
 * Benchmark functions are plain C, compiled with the project's flags and
 * linked with libengine.a; shim.cc (the one C++ file) registers every entry
 * of the tables below with Google Benchmark and hands each function an
 * opaque struct mb_state wrapping benchmark::State.
 *
 * Shape of a benchmark function (as zstd's fullbench does it): set up the
 * inputs, loop `while (mb_run(s))` over the timed operation, then check the
 * result against a reference and call mb_fail on any difference. No speed
 * number is reported without that identity check. */
#ifndef MB_H
#define MB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mb_state;

/* The timed loop's condition (benchmark::State::KeepRunning). */
int mb_run(struct mb_state *s);
/* The i-th argument the benchmark was registered with. */
int64_t mb_arg(const struct mb_state *s, int i);
/* Stop / restart the clock around per-iteration setup. */
void mb_pause(struct mb_state *s);
void mb_resume(struct mb_state *s);
/* Bytes (or items) one iteration processes: reported as a rate (bytes_per_second). */
void mb_bytes(struct mb_state *s, int64_t bytes_per_iter);
void mb_items(struct mb_state *s, int64_t items_per_iter);
/* A counter reported as seconds per `units_per_iter` units (e.g. s/GiB). */
void mb_time_per(struct mb_state *s, const char *name, double units_per_iter);
/* A plain counter (e.g. a byte count), reported as it is. */
void mb_counter(struct mb_state *s, const char *name, double value);
void mb_label(struct mb_state *s, const char *label);
/* The result differs from its reference: the benchmark is reported as an
 * error and the program exits non-zero. */
void mb_fail(struct mb_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The benchmark cannot run here (e.g. no AVX2): reported, not a failure. */
void mb_skip(struct mb_state *s, const char *why);
/* Keeps the compiler from dropping a computation whose result is unused. */
void mb_keep(const void *p);
/* A directory for temporary files (the build directory). */
const char *mb_tmpdir(void);

/* One registration: name and argument tuple (n_args of them). */
struct mb_bench {
    const char *name;
    void (*fn)(struct mb_state *s);
    int n_args;
    int64_t args[3];
};

/* Tables, each ended by an entry with name NULL. */
extern const struct mb_bench mb_kernel_benches[]; /* mb_kernels.c */
extern const struct mb_bench mb_memory_benches[]; /* mb_memory.c */

#ifdef __cplusplus
}
#endif

#endif
