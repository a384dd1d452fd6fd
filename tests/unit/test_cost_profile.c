/* cost profile: statistics of samples against hand-computed values, conv
 * features against the closed form (MACs = output elements x input
 * channels per group x kernel area), a measured profile of the trained
 * Fashion-MNIST CNN (node times sum near the whole-model time), the file
 * round trip, the model-hash check, malformed files, and the profile
 * lookup predictor. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/sha256.h"
#include "check.h"
#include "cost/predict.h"
#include "cost/profile.h"
#include "onnx/onnx.h"
#include "runtime/optimize.h"

#define MODEL CLEAVE_SOURCE_DIR "/models/fmnist-cnn.onnx"

static int write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(s, f);
    fclose(f);
    return 1;
}

static void stats(void) {
    double a[] = {5, 1, 4, 2, 3};
    cost_stat s;
    cost_stat_of(a, 5, &s);
    CHECK_NEAR(s.median_ms, 3, 0, 0);
    CHECK_NEAR(s.mean_ms, 3, 1e-12, 0);
    CHECK_NEAR(s.min_ms, 1, 0, 0);
    double b[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    cost_stat_of(b, 10, &s);
    CHECK_NEAR(s.median_ms, 5.5, 0, 0);
    CHECK_NEAR(s.p10_ms, 1, 0, 0); /* index (n-1)/10 = 0 */
    CHECK_NEAR(s.p90_ms, 10, 0, 0);
}

static void bad_files(cleave_ctx *ctx, const char *good_sha) {
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"format\": \"cleave-device\"}", "not a cleave profile"},
        {"{\"format\": \"cleave-profile\", \"version\": 9}", "version"},
        {"{\"format\": \"cleave-profile\", \"version\": 1, \"model_sha256\": \"abc\"}", "model_sha256"},
        {"{\"format\": \"cleave-profile\", \"version\": 1, \"model_sha256\": "
         "\"0000000000000000000000000000000000000000000000000000000000000000\", \"dtype\": \"fp64\"}",
         "dtype"},
        {"{\"format\": \"cleave-profile\", \"version\": 1, \"model_sha256\": "
         "\"0000000000000000000000000000000000000000000000000000000000000000\", \"dtype\": \"fp32\", "
         "\"threads\": 1, \"rounds\": 0}",
         "rounds"},
        {"[1,2", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = "/tmp/cleave_test_profile_bad.json";
        CHECK(write_text(path, bad[i].text));
        cleave_ctx_clear_error(ctx);
        cost_profile p;
        CHECK(cost_profile_load(ctx, path, NULL, &p) != CLEAVE_OK);
        CHECK(strstr(cleave_ctx_error(ctx), bad[i].needle) != NULL);
        CHECK(strstr(cleave_ctx_error(ctx), path) != NULL);
        if (!strstr(cleave_ctx_error(ctx), bad[i].needle))
            fprintf(stderr, "  case %zu: %s\n", i, cleave_ctx_error(ctx));
    }
    (void)good_sha;
}

int main(void) {
    stats();
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    ir_graph *g = NULL;
    CHECK(onnx_load_file(ctx, MODEL, &g) == CLEAVE_OK && rt_graph_optimize(ctx, g, NULL) == CLEAVE_OK);
    if (!g) return check_summary("test_cost_profile");
    cv_tensor x = {.dtype = CV_F32, .ndim = 4, .dims = {1, 1, 28, 28}};
    x.data = cv_aligned_alloc(28 * 28 * sizeof(float));
    for (int i = 0; i < 28 * 28; i++) ((float *)x.data)[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;

    cost_profile p;
    CHECK(cost_profile_measure(ctx, g, &x, 1, 2, 15, 0, 0, NULL, NULL, &p) == CLEAVE_OK);
    CHECK(p.n > 3);
    int convs = 0;
    for (int i = 0; i < p.n; i++) {
        const cost_features *f = &p.nodes[i].f;
        CHECK(p.nodes[i].t.min_ms <= p.nodes[i].t.median_ms && p.nodes[i].t.median_ms <= p.nodes[i].t.p90_ms);
        if (f->cls == COST_OP_CONV) {
            convs++;
            double want = f->out_elems * (double)(f->cin / (f->groups ? f->groups : 1)) * f->kh * f->kw;
            CHECK_NEAR(f->macs, want, 0, 0);
            CHECK(f->param_bytes >= 4.0 * (double)f->cout * (double)f->cin * f->kh * f->kw);
        }
    }
    CHECK(convs >= 2);
    /* the nodes account for the whole model: per-node timers and the gaps
     * between nodes stay small against a 28x28 CNN's compute (loose: 50%) */
    double sum = cost_profile_sum_median(&p);
    CHECK(sum > 0.5 * p.whole.median_ms && sum < 1.5 * p.whole.median_ms);

    /* file round trip */
    char sha[65];
    CHECK(cv_sha256_file(ctx, MODEL, sha) == CLEAVE_OK);
    memcpy(p.model_sha256, sha, sizeof sha);
    p.model = cv_strdup(MODEL);
    snprintf(p.device, sizeof p.device, "test");
    const char *path = "/tmp/cleave_test_profile.json";
    CHECK(cost_profile_save(ctx, path, &p) == CLEAVE_OK);
    cost_profile q;
    CHECK(cost_profile_load(ctx, path, sha, &q) == CLEAVE_OK);
    CHECK(q.n == p.n && q.threads == p.threads && q.repeat == 15 && q.dtype == COST_DT_FP32);
    for (int i = 0; i < p.n && i < q.n; i++) {
        CHECK(!strcmp(q.nodes[i].f.name, p.nodes[i].f.name));
        CHECK(q.nodes[i].f.cls == p.nodes[i].f.cls);
        CHECK_NEAR(q.nodes[i].f.macs, p.nodes[i].f.macs, 0, 0);
        CHECK_NEAR(q.nodes[i].t.median_ms, p.nodes[i].t.median_ms, 1e-5, 0);
        CHECK(q.nodes[i].f.kh == p.nodes[i].f.kh && q.nodes[i].f.cout == p.nodes[i].f.cout);
    }
    /* profile lookup predicts each node's median scaled by the gaps between
     * nodes, so the nodes add up to the whole-model median */
    cost_predictor pr = {.kind = COST_PRED_PROFILE, .prof = &q};
    int missing = -1;
    cost_features *fs = cv_malloc(sizeof *fs * (size_t)p.n);
    for (int i = 0; i < p.n; i++) fs[i] = p.nodes[i].f;
    CHECK_NEAR(cost_predict_sum_ms(&pr, fs, p.n, &missing), q.whole.median_ms, 1e-9, 1e-9);
    CHECK_NEAR(cost_predict_node_ms(&pr, &fs[0]) / q.nodes[0].t.median_ms,
               q.whole.median_ms / cost_profile_sum_median(&q), 1e-9, 1e-9);
    CHECK(missing == 0);
    cost_features ghost = fs[0];
    ghost.name = "no_such_node";
    CHECK(isnan(cost_predict_node_ms(&pr, &ghost)));
    cv_free(fs);
    cost_profile_free(&q);

    /* a profile of another model is rejected, naming the file */
    cleave_ctx_clear_error(ctx);
    CHECK(cost_profile_load(ctx, path, "1111111111111111111111111111111111111111111111111111111111111111", &q) ==
          CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "different model") != NULL);
    bad_files(ctx, sha);

    /* two profiles measured interleaved: each complete and independent
     * (own plans), the same nodes in the same order, `rounds` recorded */
    cost_profile two[2];
    CHECK(cost_profile_measure_n(ctx, g, &x, 1, 2, 3, 1, 7, 0, 0, NULL, NULL, two) == CLEAVE_OK);
    CHECK(two[0].n == p.n && two[1].n == p.n && two[0].repeat == 7 && two[1].repeat == 7);
    CHECK(two[0].rounds == 3 && two[1].rounds == 3 && two[0].warmup == 1);
    for (int i = 0; i < p.n && i < two[0].n && i < two[1].n; i++) {
        CHECK(!strcmp(two[0].nodes[i].f.name, p.nodes[i].f.name));
        CHECK(!strcmp(two[1].nodes[i].f.name, p.nodes[i].f.name));
        CHECK(two[1].nodes[i].t.min_ms >= 0 && two[1].nodes[i].t.min_ms <= two[1].nodes[i].t.p90_ms); /* a view may read 0 ns */
    }
    CHECK(two[0].whole.min_ms > 0 && two[1].whole.min_ms > 0);
    /* two measurements of one 28x28 CNN, interleaved: within 2x (loose: a
     * shared CI machine) */
    CHECK(two[1].whole.median_ms < 2 * two[0].whole.median_ms &&
          two[0].whole.median_ms < 2 * two[1].whole.median_ms);
    memcpy(two[0].model_sha256, sha, sizeof sha);
    two[0].model = cv_strdup(MODEL);
    CHECK(cost_profile_save(ctx, path, &two[0]) == CLEAVE_OK);
    CHECK(cost_profile_load(ctx, path, NULL, &q) == CLEAVE_OK);
    CHECK(q.rounds == 3);
    cost_profile_free(&q);
    cost_profile_free(&two[0]);
    cost_profile_free(&two[1]);
    /* more rounds than runs: one run per round */
    CHECK(cost_profile_measure_n(ctx, g, &x, 1, 1, 9, 0, 2, 0, 0, NULL, NULL, two) == CLEAVE_OK);
    CHECK(two[0].rounds == 2 && two[0].repeat == 2);
    cost_profile_free(&two[0]);
    /* bad counts fail, naming the range */
    cleave_ctx_clear_error(ctx);
    CHECK(cost_profile_measure_n(ctx, g, &x, 1, 0, 1, 0, 5, 0, 0, NULL, NULL, two) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "profiles at once") != NULL);
    CHECK(cost_profile_measure_n(ctx, g, &x, 1, COST_PROFILE_MAX_N + 1, 1, 0, 5, 0, 0, NULL, NULL, two) ==
          CLEAVE_E_INVALID);
    cleave_ctx_clear_error(ctx);
    CHECK(cost_profile_measure_n(ctx, g, &x, 1, 2, 0, 0, 5, 0, 0, NULL, NULL, two) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "rounds") != NULL);

    cost_profile_free(&p);
    cv_aligned_free(x.data);
    ir_graph_destroy(g);
    cleave_ctx_destroy(ctx);
    return check_summary("test_cost_profile");
}
