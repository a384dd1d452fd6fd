/* Quantization of a whole graph (the trained Fashion-MNIST CNN): the
 * quantization points found, configuration files and their errors, the
 * statistics file round trip, the QDQ rewrite (weights on their b-bit grid,
 * the source graph untouched by a rewrite of its copy), the distortion of
 * uniform configurations against fp32, and the additivity of per-layer
 * distortions the planner relies on. Needs the Fashion-MNIST files; skips
 * (exit 77) without them. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/data.h"
#include "onnx/onnx.h"
#include "ir/passes.h"
#include "ops/op.h"
#include "quant/measure.h"
#include "runtime/optimize.h"

#define MODEL CLEAVE_SOURCE_DIR "/models/fmnist-cnn.onnx"

static int write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(s, f);
    fclose(f);
    return 1;
}

/* Compiles ga (options oa) and gb (ob) for x, runs both and checks that
 * output 0 has the same bytes. 1 with both plans in *pa / *pb (the
 * caller destroys them), 0 when either failed (then both are NULL). */
static int same_output(cleave_ctx *ctx, const ir_graph *ga, const rt_options *oa, const ir_graph *gb,
                       const rt_options *ob, const cv_tensor *x, rt_plan **pa, rt_plan **pb) {
    *pa = *pb = NULL;
    CHECK(rt_plan_create(ctx, ga, NULL, 0, NULL, 0, x, oa, pa) == CLEAVE_OK);
    CHECK(rt_plan_create(ctx, gb, NULL, 0, NULL, 0, x, ob, pb) == CLEAVE_OK);
    int ok = *pa && *pb;
    if (ok) {
        CHECK(rt_plan_run(*pa, x) == CLEAVE_OK && rt_plan_run(*pb, x) == CLEAVE_OK);
        const cv_tensor *y1 = rt_plan_output(*pa, 0), *y2 = rt_plan_output(*pb, 0);
        CHECK(cv_nbytes(y1) == cv_nbytes(y2) && !memcmp(y1->data, y2->data, cv_nbytes(y1)));
    } else {
        rt_plan_destroy(*pa);
        rt_plan_destroy(*pb);
        *pa = *pb = NULL;
    }
    return ok;
}

/* The config file's error names the file and the key. */
static void config_errors(cleave_ctx *ctx, const quant_layer *l, int n) {
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"weights\": {\"bits\": 9}}", "weights.bits"},
        {"{\"weights\": {\"bits\": 1}}", "weights.bits"},
        {"{\"activations\": {\"method\": \"magic\"}}", "activations.method"},
        {"{\"layers\": {\"no_such_layer\": {\"w\": 4}}}", "no_such_layer"},
        {"{\"layers\": {\"conv1\": {\"q\": 4}}}", "unknown key"},
        {"{\"version\": 7}", "version"},
        {"[1, 2]", "JSON object"},
        {"{\"weights\": ", "qcfg_bad.json"},
    };
    int wb[64], ab[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(write_text("qcfg_bad.json", bad[i].text));
        quant_config c;
        cleave_status s = quant_config_load(ctx, "qcfg_bad.json", &c);
        if (!s) {
            s = quant_config_resolve(ctx, &c, l, n, wb, ab);
            quant_config_free(&c);
        }
        CHECK(s != CLEAVE_OK);
        const char *e = cleave_ctx_error(ctx);
        CHECK(strstr(e, bad[i].needle) != NULL && strstr(e, "qcfg_bad.json") != NULL);
        if (!strstr(e, bad[i].needle)) fprintf(stderr, "  message: %s\n", e);
        cleave_ctx_clear_error(ctx);
    }
    remove("qcfg_bad.json");
}

int main(void) {
    cleave_ctx *ctx;
    cleave_ctx_create(&ctx);
    data_dataset *ds = NULL;
    if (data_dataset_create(ctx, NULL, "train", &ds)) {
        printf("test_qgraph: skipped: %s\n", cleave_ctx_error(ctx));
        cleave_ctx_destroy(ctx);
        return 77;
    }
    ir_graph *g = NULL;
    CHECK(onnx_load_file(ctx, MODEL, &g) == CLEAVE_OK && rt_graph_optimize(ctx, g, NULL) == CLEAVE_OK);
    if (!g) return check_summary("test_qgraph");

    /* quantization points: the input, 3 convs (weight + activation), 3
     * pools (activation), the classifier (weight only: its output is the
     * model's output) */
    cv_tensor spec = {CV_F32, 4, {1, 1, 28, 28}, NULL, 0, 0};
    rt_plan *p = NULL;
    quant_layer *l = NULL;
    int n = 0;
    CHECK(rt_plan_create(ctx, g, NULL, 0, NULL, 0, &spec, NULL, &p) == CLEAVE_OK);
    CHECK(quant_layers_find(ctx, g, p, &l, &n) == CLEAVE_OK);
    rt_plan_destroy(p);
    CHECK(n == 8);
    int nw = 0, na = 0;
    for (int k = 0; k < n; k++) nw += l[k].weight >= 0, na += l[k].act >= 0;
    CHECK(nw == 4 && na == 7);
    CHECK(l[0].node < 0 && l[0].a_numel == 28 * 28);
    CHECK(l[n - 1].weight >= 0 && l[n - 1].act < 0 && l[n - 1].w_numel == 576 * 10);
    config_errors(ctx, l, n);

    /* calibration on 256 training images */
    enum { N = 256 };
    int idx[N];
    CHECK(data_calib_indices(ctx, data_dataset_count(ds), N, 0, idx) == CLEAVE_OK);
    cv_tensor x = {CV_F32, 4, {N, 1, 28, 28}, NULL, 0, 0};
    x.data = cv_aligned_alloc(sizeof(float) * N * 28 * 28);
    CHECK(data_dataset_batch(ctx, ds, idx, N, 28, 28, DATA_FMNIST_MEAN, DATA_FMNIST_STD, x.data) == 0);
    quant_stats st, st2;
    CHECK(quant_stats_create(ctx, g, l, n, 512, &st) == CLEAVE_OK);
    quant_data d = {&x, 64, NULL, NULL};
    CHECK(quant_calibrate(ctx, g, l, n, &d, &st) == CLEAVE_OK);
    CHECK(st.n == 7 && st.images == N);
    CHECK(st.hist[0].count == (double)N * 28 * 28);
    /* ReLU outputs: the first conv's activation never goes below 0 */
    CHECK(st.hist[1].min >= 0.0f && st.hist[1].max > 0.0f);
    CHECK(quant_stats_save(ctx, "qstats_test.json", &st) == CLEAVE_OK);
    CHECK(quant_stats_load(ctx, "qstats_test.json", &st2) == CLEAVE_OK);
    CHECK(st2.n == st.n && st2.images == st.images);
    for (int i = 0; i < st.n && i < st2.n; i++) {
        CHECK(!strcmp(st.names[i], st2.names[i]) && st.hist[i].nbins == st2.hist[i].nbins);
        CHECK(st.hist[i].min == st2.hist[i].min && st.hist[i].max == st2.hist[i].max);
        CHECK(st.hist[i].count == st2.hist[i].count && st.hist[i].lo == st2.hist[i].lo);
        int same = 1;
        for (int k = 0; k < st.hist[i].nbins; k++) same &= st.hist[i].bins[k] == st2.hist[i].bins[k];
        CHECK(same);
    }
    quant_stats_free(&st2);
    remove("qstats_test.json");
    CHECK(write_text("qstats_bad.json", "{\"format\": \"cleave-quant-stats\", \"version\": 1, "
                                          "\"tensors\": [{\"name\": \"x\"}]}"));
    CHECK(quant_stats_load(ctx, "qstats_bad.json", &st2) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "qstats_bad.json") != NULL);
    cleave_ctx_clear_error(ctx);
    remove("qstats_bad.json");

    quant_outputs ref;
    CHECK(quant_collect_outputs(ctx, g, &d, &ref) == CLEAVE_OK);
    CHECK(ref.n_out == 1 && ref.n == N && ref.per_sample[0] == 10);

    /* the QDQ rewrite of a copy: weights on the b-bit grid, the source graph
     * unchanged (same outputs) */
    int wb[8], ab[8];
    quant_config c;
    quant_config_uniform(&c, 4, 8);
    CHECK(quant_config_resolve(ctx, &c, l, n, wb, ab) == CLEAVE_OK);
    CHECK(wb[0] == QUANT_FLOAT && ab[0] == 8 && wb[1] == 4 && ab[n - 1] == QUANT_FLOAT);
    ir_graph *q = NULL;
    quant_apply_info info;
    CHECK(ir_graph_clone(ctx, g, &q) == CLEAVE_OK);
    CHECK(quant_apply(ctx, q, l, n, wb, ab, &c, &st, &info) == CLEAVE_OK);
    CHECK(info.n_weights == 4 && info.n_acts == 7);
    /* packed 4-bit weights + fp32 scales: about 1/8 of fp32 */
    CHECK(info.weights_packed_bytes * 7 < info.weights_float_bytes);
    int n_dq = 0, grid_ok = 1;
    for (int i = 0; i < q->n_nodes; i++) {
        const ir_node *nd = &q->nodes[i];
        if (strcmp(nd->op_type, "DequantizeLinear") || q->values[nd->in[0]].dtype != CV_I8) continue;
        n_dq++;
        const ir_value *w = &q->values[nd->in[0]];
        const int8_t *v = w->data;
        for (int64_t e = 0; e < cv_shape_numel(w->ndim, w->dims); e++) grid_ok &= v[e] >= -7 && v[e] <= 7;
    }
    CHECK(n_dq == 4 && grid_ok);
    quant_outputs again;
    CHECK(quant_collect_outputs(ctx, g, &d, &again) == CLEAVE_OK);
    {
        /* (not bit-identical: at batch 64 oneDNN's kernel is chosen by timing) */
        double md = 0, mx = 0;
        for (int i = 0; i < N * 10; i++) {
            md = fmax(md, fabs(again.out[0][i] - ref.out[0][i]));
            mx = fmax(mx, fabs(ref.out[0][i]));
        }
        CHECK(md <= 1e-5 * mx);
    }
    quant_outputs_free(&again);
    ir_graph_destroy(q);

    /* distortion falls with the bit width; 8/8 keeps >= 99% of the top-1 decisions */
    double prev = INFINITY;
    int uni[3] = {2, 4, 8};
    for (int i = 0; i < 3; i++) {
        quant_config_uniform(&c, uni[i], 8);
        CHECK(quant_config_resolve(ctx, &c, l, n, wb, ab) == CLEAVE_OK);
        quant_distortion dd;
        CHECK(quant_measure(ctx, g, l, n, wb, ab, &c, &st, &d, &ref, &dd) == CLEAVE_OK);
        printf("w%d a8: output mse %.3g, top-1 flips %.2f%%\n", uni[i], dd.mse, 100 * dd.flip);
        CHECK(dd.mse < prev);
        prev = dd.mse;
        if (uni[i] == 8) CHECK(dd.flip <= 0.01);
    }

    /* tables, then additivity: for random mixed configurations the measured
     * output MSE must rank like the sum of the per-layer entries (Spearman
     * >= 0.8) and stay within a factor 3 of it on average */
    quant_table t;
    int bits[3] = {2, 4, 8};
    CHECK(quant_table_build(ctx, g, l, n, &c, &st, &d, &ref, bits, 3, &t) == CLEAVE_OK);
    for (int k = 0; k < n; k++) {
        if (l[k].weight >= 0) CHECK(t.w[k * 3].mse > t.w[k * 3 + 2].mse);
        if (l[k].act >= 0) CHECK(t.a[k * 3].mse > t.a[k * 3 + 2].mse);
        if (l[k].weight < 0) CHECK(isnan(t.w[k * 3].mse));
    }
    enum { K = 8 };
    double pred[K], meas[K];
    uint32_t r = 12345;
    for (int i = 0; i < K; i++) {
        pred[i] = 0;
        for (int k = 0; k < n; k++) {
            r = r * 1664525u + 1013904223u;
            int jw = (int)((r >> 16) % 3);
            r = r * 1664525u + 1013904223u;
            int ja = (int)((r >> 16) % 3);
            wb[k] = l[k].weight >= 0 ? bits[jw] : QUANT_FLOAT;
            ab[k] = l[k].act >= 0 ? bits[ja] : QUANT_FLOAT;
            if (l[k].weight >= 0) pred[i] += t.w[k * 3 + jw].mse;
            if (l[k].act >= 0) pred[i] += t.a[k * 3 + ja].mse;
        }
        quant_distortion dd;
        CHECK(quant_measure(ctx, g, l, n, wb, ab, &c, &st, &d, &ref, &dd) == CLEAVE_OK);
        meas[i] = dd.mse;
    }
    double rank_d2 = 0, ratio = 0;
    for (int i = 0; i < K; i++) {
        int rp = 0, rm = 0;
        for (int j = 0; j < K; j++) rp += pred[j] < pred[i], rm += meas[j] < meas[i];
        rank_d2 += (double)(rp - rm) * (rp - rm);
        ratio += meas[i] / pred[i] / K;
    }
    double rho = 1 - 6 * rank_d2 / (K * (double)(K * K - 1));
    printf("additivity: Spearman %.3f, measured/predicted %.2f\n", rho, ratio);
    CHECK(rho >= 0.8);
    CHECK(ratio > 1.0 / 3 && ratio < 3);

    /* 4-bit activations (Clip before QuantizeLinear): moving each clip onto
     * the uint8 codes gives the same bits (quantizing is monotonic), and
     * lets every conv lower to an integer kernel */
    {
        quant_config_uniform(&c, 8, 4);
        CHECK(quant_config_resolve(ctx, &c, l, n, wb, ab) == CLEAVE_OK);
        ir_graph *q1 = NULL, *q2 = NULL;
        CHECK(ir_graph_clone(ctx, g, &q1) == CLEAVE_OK);
        CHECK(quant_apply(ctx, q1, l, n, wb, ab, &c, &st, &info) == CLEAVE_OK);
        CHECK(ir_graph_clone(ctx, q1, &q2) == CLEAVE_OK);
        int moved = 0;
        CHECK(ir_pass_qdq_clip_codes(ctx, q2, &moved) == CLEAVE_OK);
        CHECK(moved == 6); /* 3 convs + 3 pools at 4 bits (the input stays at 8) */
        CHECK(op_bind_graph(ctx, q1) == CLEAVE_OK && op_bind_graph(ctx, q2) == CLEAVE_OK);
        cv_tensor x64 = x;
        x64.dims[0] = 64;
        rt_plan *p1 = NULL, *p2 = NULL;
        same_output(ctx, q1, NULL, q2, NULL, &x64, &p1, &p2);
        rt_plan_destroy(p1);
        rt_plan_destroy(p2);
        /* the same graph lowered without fusing the code clips (q1) and with
         * (q2): the integer ops clamp while they write, same bytes out, and
         * the engine no longer holds a clipped copy of each tensor */
        setenv("CLEAVE_FUSE_CODE_CLIPS", "0", 1);
        CHECK(rt_graph_optimize(ctx, q1, NULL) == CLEAVE_OK);
        unsetenv("CLEAVE_FUSE_CODE_CLIPS");
        CHECK(rt_graph_optimize(ctx, q2, NULL) == CLEAVE_OK);
        int fconv = 0, iconv = 0, clips1 = 0, clips2 = 0;
        for (int i = 0; i < q2->n_nodes; i++) {
            fconv += !strcmp(q2->nodes[i].op_type, "Conv");
            iconv += !strcmp(q2->nodes[i].op_type, "QLinearConv");
            clips2 += !strcmp(q2->nodes[i].op_type, "Clip");
        }
        for (int i = 0; i < q1->n_nodes; i++) clips1 += !strcmp(q1->nodes[i].op_type, "Clip");
        printf("4-bit activations: %d clips moved onto the codes; after lowering %d integer / %d "
               "float convs, code clips %d unfused / %d fused\n", moved, iconv, fconv, clips1, clips2);
        CHECK(fconv == 0 && iconv == 3);
        CHECK(clips1 == 6 && clips2 == 0);
        for (int ref = 0; ref < 2; ref++) { /* fast kernels, then the reference ones */
            if (ref) setenv("CLEAVE_QCONV_REF", "1", 1);
            if (same_output(ctx, q1, NULL, q2, NULL, &x64, &p1, &p2)) {
                /* here the clips follow the pools, after the peak (conv1's
                 * output): the sum drops, the peak may not */
                printf("  %s kernels: same output bytes; activations summed %zu -> %zu B, peak live "
                       "%zu -> %zu B\n", ref ? "reference" : "fast", rt_plan_total_activation_bytes(p1),
                       rt_plan_total_activation_bytes(p2), rt_plan_peak_live_bytes(p1),
                       rt_plan_peak_live_bytes(p2));
                CHECK(rt_plan_total_activation_bytes(p2) < rt_plan_total_activation_bytes(p1));
                CHECK(rt_plan_peak_live_bytes(p2) <= rt_plan_peak_live_bytes(p1));
            }
            rt_plan_destroy(p1);
            rt_plan_destroy(p2);
        }
        unsetenv("CLEAVE_QCONV_REF");
        /* the edge engine (reference kernels) holding the 4-bit activations
         * packed: same bytes out, a smaller arena */
        cleave_ctx_set_fast(ctx, 0);
        rt_options pack = {.pack_activations = 1};
        if (same_output(ctx, q2, NULL, q2, &pack, &x64, &p1, &p2)) {
            int packed = 0;
            for (int v = 0; v < q2->n_values; v++) {
                const cv_tensor *t = rt_plan_value(p2, v);
                packed += t && t->pbits == 4;
                if (t && t->pbits) CHECK(t->pbits == 4);
            }
            printf("  packed 4-bit activations (reference kernels): %d tensors packed, same output "
                   "bytes; activations summed %zu -> %zu B, arena %zu -> %zu B\n", packed,
                   rt_plan_total_activation_bytes(p1), rt_plan_total_activation_bytes(p2),
                   rt_plan_arena_bytes(p1), rt_plan_arena_bytes(p2));
            CHECK(packed == 6); /* the 3 conv and 3 pool outputs; the input stays at 8 bits */
            CHECK(rt_plan_total_activation_bytes(p2) < rt_plan_total_activation_bytes(p1));
            CHECK(rt_plan_arena_bytes(p2) < rt_plan_arena_bytes(p1));
        }
        rt_plan_destroy(p1);
        rt_plan_destroy(p2);
        cleave_ctx_set_fast(ctx, 1);
        ir_graph_destroy(q1);
        ir_graph_destroy(q2);
    }

    quant_table_free(&t);
    quant_outputs_free(&ref);
    quant_stats_free(&st);
    cv_aligned_free(x.data);
    cv_free(l);
    ir_graph_destroy(g);
    data_dataset_destroy(ds);
    cleave_ctx_destroy(ctx);
    return check_summary("test_qgraph");
}
