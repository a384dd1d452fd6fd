/* cleave bench: warm-up, repeated timed runs (median, min, p10/p90 spread),
 * then the same model and input through ONNX Runtime in the same run, and
 * the ratio. --profile adds the per-node time table. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/npy.h"
#include "cli/cli.h"

static void help(void) {
    printf("usage: cleave bench MODEL.onnx [options]\n\n"
           "Times the model with cleave, then with ONNX Runtime (tools/ort_run.js under Node)\n"
           "in the same run on the same input, and prints both medians and their ratio.\n\n"
           "options:\n"
           "  --threads N       threads for both engines (default 1)\n"
           "  --warmup N        untimed runs first (default 5)\n"
           "  --repeat N        timed runs (default 30)\n"
           "  --input FILE      input tensor (.npy/.pb; default: seeded N(0,1) values)\n"
           "  --shape [NAME=]S  input shape when not declared (e.g. 1x3x224x224)\n"
           "  --ref             reference C kernels only (no oneDNN)\n"
           "  --no-ort          skip ONNX Runtime\n"
           "  --ort-model FILE  time this model with ONNX Runtime instead (e.g. the fp32\n"
           "                    original of a quantized MODEL)\n"
           "  --profile         per-node time table (top 15 nodes)\n"
           "  -h, --help        this text\n");
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cmd_bench(int argc, char **argv) {
    const char *model = NULL, *input = NULL;
    int threads = 1, warmup = 5, repeat = 30, ref = 0, no_ort = 0, profile = 0, rc = 1;
    const char *ort_model = NULL;
    cli_shapes shapes = {.batch = 1};
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    ir_graph *g = NULL;
    rt_plan *p = NULL;
    cv_tensor specs[CLI_MAX_INPUTS];
    int n_in = 0;
    double *times = NULL;
    char tmp_npy[64] = "";
    memset(specs, 0, sizeof specs);
    const cli_int_opt ints[] = {{"--threads", 1, 1024, &threads},
                                {"--warmup", 0, 100000, &warmup},
                                {"--repeat", 1, 1000000, &repeat},
                                {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            rc = 0;
            goto out;
        }
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) goto out;
        if (took) continue;
        if (!strcmp(a, "--input") && v) input = v, i++;
        else if (!strcmp(a, "--shape") && v) {
            if (cli_parse_shape(ctx, v, &shapes)) goto err;
            i++;
        } else if (!strcmp(a, "--ref")) ref = 1;
        else if (!strcmp(a, "--no-ort")) no_ort = 1;
        else if (!strcmp(a, "--ort-model") && i + 1 < argc) ort_model = argv[++i];
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!cli_positional("bench", a, &model)) goto out;
    }
    if (!model) {
        fprintf(stderr, "cleave bench: no model given (see --help)\n");
        goto out;
    }
    cleave_ctx_set_threads(ctx, threads);
    cleave_ctx_set_fast(ctx, !ref);
    if (cli_load_model(ctx, model, 1, &g, NULL)) goto err;
    if (input) {
        if (cli_read_tensor(ctx, input, &specs[0], NULL)) goto err;
        n_in = 1;
    } else {
        if (cli_input_specs(ctx, g, &shapes, specs, &n_in)) goto err;
        for (int k = 0; k < n_in; k++)
            if (cli_random_tensor(ctx, &specs[k], 1234 + (uint64_t)k)) goto err;
    }
    rt_options opt = {.profile = profile};
    if (rt_plan_create(ctx, g, NULL, 0, NULL, 0, specs, &opt, &p)) goto err;
    for (int i = 0; i < warmup; i++)
        if (rt_plan_run(p, specs)) goto err;
    rt_plan_reset_profile(p);
    times = cv_malloc(sizeof(double) * (size_t)repeat);
    if (!times) goto out;
    for (int i = 0; i < repeat; i++) {
        double t0 = cv_now_ms();
        if (rt_plan_run(p, specs)) goto err;
        times[i] = cv_now_ms() - t0;
    }
    qsort(times, (size_t)repeat, sizeof(double), cmp_d);
    double med = times[repeat / 2], p10 = times[repeat / 10], p90 = times[(repeat * 9) / 10];
    printf("model        %s\n", model);
    printf("threads      %d\n", threads);
    printf("cleave       median %.3f ms  min %.3f  p10 %.3f  p90 %.3f  spread %.1f%%  (%d runs, %s kernels)\n",
           med, times[0], p10, p90, 100.0 * (p90 - p10) / med, repeat, ref ? "reference" : "fast");
    printf("memory       peak activations %.2f MB (sum of all activations %.2f MB; arena %.2f MB incl. scratch); weights held %.2f MB\n",
           (double)rt_plan_peak_live_bytes(p) / 1e6, (double)rt_plan_total_activation_bytes(p) / 1e6,
           (double)rt_plan_arena_bytes(p) / 1e6, (double)rt_plan_weight_bytes(p) / 1e6);
    if (!no_ort) {
        if (n_in != 1) {
            printf("onnxruntime  skipped: the reference bench takes one input\n");
        } else {
            const char *npy = input;
            if (!input || !strstr(input, ".npy")) {
                snprintf(tmp_npy, sizeof tmp_npy, "/tmp/cleave-bench-XXXXXX");
                int fd = mkstemp(tmp_npy);
                if (fd < 0) {
                    fprintf(stderr, "cleave bench: cannot create a temporary file\n");
                    goto out;
                }
                close(fd);
                if (cv_npy_save(ctx, tmp_npy, &specs[0])) goto err;
                npy = tmp_npy;
            }
            double omed, omin;
            char why[512];
            if (cli_ort_bench(ort_model ? ort_model : model, npy, threads, warmup, repeat, &omed, &omin, why, sizeof why) == 0) {
                printf("onnxruntime  median %.3f ms  min %.3f%s%s\n", omed, omin,
                       ort_model ? "  on " : "", ort_model ? ort_model : "");
                printf("ratio        cleave/onnxruntime = %.3f (median), %.3f (min)\n", med / omed,
                       times[0] / omin);
            } else {
                printf("onnxruntime  not measured: %s\n", why);
            }
        }
    }
    if (profile) {
        int ns = rt_plan_n_steps(p), runs = rt_plan_runs(p);
        int *idx = cv_malloc(sizeof(int) * (size_t)(ns + 1));
        if (idx && runs) {
            double total = 0;
            for (int s = 0; s < ns; s++) idx[s] = s, total += (double)rt_plan_step_ns(p, s);
            for (int a = 1; a < ns; a++) {
                int x = idx[a], b = a - 1;
                while (b >= 0 && rt_plan_step_ns(p, idx[b]) < rt_plan_step_ns(p, x)) idx[b + 1] = idx[b], b--;
                idx[b + 1] = x;
            }
            printf("\nper-node time (mean over %d runs; total %.3f ms)\n", runs, total / 1e6 / runs);
            /* by op type */
            const char *types[64];
            double tms[64];
            int nty = 0, cnt[64];
            for (int s = 0; s < ns; s++) {
                const char *t = g->nodes[rt_plan_step_node(p, s)].op_type;
                int j = 0;
                while (j < nty && strcmp(types[j], t)) j++;
                if (j == nty && nty < 64) types[nty] = t, tms[nty] = 0, cnt[nty] = 0, nty++;
                if (j < 64) tms[j] += (double)rt_plan_step_ns(p, s) / 1e6 / runs, cnt[j]++;
            }
            printf("by op type:");
            for (int j = 0; j < nty; j++) printf("  %s %.3f ms (%d)", types[j], tms[j], cnt[j]);
            printf("\nslowest nodes:\n");
            for (int s = 0; s < ns && s < 15; s++) {
                const ir_node *n = &g->nodes[rt_plan_step_node(p, idx[s])];
                double ms = (double)rt_plan_step_ns(p, idx[s]) / 1e6 / runs;
                printf("  %8.3f ms %5.1f%%  %-14s %s\n", ms, 100.0 * ms * runs * 1e6 / total, n->op_type, n->name);
            }
        }
        cv_free(idx);
    }
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    if (tmp_npy[0]) unlink(tmp_npy);
    cv_free(times);
    for (int k = 0; k < CLI_MAX_INPUTS; k++) cv_aligned_free(specs[k].data);
    rt_plan_destroy(p);
    ir_graph_destroy(g);
    cleave_ctx_destroy(ctx);
    return rc;
}
