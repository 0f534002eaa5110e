/* launch.c: fork+exec, the sampling loop, and reaping with rusage.
 *
 * Flow: pipe (CLOEXEC, reports exec failure) -> fork -> child: own process
 * group, join cgroup, redirect, exec -> parent: pidfd (or a 10 ms sleep) wakes
 * it for each /proc/<pid>/status sample (and now and then an smaps read,
 * when asked) until the child is a zombie -> /proc/<pid>/io -> wait4. */
#include "launch.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

void launch_trap_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int launch_interrupted(void)
{
    return got_signal != 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* In the child: only async-signal-safe calls from here to exec. */
static void child_exec(const struct launch_opts *o, int report_fd)
{
    int err_no;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a kill -9 of rbench takes the run along */
    if (getppid() == 1)
        _exit(126);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (o->cgroup_procs) {
        char buf[24];
        int n = 0;
        long pid = (long)getpid();
        char tmp[24];
        do
            tmp[n++] = (char)('0' + pid % 10);
        while ((pid /= 10) > 0);
        for (int i = 0; i < n; i++)
            buf[i] = tmp[n - 1 - i];
        int fd = open(o->cgroup_procs, O_WRONLY);
        if (fd < 0 || write(fd, buf, (size_t)n) != n)
            goto fail;
        close(fd);
    }
    int in = open("/dev/null", O_RDONLY);
    int out = open(o->stdout_path ? o->stdout_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int er = open(o->stderr_path ? o->stderr_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || er < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(er, 2) < 0)
        goto fail;
    execvp(o->argv[0], o->argv);
fail:
    err_no = errno;
    if (write(report_fd, &err_no, sizeof err_no) < 0)
        _exit(126);
    _exit(127);
}

#define SMAPS_GROW_MIN_KIB (16 * 1024) /* the peak snapshot is retaken past max(this, */
#define SMAPS_GROW_PCT 2               /* this % of its VmRSS) of growth */
#define SMAPS_GAP_NS 100000000LL       /* between two reads, at least */
#define SMAPS_LAST_NS 500000000LL      /* the last snapshot's age, at most */

struct sampler {
    pid_t pid;
    int64_t t0;
    FILE *timeline;
    int smaps;
    int64_t smaps_read_at;             /* end of the previous read; 0: none yet */
    struct launch_smaps snap;          /* reused for every read */
};

/* Reads smaps if the growth or the age of the snapshots calls for it. */
static void sample_smaps(struct sampler *s, struct launch_result *r, int64_t now, int64_t vm_rss_kib)
{
    const struct launch_smaps *peak = &r->smaps_peak;
    if (s->smaps_read_at && now - s->smaps_read_at < SMAPS_GAP_NS)
        return;
    int64_t grow = peak->vm_rss_kib * SMAPS_GROW_PCT / 100;
    if (grow < SMAPS_GROW_MIN_KIB)
        grow = SMAPS_GROW_MIN_KIB;
    int want_peak = !peak->have || vm_rss_kib > peak->vm_rss_kib + grow;
    int want_last = !r->smaps_last.have || now - s->smaps_read_at >= SMAPS_LAST_NS;
    if (!want_peak && !want_last)
        return;
    struct launch_smaps *n = &s->snap;
    enum status st = proc_smaps_read(s->pid, &n->m, NULL);
    s->smaps_read_at = now_ns();
    r->n_smaps_reads++;
    r->smaps_read_ns += s->smaps_read_at - now;
    /* VmRSS and time right after the read, which may take tens of ms. The mm
     * may have gone mid-read (exit_mm clears it before tearing it down): a
     * status without VmRSS marks the read as partial. */
    struct proc_status after;
    if (st || n->m.n_vmas == 0 || proc_status_read(s->pid, &after, NULL) || after.vm_rss_kib < 0)
        return;
    n->have = 1;
    n->t_ms = (s->smaps_read_at - s->t0) / 1000000;
    n->vm_rss_kib = after.vm_rss_kib;
    r->smaps_last = *n;
    if (!peak->have || n->vm_rss_kib > peak->vm_rss_kib)
        r->smaps_peak = *n;
}

static void sample(struct sampler *s, struct launch_result *r)
{
    struct proc_status st;
    if (proc_status_read(s->pid, &st, NULL) || st.vm_rss_kib < 0)
        return;
    int64_t now = now_ns();
    r->n_samples++;
    if (st.vm_rss_kib > r->sampled_peak_kib)
        r->sampled_peak_kib = st.vm_rss_kib;
    if (st.vm_hwm_kib > r->hwm_kib)
        r->hwm_kib = st.vm_hwm_kib;
    if (s->timeline)
        fprintf(s->timeline, "%.1f,%lld,%lld,%lld,%lld\n", (double)(now - s->t0) / 1e6,
                (long long)st.vm_rss_kib, (long long)st.rss_anon_kib, (long long)st.rss_file_kib,
                (long long)st.vm_hwm_kib);
    if (s->smaps)
        sample_smaps(s, r, now, st.vm_rss_kib);
}

static int exited_nowait(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno == ECHILD;
    return si.si_pid == pid;
}

enum status launch_run(const struct launch_opts *o, struct launch_result *r, struct err *e)
{
    memset(r, 0, sizeof *r);
    r->read_bytes = r->rchar = -1;
    int sample_ms = o->sample_ms > 0 ? o->sample_ms : 10;
    int pfd[2];
    if (pipe(pfd) < 0)
        return err_set(e, "pipe: %s", strerror(errno));
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC); /* rbench is single-threaded: no race */
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    if (o->timeline)
        fflush(o->timeline);
    fflush(stdout);
    fflush(stderr);
    int64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]), close(pfd[1]);
        return err_set(e, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(pfd[0]);
        child_exec(o, pfd[1]);
    }
    close(pfd[1]);
    setpgid(pid, pid); /* also in the child: whichever runs first wins */
    int child_errno = 0;
    ssize_t got = read(pfd[0], &child_errno, sizeof child_errno);
    close(pfd[0]);
    if (got == (ssize_t)sizeof child_errno) {
        waitpid(pid, NULL, 0);
        return err_set(e, "cannot start '%s': %s", o->argv[0], strerror(child_errno));
    }
    /* exec succeeded: the CLOEXEC pipe closed. Time counts from before fork. */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int64_t deadline = o->timeout_s > 0 ? t0 + (int64_t)(o->timeout_s * 1e9) : INT64_MAX;
    int64_t t_end = 0;
    int killed = 0;
    struct sampler smp = { .pid = pid, .t0 = t0, .timeline = o->timeline, .smaps = o->smaps };
    for (;;) {
        sample(&smp, r);
        if (pidfd >= 0) {
            struct pollfd p = { .fd = pidfd, .events = POLLIN };
            int n = poll(&p, 1, sample_ms);
            if (n > 0 && exited_nowait(pid))
                break;
        } else {
            struct timespec ts = { 0, (long)sample_ms * 1000000L };
            nanosleep(&ts, NULL);
            if (exited_nowait(pid))
                break;
        }
        if (!killed && (now_ns() >= deadline || got_signal)) {
            r->timed_out = !got_signal;
            r->interrupted = got_signal != 0;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            killed = 1;
        }
    }
    t_end = now_ns();
    if (pidfd >= 0)
        close(pidfd);
    struct proc_io io;
    if (proc_io_read(pid, &io, NULL) == STATUS_OK) {
        r->read_bytes = io.read_bytes;
        r->rchar = io.rchar;
    }
    int wst = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &wst, 0, &ru) < 0 && errno == EINTR)
        ;
    if (killed)
        kill(-pid, SIGKILL); /* anything the child left in its group */
    r->wall_ns = t_end - t0;
    r->utime_us = (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
    r->stime_us = (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    r->maxrss_kib = ru.ru_maxrss;
    r->minflt = ru.ru_minflt;
    r->majflt = ru.ru_majflt;
    r->inblock = ru.ru_inblock;
    r->oublock = ru.ru_oublock;
    r->nvcsw = ru.ru_nvcsw;
    r->nivcsw = ru.ru_nivcsw;
    if (WIFEXITED(wst)) {
        r->exit_code = WEXITSTATUS(wst);
    } else {
        r->exit_code = -1;
        r->term_signal = WIFSIGNALED(wst) ? WTERMSIG(wst) : 0;
    }
    return STATUS_OK;
}
