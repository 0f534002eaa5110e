/* fake_minillm.c: a stand-in for minillm that the harness tests drive.
 *
 * It speaks minillm's command line (complete, perplexity, quantize, gen,
 * --version, mode flags, --mem-report) and prints deterministic output. Its
 * misbehaviour is chosen by environment variables, each naming an argument
 * that triggers it (so one mode of a sweep can misbehave):
 *   FAKE_PERTURB=ARG  flip one output byte (offset FAKE_PERTURB_AT, default 7)
 *   FAKE_CRASH=ARG    abort()         FAKE_HANG=ARG   sleep for an hour
 *   FAKE_ALLOC_MIB=N  touch N MiB (halved under --reclaim dontneed|evict)
 *   FAKE_SLEEP_MS=N   sleep before printing
 * An ARG of "*" matches every invocation; the program's name (a symlink to
 * the fake per engine build) matches that build only.
 * Called as llama-completion or llama-perplexity (a symlink), it speaks those
 * instead: no subcommand, values on stdout, the Final line and the closing
 * "common_perf_print: total time" line on stderr; --help lists
 * --reclaim-mmap-source only when FAKE_LLAMA_RECLAIM is set, and the older
 * --no-mmap/--mlock instead of --load-mode when FAKE_LLAMA_OLD is set.
 *   FAKE_TRUNCATE=ARG (llama mode) the first FAKE_TRUNCATE_TIMES matching runs
 *                     (counted in the file FAKE_TRUNCATE_COUNTER) end without
 *                     their closing lines, as llama.cpp's unflushed logger does
 *   FAKE_REPACK_CHANGES=1 (llama mode) --no-repack changes the output */
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_argc;
static char **g_argv;

static int has_arg(const char *a)
{
    for (int i = 1; i < g_argc; i++)
        if (strcmp(g_argv[i], a) == 0)
            return 1;
    return 0;
}

static const char *opt(const char *name)
{
    for (int i = 1; i + 1 < g_argc; i++)
        if (strcmp(g_argv[i], name) == 0)
            return g_argv[i + 1];
    return NULL;
}

/* ARG matches "*", any argument, or the program's own name (a symlink per build). */
static int triggered(const char *env)
{
    const char *v = getenv(env);
    const char *self = strrchr(g_argv[0], '/') ? strrchr(g_argv[0], '/') + 1 : g_argv[0];
    return v && *v && (strcmp(v, "*") == 0 || has_arg(v) || strcmp(v, self) == 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static unsigned long hash(const char *s)
{
    unsigned long h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

/* Text built into buf, then printed, so one byte can be flipped. */
static void emit(char *buf, size_t len)
{
    if (triggered("FAKE_PERTURB")) {
        const char *at = getenv("FAKE_PERTURB_AT");
        size_t k = at ? strtoul(at, NULL, 10) : 7;
        if (k < len)
            buf[k] ^= 1;
    }
    fwrite(buf, 1, len, stdout);
}

static int triggered(const char *env);

/* FAKE_TRUNCATE: whether this run is one of the first FAKE_TRUNCATE_TIMES that match. */
static int truncate_this_run(void)
{
    const char *n = getenv("FAKE_TRUNCATE_TIMES"), *path = getenv("FAKE_TRUNCATE_COUNTER");
    if (!n || !path || !triggered("FAKE_TRUNCATE"))
        return 0;
    long k = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &k) != 1)
            k = 0;
        fclose(f);
    }
    if (k >= atol(n))
        return 0;
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "%ld\n", k + 1);
        fclose(f);
    }
    return 1;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fputs(text, f);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    g_argc = argc, g_argv = argv;
    if (argc < 2)
        return 2;
    const char *cmd = argv[1];
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int llama = strncmp(self, "llama-", 6) == 0;
    if (llama && strcmp(cmd, "--help") == 0) {
        printf("  -m, --model FNAME\n%s  --no-repack\n%s",
               getenv("FAKE_LLAMA_OLD") ? "  --no-mmap\n  --mlock\n" : "  --load-mode MODE\n",
               getenv("FAKE_LLAMA_RECLAIM") ? "  --reclaim-mmap-source\n" : "");
        return 0;
    }
    if (llama && strcmp(cmd, "--version") == 0) {
        fprintf(stderr, "version: 4242 (fake)\n");
        return 0;
    }
    if (llama)
        cmd = strcmp(self, "llama-perplexity") == 0 ? "perplexity" : "complete";
    if (strcmp(cmd, "--version") == 0) {
        puts("fake-minillm 0.1");
        return 0;
    }
    if (strcmp(cmd, "quantize") == 0 && argc == 5) {
        char text[512];
        snprintf(text, sizeof text, "quantized %s to %s\n", argv[2], argv[4]);
        return write_file(argv[3], text);
    }
    if (strcmp(cmd, "gen") == 0 && argc >= 7)
        return write_file(argv[argc - 1], "generated model\n");
    if (triggered("FAKE_CRASH"))
        abort();
    if (triggered("FAKE_HANG"))
        sleep(3600);
    const char *sl = getenv("FAKE_SLEEP_MS");
    if (sl)
        sleep_ms(strtol(sl, NULL, 10));
    const char *al = getenv("FAKE_ALLOC_MIB");
    if (al) {
        size_t mib = strtoul(al, NULL, 10);
        const char *rc = opt("--reclaim");
        if (rc && strcmp(rc, "off") != 0)
            mib /= 2;
        volatile char *p = malloc(mib << 20);
        if (!p)
            return 3;
        for (size_t i = 0; i < mib << 20; i += 4096)
            p[i] = 1;
        free((void *)p);
    }
    const char *model = opt("-m");
    const char *report = opt("--mem-report");
    if (report && (getenv("FAKE_DISK_FULL") ||
                   write_file(report, "{\"phases\": [{\"name\": \"start\", \"vm_rss\": 1}], \"plan\": {\"file_bytes\": 10}}\n"))) {
        /* FAKE_DISK_FULL: as minillm says it when the disk is full */
        fprintf(stderr, "minillm: mem-report: cannot write %s: %s\n", report,
                getenv("FAKE_DISK_FULL") ? "No space left on device" : strerror(errno));
        return 1;
    }
    fprintf(stderr, "fake: %s on %s\n", cmd, model ? model : "?");
    char buf[4096];
    int len;
    int cut = llama && truncate_this_run();
    if (strcmp(cmd, "complete") == 0 && model && opt("-p")) {
        unsigned long h = hash(model) + (llama && getenv("FAKE_REPACK_CHANGES") && has_arg("--no-repack"));
        int n = opt("-n") ? atoi(opt("-n")) : 8;
        len = snprintf(buf, sizeof buf, "%s", opt("-p"));
        for (int i = 0; i < n && len < (int)sizeof buf - 16; i++) {
            h = h * 6364136223846793005ul + 1442695040888963407ul;
            len += snprintf(buf + len, sizeof buf - (size_t)len, " w%lu", (h >> 33) % 100);
        }
        emit(buf, (size_t)len);
        if (llama && !cut)
            fprintf(stderr, "common_perf_print: prompt eval time =  1.50 ms /  2 tokens\n"
                            "common_perf_print:        eval time =  7.25 ms /  %d runs\n"
                            "common_perf_print:       total time =      12.34 ms /    10 tokens\n", n);
        if (!llama) /* minillm's closing line, with its own generation time */
            fprintf(stderr, "complete: load 0.001 s, prompt 2 tokens 0.001 s, generated %d tokens 0.00625 s "
                            "(960.00 tok/s)\n", n);
        return 0;
    }
    if (strcmp(cmd, "perplexity") == 0 && model && opt("-f")) {
        double base = 3.0 + (double)(hash(model) % 1000) / 1000.0;
        len = 0;
        for (int k = 1; k <= 4; k++)
            len += snprintf(buf + len, sizeof buf - (size_t)len, "[%d]%.4f,", k, base + 1.0 / k);
        if (llama) { /* llama.cpp logs the final line to stderr */
            emit(buf, (size_t)len);
            if (!cut)
                fprintf(stderr, "\nFinal estimate: PPL = %.4f +/- 0.09686\n", base + 0.5);
            return 0;
        }
        len += snprintf(buf + len, sizeof buf - (size_t)len,
                        "\nFinal estimate: PPL = %.4f +/- 0.09686\n", base + 0.5);
        emit(buf, (size_t)len);
        return 0;
    }
    fprintf(stderr, "fake: bad command line\n");
    return 2;
}
