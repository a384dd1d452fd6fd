/* cost/emulate: an emulated edge device on this machine. A process is
 * pinned to one CPU and run in a child cgroup whose CPU quota is
 * period / slowdown (cgroup v1 cpu.cfs_quota_us or v2 cpu.max), so times
 * measured inside are real measurements of a `slowdown`-times slower core.
 * Also a fixed reference workload to measure the slowdown achieved.
 * docs/emulation.md says what is and is not emulated. */
#ifndef CLEAVE_COST_EMULATE_H
#define CLEAVE_COST_EMULATE_H

#include <stddef.h>

#include "cost/device.h"

/* Kernel limits of CFS bandwidth control (v1 and v2 alike). */
#define COST_EMU_MIN_QUOTA_US 1000
#define COST_EMU_MIN_PERIOD_US 1000
#define COST_EMU_MAX_PERIOD_US 1000000
#define COST_EMU_DEFAULT_PERIOD_US 50000
#define COST_EMU_MAX_SLOWDOWN 1000.0

typedef enum cost_cgroup_kind { COST_CGROUP_NONE = 0, COST_CGROUP_V1 = 1, COST_CGROUP_V2 = 2 } cost_cgroup_kind;

/* Slowdown of device `dev` against ONE core of `host` (the emulated engine
 * is pinned to one core): gops(host, dt, CONV, 1) / gops(dev, dt, CONV,
 * dev_threads); dev_threads <= 0 means all of dev's cores. Fails when a
 * throughput is not positive. host_gops/dev_gops may be NULL. */
cleave_status cost_emu_slowdown(cleave_ctx *ctx, const cost_device *host, const cost_device *dev,
                                cost_dtype dt, int dev_threads, double *slowdown, double *host_gops,
                                double *dev_gops);

/* Period and quota for a slowdown: quota = round(period / slowdown). When
 * that is below COST_EMU_MIN_QUOTA_US the period is raised to
 * ceil(MIN_QUOTA * slowdown) (*raised = 1). Fails for slowdown outside
 * [1, COST_EMU_MAX_SLOWDOWN] or period outside the kernel's range. */
cleave_status cost_emu_quota(cleave_ctx *ctx, double slowdown, int period_us, int *period_out,
                             int *quota_out, int *raised);

/* Pure parsers (unit-tested on text). From /proc/self/mountinfo text, the
 * mount point and mounted root of the v1 hierarchy holding the "cpu"
 * controller (want V1) or of the cgroup2 file system (want V2); octal
 * escapes (\040) are decoded. 1 found, 0 not. */
int cost_emu_find_mount(const char *mountinfo, cost_cgroup_kind want, char *mnt, size_t mn,
                        char *root, size_t rn);
/* From /proc/self/cgroup text, this process's cgroup path ("/" at the
 * root) in the v1 "cpu" hierarchy (want V1) or the v2 one ("0::"). */
int cost_emu_find_self(const char *proc_cgroup, cost_cgroup_kind want, char *path, size_t n);

/* A created cgroup. */
typedef struct cost_emu {
    cost_cgroup_kind kind;
    char parent[512];    /* the cgroup it was created in */
    char dir[640];       /* the created cgroup: <parent>/cleave-emu-<pid> */
    int period_us, quota_us;
    int period_raised;   /* cost_emu_quota raised the period */
    int cpu;             /* CPU the process is pinned to */
    double slowdown;     /* target (period / quota is what is set) */
    int enabled_cpu_ctl; /* v2: we wrote "+cpu" into parent's subtree_control */
} cost_emu;

/* Find a usable cgroup hierarchy: v1 with cpu.cfs_quota_us first, else v2
 * with the cpu controller available. Fills kind and parent. */
cleave_status cost_emu_detect(cleave_ctx *ctx, cost_emu *e);

/* Detect, create <parent>/cleave-emu-<pid>, and set period and quota. cpu
 * < 0 picks the last online CPU. Removes stale empty cleave-emu-<pid>
 * cgroups of dead processes on the way. On failure nothing is left behind
 * and *denied says whether it was a permission problem (EACCES, EPERM,
 * EROFS, no cgroup file system): callers skip rather than fail then. */
cleave_status cost_emu_create(cleave_ctx *ctx, double slowdown, int period_us, int cpu, cost_emu *e,
                              int *denied);

/* Change the created cgroup's period and quota (quota in [MIN_QUOTA,
 * period]); e->period_us / quota_us follow. */
cleave_status cost_emu_set_quota(cleave_ctx *ctx, cost_emu *e, int period_us, int quota_us);

/* Move any processes left in the cgroup to its parent, then remove it
 * (retries briefly while exiting tasks leave). Safe to call twice. */
cleave_status cost_emu_destroy(cleave_ctx *ctx, cost_emu *e);

/* Run argv (execvp) in the cgroup (e == NULL: pinned only) on CPU `cpu`.
 * The parent moves the child and pins it before the child execs.
 * SIGTERM, and SIGINT/SIGHUP sent by another process, are forwarded to the
 * child while it runs. *status: the exit code, 128+signal if killed, 127
 * if argv[0] could not be run. */
cleave_status cost_emu_run(cleave_ctx *ctx, const cost_emu *e, int cpu, char *const argv[],
                           int *status);

/* The reference workload: a fixed fp32 matrix-multiply loop (deterministic,
 * ~150 ms on one modern core); returns a checksum that depends on salt (the
 * work does not). */
double cost_emu_reference_work(int salt);

/* One reference measurement, in a child pinned to e->cpu: an untimed
 * warm-up, then `reps` pairs of the workload run unthrottled and then in
 * the cgroup (the child moves itself), timed by wall clock and CPU time.
 * Pairs, not two series, so a drift of this machine's speed cancels. */
#define COST_EMU_MAX_REPS 50
typedef struct cost_emu_ref {
    int reps;
    double free_ms[COST_EMU_MAX_REPS], thr_ms[COST_EMU_MAX_REPS]; /* per pair, wall ms */
    double free_med, thr_med; /* medians */
    double achieved;          /* median over pairs of throttled / unthrottled time */
    double free_share;        /* CPU time / wall time unthrottled (< 1: CPU shared) */
    double quota_share;       /* CPU time got / quota, throttled (< 1: quota not reached) */
} cost_emu_ref;
cleave_status cost_emu_reference(cleave_ctx *ctx, const cost_emu *e, int reps, cost_emu_ref *out);

/* Median of n values (sorts v). */
double cost_emu_median(double *v, int n);

/* The highest CPU this process may run on (its affinity mask), -1 if
 * unknown; cost_emu_cpu_allowed: 1 if cpu is in the mask. */
int cost_emu_default_cpu(void);
int cost_emu_cpu_allowed(int cpu);

/* Signal forwarding. cost_emu_create installs handlers for SIGINT, SIGTERM
 * and SIGHUP (cost_emu_destroy restores the defaults): while a child runs
 * they are forwarded to it; otherwise the signal is remembered and
 * cost_emu_interrupted() returns its number (0 if none), so the caller
 * stops, cleans up and exits with 128 + signal. */
int cost_emu_interrupted(void);

#endif
