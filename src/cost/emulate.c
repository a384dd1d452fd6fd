/* cost/emulate: the cgroup + CPU-affinity mechanism behind `cleave
 * emulate`, Linux only (the platform code of the cost module lives here).
 * A child process is held on a pipe until the parent has moved it into the
 * quota-limited cgroup and pinned it, so nothing it runs escapes the limit.
 * CFS bandwidth control: the group may run `quota` us of CPU per `period`
 * us (Documentation/scheduler/sched-bwc.rst in the kernel tree). */
#define _GNU_SOURCE
#include "cost/emulate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The one global: > 0 the running child to forward signals to, 0 none,
 * < 0 minus a signal that arrived while no child ran. A signal handler can
 * reach nothing else; sig_atomic_t holds a pid on Linux. */
static volatile sig_atomic_t emu_fwd_pid;

static void emu_on_signal(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    pid_t pid = (pid_t)emu_fwd_pid;
    if (pid > 0) {
        /* SIGINT/SIGHUP from the terminal already reach the child (same
         * process group, si_code > 0): forward only what a process sent. */
        if (sig == SIGTERM || info->si_code <= 0) kill(pid, sig);
    } else {
        emu_fwd_pid = -sig;
    }
}

static const int emu_sigs[] = {SIGINT, SIGTERM, SIGHUP};

static void emu_signals(int on) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (on) {
        sa.sa_sigaction = emu_on_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
    } else {
        sa.sa_handler = SIG_DFL;
    }
    for (size_t i = 0; i < sizeof emu_sigs / sizeof emu_sigs[0]; i++) sigaction(emu_sigs[i], &sa, NULL);
}

int cost_emu_interrupted(void) {
    int v = (int)emu_fwd_pid;
    return v < 0 ? -v : 0;
}

/* ---- pure parts ---- */

cleave_status cost_emu_slowdown(cleave_ctx *ctx, const cost_device *host, const cost_device *dev,
                                cost_dtype dt, int dev_threads, double *slowdown, double *host_gops,
                                double *dev_gops) {
    int th = dev_threads > 0 ? dev_threads : dev->cores;
    double h = cost_device_gops(host, dt, COST_OP_CONV, 1);
    double d = cost_device_gops(dev, dt, COST_OP_CONV, th);
    if (!(h > 0) || !(d > 0))
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "emulate: %s conv throughput of %s is %g GOP/s: cannot form a slowdown",
                       cost_dtype_name(dt), !(h > 0) ? host->name : dev->name, !(h > 0) ? h : d);
    if (host_gops) *host_gops = h;
    if (dev_gops) *dev_gops = d;
    *slowdown = h / d;
    return CLEAVE_OK;
}

cleave_status cost_emu_quota(cleave_ctx *ctx, double slowdown, int period_us, int *period_out,
                             int *quota_out, int *raised) {
    if (!(slowdown >= 1.0) || slowdown > COST_EMU_MAX_SLOWDOWN)
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "emulate: slowdown %.3gx is outside 1..%g (a quota cannot make this core faster)",
                       slowdown, COST_EMU_MAX_SLOWDOWN);
    if (period_us < COST_EMU_MIN_PERIOD_US || period_us > COST_EMU_MAX_PERIOD_US)
        return cv_fail(ctx, CLEAVE_E_INVALID, "emulate: period %d us is outside the kernel's %d..%d us",
                       period_us, COST_EMU_MIN_PERIOD_US, COST_EMU_MAX_PERIOD_US);
    *raised = 0;
    double q = period_us / slowdown;
    if (q < COST_EMU_MIN_QUOTA_US) {
        /* The kernel refuses quotas under 1 ms: keep the ratio, lengthen the period. */
        double p = ceil(COST_EMU_MIN_QUOTA_US * slowdown);
        if (p > COST_EMU_MAX_PERIOD_US)
            return cv_fail(ctx, CLEAVE_E_INVALID, "emulate: slowdown %.3gx needs a period above %d us",
                           slowdown, COST_EMU_MAX_PERIOD_US);
        period_us = (int)p;
        q = period_us / slowdown;
        *raised = 1;
    }
    int quota = (int)lround(q);
    if (quota < COST_EMU_MIN_QUOTA_US) quota = COST_EMU_MIN_QUOTA_US;
    if (quota > period_us) quota = period_us;
    *period_out = period_us;
    *quota_out = quota;
    return CLEAVE_OK;
}

/* Copy one whitespace-delimited mountinfo field, decoding \ooo escapes. */
static const char *mi_field(const char *s, char *out, size_t n) {
    size_t o = 0;
    while (*s == ' ') s++;
    while (*s && *s != ' ' && *s != '\n') {
        char c = *s++;
        if (c == '\\' && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
            s[2] <= '7') {
            c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
            s += 3;
        }
        if (out && o + 1 < n) out[o++] = c;
    }
    if (out && n) out[o] = 0;
    return s;
}

/* 1 if the list has token tok: tokens are separated by characters of seps
 * and the list ends at NUL or at a character of ends. */
static int has_tok(const char *p, const char *tok, const char *seps, const char *ends) {
    size_t tl = strlen(tok);
    char stop[16];
    snprintf(stop, sizeof stop, "%s%s", seps, ends);
    while (*p && !strchr(ends, *p)) {
        size_t l = strcspn(p, stop);
        if (l == tl && !strncmp(p, tok, tl)) return 1;
        p += l;
        if (*p && strchr(seps, *p)) p++;
    }
    return 0;
}
/* mountinfo super options ("rw,cpu,cpuacct") and v1 controller lists */
static int has_token(const char *list, const char *tok) { return has_tok(list, tok, ",", " \n"); }
/* v2 cgroup.controllers / cgroup.subtree_control ("cpuset cpu io") */
static int has_token_ws(const char *list, const char *tok) { return has_tok(list, tok, " \n", ""); }

int cost_emu_find_mount(const char *mi, cost_cgroup_kind want, char *mnt, size_t mn, char *root,
                        size_t rn) {
    for (const char *line = mi; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        /* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
        char rt[512], mp[512], fs[32], tmp[8];
        const char *p = mi_field(line, NULL, 0);
        p = mi_field(p, NULL, 0);
        p = mi_field(p, NULL, 0);
        p = mi_field(p, rt, sizeof rt);
        p = mi_field(p, mp, sizeof mp);
        const char *eol = strchr(p, '\n');
        const char *sep = strstr(p, " - ");
        if (!sep || (eol && sep > eol)) continue;
        p = mi_field(sep + 3, fs, sizeof fs);
        p = mi_field(p, tmp, sizeof tmp); /* source */
        while (*p == ' ') p++;
        int ok = want == COST_CGROUP_V1 ? !strcmp(fs, "cgroup") && has_token(p, "cpu")
                                        : want == COST_CGROUP_V2 && !strcmp(fs, "cgroup2");
        if (ok) {
            snprintf(mnt, mn, "%s", mp);
            if (root) snprintf(root, rn, "%s", rt);
            return 1;
        }
    }
    return 0;
}

int cost_emu_find_self(const char *pc, cost_cgroup_kind want, char *path, size_t n) {
    for (const char *line = pc; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        /* hierarchy-id:controller-list:path */
        const char *c1 = strchr(line, ':');
        const char *eol = strchr(line, '\n');
        if (!eol) eol = line + strlen(line);
        if (!c1 || c1 > eol) continue;
        const char *c2 = memchr(c1 + 1, ':', (size_t)(eol - c1 - 1));
        if (!c2) continue;
        int ok;
        if (want == COST_CGROUP_V2) {
            ok = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
        } else {
            char ctl[256];
            size_t l = (size_t)(c2 - c1 - 1);
            if (l >= sizeof ctl) continue;
            memcpy(ctl, c1 + 1, l);
            ctl[l] = 0;
            ok = l > 0 && has_token(ctl, "cpu");
        }
        if (ok) {
            size_t l = (size_t)(eol - c2 - 1);
            if (l + 1 > n) return 0;
            memcpy(path, c2 + 1, l);
            path[l] = 0;
            return 1;
        }
    }
    return 0;
}

double cost_emu_median(double *v, int n) {
    if (n <= 0) return 0;
    for (int i = 1; i < n; i++) {
        double x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) v[j + 1] = v[j], j--;
        v[j + 1] = x;
    }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- files ---- */

static int read_text(const char *path, char *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    buf[got] = 0;
    close(fd);
    return (int)got;
}

/* Write a string to a cgroup file; 0 or an errno. */
static int write_text(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    size_t l = strlen(s);
    ssize_t w = write(fd, s, l);
    int err = w == (ssize_t)l ? 0 : (w < 0 ? errno : EIO);
    if (close(fd) != 0 && !err) err = errno;
    return err;
}

static int is_denied(int err) { return err == EACCES || err == EPERM || err == EROFS; }

/* ---- detection, creation, removal ---- */

static int join_path(char *out, size_t n, const char *mnt, const char *root, const char *self) {
    /* Without a cgroup namespace a mount may show a subtree (root != "/"):
     * the process's path then starts with that root. */
    size_t rl = strlen(root);
    if (strcmp(root, "/") && !strncmp(self, root, rl) && (self[rl] == '/' || !self[rl])) self += rl;
    while (*self == '/') self++;
    int w = snprintf(out, n, "%s%s%s", mnt, *self ? "/" : "", self);
    return w > 0 && (size_t)w < n;
}

cleave_status cost_emu_detect(cleave_ctx *ctx, cost_emu *e) {
    static const size_t cap = 1 << 16;
    char *mi = cv_malloc(cap), *pc = cv_malloc(cap);
    cleave_status st = CLEAVE_OK;
    if (!mi || !pc) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "emulate: out of memory");
        goto out;
    }
    if (read_text("/proc/self/mountinfo", mi, cap) <= 0 || read_text("/proc/self/cgroup", pc, cap) <= 0) {
        st = cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "emulate: cannot read /proc/self/mountinfo or /proc/self/cgroup (%s)",
                     strerror(errno));
        goto out;
    }
    char mnt[512], root[512], self[512], f[700], buf[512];
    if (cost_emu_find_mount(mi, COST_CGROUP_V1, mnt, sizeof mnt, root, sizeof root) &&
        cost_emu_find_self(pc, COST_CGROUP_V1, self, sizeof self) &&
        join_path(e->parent, sizeof e->parent, mnt, root, self)) {
        snprintf(f, sizeof f, "%s/cpu.cfs_quota_us", e->parent);
        if (access(f, F_OK) == 0) {
            e->kind = COST_CGROUP_V1;
            goto out;
        }
    }
    if (cost_emu_find_mount(mi, COST_CGROUP_V2, mnt, sizeof mnt, root, sizeof root) &&
        cost_emu_find_self(pc, COST_CGROUP_V2, self, sizeof self) &&
        join_path(e->parent, sizeof e->parent, mnt, root, self)) {
        snprintf(f, sizeof f, "%s/cgroup.controllers", e->parent);
        if (read_text(f, buf, sizeof buf) >= 0 && has_token_ws(buf, "cpu")) {
            e->kind = COST_CGROUP_V2;
            goto out;
        }
        st = cv_fail(ctx, CLEAVE_E_UNSUPPORTED,
                     "emulate: no cgroup v1 cpu hierarchy, and the cgroup v2 cpu controller is not "
                     "available in %s (cgroup.controllers: %s)", e->parent, buf[0] ? buf : "none");
        goto out;
    }
    st = cv_fail(ctx, CLEAVE_E_UNSUPPORTED,
                 "emulate: no cgroup file system with the cpu controller is mounted (/proc/self/mountinfo)");
out:
    cv_free(mi);
    cv_free(pc);
    return st;
}

/* Remove empty cleave-emu-<pid>[-k] cgroups whose process is gone (left by
 * a run killed with SIGKILL). rmdir fails on a cgroup with tasks, so a
 * live group is never touched. */
static void sweep_stale(const char *parent) {
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "cleave-emu-", 11)) continue;
        char *end;
        long pid = strtol(de->d_name + 11, &end, 10);
        if (pid <= 0 || (*end && *end != '-')) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", parent, de->d_name);
        rmdir(p);
    }
    closedir(d);
}

int cost_emu_cpu_allowed(int cpu) {
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_ISSET(cpu, &set) ? 1 : 0;
}

int cost_emu_default_cpu(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    for (int c = CPU_SETSIZE - 1; c >= 0; c--)
        if (CPU_ISSET(c, &set)) return c;
    return -1;
}

/* Write e's period and quota into its cgroup; 0 or the errno, with the
 * file and value written last in f / v. */
static int write_limits(const cost_emu *e, char *f, size_t fn, char *v, size_t vn) {
    if (e->kind == COST_CGROUP_V2) {
        snprintf(f, fn, "%s/cpu.max", e->dir);
        snprintf(v, vn, "%d %d", e->quota_us, e->period_us);
        return write_text(f, v);
    }
    /* v1: period first, the quota is checked against it */
    snprintf(f, fn, "%s/cpu.cfs_period_us", e->dir);
    snprintf(v, vn, "%d", e->period_us);
    int err = write_text(f, v);
    if (err) return err;
    snprintf(f, fn, "%s/cpu.cfs_quota_us", e->dir);
    snprintf(v, vn, "%d", e->quota_us);
    return write_text(f, v);
}

cleave_status cost_emu_create(cleave_ctx *ctx, double slowdown, int period_us, int cpu, cost_emu *e,
                              int *denied) {
    memset(e, 0, sizeof *e);
    *denied = 0;
    CV_TRY(cost_emu_quota(ctx, slowdown, period_us, &e->period_us, &e->quota_us, &e->period_raised));
    e->slowdown = slowdown;
    e->cpu = cpu >= 0 ? cpu : cost_emu_default_cpu();
    if (!cost_emu_cpu_allowed(e->cpu))
        return cv_fail(ctx, CLEAVE_E_INVALID, "emulate: CPU %d is not online or not allowed for this process", e->cpu);
    cleave_status st = cost_emu_detect(ctx, e);
    if (st) {
        *denied = st == CLEAVE_E_UNSUPPORTED;
        return st;
    }
    char f[800], v[64];
    int err;
    if (e->kind == COST_CGROUP_V2) {
        snprintf(f, sizeof f, "%s/cgroup.subtree_control", e->parent);
        char buf[512] = "";
        read_text(f, buf, sizeof buf);
        if (!has_token_ws(buf, "cpu")) {
            if ((err = write_text(f, "+cpu")) != 0) {
                *denied = 1;
                return cv_fail(ctx, CLEAVE_E_IO,
                               "emulate: cannot enable the cpu controller in %s (%s): run as root from a "
                               "cgroup without processes of its own, or with delegation "
                               "(systemd-run --scope -p Delegate=yes)", f, strerror(err));
            }
            e->enabled_cpu_ctl = 1;
        }
    }
    sweep_stale(e->parent);
    for (int k = 0;; k++) {
        if (k == 0) snprintf(e->dir, sizeof e->dir, "%s/cleave-emu-%ld", e->parent, (long)getpid());
        else snprintf(e->dir, sizeof e->dir, "%s/cleave-emu-%ld-%d", e->parent, (long)getpid(), k);
        if (mkdir(e->dir, 0755) == 0) break;
        err = errno;
        if (err == EEXIST && k < 16) continue;
        *denied = is_denied(err);
        st = cv_fail(ctx, CLEAVE_E_IO, "emulate: cannot create a cgroup under %s (%s)%s", e->parent,
                     strerror(err), *denied ? ": run as root, or give this user a delegated cgroup" : "");
        e->dir[0] = 0;
        goto fail;
    }
    if ((err = write_limits(e, f, sizeof f, v, sizeof v)) != 0) {
        *denied = is_denied(err);
        st = cv_fail(ctx, CLEAVE_E_IO, "emulate: cannot write %s = %s (%s)", f, v, strerror(err));
        goto fail;
    }
    emu_fwd_pid = 0;
    emu_signals(1);
    return CLEAVE_OK;
fail:
    cost_emu_destroy(ctx, e);
    return st;
}

cleave_status cost_emu_set_quota(cleave_ctx *ctx, cost_emu *e, int period_us, int quota_us) {
    if (period_us < COST_EMU_MIN_PERIOD_US || period_us > COST_EMU_MAX_PERIOD_US ||
        quota_us < COST_EMU_MIN_QUOTA_US || quota_us > period_us)
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "emulate: quota %d / period %d us out of range (period %d..%d us, quota %d us..period)",
                       quota_us, period_us, COST_EMU_MIN_PERIOD_US, COST_EMU_MAX_PERIOD_US, COST_EMU_MIN_QUOTA_US);
    if (!e->dir[0]) return cv_fail(ctx, CLEAVE_E_INVALID, "emulate: no cgroup to set a quota in");
    char f[800], v[64];
    cost_emu next = *e;
    next.period_us = period_us;
    next.quota_us = quota_us;
    int err = write_limits(&next, f, sizeof f, v, sizeof v);
    if (err) return cv_fail(ctx, CLEAVE_E_IO, "emulate: cannot write %s = %s (%s)", f, v, strerror(err));
    e->period_us = period_us;
    e->quota_us = quota_us;
    return CLEAVE_OK;
}

cleave_status cost_emu_destroy(cleave_ctx *ctx, cost_emu *e) {
    cleave_status st = CLEAVE_OK;
    if (e->dir[0]) {
        char f[800], to[800], buf[4096];
        snprintf(f, sizeof f, "%s/cgroup.procs", e->dir);
        snprintf(to, sizeof to, "%s/cgroup.procs", e->parent);
        int err = 0;
        for (int tries = 0; tries < 200; tries++) {
            /* Processes CMD left running go back to the parent group. */
            if (read_text(f, buf, sizeof buf) > 0) {
                for (char *p = buf, *nl; *p; p = nl + 1) {
                    nl = strchr(p, '\n');
                    if (!nl) break;
                    *nl = 0;
                    if (*p) write_text(to, p);
                }
            }
            if (rmdir(e->dir) == 0 || errno == ENOENT) {
                err = 0;
                break;
            }
            err = errno;
            if (err != EBUSY) break;
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (err)
            st = cv_fail(ctx, CLEAVE_E_IO, "emulate: cannot remove cgroup %s (%s): remove it with rmdir",
                         e->dir, strerror(err));
        else e->dir[0] = 0;
    }
    if (e->enabled_cpu_ctl) {
        char f[800];
        snprintf(f, sizeof f, "%s/cgroup.subtree_control", e->parent);
        write_text(f, "-cpu"); /* fails harmlessly if another group uses it */
        e->enabled_cpu_ctl = 0;
    }
    if (e->kind != COST_CGROUP_NONE) emu_signals(0);
    return st;
}

/* ---- running a child inside ---- */

/* CPU time of this process in ms (what it got, not what elapsed). */
static double cpu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static ssize_t read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static void write_full(int fd, const void *buf, size_t n) {
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, (const char *)buf + put, n - put);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        put += (size_t)w;
    }
}

/* Move the calling process into the cgroup dir; 0 or an errno. */
static int join_self(const char *dir) {
    char f[800], v[32];
    snprintf(f, sizeof f, "%s/cgroup.procs", dir);
    snprintf(v, sizeof v, "%ld", (long)getpid());
    return write_text(f, v);
}

/* Fork a child held on a pipe; the parent moves it into e (if any), pins it
 * to cpu, then lets it go. The child execs argv, or (argv NULL) runs the
 * reference pairs: the workload unthrottled, then having moved itself into
 * ref's cgroup, then back; it sends 4 doubles per pair (wall and CPU ms,
 * unthrottled and throttled) into t4. Alternating in one process keeps
 * drift of this machine's speed (turbo, neighbours of the VM) out of the
 * ratio. */
static cleave_status emu_spawn(cleave_ctx *ctx, const cost_emu *e, int cpu, char *const argv[],
                               const cost_emu *ref, int reps, double *t4, int *status) {
    int go[2], back[2];
    if (pipe2(go, O_CLOEXEC) != 0) return cv_fail(ctx, CLEAVE_E_IO, "emulate: pipe: %s", strerror(errno));
    if (pipe2(back, O_CLOEXEC) != 0) {
        close(go[0]), close(go[1]);
        return cv_fail(ctx, CLEAVE_E_IO, "emulate: pipe: %s", strerror(errno));
    }
    /* Block the forwarded signals across fork so that emu_fwd_pid is set
     * before any of them is handled. */
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof emu_sigs / sizeof emu_sigs[0]; i++) sigaddset(&block, emu_sigs[i]);
    sigprocmask(SIG_BLOCK, &block, &old);
    cleave_status st = CLEAVE_OK;
    if (cost_emu_interrupted()) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(go[0]), close(go[1]), close(back[0]), close(back[1]);
        return cv_fail(ctx, CLEAVE_E_IO, "emulate: interrupted by signal %d", cost_emu_interrupted());
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(go[0]), close(go[1]), close(back[0]), close(back[1]);
        return cv_fail(ctx, CLEAVE_E_IO, "emulate: fork: %s", strerror(err));
    }
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        for (size_t i = 0; i < sizeof emu_sigs / sizeof emu_sigs[0]; i++) sigaction(emu_sigs[i], &sa, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(go[1]);
        close(back[0]);
        char c;
        if (read_full(go[0], &c, 1) != 1) _exit(126); /* the parent gave up */
        close(go[0]);
        if (argv) {
            execvp(argv[0], argv);
            int err = errno;
            write_full(back[1], &err, sizeof err);
            _exit(127);
        }
        /* A different salt per call: the workload is a pure function, and
         * the compiler may otherwise compute it once for all calls. */
        double w0 = cv_now_ms();
        volatile double sink = cost_emu_reference_work(0); /* warm-up */
        /* A throttled segment must span many periods (>= 30) to average the
         * quota: with long periods the workload repeats n times per segment. */
        double seg = (cv_now_ms() - w0) * ref->period_us / (double)ref->quota_us;
        int n = seg > 0 ? (int)ceil(30.0 * ref->period_us / 1000.0 / seg) : 1;
        n = n < 1 ? 1 : n > 50 ? 50 : n;
        for (int r = 0; r < reps; r++) {
            double t[4];
            for (int k = 0; k < 2; k++) {
                if (join_self(k ? ref->dir : ref->parent) != 0) _exit(125);
                double c0 = cpu_now_ms(), t0 = cv_now_ms();
                for (int i = 0; i < n; i++) sink = cost_emu_reference_work(1 + (2 * r + k) * n + i);
                t[2 * k] = (cv_now_ms() - t0) / n; /* per workload run */
                t[2 * k + 1] = (cpu_now_ms() - c0) / n;
            }
            write_full(back[1], t, sizeof t);
        }
        (void)sink;
        _exit(join_self(ref->parent) ? 125 : 0);
    }
    emu_fwd_pid = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(go[0]);
    close(back[1]);
    int err = 0;
    char what[900] = "";
    if (e) {
        char f[800], v[32];
        snprintf(f, sizeof f, "%s/cgroup.procs", e->dir);
        snprintf(v, sizeof v, "%ld", (long)pid);
        if ((err = write_text(f, v)) != 0) snprintf(what, sizeof what, "move process %ld into %s", (long)pid, f);
    }
    if (!err) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(pid, sizeof set, &set) != 0)
            err = errno, snprintf(what, sizeof what, "pin process %ld to CPU %d", (long)pid, cpu);
    }
    if (err) {
        kill(pid, SIGKILL);
        st = cv_fail(ctx, CLEAVE_E_IO, "emulate: cannot %s (%s)", what, strerror(err));
    } else {
        write_full(go[1], "g", 1);
    }
    close(go[1]);
    if (!st) {
        if (argv) {
            int cerr;
            if (read_full(back[0], &cerr, sizeof cerr) == (ssize_t)sizeof cerr)
                st = cv_fail(ctx, CLEAVE_E_IO, "emulate: cannot run '%s' (%s)", argv[0], strerror(cerr));
        } else {
            size_t want = sizeof(double) * 4 * (size_t)reps;
            if (read_full(back[0], t4, want) != (ssize_t)want)
                st = CLEAVE_E_INTERNAL; /* message below, once the exit status is known */
        }
    }
    close(back[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    emu_fwd_pid = 0;
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
    if (status) *status = code;
    if (!argv && (st == CLEAVE_E_INTERNAL || (!st && code != 0))) {
        /* Our own workload stopped by a forwarded signal: remember it as
         * an interruption of cleave, so the caller stops. */
        for (size_t i = 0; i < sizeof emu_sigs / sizeof emu_sigs[0]; i++)
            if (WIFSIGNALED(ws) && WTERMSIG(ws) == emu_sigs[i]) emu_fwd_pid = -emu_sigs[i];
        if (WIFEXITED(ws) && code == 125)
            st = cv_fail(ctx, CLEAVE_E_IO, "emulate: the reference workload could not move itself between %s and %s",
                         ref->parent, ref->dir);
        else
            st = cv_fail(ctx, CLEAVE_E_INTERNAL, "emulate: the reference workload did not finish (%s %d)",
                         WIFSIGNALED(ws) ? "signal" : "exit status", WIFSIGNALED(ws) ? WTERMSIG(ws) : code);
    }
    return st;
}

cleave_status cost_emu_run(cleave_ctx *ctx, const cost_emu *e, int cpu, char *const argv[], int *status) {
    if (!argv || !argv[0]) return cv_fail(ctx, CLEAVE_E_INVALID, "emulate: no command to run");
    return emu_spawn(ctx, e, cpu, argv, NULL, 0, NULL, status);
}

cleave_status cost_emu_reference(cleave_ctx *ctx, const cost_emu *e, int reps, cost_emu_ref *out) {
    memset(out, 0, sizeof *out);
    if (reps < 1 || reps > COST_EMU_MAX_REPS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "emulate: repetitions must be in 1..%d", COST_EMU_MAX_REPS);
    double t4[4 * COST_EMU_MAX_REPS], fc[COST_EMU_MAX_REPS], tc[COST_EMU_MAX_REPS], ratio[COST_EMU_MAX_REPS];
    CV_TRY(emu_spawn(ctx, NULL, e->cpu, NULL, e, reps, t4, NULL));
    out->reps = reps;
    for (int r = 0; r < reps; r++) {
        out->free_ms[r] = t4[4 * r], fc[r] = t4[4 * r + 1];
        out->thr_ms[r] = t4[4 * r + 2], tc[r] = t4[4 * r + 3];
        ratio[r] = out->thr_ms[r] / out->free_ms[r];
    }
    if (!(cost_emu_median(fc, reps) > 1.0)) /* a compiler that skipped the work */
        return cv_fail(ctx, CLEAVE_E_INTERNAL, "emulate: the reference workload ran too briefly to be timed");
    out->achieved = cost_emu_median(ratio, reps);
    double fm[COST_EMU_MAX_REPS], tm[COST_EMU_MAX_REPS];
    memcpy(fm, out->free_ms, sizeof fm);
    memcpy(tm, out->thr_ms, sizeof tm);
    out->free_med = cost_emu_median(fm, reps);
    out->thr_med = cost_emu_median(tm, reps);
    /* ~1 unthrottled on an idle CPU, ~1/slowdown throttled: less means
     * other processes ran on this CPU. */
    out->free_share = cost_emu_median(fc, reps) / out->free_med;
    out->quota_share = cost_emu_median(tc, reps) * (e->period_us / (double)e->quota_us) / out->thr_med;
    return CLEAVE_OK;
}

/* ---- the reference workload ---- */

#define REF_N 64
#define REF_ITERS 9000

double cost_emu_reference_work(int salt) {
    /* C = A B on 64x64 fp32 (48 KB, stays in L1/L2: compute-bound, so the
     * quota and not the memory system sets its time), REF_ITERS times with
     * one element of A changed per iteration so no pass can be skipped. */
    static const int n = REF_N;
    float a[REF_N * REF_N], b[REF_N * REF_N], c[REF_N * REF_N];
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)((i * 7) % 13) * 0.0625f - 0.375f;
        b[i] = (float)((i * 5) % 11) * 0.0625f - 0.3125f;
    }
    a[0] += (float)(salt % 64) * 0.0009765625f;
    double sum = 0;
    for (int it = 0; it < REF_ITERS; it++) {
        for (int i = 0; i < n; i++) {
            float *ci = c + i * n;
            for (int j = 0; j < n; j++) ci[j] = 0;
            for (int k = 0; k < n; k++) {
                float aik = a[i * n + k];
                const float *bk = b + k * n;
                for (int j = 0; j < n; j++) ci[j] += aik * bk[j];
            }
        }
        sum += c[(it * 31) % (n * n)];
        a[it % (n * n)] += 0.001f;
    }
    return sum;
}
