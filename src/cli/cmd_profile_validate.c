/* cleave profile --validate: how wrong is each latency predictor? For every
 * model, a reference profile (measured, or reused from --profiles DIR) feeds
 * the profile lookup and the regression fit; a second, independent
 * measurement is the truth. Regression is fitted leave-one-model-out (or
 * read from --regress FILE, e.g. fitted on another device). Prints whole-
 * model predicted vs measured and per-node MAPE per predictor, with bars. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/sha256.h"
#include "cli/cli_cost.h"
#include "cost/predict.h"

#define MAX_MODELS 64

static void help(void) {
    printf("usage: cleave profile --validate [options] MODEL.onnx...\n\n"
           "Measures each model twice: a reference profile (the table the profile predictor\n"
           "looks up and the regression is fitted on) and an independent measurement (the\n"
           "truth). Prints, per model, the whole-model latency each predictor gives against\n"
           "the measured median, and the per-node MAPE; the regression is fitted on the\n"
           "other models' reference profiles (leave-one-model-out) unless --regress is given.\n"
           "Bars: profile within 10%%, roofline and regression within 25%% (whole model).\n"
           "The reference profile and the truth are measured interleaved, in rounds (each\n"
           "round: one block of runs of each), so that a machine whose speed drifts over\n"
           "minutes (a shared VM) gives both the same conditions; --sequential measures\n"
           "the one, then the other.\n\n"
           "options:\n"
           "  --device FILE      device description for roofline and regression\n"
           "                     (default devices/this-machine.json in the source tree);\n"
           "                     'now': calibrate this machine first, on --threads threads\n"
           "                     (about 4 s), as `cleave profile --calibrate-device` does:\n"
           "                     the machine changes from day to day, a file from another\n"
           "                     day describes another CPU; 'emulated': under `cleave emulate`,\n"
           "                     the emulated core's description ($CLEAVE_EMU_DEVICE: this\n"
           "                     machine's, slowed by the achieved slowdown)\n"
           "  --threads N        engine threads (default 1)\n"
           "  --device-threads N threads the roofline and regression assume on the device\n"
           "                     (default: --threads; under cleave emulate: the device's cores,\n"
           "                     since the emulated core stands for the whole device)\n"
           "  --dtype fp32|int8  compute dtype (see cleave profile --help)\n"
           "  --warmup N         untimed runs before each measurement (default 5)\n"
           "  --repeat N         timed runs per measurement (default 30)\n"
           "  --profiles DIR     reuse reference profiles from DIR (MODEL.DTYPE.tN.json, if\n"
           "                     the model hash matches) and store new ones there\n"
           "  --regress FILE     use this fitted regression (cleave-regress) instead of\n"
           "                     leave-one-model-out fits\n"
           "  --fit-out FILE     also fit on all reference profiles and save the regression\n"
           "  --train MODEL      a training-only model (repeatable): its reference profile\n"
           "                     joins every regression fit, it is not validated itself\n"
           "                     (e.g. the element-wise sweep of tools/export_eltwise.py)\n"
           "  --rounds N         rounds the two measurements are interleaved in (default %d)\n"
           "  --sequential       reference profile first, then the truth (no interleaving)\n"
           "  --use-mean         profile lookup uses node means instead of medians\n"
           "  --check            exit 4 when a bar is missed\n"
           "  --json             print the report as JSON on stdout\n"
           "  -o FILE            write the JSON report to FILE\n"
           "  -h, --help         this text\n",
           CLI_PROF_ROUNDS);
}

typedef struct pred_result {
    double whole_ms, err, mape, wmape;
    int missing;
} pred_result;

typedef struct model_run {
    const char *path;
    int train_only; /* --train: fitted on, not validated */
    cost_profile ref, truth;
    pred_result r[COST_PRED_N];
} model_run;

/* Compare predictions for the truth's nodes. */
static void evaluate(const cost_predictor *pr, const cost_profile *truth, pred_result *out) {
    double sum = 0, ape = 0, abs_err = 0, meas = 0;
    int n_ape = 0, miss = 0;
    for (int i = 0; i < truth->n; i++) {
        double t = cost_profile_node_ms(truth, i), p = cost_predict_node_ms(pr, &truth->nodes[i].f);
        if (isnan(p)) {
            miss++;
            continue;
        }
        sum += p;
        abs_err += fabs(p - t);
        meas += t;
        if (t > 0) ape += fabs(p - t) / t, n_ape++;
    }
    out->whole_ms = sum;
    double whole = cost_profile_whole_ms(truth);
    out->err = whole > 0 ? sum / whole - 1 : NAN;
    out->mape = n_ape ? ape / n_ape : NAN;
    out->wmape = meas > 0 ? abs_err / meas : NAN;
    out->missing = miss;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void ref_path(const char *dir, const char *model, cost_dtype dt, int threads, char *out,
                     size_t len) {
    char b[256];
    snprintf(b, sizeof b, "%s", base_name(model));
    char *dot = strrchr(b, '.');
    if (dot && !strcmp(dot, ".onnx")) *dot = 0;
    snprintf(out, len, "%s/%s.%s.t%d.json", dir, b, cost_dtype_name(dt), threads);
}

int cmd_profile_validate(int argc, char **argv) {
    const char *models[MAX_MODELS], *dev_path = NULL, *dir = NULL, *reg_path = NULL,
               *fit_out = NULL, *outp = NULL;
    int train_only[MAX_MODELS] = {0}, n_validated = 0;
    int n_models = 0, threads = 1, dev_threads_opt = 0, use_mean = 0, check = 0, json = 0, rc = 1;
    int sequential = 0, n_reused = 0;
    cli_prof_opts o = {.dtype = COST_DT_FP32, .warmup = 5, .repeat = 30};
    char dev_default[1024];
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    model_run *runs = NULL;
    cost_regress *fixed = NULL;
    cost_device dev;
    memset(&dev, 0, sizeof dev);
    json_t *report = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--validate")) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            rc = 0;
            goto out;
        }
        int took = cli_prof_parse_opt(argc, argv, &i, &threads, &o);
        if (took < 0) goto out;
        if (took) continue;
        if (!strcmp(a, "--device-threads")) {
            if (!cli_parse_int(a, v, 1, 4096, &dev_threads_opt)) goto out;
            i++;
        } else if (!strcmp(a, "--device") && v) dev_path = v, i++;
        else if (!strcmp(a, "--profiles") && v) dir = v, i++;
        else if (!strcmp(a, "--regress") && v) reg_path = v, i++;
        else if (!strcmp(a, "--fit-out") && v) fit_out = v, i++;
        else if (!strcmp(a, "-o") && v) outp = v, i++;
        else if (!strcmp(a, "--train") && v && n_models < MAX_MODELS) {
            train_only[n_models] = 1;
            models[n_models++] = v, i++;
        } else if (!strcmp(a, "--sequential")) sequential = 1;
        else if (!strcmp(a, "--use-mean")) use_mean = 1;
        else if (!strcmp(a, "--check")) check = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (a[0] == '-') {
            fprintf(stderr, "cleave profile --validate: unknown option or missing value '%s' (see --help)\n", a);
            goto out;
        } else if (n_models < MAX_MODELS) models[n_models++] = a, n_validated++;
        else {
            fprintf(stderr, "cleave profile --validate: at most %d models\n", MAX_MODELS);
            goto out;
        }
    }
    if (!n_validated) {
        fprintf(stderr, "cleave profile --validate: no model to validate given (see --help)\n");
        goto out;
    }
    if (!dev_path) {
        snprintf(dev_default, sizeof dev_default, "%s/devices/this-machine.json", cli_home());
        dev_path = dev_default;
    }
    if (!strcmp(dev_path, "emulated")) {
        const char *ed = getenv("CLEAVE_EMU_DEVICE");
        if (!ed || !ed[0]) {
            fprintf(stderr, "cleave profile --validate: --device emulated: $CLEAVE_EMU_DEVICE is not set; run "
                            "under `cleave emulate --device FILE` (not --slowdown)\n");
            goto out;
        }
        if (cost_device_load(ctx, ed, &dev)) goto err;
    } else if (!strcmp(dev_path, "now")) {
        if (!json) fprintf(stderr, "calibrating this machine (%d thread%s)...\n", threads, threads > 1 ? "s" : "");
        if (cost_device_calibrate(ctx, threads, 0, &dev)) goto err;
    } else if (cost_device_load(ctx, dev_path, &dev)) {
        goto err;
    }
    /* Threads the predictors assume on the device: the engine's, except
     * under emulation, where one host core stands for the whole device. */
    const char *emu_env = getenv("CLEAVE_EMULATION");
    int dev_threads = dev_threads_opt ? dev_threads_opt : emu_env && emu_env[0] ? dev.cores : threads;
    if (reg_path) {
        if (cost_regress_create(ctx, NULL, &fixed) || cost_regress_load(ctx, fixed, reg_path)) goto err;
    } else if (n_models < 2) {
        fprintf(stderr, "cleave profile --validate: leave-one-model-out regression needs at least "
                        "2 models (or give --regress FILE)\n");
        goto out;
    }
    if (dir) mkdir(dir, 0755);
    cleave_ctx_set_threads(ctx, threads);
    o.quiet = json;
    runs = cv_calloc((size_t)n_models, sizeof *runs);
    if (!runs) goto err;
    /* per model: the reference profile, then the truth */
    for (int m = 0; m < n_models; m++) {
        model_run *r = &runs[m];
        r->path = models[m];
        r->train_only = train_only[m];
        char rp[1200] = "";
        int have = 0;
        if (dir) {
            ref_path(dir, models[m], o.dtype, threads, rp, sizeof rp);
            struct stat sb;
            if (stat(rp, &sb) == 0) {
                char sha[65];
                if (cv_sha256_file(ctx, models[m], sha)) goto err;
                if (cost_profile_load(ctx, rp, sha, &r->ref)) {
                    /* another model's (the file was re-exported) or unreadable:
                     * measured again below and overwritten */
                    fprintf(stderr, "%s; measuring it again\n", cleave_ctx_error(ctx));
                    cleave_ctx_clear_error(ctx);
                    cost_profile_free(&r->ref);
                } else if (r->ref.threads != threads || r->ref.dtype != o.dtype) {
                    cv_fail(ctx, CLEAVE_E_INVALID, "%s: measured with %d threads, %s; this run uses %d, %s",
                            rp, r->ref.threads, cost_dtype_name(r->ref.dtype), threads,
                            cost_dtype_name(o.dtype));
                    goto err;
                } else {
                    have = 1;
                    n_reused++;
                    if (!json) fprintf(stderr, "reference profile of %s: %s\n", base_name(models[m]), rp);
                }
            }
        }
        /* the independent measurement (the truth) with it, interleaved, or
         * right after (--sequential, or a stored reference): slow drift of
         * a shared machine between models does not count as error */
        if (!have && !r->train_only && !sequential) {
            cost_profile two[2];
            if (cli_profile_model_n(ctx, models[m], &o, 2, 0, two)) goto err;
            r->ref = two[0];
            r->truth = two[1];
            have = 2;
        }
        if (!have) {
            if (cli_profile_model(ctx, models[m], &o, &r->ref)) goto err;
        }
        if (have != 1) {
            snprintf(r->ref.device, sizeof r->ref.device, "%s", dev.name);
            if (dir && cost_profile_save(ctx, rp, &r->ref)) goto err;
        }
        if (!r->train_only && have != 2 && cli_profile_model(ctx, models[m], &o, &r->truth)) goto err;
    }
    /* predictions */
    for (int m = 0; m < n_models; m++) {
        model_run *r = &runs[m];
        if (r->train_only) continue;
        cost_predictor pp = {.kind = COST_PRED_PROFILE, .prof = &r->ref, .use_mean = use_mean};
        cost_predictor pr = {.kind = COST_PRED_ROOFLINE, .dev = &dev, .threads = dev_threads};
        evaluate(&pp, &r->truth, &r->r[COST_PRED_PROFILE]);
        evaluate(&pr, &r->truth, &r->r[COST_PRED_ROOFLINE]);
        cost_regress *reg = fixed;
        if (!fixed) {
            if (cost_regress_create(ctx, NULL, &reg)) goto err;
            for (int k = 0; k < n_models; k++) {
                if (k == m) continue;
                const cost_profile *rf = &runs[k].ref;
                for (int i = 0; i < rf->n; i++) {
                    double t = cost_profile_node_ms(rf, i);
                    if (t > 0 && cost_regress_add(ctx, reg, &rf->nodes[i].f, &t, 1, &dev, dev_threads)) {
                        cost_regress_destroy(reg);
                        goto err;
                    }
                }
            }
            if (cost_regress_fit(ctx, reg)) {
                cost_regress_destroy(reg);
                goto err;
            }
        }
        cost_predictor pg = {.kind = COST_PRED_REGRESS, .dev = &dev, .threads = dev_threads, .reg = reg};
        evaluate(&pg, &r->truth, &r->r[COST_PRED_REGRESS]);
        if (!fixed) cost_regress_destroy(reg);
    }
    if (fit_out) {
        cost_regress *all = NULL;
        if (cost_regress_create(ctx, NULL, &all)) goto err;
        cleave_status s = CLEAVE_OK;
        for (int k = 0; k < n_models && !s; k++)
            for (int i = 0; i < runs[k].ref.n && !s; i++) {
                double t = cost_profile_node_ms(&runs[k].ref, i);
                if (t > 0) s = cost_regress_add(ctx, all, &runs[k].ref.nodes[i].f, &t, 1, &dev, dev_threads);
            }
        if (!s) s = cost_regress_fit(ctx, all);
        if (!s) s = cost_regress_save(ctx, all, fit_out);
        cost_regress_destroy(all);
        if (s) goto err;
    }
    /* report */
    static const double bar[COST_PRED_N] = {0.10, 0.25, 0.25};
    double worst[COST_PRED_N] = {0};
    report = json_object();
    json_object_set_new(report, "format", json_string("cleave-validation"));
    json_object_set_new(report, "version", json_integer(1));
    json_object_set_new(report, "device", json_string(dev.name));
    json_object_set_new(report, "device_file", json_string(dev_path));
    const char *emu = getenv("CLEAVE_EMULATION");
    json_object_set_new(report, "emulation", json_string(emu ? emu : ""));
    json_object_set_new(report, "dtype", json_string(cost_dtype_name(o.dtype)));
    json_object_set_new(report, "threads", json_integer(threads));
    json_object_set_new(report, "device_threads", json_integer(dev_threads));
    json_object_set_new(report, "regression", json_string(reg_path ? reg_path : "leave-one-model-out"));
    char how[96];
    if (sequential) snprintf(how, sizeof how, "sequential");
    else snprintf(how, sizeof how, "interleaved, %d rounds", o.rounds > 0 ? o.rounds : CLI_PROF_ROUNDS);
    if (n_reused)
        snprintf(how + strlen(how), sizeof how - strlen(how), " (%d reference%s reused from --profiles)", n_reused,
                 n_reused > 1 ? "s" : "");
    json_object_set_new(report, "measurement", json_string(how));
    json_t *arr = json_array();
    if (!json) {
        printf("device %s (%s)%s%s, %d thread%s, %s; regression: %s; reference and truth: %s\n",
               dev.name, dev_path, emu ? ", emulated: " : "", emu ? emu : "", threads,
               threads > 1 ? "s" : "", cost_dtype_name(o.dtype), reg_path ? reg_path : "leave-one-model-out",
               how);
        printf("%-22s %10s | %-24s | %-24s | %-24s\n", "", "measured", "profile lookup",
               "roofline", "regression");
        printf("%-22s %10s | %9s %6s %7s | %9s %6s %7s | %9s %6s %7s\n", "model", "ms", "ms", "err",
               "MAPE", "ms", "err", "MAPE", "ms", "err", "MAPE");
    }
    for (int m = 0; m < n_models; m++) {
        model_run *r = &runs[m];
        if (r->train_only) continue;
        json_t *jm = json_object();
        json_object_set_new(jm, "model", json_string(r->path));
        json_object_set_new(jm, "model_sha256", json_string(r->truth.model_sha256));
        json_object_set_new(jm, "nodes", json_integer(r->truth.n));
        json_object_set_new(jm, "measured_ms", json_real(cost_profile_whole_ms(&r->truth)));
        if (!json) printf("%-22.22s %10.3f", base_name(r->path), cost_profile_whole_ms(&r->truth));
        for (int k = 0; k < COST_PRED_N; k++) {
            pred_result *pr = &r->r[k];
            if (fabs(pr->err) > worst[k]) worst[k] = fabs(pr->err);
            json_t *jp = json_object();
            json_object_set_new(jp, "predicted_ms", json_real(pr->whole_ms));
            json_object_set_new(jp, "error", json_real(pr->err));
            json_object_set_new(jp, "node_mape", json_real(pr->mape));
            json_object_set_new(jp, "node_wmape", json_real(pr->wmape));
            json_object_set_new(jp, "nodes_missing", json_integer(pr->missing));
            json_object_set_new(jm, cost_pred_name((cost_pred_kind)k), jp);
            if (!json)
                printf(" | %9.3f %+5.1f%% %6.1f%%", pr->whole_ms, 100 * pr->err, 100 * pr->mape);
        }
        if (!json) printf("\n");
        json_array_append_new(arr, jm);
    }
    json_object_set_new(report, "models", arr);
    json_t *jb = json_object();
    int missed = 0;
    for (int k = 0; k < COST_PRED_N; k++) {
        int pass = worst[k] <= bar[k];
        missed |= !pass;
        json_object_set_new(jb, cost_pred_name((cost_pred_kind)k),
                            json_pack("{s:f,s:f,s:b}", "worst_abs_error", worst[k], "bar", bar[k], "pass", pass));
        if (!json)
            printf("%s %-10s worst whole-model error %5.1f%% (bar %2.0f%%)\n", pass ? "PASS" : "MISS",
                   cost_pred_name((cost_pred_kind)k), 100 * worst[k], 100 * bar[k]);
    }
    json_object_set_new(report, "bars", jb);
    if (json) {
        char *t = json_dumps(report, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
        if (t) printf("%s\n", t);
        free(t);
    }
    if (outp && json_dump_file(report, outp, JSON_INDENT(1) | JSON_REAL_PRECISION(6))) {
        fprintf(stderr, "cleave profile --validate: cannot write %s\n", outp);
        goto out;
    }
    rc = check && missed ? 4 : 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    json_decref(report);
    if (runs)
        for (int m = 0; m < n_models; m++) {
            cost_profile_free(&runs[m].ref);
            cost_profile_free(&runs[m].truth);
        }
    cv_free(runs);
    cost_regress_destroy(fixed);
    cleave_ctx_destroy(ctx);
    return rc;
}
