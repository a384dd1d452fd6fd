/* cleave eval: top-1 accuracy of a model (each output separately, so every
 * exit of an early-exit model) on a labelled dataset, in fp32 and, with a
 * bit configuration, quantized; next to it the agreement between the two
 * and the SQNR of the quantized outputs against fp32 (the fidelity figure
 * for models without labels). Streams the data batch by batch. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/npy.h"
#include "cli/cli_quant.h"
#include "onnx/onnx.h"

static void help(void) {
    printf("usage: cleave eval MODEL.onnx --data SPEC [--bits CONFIG.json | --uniform W,A] [options]\n\n"
           "Evaluates the model on the test split (top-1 per output: every exit of an\n"
           "early-exit model). With a bit configuration the model is also quantized\n"
           "(QDQ simulation of exactly what `cleave quantize` exports) and compared with\n"
           "fp32: top-1 of both, the drop, the share of inputs whose top-1 agrees and the\n"
           "SQNR of the quantized outputs. Without labels only agreement and SQNR.\n\n"
           "options:\n"
           "  --data SPEC        fashion-mnist[:DIR] (test split), random or FILE.npy\n"
           "  --bits FILE        bit configuration (docs/quantization.md)\n"
           "  --uniform W,A      all weights W bits, all activations A bits (2..8 or 32)\n"
           "  --stats FILE       calibration statistics from `cleave calibrate`; without it\n"
           "                     the model is calibrated first on --calib-n training inputs\n"
           "  --calib-n N        calibration inputs when no --stats (default 512)\n"
           "  --n N              evaluate the first N inputs only (default all; random: 256)\n"
           "  --batch B          batch size (default 100)\n"
           "  --threads N        threads (default 1)\n"
           "  --ort              also run the evaluated model (the QDQ export when quantized)\n"
           "                     with ONNX Runtime: its top-1 and its agreement with cleave\n"
           "  --sim              keep the quantized model in float simulation (QDQ) instead\n"
           "                     of running 8-bit convolutions and adds on integers\n"
           "  --json             print one JSON object instead of the table\n"
           "  -h, --help         this text\n");
}

typedef struct batch_plan {
    rt_plan *p;
    int batch;
} batch_plan;

static cleave_status run_batch(cleave_ctx *ctx, const ir_graph *g, batch_plan *bp, const cv_tensor *in) {
    if (bp->batch != in->dims[0]) {
        rt_plan_destroy(bp->p);
        bp->p = NULL;
        CV_TRY(rt_plan_create(ctx, g, NULL, 0, NULL, 0, in, NULL, &bp->p));
        bp->batch = (int)in->dims[0];
    }
    return rt_plan_run(bp->p, in);
}

typedef struct out_acc {
    double ok_f, ok_q, agree, sig, err;
    double ok_ort, agree_ort;
    int *pred; /* cleave's top-1 per input of the evaluated model */
} out_acc;

/* Run the evaluated graph g with ONNX Runtime in chunks and count its top-1
 * against the labels and its agreement with cleave's predictions. */
static cleave_status eval_ort(cleave_ctx *ctx, const ir_graph *g, const cli_dataset *ds, int total,
                              int threads, out_acc *acc) {
    char dir[] = "/tmp/cleave-eval-XXXXXX";
    if (!mkdtemp(dir)) return cv_fail(ctx, CLEAVE_E_IO, "cannot create a temporary folder in /tmp");
    char model[64], in_path[64];
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    snprintf(in_path, sizeof in_path, "%s/input.npy", dir);
    enum { CHUNK = 1000 };
    cleave_status s = onnx_save_file(ctx, g, model);
    int *idx = cv_malloc(sizeof(int) * CHUNK);
    cv_tensor x = ds->in_spec;
    x.data = cv_aligned_alloc(sizeof(float) * (size_t)ds->per_sample * CHUNK + 64);
    if (!s && (!idx || !x.data)) s = cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
    for (int first = 0; first < total && !s; first += CHUNK) {
        int b = total - first < CHUNK ? total - first : CHUNK;
        for (int i = 0; i < b; i++) idx[i] = first + i;
        x.dims[0] = b;
        if ((s = cli_dataset_fill(ctx, ds, idx, b, x.data)) || (s = cv_npy_save(ctx, in_path, &x))) break;
        char js[16384], why[512];
        if (cli_ort_run(model, in_path, dir, threads, js, sizeof js, why, sizeof why)) {
            s = cv_fail(ctx, CLEAVE_E_IO, "--ort: %s", why);
            break;
        }
        json_t *root = json_loads(js, 0, NULL);
        json_t *outs = json_object_get(root, "outputs");
        for (int k = 0; k < g->n_outputs && !s; k++) {
            json_t *o = json_array_get(outs, (size_t)k);
            const char *nm = json_string_value(json_object_get(o, "name"));
            const char *file = json_string_value(json_object_get(o, "file"));
            if (!nm || !file || strcmp(nm, g->values[g->outputs[k]].name)) {
                s = cv_fail(ctx, CLEAVE_E_INTERNAL, "--ort: output %d of ONNX Runtime is not '%s'", k,
                            g->values[g->outputs[k]].name);
                break;
            }
            cv_tensor t;
            if ((s = cv_npy_load(ctx, file, &t))) break;
            int64_t per = t.dtype == CV_F32 && t.ndim >= 1 && t.dims[0] == b ? cv_numel(&t) / b : 0;
            for (int i = 0; per && i < b; i++) {
                int64_t a = quant_argmax((const float *)t.data + per * i, per);
                acc[k].ok_ort += a == cli_dataset_label(ds, first + i);
                acc[k].agree_ort += a == acc[k].pred[first + i];
            }
            cv_aligned_free(t.data);
            remove(file);
            if (!per) s = cv_fail(ctx, CLEAVE_E_INVALID, "--ort: output '%s' is not float [N, ...]", nm);
        }
        json_decref(root);
        cli_progress((void *)"onnxruntime", first + b, total);
    }
    remove(in_path);
    remove(model);
    rmdir(dir);
    cv_free(idx);
    cv_aligned_free(x.data);
    return s;
}

int cmd_eval(int argc, char **argv) {
    fast_set_deterministic(1); /* accuracy figures: the same bits every run */
    const char *model = NULL, *data = NULL, *bits = NULL, *stats_path = NULL;
    int uw = 0, ua = 0, calib_n = 512, n = 0, batch = 100, threads = 1, as_json = 0, rc = 1;
    int use_ort = 0, sim = 0, n_int = 0;
    const cli_int_opt ints[] = {{"--calib-n", 1, 1 << 20, &calib_n},
                                {"--n", 1, 1 << 30, &n},
                                {"--batch", 1, 4096, &batch},
                                {"--threads", 1, 1024, &threads},
                                {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return 0;
        }
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) return 2;
        if (took) continue;
        if (!strcmp(a, "--data") && v) data = v, i++;
        else if (!strcmp(a, "--bits") && v) bits = v, i++;
        else if (!strcmp(a, "--stats") && v) stats_path = v, i++;
        else if (!strcmp(a, "--uniform") && v) {
            if (!cli_parse_uniform(v, &uw, &ua)) {
                fprintf(stderr, "cleave eval: --uniform: expected W,A with each 2..8 or 32 (got '%s')\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--json")) as_json = 1;
        else if (!strcmp(a, "--ort")) use_ort = 1;
        else if (!strcmp(a, "--sim")) sim = 1;
        else if (!cli_positional("eval", a, &model)) return 2;
    }
    if (!model || !data) {
        fprintf(stderr, "cleave eval: needs MODEL.onnx and --data (see --help)\n");
        return 2;
    }
    if (bits && uw) {
        fprintf(stderr, "cleave eval: give --bits or --uniform, not both\n");
        return 2;
    }
    int quantize = bits || uw;
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    cleave_ctx_set_threads(ctx, threads);
    cli_qmodel m;
    memset(&m, 0, sizeof m);
    quant_config cfg;
    quant_config_uniform(&cfg, 8, 8);
    quant_stats st;
    memset(&st, 0, sizeof st);
    cli_dataset ds;
    memset(&ds, 0, sizeof ds);
    ir_graph *qg = NULL, *qdq = NULL;
    int *wb = NULL, *ab = NULL, *idx = NULL;
    batch_plan pf = {0}, pq = {0};
    cv_tensor x = {0};
    out_acc acc[QUANT_MAX_OUTPUTS];
    memset(acc, 0, sizeof acc);
    quant_apply_info info = {0};
    if (cli_qmodel_load(ctx, model, &m)) goto err;
    if (m.g->n_outputs > QUANT_MAX_OUTPUTS) {
        cv_fail(ctx, CLEAVE_E_LIMIT, "%s: more than %d outputs", model, QUANT_MAX_OUTPUTS);
        goto err;
    }
    if (quantize) {
        if (cli_quant_setup(ctx, &m, bits, uw, ua, stats_path, data, calib_n, as_json ? NULL : "eval",
                            &cfg, &wb, &ab, &st))
            goto err;
        if (ir_graph_clone(ctx, m.g, &qg)) goto err;
        if (quant_apply(ctx, qg, m.layers, m.n_layers, wb, ab, &cfg, &st, &info)) goto err;
        /* ONNX Runtime gets the QDQ file (it lowers it itself) */
        if (use_ort && ir_graph_clone(ctx, qg, &qdq)) goto err;
        if (!sim && quant_lower_int8(ctx, qg, &n_int)) goto err;
    }
    if (cli_dataset_open(ctx, data, "test", &m.in_spec, &ds)) goto err;
    int total = ds.kind == CLI_DATA_RANDOM ? (n ? n : 256) : (n && n < ds.count ? n : ds.count);
    int labelled = cli_dataset_label(&ds, 0) >= 0;
    idx = cv_malloc(sizeof(int) * (size_t)batch);
    x = m.in_spec;
    x.data = cv_aligned_alloc(sizeof(float) * (size_t)ds.per_sample * (size_t)batch + 64);
    if (!idx || !x.data) {
        cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
        goto err;
    }
    for (int k = 0; use_ort && k < m.g->n_outputs; k++)
        if (!(acc[k].pred = cv_malloc(sizeof(int) * (size_t)total))) {
            cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
            goto err;
        }
    double t0 = cv_now_ms();
    for (int first = 0; first < total; first += batch) {
        int b = total - first < batch ? total - first : batch;
        for (int i = 0; i < b; i++) idx[i] = first + i;
        x.dims[0] = b;
        if (cli_dataset_fill(ctx, &ds, idx, b, x.data)) goto err;
        if (run_batch(ctx, m.g, &pf, &x)) goto err;
        if (quantize && run_batch(ctx, qg, &pq, &x)) goto err;
        for (int k = 0; k < m.g->n_outputs; k++) {
            const cv_tensor *of = rt_plan_output(pf.p, k);
            const cv_tensor *oq = quantize ? rt_plan_output(pq.p, k) : of;
            if (of->dtype != CV_F32 || of->ndim < 1 || of->dims[0] != b) {
                cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: output %d is not float [N, ...]", model, k);
                goto err;
            }
            int64_t per = cv_numel(of) / b;
            const float *f = of->data, *q = oq->data;
            for (int i = 0; i < b; i++) {
                int64_t af = quant_argmax(f + per * i, per), aq = quant_argmax(q + per * i, per);
                int lab = labelled ? cli_dataset_label(&ds, first + i) : -1;
                acc[k].ok_f += af == lab;
                acc[k].ok_q += aq == lab;
                acc[k].agree += af == aq;
                if (acc[k].pred) acc[k].pred[first + i] = (int)aq;
            }
            for (int64_t e = 0; e < per * b; e++) {
                double d = (double)f[e] - (double)q[e];
                acc[k].sig += (double)f[e] * f[e];
                acc[k].err += d * d;
            }
        }
        cli_progress((void *)"eval", first + b, total);
    }
    double secs = (cv_now_ms() - t0) / 1000;
    if (use_ort && eval_ort(ctx, quantize ? qdq : m.g, &ds, total, threads, acc)) goto err;
    if (as_json) {
        json_t *root = json_object();
        json_object_set_new(root, "model", json_string(model));
        json_object_set_new(root, "data", json_string(ds.desc));
        json_object_set_new(root, "images", json_integer(total));
        json_object_set_new(root, "quantized", json_boolean(quantize));
        if (quantize) {
            json_object_set_new(root, "config", json_string(bits ? bits : "uniform"));
            json_object_set_new(root, "weights_float_bytes", json_integer(info.weights_float_bytes));
            json_object_set_new(root, "weights_packed_bytes", json_integer(info.weights_packed_bytes));
            json_object_set_new(root, "integer_ops", json_integer(n_int));
        }
        json_t *outs = json_array();
        for (int k = 0; k < m.g->n_outputs; k++) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(m.g->values[m.g->outputs[k]].name));
            if (labelled) json_object_set_new(o, "top1_fp32", json_real(acc[k].ok_f / total));
            if (quantize) {
                if (labelled) json_object_set_new(o, "top1_quantized", json_real(acc[k].ok_q / total));
                json_object_set_new(o, "agreement", json_real(acc[k].agree / total));
                json_object_set_new(o, "sqnr_db", json_real(acc[k].err > 0 ? 10 * log10(acc[k].sig / acc[k].err) : 999));
            }
            if (use_ort) {
                if (labelled) json_object_set_new(o, "top1_onnxruntime", json_real(acc[k].ok_ort / total));
                json_object_set_new(o, "agreement_onnxruntime", json_real(acc[k].agree_ort / total));
            }
            json_array_append_new(outs, o);
        }
        json_object_set_new(root, "outputs", outs);
        char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(root);
    } else {
        printf("eval: %s on %s, %d inputs (%.1f s)\n", model, ds.desc, total, secs);
        if (quantize) {
            printf("quantized: %s; %d weights, %d activations; quantized weights %.1f KB fp32 -> "
                   "%.1f KB packed; %s\n",
                   bits ? bits : "uniform", info.n_weights, info.n_acts,
                   info.weights_float_bytes / 1024.0, info.weights_packed_bytes / 1024.0,
                   sim ? "float simulation" : n_int ? "integer kernels where possible" : "float simulation (nothing lowered)");
            printf("%-20s %10s %10s %9s %10s %9s\n", "output", "fp32 top1", "quant top1", "drop pt",
                   "agreement", "SQNR dB");
        } else {
            printf("%-20s %10s\n", "output", "fp32 top1");
        }
        for (int k = 0; k < m.g->n_outputs; k++) {
            const char *nm = m.g->values[m.g->outputs[k]].name;
            char f1[32] = "-", q1[32] = "-", dr[32] = "-";
            if (labelled) {
                snprintf(f1, sizeof f1, "%.2f%%", 100 * acc[k].ok_f / total);
                snprintf(q1, sizeof q1, "%.2f%%", 100 * acc[k].ok_q / total);
                snprintf(dr, sizeof dr, "%.2f", 100 * (acc[k].ok_f - acc[k].ok_q) / total);
            }
            if (quantize)
                printf("%-20s %10s %10s %9s %9.2f%% %9.1f\n", nm, f1, q1, dr,
                       100 * acc[k].agree / total,
                       acc[k].err > 0 ? 10 * log10(acc[k].sig / acc[k].err) : 999.0);
            else
                printf("%-20s %10s\n", nm, f1);
        }
        for (int k = 0; use_ort && k < m.g->n_outputs; k++) {
            char o1[32] = "-";
            if (labelled) snprintf(o1, sizeof o1, "%.2f%%", 100 * acc[k].ok_ort / total);
            printf("onnxruntime %-8s top1 %s, same top-1 as cleave on %.2f%% of the inputs\n",
                   m.g->values[m.g->outputs[k]].name, o1, 100 * acc[k].agree_ort / total);
        }
    }
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    for (int k = 0; k < QUANT_MAX_OUTPUTS; k++) cv_free(acc[k].pred);
    rt_plan_destroy(pf.p);
    rt_plan_destroy(pq.p);
    cv_aligned_free(x.data);
    cv_free(idx);
    cv_free(wb);
    cv_free(ab);
    ir_graph_destroy(qdq);
    ir_graph_destroy(qg);
    cli_dataset_close(&ds);
    quant_stats_free(&st);
    quant_config_free(&cfg);
    cli_qmodel_free(&m);
    cleave_ctx_destroy(ctx);
    return rc;
}
