/* cleave emulate: run a command as if on a slower edge device. The slowdown
 * comes from two device descriptions (this machine's one core vs the
 * device's cores, conv throughput) or --slowdown; the command runs pinned
 * to one CPU in a cgroup with quota = period / slowdown; a reference
 * workload measures the slowdown achieved. Mechanism: cost/emulate.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cost/emulate.h"

#define EMU_EXIT_DENIED 3
#define EMU_EXIT_SKIP 77
#define EMU_TUNE_STEPS 2
#define EMU_TUNE_TOL 0.10

static void help(void) {
    printf("usage: cleave emulate (--device FILE | --slowdown X) [options] -- CMD [ARGS...]\n"
           "       cleave emulate (--device FILE | --slowdown X) [options] --check\n\n"
           "Runs CMD as if on the described (slower) edge device: pinned to one CPU, in a new\n"
           "cgroup whose CPU quota is period/slowdown, so times CMD measures are real\n"
           "measurements of a slower core. The slowdown is\n"
           "  conv throughput of this machine on ONE core (--host, dtype --dtype)\n"
           "  / conv throughput of the device on its cores (--threads)\n"
           "A reference workload (fixed fp32 matrix multiplies) is timed first, unthrottled\n"
           "and throttled, and the slowdown achieved is reported. Needs root (or a delegated\n"
           "cgroup); cgroup v1 (cpu.cfs_quota_us) or v2 (cpu.max). See docs/emulation.md.\n\n"
           "options:\n"
           "  --device FILE     device description to emulate (devices/*.json)\n"
           "  --host FILE       this machine's description (default <source>/devices/this-machine.json);\n"
           "                    'now': calibrate this machine on one core first (about 4 s), for a\n"
           "                    machine the shipped file does not describe\n"
           "  --slowdown X      use this slowdown (>= 1) instead of the descriptions' ratio\n"
           "  --dtype T         fp32 (default) or int8 throughputs for the ratio\n"
           "  --threads N       device threads for the ratio (default: all its cores)\n"
           "  --cpu N           CPU to pin to (default: the last one this process may use)\n"
           "  --period-us N     CFS period in us (default %d; raised when period/slowdown\n"
           "                    would be below the kernel's minimum quota of %d us)\n"
           "  --reps N          reference runs, each unthrottled then throttled; the median\n"
           "                    of the N ratios is reported (default 3)\n"
           "  --no-reference    do not time the reference workload\n"
           "  --no-tune         keep the quota period/slowdown even when the reference workload\n"
           "                    runs more than 10%% off the target (by default the quota is\n"
           "                    scaled by sqrt(achieved/target) and measured again with at\n"
           "                    least 5 pairs, up to 2 times)\n"
           "  --write-device F  also write the emulated device's description to F: this\n"
           "                    machine's (--host) with peaks and one-core bandwidth divided, and the\n"
           "                    per-node overhead multiplied, by the achieved slowdown, 1 core.\n"
           "                    Inside CMD, $CLEAVE_EMU_DEVICE names a copy of it (`cleave\n"
           "                    profile --validate --device emulated` reads it); not with\n"
           "                    --slowdown, which has no host description\n"
           "  --check           plan and reference measurement only, no CMD\n"
           "  --json            instead of the text lines, one JSON object on stderr at the end\n"
           "                    (stdout stays CMD's)\n"
           "  --skip-ok         exit 77 instead of 3 when cgroups are not permitted here\n"
           "  -h, --help        this text\n\n"
           "Inside CMD, $CLEAVE_EMULATION says what is emulated, and CLEAVE_WINOGRAD=0 keeps the\n"
           "engine from running 3x3 convs by Winograd when the device description has no\n"
           "efficiency.fp32.wconv (a device without it); set CLEAVE_WINOGRAD yourself to override.\n\n"
           "exit status: CMD's (128+N if killed by signal N, 127 if it cannot be run); 0 for\n"
           "--check; 1 on errors (options, device files, cgroup failures); 3 (77 with\n"
           "--skip-ok) when a cgroup cannot be created here (not root, no cgroup file system,\n"
           "read-only); 128+N when cleave itself got signal N.\n",
           COST_EMU_DEFAULT_PERIOD_US, COST_EMU_MIN_QUOTA_US);
}

static int parse_double(const char *opt, const char *v, double *out) {
    char *e;
    if (!v) {
        fprintf(stderr, "cleave emulate: %s needs a value\n", opt);
        return 0;
    }
    double x = strtod(v, &e);
    if (e == v || *e || !isfinite(x)) {
        fprintf(stderr, "cleave emulate: %s: '%s' is not a number\n", opt, v);
        return 0;
    }
    *out = x;
    return 1;
}

typedef struct emu_opts {
    const char *device, *host, *write_device;
    double slowdown; /* 0 = from the descriptions */
    int dtype, threads, cpu, period_us, reps, no_ref, no_tune, check, json, skip_ok;
    char **cmd;
} emu_opts;

/* 1 ok, 0 usage error, -1 help shown. */
static int parse_args(int argc, char **argv, emu_opts *o) {
    const cli_int_opt ints[] = {{"--threads", 1, 4096, &o->threads},
                                {"--cpu", 0, 65535, &o->cpu},
                                {"--period-us", COST_EMU_MIN_PERIOD_US, COST_EMU_MAX_PERIOD_US,
                                 &o->period_us},
                                {"--reps", 1, COST_EMU_MAX_REPS, &o->reps},
                                {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) return 0;
        if (took) continue;
        if (!strcmp(a, "--")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cleave emulate: no command after '--' (see --help)\n");
                return 0;
            }
            o->cmd = argv + i + 1;
            return 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return -1;
        } else if (!strcmp(a, "--device") && v) o->device = v, i++;
        else if (!strcmp(a, "--host") && v) o->host = v, i++;
        else if (!strcmp(a, "--write-device") && v) o->write_device = v, i++;
        else if (!strcmp(a, "--slowdown")) {
            if (!parse_double(a, v, &o->slowdown)) return 0;
            if (!(o->slowdown >= 1.0 && o->slowdown <= COST_EMU_MAX_SLOWDOWN)) {
                fprintf(stderr, "cleave emulate: --slowdown: %s is outside 1..%g\n", v, COST_EMU_MAX_SLOWDOWN);
                return 0;
            }
            i++;
        } else if (!strcmp(a, "--dtype") && v) {
            o->dtype = cost_dtype_parse(v);
            if (o->dtype < 0) {
                fprintf(stderr, "cleave emulate: --dtype: '%s' is not fp32 or int8\n", v);
                return 0;
            }
            i++;
        } else if (!strcmp(a, "--no-reference")) o->no_ref = 1;
        else if (!strcmp(a, "--no-tune")) o->no_tune = 1;
        else if (!strcmp(a, "--check")) o->check = 1;
        else if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--skip-ok")) o->skip_ok = 1;
        else return cli_bad_option("emulate", a);
    }
    return 1;
}

/* What the emulated core is: one core of `host` whose arithmetic, memory
 * traffic and per-node overhead all take `s` times longer (a CPU quota
 * stretches all of them alike; docs/emulation.md). */
static void emulated_device(const cost_device *host, const cost_device *dev, int have_dev, double s,
                            int measured, int winograd_off, const cost_emu *e, cost_device *out) {
    *out = *host;
    if (winograd_off) { /* the command runs 3x3 convs directly, whatever the host file says */
        out->winograd = 0;
        for (int t = 0; t < COST_DT_N; t++) out->efficiency[t][COST_OP_WCONV] = out->efficiency[t][COST_OP_CONV];
    }
    snprintf(out->name, sizeof out->name, "%.48s-emulated", have_dev ? dev->name : "device");
    snprintf(out->kind, sizeof out->kind, "edge");
    snprintf(out->description, sizeof out->description,
             "one core of %.60s under a CPU quota of %d/%d us: %.3gx slower (%s)", host->name, e->quota_us,
             e->period_us, s, measured ? "measured on the reference workload" : "the target; not measured");
    out->cores = 1;
    out->freq_ghz = 0;
    for (int t = 0; t < COST_DT_N; t++) out->peak_gops[t] = host->peak_gops[t] / s;
    /* one host core: its own bandwidth when the host file knows it */
    double bw1 = host->has_parallel && host->mem_bw_1core_gbs > 0 ? host->mem_bw_1core_gbs : host->mem_bw_gbs;
    out->mem_bw_gbs = bw1 / s;
    out->op_overhead_us = host->op_overhead_us * s;
    out->has_parallel = 0; /* one core: nothing to scale */
    out->mem_bw_1core_gbs = out->par_overhead_us = 0;
    if (have_dev) out->mem_bytes = dev->mem_bytes;
    snprintf(out->sources, sizeof out->sources,
             "derived by cleave emulate from the description of this machine (%.60s) and the slowdown "
             "achieved under the quota",
             host->name);
    out->calibrated[0] = 0;
}

static const char *kind_name(cost_cgroup_kind k) {
    return k == COST_CGROUP_V1 ? "v1" : k == COST_CGROUP_V2 ? "v2" : "none";
}

int cmd_emulate(int argc, char **argv) {
    emu_opts o = {.dtype = COST_DT_FP32, .cpu = -1, .period_us = COST_EMU_DEFAULT_PERIOD_US, .reps = 3};
    int pr = parse_args(argc, argv, &o);
    if (pr <= 0) return pr < 0 ? 0 : 1;
    if (!o.device && !(o.slowdown > 0)) {
        fprintf(stderr, "cleave emulate: give --device FILE or --slowdown X (see --help)\n");
        return 1;
    }
    if (!o.cmd && !o.check) {
        fprintf(stderr, "cleave emulate: give a command after '--', or --check (see --help)\n");
        return 1;
    }
    if (o.write_device && o.slowdown > 0) {
        fprintf(stderr, "cleave emulate: --write-device needs the descriptions (--device, --host), not --slowdown\n");
        return 1;
    }
    if (o.cmd && o.check) {
        fprintf(stderr, "cleave emulate: --check runs no command: drop one of them\n");
        return 1;
    }
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    int rc = 1, status = 0, have_emu = 0, ran = 0, tuned = 0, tuned_from = 0, tuned_from_period = 0;
    int winograd_off = 0;
    cost_emu e;
    memset(&e, 0, sizeof e);
    cost_device dev, host;
    memset(&dev, 0, sizeof dev);
    memset(&host, 0, sizeof host);
    double host_gops = 0, dev_gops = 0, slowdown = o.slowdown;
    int dev_threads = 0;
    cost_emu_ref ref;
    memset(&ref, 0, sizeof ref);
    char host_path[4096], dir[sizeof e.dir] = "", emu_dev_path[512] = "";
    const char *unit = o.dtype == COST_DT_FP32 ? "GFLOP/s" : "GOP/s";

    if (o.device && cost_device_load(ctx, o.device, &dev)) goto err;
    /* the engine runs as the device would: no Winograd where it has none
     * (also for the host calibration below, so that its wconv figure is
     * the kernel the command will run) */
    if (o.device && !dev.winograd && !getenv("CLEAVE_WINOGRAD")) {
        setenv("CLEAVE_WINOGRAD", "0", 1);
        winograd_off = 1;
    }
    if (!(o.slowdown > 0)) {
        if (o.host) snprintf(host_path, sizeof host_path, "%s", o.host);
        else snprintf(host_path, sizeof host_path, "%s/devices/this-machine.json", cli_home());
        if (!strcmp(host_path, "now")) {
            fprintf(stderr, "cleave emulate: calibrating this machine (1 thread)...\n");
            if (cost_device_calibrate(ctx, 1, 0, &host)) goto err;
        } else if (cost_device_load(ctx, host_path, &host)) {
            goto err;
        }
        dev_threads = o.threads > 0 && o.threads < dev.cores ? o.threads : dev.cores;
        if (cost_emu_slowdown(ctx, &host, &dev, (cost_dtype)o.dtype, dev_threads, &slowdown, &host_gops, &dev_gops))
            goto err;
        if (slowdown < 1.0) {
            fprintf(stderr,
                    "cleave emulate: %s (%.1f %s on %d cores) is faster than one core of %s (%.1f %s): "
                    "a CPU quota can only slow down, nothing to emulate\n",
                    dev.name, dev_gops, unit, dev_threads, host.name, host_gops, unit);
            goto out;
        }
        if (slowdown > COST_EMU_MAX_SLOWDOWN) {
            fprintf(stderr, "cleave emulate: slowdown %.0fx is beyond the %gx a CFS quota can express\n",
                    slowdown, COST_EMU_MAX_SLOWDOWN);
            goto out;
        }
    }
    if (o.cpu >= 0 && !cost_emu_cpu_allowed(o.cpu)) {
        fprintf(stderr, "cleave emulate: --cpu %d: not online or not allowed for this process\n", o.cpu);
        goto out;
    }
    int denied = 0;
    if (cost_emu_create(ctx, slowdown, o.period_us, o.cpu, &e, &denied)) {
        if (!denied) goto err;
        fprintf(stderr, "cleave %s%s\n", cleave_ctx_error(ctx),
                o.skip_ok ? "; skipping (--skip-ok)" : "");
        rc = o.skip_ok ? EMU_EXIT_SKIP : EMU_EXIT_DENIED;
        goto out;
    }
    have_emu = 1;
    if (!o.json) {
        const char *name = o.device ? dev.name : "a slower device";
        if (o.slowdown > 0)
            fprintf(stderr, "cleave emulate: emulating %s: slowdown %.4gx (--slowdown)", name, slowdown);
        else
            fprintf(stderr,
                    "cleave emulate: emulating %s: slowdown %.4gx (host %s conv %.1f %s on 1 core / device "
                    "%.1f %s on %d core%s)",
                    name, slowdown, cost_dtype_name((cost_dtype)o.dtype), host_gops, unit, dev_gops, unit,
                    dev_threads, dev_threads == 1 ? "" : "s");
        fprintf(stderr, "; cgroup %s %s: quota %d/%d us, CPU %d\n", kind_name(e.kind), e.dir, e.quota_us,
                e.period_us, e.cpu);
        if (e.period_raised)
            fprintf(stderr,
                    "cleave emulate: period raised from %d to %d us so that the quota stays >= %d us "
                    "(the kernel's minimum)\n",
                    o.period_us, e.period_us, COST_EMU_MIN_QUOTA_US);
        if (e.enabled_cpu_ctl)
            fprintf(stderr, "cleave emulate: enabled the cpu controller in %s/cgroup.subtree_control\n", e.parent);
    }
    if (!o.no_ref) {
        if (cost_emu_reference(ctx, &e, o.reps, &ref)) goto err;
        /* Closed loop: on a VM a throttled vCPU also loses time around each
         * stall (cold caches, the hypervisor's wake-up), so the quota that
         * the ratio gives can run slower than the target (+29% seen here).
         * But one measurement of 3 pairs also scatters by +-10-15% there,
         * and a full correction then chases the noise (5.41x, 3.36x, 3.57x
         * for 4x in one run). So: only errors above EMU_TUNE_TOL, half the
         * correction in log terms (quota x sqrt(achieved / target)), at
         * least 5 pairs per new measurement, up to EMU_TUNE_STEPS times,
         * and only when the CPU was not shared (that would mislead it). */
        for (int step = 0; !o.no_tune && step < EMU_TUNE_STEPS; step++) {
            double err_rel = ref.achieved / slowdown - 1.0;
            if (fabs(err_rel) <= EMU_TUNE_TOL || ref.free_share < 0.9 || ref.quota_share < 0.9) break;
            double q = e.quota_us * sqrt(ref.achieved / slowdown);
            int period = e.period_us, quota = (int)lround(q);
            if (quota < COST_EMU_MIN_QUOTA_US) {
                double p = ceil(period * (double)COST_EMU_MIN_QUOTA_US / q);
                if (!(p <= COST_EMU_MAX_PERIOD_US)) break;
                period = (int)p;
                quota = COST_EMU_MIN_QUOTA_US;
            }
            if (quota > period) quota = period;
            if (!o.json)
                fprintf(stderr,
                        "cleave emulate: achieved %.2fx (%+.1f%%): quota %d/%d us -> %d/%d us, measuring again\n",
                        ref.achieved, 100.0 * err_rel, e.quota_us, e.period_us, quota, period);
            if (!tuned) tuned_from = e.quota_us, tuned_from_period = e.period_us;
            if (cost_emu_set_quota(ctx, &e, period, quota)) goto err;
            if (cost_emu_reference(ctx, &e, o.reps > 5 ? o.reps : 5, &ref)) goto err;
            tuned++;
        }
        double achieved = ref.achieved;
        if (!o.json)
            fprintf(stderr,
                    "cleave emulate: achieved slowdown %.2fx on the reference workload (target %.4gx, error "
                    "%+.1f%%; median of %d alternating runs, %.1f ms throttled / %.1f ms unthrottled, CPU %d)\n",
                    achieved, slowdown, 100.0 * (achieved / slowdown - 1.0), ref.reps, ref.thr_med, ref.free_med,
                    e.cpu);
        if (!o.json && ref.free_share < 0.9)
            fprintf(stderr,
                    "cleave emulate: warning: CPU %d was busy: the unthrottled runs got %.0f%% of it, so the "
                    "achieved slowdown reads low; against their CPU time it is %.2fx\n",
                    e.cpu, 100.0 * ref.free_share, ref.thr_med / (ref.free_med * ref.free_share));
        if (!o.json && ref.quota_share < 0.9)
            fprintf(stderr,
                    "cleave emulate: warning: the throttled runs got only %.0f%% of their quota (CPU %d is "
                    "busy): emulated times are too slow; pick an idle CPU with --cpu\n",
                    100.0 * ref.quota_share, e.cpu);
    }
    if (winograd_off && !o.json)
        fprintf(stderr, "cleave emulate: %s runs no Winograd (no efficiency.fp32.wconv): CLEAVE_WINOGRAD=0 inside\n",
                dev.name);
    if (!(o.slowdown > 0) && (o.cmd || o.write_device)) {
        int measured = !o.no_ref && ref.achieved >= 1.0;
        cost_device ed;
        emulated_device(&host, &dev, o.device != NULL, measured ? ref.achieved : slowdown, measured, winograd_off,
                        &e, &ed);
        if (o.write_device && cost_device_save(ctx, o.write_device, &ed)) goto err;
        if (o.cmd) {
            const char *td = getenv("TMPDIR");
            snprintf(emu_dev_path, sizeof emu_dev_path, "%s/cleave-emu-device-XXXXXX", td && td[0] ? td : "/tmp");
            int fd = mkstemp(emu_dev_path);
            if (fd < 0) {
                cv_fail(ctx, CLEAVE_E_IO, "emulate: cannot create %s: %s", emu_dev_path, strerror(errno));
                emu_dev_path[0] = 0;
                goto err;
            }
            close(fd);
            if (cost_device_save(ctx, emu_dev_path, &ed)) goto err;
            setenv("CLEAVE_EMU_DEVICE", emu_dev_path, 1);
        }
        if (!o.json)
            fprintf(stderr, "cleave emulate: the emulated device: %s at %.1f %s, %.2f GB/s, %.1f us per node%s%s\n",
                    ed.name, ed.peak_gops[o.dtype], unit, ed.mem_bw_gbs, ed.op_overhead_us,
                    o.write_device ? "; written to " : "", o.write_device ? o.write_device : "");
    }
    if (o.cmd) {
        ran = 1;
        /* tell cleave commands inside what they run on (profiles record it;
         * their emulated figures are means over many periods, and a node's
         * is its share of the fastest runs: docs/emulation.md) */
        char tag[160];
        snprintf(tag, sizeof tag, "%s slowdown %.3gx", o.device ? dev.name : "custom", slowdown);
        setenv("CLEAVE_EMULATION", tag, 1);
        if (cost_emu_run(ctx, &e, e.cpu, o.cmd, &status)) {
            if (status != 127) goto err;
            fprintf(stderr, "cleave %s\n", cleave_ctx_error(ctx));
        }
        rc = status;
    } else {
        rc = 0;
    }
    goto out;
err:
    rc = cli_error(ctx);
out:
    if (emu_dev_path[0]) unlink(emu_dev_path);
    if (have_emu) {
        snprintf(dir, sizeof dir, "%s", e.dir);
        cleave_ctx_clear_error(ctx);
        if (cost_emu_destroy(ctx, &e)) {
            fprintf(stderr, "cleave %s\n", cleave_ctx_error(ctx));
            if (rc == 0) rc = 1;
        }
        int sig = cost_emu_interrupted();
        if (sig && !ran) rc = 128 + sig; /* cleave itself was interrupted */
    }
    if (o.json && have_emu) {
        json_t *j = json_object();
        if (j) {
            json_object_set_new(j, "device", o.device ? json_string(dev.name) : json_null());
            json_object_set_new(j, "host", !(o.slowdown > 0) ? json_string(host.name) : json_null());
            json_object_set_new(j, "dtype", json_string(cost_dtype_name((cost_dtype)o.dtype)));
            int from_files = !(o.slowdown > 0);
            json_object_set_new(j, "host_gops_1core", from_files ? json_real(host_gops) : json_null());
            json_object_set_new(j, "device_gops", from_files ? json_real(dev_gops) : json_null());
            json_object_set_new(j, "device_threads", from_files ? json_integer(dev_threads) : json_null());
            json_object_set_new(j, "slowdown_target", json_real(slowdown));
            json_object_set_new(j, "cgroup", json_string(kind_name(e.kind)));
            json_object_set_new(j, "cgroup_parent", json_string(e.parent));
            json_object_set_new(j, "cgroup_dir", json_string(dir));
            json_object_set_new(j, "period_us", json_integer(e.period_us));
            json_object_set_new(j, "quota_us", json_integer(e.quota_us));
            json_object_set_new(j, "period_raised", json_boolean(e.period_raised));
            json_object_set_new(j, "tune_steps", json_integer(tuned));
            json_object_set_new(j, "quota_untuned_us", json_integer(tuned ? tuned_from : e.quota_us));
            json_object_set_new(j, "period_untuned_us", json_integer(tuned ? tuned_from_period : e.period_us));
            json_object_set_new(j, "winograd_off", json_boolean(winograd_off));
            json_object_set_new(j, "cpu", json_integer(e.cpu));
            if (!o.no_ref && ref.achieved > 0) {
                json_t *r = json_object();
                json_object_set_new(r, "reps", json_integer(ref.reps));
                json_object_set_new(r, "unthrottled_ms", json_real(ref.free_med));
                json_object_set_new(r, "throttled_ms", json_real(ref.thr_med));
                json_object_set_new(r, "achieved_slowdown", json_real(ref.achieved));
                json_object_set_new(r, "error_pct", json_real(100.0 * (ref.achieved / slowdown - 1.0)));
                json_object_set_new(r, "unthrottled_cpu_share", json_real(ref.free_share));
                json_object_set_new(r, "throttled_quota_share", json_real(ref.quota_share));
                json_object_set_new(j, "reference", r);
            } else {
                json_object_set_new(j, "reference", json_null());
            }
            json_object_set_new(j, "exit_status", o.cmd ? json_integer(rc) : json_null());
            char *s = json_dumps(j, JSON_COMPACT);
            if (s) fprintf(stderr, "%s\n", s);
            free(s);
            json_decref(j);
        }
    }
    cleave_ctx_destroy(ctx);
    return rc;
}
