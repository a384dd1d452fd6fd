/* cleave calibrate: run a model over calibration inputs, record a histogram
 * per activation, measure the per-layer distortion tables (each weight and
 * each activation quantized alone at each bit width) and, on request, test
 * the additivity the planner relies on: the distortion of a mixed
 * configuration against the sum of its layers' table entries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "cli/cli_quant.h"

static void help(void) {
    printf("usage: cleave calibrate MODEL.onnx --data SPEC -o STATS.json [options]\n\n"
           "Runs the model (its canonical graph: BatchNorm folded, activations fused) over\n"
           "calibration inputs and writes, for every quantization point, a histogram of the\n"
           "activation, then per-layer distortion tables: the output MSE and top-1 flip\n"
           "rate against fp32 when only that layer's weight, or only its activation, is\n"
           "quantized to each bit width. Format: docs/quantization.md.\n\n"
           "options:\n"
           "  --data SPEC        fashion-mnist[:DIR] (a seeded subset of the training split),\n"
           "                     random (seeded N(0,1) inputs) or FILE.npy ([N, ...] floats)\n"
           "  -o, --output FILE  statistics file to write (JSON)\n"
           "  --n N              calibration inputs (default 512)\n"
           "  --seed S           subset seed (default 0)\n"
           "  --batch B          batch size (default 32)\n"
           "  --bins N           histogram bins (default 2048)\n"
           "  --no-tables        skip the distortion tables\n"
           "  --table-bits LIST  bit widths of the tables (default 2,4,6,8)\n"
           "  --table-n N        inputs used for the tables (default 256, the first of the set)\n"
           "  --method M         activation clipping for the tables: minmax, percentile, mse,\n"
           "                     aciq-laplace, aciq-gauss (default mse); weights use mse\n"
           "  --additivity K     also measure K random mixed configurations (see above)\n"
           "  --threads N        threads (default 1)\n"
           "  -h, --help         this text\n");
}

static json_t *layers_json(const cli_qmodel *m) {
    json_t *arr = json_array();
    for (int k = 0; k < m->n_layers; k++) {
        const quant_layer *l = &m->layers[k];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(l->name));
        json_object_set_new(o, "op", json_string(l->node >= 0 ? m->g->nodes[l->node].op_type : "input"));
        if (l->weight >= 0) {
            json_object_set_new(o, "weight", json_string(m->g->values[l->weight].name));
            json_object_set_new(o, "weight_numel", json_integer(l->w_numel));
        }
        if (l->act >= 0) {
            json_object_set_new(o, "activation", json_string(m->g->values[l->act].name));
            json_object_set_new(o, "activation_numel", json_integer(l->a_numel));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

/* Spearman rank correlation of two arrays of n. */
static double spearman(const double *x, const double *y, int n) {
    double *rx = malloc(sizeof(double) * (size_t)n), *ry = malloc(sizeof(double) * (size_t)n);
    if (!rx || !ry) {
        free(rx);
        free(ry);
        return NAN;
    }
    for (int i = 0; i < n; i++) {
        double a = 0, b = 0;
        for (int j = 0; j < n; j++) {
            a += (x[j] < x[i]) + 0.5 * (j != i && x[j] == x[i]);
            b += (y[j] < y[i]) + 0.5 * (j != i && y[j] == y[i]);
        }
        rx[i] = a;
        ry[i] = b;
    }
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) mx += rx[i] / n, my += ry[i] / n;
    for (int i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    free(rx);
    free(ry);
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

/* K random configurations: every quantizable tensor gets a random width
 * from the table's set; predicted = sum of its table entries. */
static cleave_status additivity(cleave_ctx *ctx, const cli_qmodel *m, const quant_config *c,
                                const quant_stats *st, const quant_data *d,
                                const quant_outputs *ref, const quant_table *t, int K,
                                json_t **out) {
    int n = m->n_layers;
    int *wb = malloc(sizeof(int) * (size_t)n + 1), *ab = malloc(sizeof(int) * (size_t)n + 1);
    double *pred = malloc(sizeof(double) * (size_t)K + 1), *meas = malloc(sizeof(double) * (size_t)K + 1);
    cleave_status s = wb && ab && pred && meas ? CLEAVE_OK : cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
    json_t *runs = json_array();
    uint64_t r = 0x2545F4914F6CDD1Dull;
    double ratio_sum = 0;
    for (int i = 0; i < K && !s; i++) {
        double p = 0, pf = 0;
        for (int k = 0; k < n; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            int jw = (int)(r % (uint64_t)t->n_bits);
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            int ja = (int)(r % (uint64_t)t->n_bits);
            wb[k] = m->layers[k].weight >= 0 ? t->bits[jw] : QUANT_FLOAT;
            ab[k] = m->layers[k].act >= 0 ? t->bits[ja] : QUANT_FLOAT;
            if (m->layers[k].weight >= 0) p += t->w[k * t->n_bits + jw].mse, pf += t->w[k * t->n_bits + jw].flip;
            if (m->layers[k].act >= 0) p += t->a[k * t->n_bits + ja].mse, pf += t->a[k * t->n_bits + ja].flip;
        }
        quant_distortion q;
        s = quant_measure(ctx, m->g, m->layers, n, wb, ab, c, st, d, ref, &q);
        if (s) break;
        pred[i] = p;
        meas[i] = q.mse;
        ratio_sum += p > 0 ? q.mse / p : 0;
        json_t *o = json_object();
        json_object_set_new(o, "predicted_mse", json_real(p));
        json_object_set_new(o, "measured_mse", json_real(q.mse));
        json_object_set_new(o, "predicted_flip", json_real(pf));
        json_object_set_new(o, "measured_flip", json_real(q.flip));
        json_array_append_new(runs, o);
        cli_progress((void *)"additivity", i + 1, K);
    }
    if (!s) {
        double rho = spearman(pred, meas, K);
        json_t *o = json_object();
        json_object_set_new(o, "configs", json_integer(K));
        json_object_set_new(o, "mean_ratio_measured_over_predicted", json_real(ratio_sum / K));
        json_object_set_new(o, "spearman", json_real(isnan(rho) ? 0 : rho));
        json_object_set_new(o, "runs", runs);
        *out = o;
        printf("additivity: %d random configurations: measured/predicted output MSE %.3f on "
               "average, Spearman rank correlation %.3f\n",
               K, ratio_sum / K, rho);
    } else {
        json_decref(runs);
    }
    free(wb);
    free(ab);
    free(pred);
    free(meas);
    return s;
}

int cmd_calibrate(int argc, char **argv) {
    fast_set_deterministic(1); /* accuracy figures: the same bits every run */
    const char *model = NULL, *data = NULL, *outp = NULL, *method = "mse";
    int n = 512, batch = 32, bins = Q_HIST_DEFAULT_BINS, tables = 1, table_n = 256, threads = 1;
    int add_k = 0, seed = 0, tbits[8] = {2, 4, 6, 8}, n_tbits = 4, rc = 1;
    const cli_int_opt ints[] = {{"--n", 1, 1 << 20, &n},
                                {"--seed", 0, 1 << 30, &seed},
                                {"--batch", 1, 4096, &batch},
                                {"--bins", 16, Q_HIST_MAX_BINS, &bins},
                                {"--table-n", 1, 1 << 20, &table_n},
                                {"--additivity", 2, 10000, &add_k},
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
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && v) outp = v, i++;
        else if (!strcmp(a, "--method") && v) method = v, i++;
        else if (!strcmp(a, "--table-bits") && v) {
            if ((n_tbits = cli_parse_bits_list(v, tbits, 8)) < 0) {
                fprintf(stderr, "cleave calibrate: --table-bits: expected a list like 2,4,6,8 (each 2..8)\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--no-tables")) tables = 0;
        else if (!cli_positional("calibrate", a, &model)) return 2;
    }
    if (!model || !data || !outp) {
        fprintf(stderr, "cleave calibrate: needs MODEL.onnx, --data and -o (see --help)\n");
        return 2;
    }
    if (add_k && !tables) {
        fprintf(stderr, "cleave calibrate: --additivity needs the tables\n");
        return 2;
    }
    quant_config cfg;
    quant_config_uniform(&cfg, 8, 8);
    if (q_range_method_parse(method, &cfg.a_method)) {
        fprintf(stderr, "cleave calibrate: --method: unknown clipping method '%s'\n", method);
        return 2;
    }
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    cleave_ctx_set_threads(ctx, threads);
    cli_qmodel m;
    quant_stats st;
    memset(&st, 0, sizeof st);
    cv_tensor x = {0};
    quant_outputs ref = {0};
    quant_table t = {0};
    json_t *root = NULL;
    char desc[256];
    if (cli_qmodel_load(ctx, model, &m)) goto err;
    if (cli_calib_tensor(ctx, data, &m.in_spec, n, (uint64_t)seed, &x, desc, sizeof desc)) goto err;
    printf("calibrate: %s: %d quantization points; %s\n", model, m.n_layers, desc);
    if (quant_stats_create(ctx, m.g, m.layers, m.n_layers, bins, &st)) goto err;
    st.model = cv_strdup(model);
    {
        char sha[65];
        if (cv_sha256_file(ctx, model, sha)) goto err;
        st.model_sha256 = cv_strdup(sha);
    }
    quant_data qd = {&x, batch, cli_progress, (void *)"calibrate"};
    double t0 = cv_now_ms();
    if (quant_calibrate(ctx, m.g, m.layers, m.n_layers, &qd, &st)) goto err;
    printf("calibrate: histograms of %d activations over %d inputs (%.1f s)\n", st.n, st.images,
           (cv_now_ms() - t0) / 1000);
    root = quant_stats_json(&st);
    json_object_set_new(root, "layers", layers_json(&m));
    if (tables) {
        cv_tensor xt = x;
        if (xt.dims[0] > table_n) xt.dims[0] = table_n;
        quant_data td = {&xt, batch, cli_progress, (void *)"tables"};
        t0 = cv_now_ms();
        if (quant_collect_outputs(ctx, m.g, &(quant_data){&xt, batch, NULL, NULL}, &ref)) goto err;
        if (quant_table_build(ctx, m.g, m.layers, m.n_layers, &cfg, &st, &td, &ref, tbits, n_tbits, &t))
            goto err;
        json_t *dj = quant_table_json(&t, m.layers);
        json_object_set_new(dj, "images", json_integer(xt.dims[0]));
        json_object_set_new(dj, "activation_method", json_string(q_range_method_name(cfg.a_method)));
        json_object_set_new(dj, "weight_method", json_string(q_range_method_name(cfg.w_method)));
        json_object_set_new(root, "distortion", dj);
        printf("calibrate: distortion tables, %d layers x %d bit widths on %lld inputs (%.1f s)\n",
               m.n_layers, n_tbits, (long long)xt.dims[0], (cv_now_ms() - t0) / 1000);
        if (add_k) {
            json_t *aj = NULL;
            if (additivity(ctx, &m, &cfg, &st, &(quant_data){&xt, batch, NULL, NULL}, &ref, &t, add_k, &aj))
                goto err;
            json_object_set_new(root, "additivity", aj);
        }
    }
    if (json_dump_file(root, outp, JSON_COMPACT | JSON_PRESERVE_ORDER)) {
        cv_fail(ctx, CLEAVE_E_IO, "%s: cannot write", outp);
        goto err;
    }
    printf("calibrate: wrote %s\n", outp);
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    json_decref(root);
    quant_table_free(&t);
    quant_outputs_free(&ref);
    quant_stats_free(&st);
    cv_aligned_free(x.data);
    cli_qmodel_free(&m);
    cleave_ctx_destroy(ctx);
    return rc;
}
