/* cleave run: run a model on tensors read from .npy / .pb files and write
 * every output as .npy (or .pb). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/npy.h"
#include "cli/cli.h"
#include "onnx/onnx.h"

static void help(void) {
    printf("usage: cleave run MODEL.onnx --input [NAME=]FILE ... --output PATH [options]\n"
           "       cleave run --plan plan.json --server URL --data SPEC [options]  (the edge\n"
           "       client of a split: `cleave run --plan x --help`)\n\n"
           "Runs the model once on the given inputs (.npy or ONNX TensorProto .pb) and writes\n"
           "each output. Inputs without NAME= are bound to the model's inputs in order.\n\n"
           "options:\n"
           "  --input [NAME=]FILE  an input tensor (repeat for several inputs)\n"
           "  --output PATH        a folder (one OUTPUT_NAME.npy per output, created if\n"
           "                       missing) or a .npy/.pb file when the model has one output\n"
           "  --format npy|pb      file type written into a folder (default npy)\n"
           "  --threads N          threads (default 1)\n"
           "  --ref                reference C kernels only (no oneDNN)\n"
           "  --pack               hold activations below 8 bits packed (with --ref or a\n"
           "                       build without oneDNN: the edge engine's memory)\n"
           "  --raw                do not optimise the graph\n"
           "  --time               print the run time\n"
           "  -h, --help           this text\n");
}

static void safe_name(char *dst, size_t n, const char *s) {
    size_t o = 0;
    for (; *s && o + 1 < n; s++)
        dst[o++] = (*s == '/' || *s == '\\' || *s == ':' || (unsigned char)*s < 32) ? '_' : *s;
    dst[o] = 0;
    if (!o || !strcmp(dst, ".") || !strcmp(dst, "..")) snprintf(dst, n, "output");
}

static cleave_status write_tensor(cleave_ctx *ctx, const char *path, const cv_tensor *t, const char *name) {
    size_t l = strlen(path);
    if (l > 3 && !strcmp(path + l - 3, ".pb")) return onnx_tensor_save_file(ctx, t, name, path);
    return cv_npy_save(ctx, path, t);
}

int cmd_run(int argc, char **argv) {
#ifndef CLEAVE_NO_NET
    /* with --plan this is the edge client (cmd_edge.c) */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--plan")) return cmd_edge(argc, argv);
#endif
    fast_set_deterministic(1); /* the same output bits every run */
    const char *model = NULL, *output = NULL, *format = "npy";
    const char *in_arg[CLI_MAX_INPUTS];
    int n_arg = 0, threads = 1, ref = 0, pack = 0, raw = 0, show_time = 0, rc = 1;
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    ir_graph *g = NULL;
    rt_plan *p = NULL;
    cv_tensor in[CLI_MAX_INPUTS];
    memset(in, 0, sizeof in);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--input") && v) {
            if (n_arg >= CLI_MAX_INPUTS) {
                fprintf(stderr, "cleave run: too many inputs\n");
                goto out;
            }
            in_arg[n_arg++] = v;
            i++;
        } else if (!strcmp(a, "--output") && v) output = v, i++;
        else if (!strcmp(a, "--format") && v) {
            format = v;
            i++;
            if (strcmp(format, "npy") && strcmp(format, "pb")) {
                fprintf(stderr, "cleave run: --format must be npy or pb\n");
                goto out;
            }
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int(a, v, 1, 1024, &threads)) goto out;
            i++;
        } else if (!strcmp(a, "--ref")) ref = 1;
        else if (!strcmp(a, "--pack")) pack = 1;
        else if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "--time")) show_time = 1;
        else if (!cli_positional("run", a, &model)) goto out;
    }
    if (!model || !output) {
        fprintf(stderr, "cleave run: need a model and --output (see --help)\n");
        goto out;
    }
    cleave_ctx_set_threads(ctx, threads);
    cleave_ctx_set_fast(ctx, !ref);
    if (cli_load_model(ctx, model, !raw, &g, NULL)) goto err;
    int ids[CLI_MAX_INPUTS], n_in = 0;
    for (int i = 0; i < g->n_inputs && n_in < CLI_MAX_INPUTS; i++)
        if (!g->values[g->inputs[i]].is_initializer) ids[n_in++] = g->inputs[i];
    if (n_arg != n_in) {
        fprintf(stderr, "cleave run: %s has %d input(s), %d given\n", model, n_in, n_arg);
        goto out;
    }
    int bound[CLI_MAX_INPUTS] = {0};
    cv_tensor ordered[CLI_MAX_INPUTS];
    for (int k = 0, next = 0; k < n_arg; k++) {
        const char *eq = strchr(in_arg[k], '=');
        const char *file = eq ? eq + 1 : in_arg[k];
        if (cli_read_tensor(ctx, file, &in[k], NULL)) goto err;
        int slot = -1;
        if (eq) {
            for (int j = 0; j < n_in; j++)
                if (strlen(g->values[ids[j]].name) == (size_t)(eq - in_arg[k]) &&
                    !strncmp(g->values[ids[j]].name, in_arg[k], (size_t)(eq - in_arg[k])))
                    slot = j;
            if (slot < 0) {
                fprintf(stderr, "cleave run: %s has no input named '%.*s'\n", model,
                        (int)(eq - in_arg[k]), in_arg[k]);
                goto out;
            }
        } else {
            while (next < n_in && bound[next]) next++;
            slot = next;
        }
        if (slot >= n_in || bound[slot]) {
            fprintf(stderr, "cleave run: input '%s' given twice\n", g->values[ids[slot < n_in ? slot : 0]].name);
            goto out;
        }
        bound[slot] = 1;
        ordered[slot] = in[k];
    }
    rt_options opt = {.pack_activations = pack};
    if (rt_plan_create(ctx, g, ids, n_in, NULL, 0, ordered, &opt, &p)) goto err;
    double t0 = cv_now_ms();
    if (rt_plan_run(p, ordered)) goto err;
    double ms = cv_now_ms() - t0;
    int n_out = rt_plan_n_outputs(p);
    struct stat sb;
    int to_dir = n_out > 1 || (stat(output, &sb) == 0 && S_ISDIR(sb.st_mode)) ||
                 (!strstr(output, ".npy") && !strstr(output, ".pb"));
    if (to_dir) mkdir(output, 0755);
    for (int k = 0; k < n_out; k++) {
        const char *nm = g->values[rt_plan_output_id(p, k)].name;
        char path[4096], sn[512];
        safe_name(sn, sizeof sn, nm);
        if (to_dir) snprintf(path, sizeof path, "%s/%s.%s", output, sn, format);
        else snprintf(path, sizeof path, "%s", output);
        if (write_tensor(ctx, path, rt_plan_output(p, k), nm)) goto err;
        char shp[128];
        const cv_tensor *t = rt_plan_output(p, k);
        printf("%s: %s %s -> %s\n", nm, cv_dtype_name(t->dtype), cv_shape_str(t->ndim, t->dims, shp, sizeof shp), path);
    }
    if (show_time) {
        printf("run: %.3f ms (%d thread%s, %s kernels)\n", ms, threads, threads > 1 ? "s" : "",
               ref ? "reference" : "fast");
        printf("memory: arena %zu B (activations%s and scratch), weights held %zu B\n",
               rt_plan_arena_bytes(p), pack ? " packed below 8 bits" : "", rt_plan_weight_bytes(p));
    }
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    for (int k = 0; k < CLI_MAX_INPUTS; k++) cv_aligned_free(in[k].data);
    rt_plan_destroy(p);
    ir_graph_destroy(g);
    cleave_ctx_destroy(ctx);
    return rc;
}
