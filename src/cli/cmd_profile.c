/* cleave profile: per-node latency of a model on this machine (median,
 * mean and spread over repeated runs, plus the whole model without timers)
 * written as a "cleave-profile" file; --calibrate-device measures this
 * machine's device description; --validate compares the predictors. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "cli/cli_cost.h"
#include "cli/cli_quant.h"
#include "quant/measure.h"
#include "runtime/runtime.h"
#ifdef CLEAVE_HAVE_NET
#include "net/v2.h"
#endif

static void help(void) {
    printf("usage: cleave profile MODEL.onnx [options] [-o profile.json]\n"
           "       cleave profile --calibrate-device [--threads N] [--name NAME] -o devices/this.json\n"
           "       cleave profile --validate [options] MODEL.onnx... (see cleave profile --validate --help)\n\n"
           "Measures every node of the optimized model (warm-up, repeated runs: median, mean,\n"
           "p10/p90) and the whole model without per-node timers. Format: docs/profiling.md.\n\n"
           "options:\n"
           "  --threads N        engine threads (default 1)\n"
           "  --dtype fp32|int8  int8 quantizes an fp32 model uniformly to 8 bits (calibrated\n"
           "                     on --calib data) and runs integer kernels (default fp32;\n"
           "                     a QDQ model runs int8 anyway)\n"
           "  --calib SPEC       calibration data for --dtype int8: random | fashion-mnist |\n"
           "                     FILE.npy (default random, 16 inputs)\n"
           "  --warmup N         untimed runs first (default 5)\n"
           "  --repeat N         timed runs (default 30)\n"
           "  --rounds N         take the timed runs in N rounds, each a block of whole-model\n"
           "                     runs then a block of per-node runs (default 5), so that a\n"
           "                     machine whose speed drifts affects both alike\n"
           "  --gap-ms T         sleep T ms before each run, as a client serving one request\n"
           "                     at a time idles between them (default 0: back to back)\n"
           "                     Also times, after each run, one request's KServe v2 codec\n"
           "                     (\"request_ms\", what a split adds per request on each side)\n"
           "  --input FILE       input tensor (.npy/.pb; default seeded N(0,1) values)\n"
           "  --shape [NAME=]S   input shape when not declared (e.g. 1x3x224x224)\n"
           "  --device-name S    label stored in the profile (default \"this-machine\")\n"
           "  --top N            print the N slowest nodes (default 10; 0 = none)\n"
           "  -o FILE            write the profile (JSON)\n"
           "  --json             print the profile JSON on stdout instead of the table\n"
           "  --calibrate-device micro-benchmark this machine into a device description\n"
           "  --name NAME        device name for --calibrate-device (default this-machine)\n"
           "  -h, --help         this text\n");
}

#ifdef CLEAVE_HAVE_NET
/* What a split's client (and, mirrored, the server) spends per request on
 * the KServe v2 codec, measured where it happens: right after a run of the
 * model, with the same idle gap before it. Times encoding the first input
 * as packed 8-bit codes (the JSON header and the binary section) and
 * parsing an answer that carries the outputs as JSON, as `cleave serve`
 * sends them, down to the top-1. Median over `repeat` requests. */
static cleave_status measure_request(cleave_ctx *ctx, const ir_graph *g, const cv_tensor *in,
                                     const cli_prof_opts *o, double *median_ms) {
    *median_ms = 0;
    rt_plan *p = NULL;
    rt_options ro = {0};
    net_buf ans = {0}, body = {0};
    double *t = cv_malloc(sizeof(double) * (size_t)(o->repeat > 0 ? o->repeat : 1));
    cv_tensor codes = in[0];
    codes.dtype = CV_U8;
    codes.data = NULL;
    cleave_status st = t ? CLEAVE_OK : cv_fail(ctx, CLEAVE_E_NOMEM, "profile: out of memory");
    if (!st) st = rt_plan_create(ctx, g, NULL, 0, NULL, 0, in, &ro, &p);
    if (!st) st = rt_plan_run(p, in);
    int64_t n = in[0].dtype == CV_F32 ? cv_numel(&in[0]) : 0;
    if (!st && n <= 0) st = cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "profile: request codec: the first input is not float");
    if (!st && !(codes.data = cv_aligned_alloc((size_t)n))) st = cv_fail(ctx, CLEAVE_E_NOMEM, "profile: out of memory");
    if (!st) {
        const float *x = in[0].data;
        uint8_t *q = codes.data;
        for (int64_t i = 0; i < n; i++) {
            float v = roundf(x[i] * 32 + 128);
            q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        /* the answer: every output as JSON, as the server writes it */
        int no = rt_plan_n_outputs(p);
        if (no > NET_V2_MAX_TENSORS) no = NET_V2_MAX_TENSORS;
        cv_tensor outs[NET_V2_MAX_TENSORS];
        const char *names[NET_V2_MAX_TENSORS];
        int bin[NET_V2_MAX_TENSORS];
        for (int k = 0; k < no; k++) {
            outs[k] = *rt_plan_output(p, k);
            names[k] = g->values[rt_plan_output_id(p, k)].name;
            bin[k] = 0;
        }
        size_t hl = 0;
        st = net_v2_response_encode(ctx, "model", "1", "0", outs, names, bin, no, NULL, &ans, &hl);
    }
    for (int r = 0; !st && r < o->repeat; r++) {
        cv_sleep_ms(o->gap_ms);
        if ((st = rt_plan_run(p, in))) break;
        double t0 = cv_now_ms();
        net_v2_input vin = {.name = g->values[rt_plan_input_id(p, 0)].name, .t = &codes, .quant_bits = 8,
                            .quant_scale = 1.0f / 32, .quant_zero_point = 128};
        size_t hl = 0;
        if ((st = net_v2_request_encode(ctx, "0", &vin, 1, NULL, 0, 1, NULL, &body, &hl))) break;
        net_v2_response resp;
        if ((st = net_v2_response_parse(ctx, ans.data, ans.len, NULL, &resp))) break;
        cv_tensor ot = {0};
        st = resp.n_outputs > 0 ? net_v2_tensor_decode(ctx, &resp.outputs[resp.n_outputs - 1], &ot) : CLEAVE_OK;
        if (!st && ot.dtype == CV_F32) (void)quant_argmax(ot.data, cv_numel(&ot));
        cv_aligned_free(ot.data);
        net_v2_response_free(&resp);
        t[r] = cv_now_ms() - t0;
        net_buf_free(&body);
    }
    if (!st) {
        cost_stat s;
        cost_stat_of(t, o->repeat, &s);
        *median_ms = s.median_ms;
    }
    net_buf_free(&body);
    net_buf_free(&ans);
    cv_aligned_free(codes.data);
    rt_plan_destroy(p);
    cv_free(t);
    return st;
}
#endif

cleave_status cli_profile_model(cleave_ctx *ctx, const char *path, const cli_prof_opts *o,
                                cost_profile *out) {
    return cli_profile_model_n(ctx, path, o, 1, 0, out);
}

cleave_status cli_profile_model_n(cleave_ctx *ctx, const char *path, const cli_prof_opts *o, int n_prof,
                                  int rounds, cost_profile *out) {
    if (n_prof < 1 || n_prof > COST_PROFILE_MAX_N)
        return cv_fail(ctx, CLEAVE_E_INVALID, "profile: %d profiles at once (1..%d)", n_prof, COST_PROFILE_MAX_N);
    memset(out, 0, sizeof *out * (size_t)n_prof);
    if (rounds <= 0) rounds = o->rounds > 0 ? o->rounds : CLI_PROF_ROUNDS;
    char sha[65];
    CV_TRY(cv_sha256_file(ctx, path, sha));
    cleave_status st = CLEAVE_OK;
    cli_qmodel m;
    memset(&m, 0, sizeof m);
    ir_graph *g = NULL, *owned = NULL;
    cv_tensor specs[CLI_MAX_INPUTS];
    memset(specs, 0, sizeof specs);
    int n_in = 0;
    int *wb = NULL, *ab = NULL;
    quant_stats qs;
    memset(&qs, 0, sizeof qs);
    if (o->dtype == COST_DT_INT8) {
        if ((st = cli_qmodel_load(ctx, path, &m))) goto out;
        quant_config cfg;
        if ((st = cli_quant_setup(ctx, &m, NULL, 8, 8, NULL, o->calib ? o->calib : "random", 16,
                                  NULL, &cfg, &wb, &ab, &qs)))
            goto out;
        if ((st = ir_graph_clone(ctx, m.g, &owned))) goto out;
        quant_apply_info info;
        if ((st = quant_apply(ctx, owned, m.layers, m.n_layers, wb, ab, &cfg, &qs, &info))) goto out;
        int n_int = 0;
        if ((st = quant_lower_int8(ctx, owned, &n_int))) goto out;
        g = owned;
    } else {
        if ((st = cli_load_model(ctx, path, 1, &owned, NULL))) goto out;
        g = owned;
    }
    if (o->input) {
        if ((st = cli_read_tensor(ctx, o->input, &specs[0], NULL))) goto out;
        n_in = 1;
    } else {
        cli_shapes none = {.batch = 1};
        if ((st = cli_input_specs(ctx, g, o->shapes ? o->shapes : &none, specs, &n_in))) goto out;
        for (int k = 0; k < n_in; k++)
            if ((st = cli_random_tensor(ctx, &specs[k], 1234 + (uint64_t)k))) goto out;
    }
    const char *slash = strrchr(path, '/');
    char label[96];
    snprintf(label, sizeof label, "profiling %s", slash ? slash + 1 : path);
    const char *emu = getenv("CLEAVE_EMULATION");
    double min_block = o->min_block_ms > 0 ? o->min_block_ms : (emu && emu[0] ? 6000 : 0);
    st = cost_profile_measure_n(ctx, g, specs, n_in, n_prof, rounds, o->warmup, o->repeat, min_block,
                                o->gap_ms, o->quiet ? NULL : cli_progress, label, out);
    if (st) goto out;
#ifdef CLEAVE_HAVE_NET
    for (int k = 0; k < n_prof && o->request && !st; k++) st = measure_request(ctx, g, specs, o, &out[k].request_ms);
#endif
    for (int k = 0; k < n_prof && !st; k++) {
        out[k].model = cv_strdup(path);
        memcpy(out[k].model_sha256, sha, sizeof sha);
        snprintf(out[k].emulation, sizeof out[k].emulation, "%s", emu ? emu : "");
        if (!out[k].model) st = cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
    }
    if (st)
        for (int k = 0; k < n_prof; k++) cost_profile_free(&out[k]);
out:
    if (m.g) {
        quant_stats_free(&qs);
        cli_qmodel_free(&m);
    }
    cv_free(wb);
    cv_free(ab);
    for (int k = 0; k < CLI_MAX_INPUTS; k++) cv_aligned_free(specs[k].data);
    if (owned) ir_graph_destroy(owned);
    return st;
}

static void print_profile(const cost_profile *p, int top) {
    double sum_med = cost_profile_sum_median(p), sum_mean = cost_profile_sum_mean(p);
    printf("model        %s (sha256 %.16s...)\n", p->model, p->model_sha256);
    printf("device       %s%s%s, %d thread%s, %s\n", p->device, p->emulation[0] ? ", emulated: " : "",
           p->emulation, p->threads, p->threads > 1 ? "s" : "", cost_dtype_name(p->dtype));
    printf("inputs       %s\n", p->input_shapes);
    printf("whole model  median %.3f ms  mean %.3f  min %.3f  p10 %.3f  p90 %.3f  (%d runs after %d warm-up)\n",
           p->whole.median_ms, p->whole.mean_ms, p->whole.min_ms, p->whole.p10_ms, p->whole.p90_ms,
           p->repeat, p->warmup);
    if (p->emulation[0])
        printf("nodes        %d; sum of means %.3f ms (%+.1f%% vs whole mean); emulated: a node stands for "
               "its share of the fastest runs times the whole mean\n", p->n, sum_mean,
               100.0 * (sum_mean / p->whole.mean_ms - 1));
    else
        printf("nodes        %d; sum of medians %.3f ms (%+.1f%% vs whole median), sum of means %.3f ms (%+.1f%%)\n",
               p->n, sum_med, 100.0 * (sum_med / p->whole.median_ms - 1), sum_mean,
               100.0 * (sum_mean / p->whole.median_ms - 1));
    if (p->request_ms > 0)
        printf("request      v2 codec %.3f ms per request (median, right after a run: encode the input as\n"
               "             8-bit codes, parse an answer carrying the outputs)\n", p->request_ms);
    double cls_ms[COST_OP_N] = {0};
    int cls_n[COST_OP_N] = {0};
    for (int i = 0; i < p->n; i++) cls_ms[p->nodes[i].f.cls] += cost_profile_node_ms(p, i), cls_n[p->nodes[i].f.cls]++;
    printf("by class    ");
    for (int c = 0; c < COST_OP_N; c++)
        if (cls_n[c]) printf("  %s %.3f ms (%d)", cost_op_class_name((cost_op_class)c), cls_ms[c], cls_n[c]);
    printf("\n");
    if (top <= 0 || p->n == 0) return;
    int *idx = cv_malloc(sizeof(int) * (size_t)p->n);
    if (!idx) return;
    for (int i = 0; i < p->n; i++) idx[i] = i;
    for (int a = 1; a < p->n; a++) { /* insertion sort by median, descending; stable */
        int x = idx[a], b = a - 1;
        while (b >= 0 && p->nodes[idx[b]].t.median_ms < p->nodes[x].t.median_ms) idx[b + 1] = idx[b], b--;
        idx[b + 1] = x;
    }
    printf("\n%-4s %-32s %-14s %-7s %10s %10s %10s %12s\n", "#", "node", "op", "class", "median ms",
           "p10", "p90", "MACs");
    for (int k = 0; k < top && k < p->n; k++) {
        const cost_prof_node *n = &p->nodes[idx[k]];
        printf("%-4d %-32.32s %-14.14s %-7s %10.4f %10.4f %10.4f %12.0f\n", idx[k], n->f.name,
               n->f.op_type, cost_op_class_name(n->f.cls), n->t.median_ms, n->t.p10_ms, n->t.p90_ms,
               n->f.macs);
    }
    cv_free(idx);
}

static int calibrate_device(int threads, const char *name, const char *outp) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    cleave_ctx_set_threads(ctx, threads);
    cost_device d;
    memset(&d, 0, sizeof d);
    int rc = 0;
    if (cost_device_calibrate(ctx, threads, 1, &d)) {
        rc = cli_error(ctx);
    } else {
        snprintf(d.name, sizeof d.name, "%s", name);
        if (outp && cost_device_save(ctx, outp, &d)) rc = cli_error(ctx);
        else {
            printf("device       %s (%d cores, %s)\n", d.name, d.cores, d.calibrated);
            printf("peak/core    fp32 %.1f GFLOP/s, int8 %.1f GOP/s\n", d.peak_gops[COST_DT_FP32],
                   d.peak_gops[COST_DT_INT8]);
            for (int t = 0; t < COST_DT_N; t++) {
                printf("efficiency   %-5s", cost_dtype_name((cost_dtype)t));
                for (int c = 0; c < COST_OP_N; c++)
                    printf(" %s %.2f", cost_op_class_name((cost_op_class)c), d.efficiency[t][c]);
                printf("\n");
            }
            printf("memory       %.1f GB/s; per-node overhead %.2f us\n", d.mem_bw_gbs, d.op_overhead_us);
            if (outp) printf("written      %s\n", outp);
        }
    }
    cleave_ctx_destroy(ctx);
    return rc;
}

int cli_prof_parse_opt(int argc, char **argv, int *i, int *threads, cli_prof_opts *o) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    const cli_int_opt ints[] = {{"--threads", 1, 1024, threads},
                                {"--warmup", 0, 100000, &o->warmup},
                                {"--repeat", 1, 1000000, &o->repeat},
                                {"--rounds", 1, 1000, &o->rounds},
                                {0}};
    int took = cli_int_option(argc, argv, i, ints), ok;
    if (took) return took;
    if (!strcmp(a, "--gap-ms") && v) {
        char *e;
        o->gap_ms = strtod(v, &e);
        ok = !*e && o->gap_ms >= 0 && o->gap_ms <= 10000;
        if (!ok) fprintf(stderr, "cleave profile: --gap-ms needs milliseconds in 0..10000, not '%s'\n", v);
    }
    else if (!strcmp(a, "--dtype") && v) {
        int d = cost_dtype_parse(v);
        if (d < 0) fprintf(stderr, "cleave profile: --dtype must be fp32 or int8, not '%s'\n", v);
        else o->dtype = (cost_dtype)d;
        ok = d >= 0;
    } else return 0;
    if (!ok) return -1;
    (*i)++;
    return 1;
}

int cmd_profile(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--validate")) return cmd_profile_validate(argc, argv);
    const char *model = NULL, *outp = NULL, *devname = "this-machine", *name = "this-machine";
    int threads = 1, top = 10, json = 0, calib_dev = 0, rc = 1;
    cli_shapes shapes = {.batch = 1};
    cli_prof_opts o = {.dtype = COST_DT_FP32, .warmup = 5, .repeat = 30, .shapes = &shapes, .request = 1};
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    cost_profile prof;
    memset(&prof, 0, sizeof prof);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            rc = 0;
            goto out;
        }
        int took = cli_prof_parse_opt(argc, argv, &i, &threads, &o);
        if (took < 0) goto out;
        if (took) continue;
        if (!strcmp(a, "--top")) {
            if (!cli_parse_int(a, v, 0, 100000, &top)) goto out;
            i++;
        } else if (!strcmp(a, "--calib") && v) o.calib = v, i++;
        else if (!strcmp(a, "--input") && v) o.input = v, i++;
        else if (!strcmp(a, "--shape") && v) {
            if (cli_parse_shape(ctx, v, &shapes)) goto err;
            i++;
        } else if (!strcmp(a, "--device-name") && v) devname = v, i++;
        else if (!strcmp(a, "--name") && v) name = v, i++;
        else if (!strcmp(a, "-o") && v) outp = v, i++;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--calibrate-device")) calib_dev = 1;
        else if (!cli_positional("profile", a, &model)) goto out;
    }
    if (calib_dev) {
        if (model) {
            fprintf(stderr, "cleave profile: --calibrate-device takes no model\n");
            goto out;
        }
        rc = calibrate_device(threads, name, outp);
        goto out;
    }
    if (!model) {
        fprintf(stderr, "cleave profile: no model given (see --help)\n");
        goto out;
    }
    cleave_ctx_set_threads(ctx, threads);
    o.quiet = json;
    if (cli_profile_model(ctx, model, &o, &prof)) goto err;
    snprintf(prof.device, sizeof prof.device, "%s", devname);
    if (outp && cost_profile_save(ctx, outp, &prof)) goto err;
    if (json) {
        if (cost_profile_save(ctx, "/dev/stdout", &prof)) goto err;
    } else {
        print_profile(&prof, top);
        if (outp) printf("written      %s\n", outp);
    }
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    cost_profile_free(&prof);
    cleave_ctx_destroy(ctx);
    return rc;
}
