/* launch.h: run one command and measure it honestly.
 *
 * The child is fork+exec'd straight from this (small) process, since a child
 * inherits its parent's peak RSS at exec. While it runs, /proc/<pid>/status is
 * sampled every sample_ms into an optional timeline; when it exits, its
 * /proc/<pid>/io is read before it is reaped (waitid WNOWAIT), then wait4
 * gives the rusage. The child runs in its own process group, which a timeout
 * or an interrupt of rbench kills with SIGKILL.
 *
 * With opts.smaps the sampler also folds /proc/<pid>/smaps (proc.h), but only
 * when the VmRSS sample exceeds the peak snapshot's by more than
 * max(16 MiB, 2 %), or 500 ms have passed since the last read, and never
 * within 100 ms of the last read: a read takes the child's mmap lock and
 * 16-47 ms on a 2 GiB process. So the peak snapshot may trail the true peak by
 * up to that margin or 100 ms of growth. */
#ifndef RB_LAUNCH_H
#define RB_LAUNCH_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "proc.h"

struct launch_opts {
    char *const *argv;          /* argv[0] is looked up in PATH */
    const char *stdout_path;    /* truncated and written; NULL: /dev/null */
    const char *stderr_path;    /* NULL: /dev/null */
    double timeout_s;           /* <= 0: none */
    int sample_ms;              /* <= 0: 10 */
    FILE *timeline;             /* NULL: no timeline; else csv rows, no header */
    const char *cgroup_procs;   /* NULL, or a cgroup.procs file the child joins */
    int smaps;                  /* 1: per-mapping snapshots (smaps_peak, smaps_last); 0: none */
};

/* One folded read of the child's smaps. */
struct launch_smaps {
    int have;                   /* 0: none taken (smaps off, or the child exited first) */
    int64_t t_ms;               /* since the fork, when the read ended */
    int64_t vm_rss_kib;         /* VmRSS right after the read */
    struct proc_smaps m;
};

struct launch_result {
    int64_t wall_ns;
    int64_t utime_us, stime_us;
    int64_t maxrss_kib;         /* wait4 ru_maxrss */
    int64_t minflt, majflt, inblock, oublock, nvcsw, nivcsw;
    int64_t read_bytes, rchar;  /* /proc/<pid>/io at exit; -1 if unreadable */
    int64_t sampled_peak_kib;   /* max VmRSS seen by the sampler */
    int64_t hwm_kib;            /* last VmHWM seen by the sampler */
    int n_samples;
    int exit_code;              /* -1 when killed by a signal */
    int term_signal;            /* 0 when it exited */
    int timed_out;
    int interrupted;            /* rbench got SIGINT/SIGTERM during the run */
    struct launch_smaps smaps_peak; /* the read at the highest VmRSS */
    struct launch_smaps smaps_last; /* the most recent read */
    int n_smaps_reads;          /* including the ones discarded (child exiting) */
    int64_t smaps_read_ns;      /* time the sampler spent reading smaps */
};

/* The timeline's csv header, matching the rows launch_run writes. */
#define LAUNCH_TIMELINE_HEADER "t_ms,vm_rss_kib,rss_anon_kib,rss_file_kib,vm_hwm_kib\n"

/* Runs the command to completion (or timeout) and fills r. Fails only when the
 * command could not be started (fork, exec, redirections): a crash or a
 * non-zero exit is a result, not a failure. */
enum status launch_run(const struct launch_opts *o, struct launch_result *r, struct err *e);

/* Installs SIGINT/SIGTERM handlers that make a running launch_run kill its
 * child and return with r->interrupted set; launch_interrupted() then says so. */
void launch_trap_signals(void);
int launch_interrupted(void);

#endif
