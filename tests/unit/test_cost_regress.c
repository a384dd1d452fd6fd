/* Unit tests of cost/lsq (QR least squares, NNLS) against closed-form
 * solutions and of cost/regress: recovery of a known model from synthetic
 * samples, transfer to another device, fallbacks, save/load, bad input. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cost/lsq.h"
#include "cost/regress.h"

static unsigned long long rng_state = 88172645463325252ull;
static double urand(void) { /* xorshift64, uniform in [0, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static int pick(const int *v, int n) { return v[(int)(urand() * n) % n]; }

static void test_lsq_exact(cleave_ctx *ctx) {
    /* consistent overdetermined system: the exact solution, zero residual */
    double A[6 * 3], b[6], x[3], xt[3] = {1.5, -2.0, 3.25}, res = -1;
    for (int i = 0; i < 6; i++) {
        A[i * 3 + 0] = 1;
        A[i * 3 + 1] = i;
        A[i * 3 + 2] = (double)i * i * 1000.0; /* badly scaled column */
        b[i] = A[i * 3] * xt[0] + A[i * 3 + 1] * xt[1] + A[i * 3 + 2] * xt[2];
    }
    CHECK(cost_lsq_solve(ctx, A, b, NULL, 6, 3, x, &res) == CLEAVE_OK);
    for (int j = 0; j < 3; j++) CHECK_NEAR(x[j], xt[j], 1e-9, 1e-9);
    CHECK_NEAR(res, 0, 1e-9, 0);
}

static void test_lsq_line(cleave_ctx *ctx) {
    /* y = a + b x by least squares: b = Sxy / Sxx, a = ybar - b xbar
     * (weighted: the same with weighted means and sums) */
    enum { M = 7 };
    double xs[M] = {0, 1, 2, 4, 5, 7, 10}, ys[M] = {1.1, 2.9, 5.2, 8.8, 11.3, 14.7, 21.0};
    double w[M] = {1, 2, 1, 0.5, 3, 1, 0.25};
    double A[M * 2], x[2], res;
    for (int pass = 0; pass < 2; pass++) {
        const double *wt = pass ? w : NULL;
        double sw = 0, mx = 0, my = 0, sxx = 0, sxy = 0, rr = 0;
        for (int i = 0; i < M; i++) {
            double wi = wt ? wt[i] : 1;
            sw += wi;
            mx += wi * xs[i];
            my += wi * ys[i];
            A[2 * i] = 1;
            A[2 * i + 1] = xs[i];
        }
        mx /= sw;
        my /= sw;
        for (int i = 0; i < M; i++) {
            double wi = wt ? wt[i] : 1;
            sxx += wi * (xs[i] - mx) * (xs[i] - mx);
            sxy += wi * (xs[i] - mx) * (ys[i] - my);
        }
        double slope = sxy / sxx, icpt = my - slope * mx;
        for (int i = 0; i < M; i++) {
            double e = ys[i] - icpt - slope * xs[i];
            rr += (wt ? wt[i] : 1) * e * e;
        }
        CHECK(cost_lsq_solve(ctx, A, ys, wt, M, 2, x, &res) == CLEAVE_OK);
        CHECK_NEAR(x[0], icpt, 1e-12, 1e-10);
        CHECK_NEAR(x[1], slope, 1e-12, 1e-10);
        CHECK_NEAR(res, sqrt(rr), 1e-12, 1e-9);
        /* NNLS agrees when the unconstrained solution is positive */
        CHECK(cost_nnls(ctx, A, ys, wt, M, 2, x, &res) == CLEAVE_OK);
        CHECK_NEAR(x[0], icpt, 1e-12, 1e-9);
        CHECK_NEAR(x[1], slope, 1e-12, 1e-9);
    }
}

static void test_lsq_rank(cleave_ctx *ctx) {
    double A[5 * 3], b[5] = {1, 2, 3, 4, 5}, x[3] = {7, 7, 7};
    for (int i = 0; i < 5; i++) {
        A[i * 3] = 1;
        A[i * 3 + 1] = i * i;
        A[i * 3 + 2] = 2 - 3.0 * i * i; /* = 2 col0 - 3 col1 */
    }
    cleave_ctx_clear_error(ctx);
    CHECK(cost_lsq_solve(ctx, A, b, NULL, 5, 3, x, NULL) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "rank-deficient") != NULL);
    CHECK(strstr(cleave_ctx_error(ctx), "column 2") != NULL);
    CHECK(x[0] == 7 && x[1] == 7 && x[2] == 7); /* untouched */
    /* a zero column, and a zero weight that removes the only distinct row */
    for (int i = 0; i < 5; i++) A[i * 3 + 2] = 0;
    cleave_ctx_clear_error(ctx);
    CHECK(cost_lsq_solve(ctx, A, b, NULL, 5, 3, x, NULL) == CLEAVE_E_INVALID);
    /* underdetermined, non-finite input, bad weight */
    cleave_ctx_clear_error(ctx);
    CHECK(cost_lsq_solve(ctx, A, b, NULL, 2, 3, x, NULL) == CLEAVE_E_INVALID);
    double w[5] = {1, 1, -1, 1, 1};
    A[2] = 1;
    cleave_ctx_clear_error(ctx);
    CHECK(cost_lsq_solve(ctx, A, b, w, 5, 2, x, NULL) == CLEAVE_E_INVALID);
    A[0] = NAN;
    cleave_ctx_clear_error(ctx);
    CHECK(cost_lsq_solve(ctx, A, b, NULL, 5, 3, x, NULL) == CLEAVE_E_INVALID);
    cleave_ctx_clear_error(ctx);
}

static void test_nnls(cleave_ctx *ctx) {
    /* A = [1 0; 0 1; 1 1], b = [1 -1 0]: unconstrained x = (1, -1);
     * with x >= 0: x2 = 0 and x1 minimises (x1-1)^2 + 1 + x1^2 -> 0.5,
     * residual^2 = 0.25 + 1 + 0.25 */
    double A[6] = {1, 0, 0, 1, 1, 1}, b[3] = {1, -1, 0}, x[2], res;
    CHECK(cost_lsq_solve(ctx, A, b, NULL, 3, 2, x, NULL) == CLEAVE_OK);
    CHECK_NEAR(x[0], 1, 1e-12, 0);
    CHECK_NEAR(x[1], -1, 1e-12, 0);
    CHECK(cost_nnls(ctx, A, b, NULL, 3, 2, x, &res) == CLEAVE_OK);
    CHECK_NEAR(x[0], 0.5, 1e-12, 0);
    CHECK_NEAR(x[1], 0, 1e-12, 0);
    CHECK_NEAR(res, sqrt(1.5), 1e-12, 0);
    /* all of b negative along the columns: x = 0 */
    double bn[3] = {-1, -2, -3};
    CHECK(cost_nnls(ctx, A, bn, NULL, 3, 2, x, &res) == CLEAVE_OK);
    CHECK(x[0] == 0 && x[1] == 0);
    /* duplicated and zero columns: no failure, same fit */
    double D[4 * 4], bd[4] = {1, 2, 2, 4}, xd[4];
    for (int i = 0; i < 4; i++) {
        D[i * 4] = 1;
        D[i * 4 + 1] = i;
        D[i * 4 + 2] = i; /* duplicate of column 1 */
        D[i * 4 + 3] = 0;
    }
    CHECK(cost_nnls(ctx, D, bd, NULL, 4, 4, xd, &res) == CLEAVE_OK);
    /* line fit of (0,1),(1,2),(2,2),(3,4): slope 0.9, intercept 0.9 */
    CHECK_NEAR(xd[0], 0.9, 1e-10, 0);
    CHECK_NEAR(xd[1] + xd[2], 0.9, 1e-10, 0);
    CHECK(xd[1] >= 0 && xd[2] >= 0 && xd[3] == 0);
}

/* ---- regression ---- */

static cost_device device_a(void) {
    cost_device d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "A");
    d.cores = 2;
    d.peak_gops[COST_DT_FP32] = 100;
    d.peak_gops[COST_DT_INT8] = 400;
    for (int t = 0; t < COST_DT_N; t++)
        for (int c = 0; c < COST_OP_N; c++) d.efficiency[t][c] = c == COST_OP_DWCONV ? 0.3 : 0.8;
    d.mem_bw_gbs = 20;
    d.op_overhead_us = 2;
    return d;
}

static cost_device device_b(void) {
    cost_device d = device_a();
    snprintf(d.name, sizeof d.name, "B");
    d.cores = 4;
    d.peak_gops[COST_DT_FP32] = 12;
    d.peak_gops[COST_DT_INT8] = 30;
    for (int c = 0; c < COST_OP_N; c++) d.efficiency[COST_DT_FP32][c] = 0.5 + 0.05 * c;
    d.mem_bw_gbs = 4;
    d.op_overhead_us = 15;
    return d;
}

/* A random conv-like / eltwise-like node of class cls. */
static cost_features synth_node(cost_op_class cls, cost_dtype dt) {
    static const int ks[] = {1, 3, 5, 7}, chs[] = {3, 8, 16, 24, 64, 128, 512}, hw[] = {7, 14, 28, 56, 112};
    cost_features f;
    memset(&f, 0, sizeof f);
    f.name = "synthetic";
    f.cls = cls;
    f.dtype = dt;
    int oh = pick(hw, 5), cin = pick(chs, 7), cout = pick(chs, 7), k = pick(ks, 4);
    int eb = dt == COST_DT_INT8 ? 1 : 4;
    f.out_h = f.out_w = oh;
    f.cin = cin;
    f.cout = cls == COST_OP_DWCONV ? cin : cout;
    f.out_elems = (double)oh * oh * f.cout;
    f.out_bytes = f.out_elems * eb;
    f.stride = urand() < 0.3 ? 2 : 1;
    f.in_bytes = (double)cin * oh * oh * f.stride * f.stride * eb;
    if (cls == COST_OP_CONV || cls == COST_OP_DWCONV) {
        f.kh = f.kw = k;
        f.groups = cls == COST_OP_DWCONV ? cin : 1;
        f.macs = f.out_elems * k * k * (cls == COST_OP_DWCONV ? 1 : cin);
        f.param_bytes = (f.macs / f.out_elems) * f.cout * eb;
    } else {
        f.flops = f.out_elems * (1 + (int)(urand() * 3));
        f.cin = f.cout = 0;
        f.stride = 0;
    }
    return f;
}

static double model_ms(const double *c, const cost_features *f, const cost_device *d, int th) {
    double x[COST_REG_N], t = 0;
    CHECK(cost_regress_regressors(f, d, th, x) == 0);
    for (int k = 0; k < COST_REG_N; k++) t += c[k] * x[k];
    return t;
}

enum { NS = 400 };

static void test_regress_recover(cleave_ctx *ctx) {
    /* true per-class coefficients; conv uses every regressor */
    _Static_assert(COST_REG_N == 8, "update the true coefficients below");
    const double cconv[COST_REG_N] = {1.5, 1.2, 0.4, 0.3, 0.8, 0.7, 0, 0.2};
    const double celt[COST_REG_N] = {0.9, 0.5, 1.3, 0, 0, 2.0, 0, 0};
    cost_device da = device_a(), db = device_b();
    for (int noisy = 0; noisy < 2; noisy++) {
        cost_regress *r;
        CHECK(cost_regress_create(ctx, NULL, &r) == CLEAVE_OK);
        cost_features f[NS];
        double ms[NS];
        for (int i = 0; i < NS; i++) {
            cost_op_class cls = i % 2 ? COST_OP_CONV : COST_OP_ELTWISE;
            f[i] = synth_node(cls, COST_DT_FP32);
            int th = 1 + (i / 2) % 2; /* samples at 1 and 2 threads */
            ms[i] = model_ms(cls == COST_OP_CONV ? cconv : celt, &f[i], &da, th);
            if (noisy) ms[i] *= 1 + 0.04 * (urand() - 0.5); /* +-2% */
            CHECK(cost_regress_add(ctx, r, &f[i], &ms[i], 1, &da, th) == CLEAVE_OK);
        }
        CHECK(cost_regress_n_samples(r) == NS);
        CHECK(cost_regress_fit(ctx, r) == CLEAVE_OK);
        double c[COST_REG_N];
        cost_regress_source src;
        cost_regress_stats st;
        cost_regress_cell(r, COST_DT_FP32, COST_OP_CONV, c, &src, &st);
        CHECK(src == COST_REGRESS_SRC_FIT && st.n == NS / 2);
        double tol = noisy ? 0.15 : 1e-6;
        for (int k = 0; k < COST_REG_N; k++) CHECK_NEAR(c[k], cconv[k], tol, tol);
        CHECK(st.rel_max_abs < (noisy ? 0.05 : 1e-8));
        cost_regress_cell(r, COST_DT_FP32, COST_OP_ELTWISE, c, &src, NULL);
        CHECK(src == COST_REGRESS_SRC_FIT);
        for (int k = 0; k < COST_REG_N; k++) CHECK_NEAR(c[k], celt[k], tol, tol);
        /* transfer: on device B (other peaks, efficiencies, bandwidth,
         * overhead, cores) the fit predicts what the model gives on B */
        for (int i = 0; i < 50; i++) {
            cost_op_class cls = i % 2 ? COST_OP_CONV : COST_OP_ELTWISE;
            cost_features g = synth_node(cls, COST_DT_FP32);
            int th = 1 + i % 4;
            double want = model_ms(cls == COST_OP_CONV ? cconv : celt, &g, &db, th);
            CHECK_NEAR(cost_regress_node_ms(r, &g, &db, th), want, 0, noisy ? 0.03 : 1e-8);
        }
        /* no int8 samples and no dwconv samples: class-pooled / pooled */
        cost_regress_cell(r, COST_DT_INT8, COST_OP_CONV, c, &src, NULL);
        CHECK(src == COST_REGRESS_SRC_CLASS);
        cost_regress_cell(r, COST_DT_INT8, COST_OP_DWCONV, c, &src, NULL);
        CHECK(src == COST_REGRESS_SRC_POOLED);
        cost_regress_destroy(r);
    }
}

static void test_regress_fallback_and_io(cleave_ctx *ctx) {
    cost_device da = device_a(), db = device_b();
    cost_regress *r;
    cost_regress_opts o = {COST_REGRESS_W_RELATIVE, 20, 0};
    CHECK(cost_regress_create(ctx, &o, &r) == CLEAVE_OK);
    /* unfitted: roofline sum overhead + compute + memory */
    cost_features g = synth_node(COST_OP_CONV, COST_DT_FP32);
    double x[COST_REG_N];
    CHECK(cost_regress_regressors(&g, &db, 3, x) == 0);
    CHECK_NEAR(cost_regress_node_ms(r, &g, &db, 3), x[0] + x[1] + x[2], 0, 1e-12);
    /* 5 samples only: everything stays roofline after a fit */
    const double c0[COST_REG_N] = {1, 2, 0.5};
    cost_features f[60];
    double ms[60];
    for (int i = 0; i < 60; i++) {
        f[i] = synth_node(i < 45 ? COST_OP_CONV : COST_OP_POOL, COST_DT_FP32);
        ms[i] = model_ms(c0, &f[i], &da, 2);
    }
    CHECK(cost_regress_add(ctx, r, f, ms, 5, &da, 2) == CLEAVE_OK);
    CHECK(cost_regress_fit(ctx, r) == CLEAVE_OK);
    cost_regress_source src;
    cost_regress_cell(r, COST_DT_FP32, COST_OP_CONV, NULL, &src, NULL);
    CHECK(src == COST_REGRESS_SRC_ROOFLINE);
    /* bad samples: rejected as a whole, with a message naming the sample */
    double bad = ms[7];
    ms[7] = 0;
    cleave_ctx_clear_error(ctx);
    CHECK(cost_regress_add(ctx, r, f + 5, ms + 5, 10, &da, 2) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "sample 2") != NULL);
    CHECK(cost_regress_n_samples(r) == 5);
    ms[7] = bad;
    cost_device dz = da;
    dz.op_overhead_us = 0;
    cleave_ctx_clear_error(ctx);
    CHECK(cost_regress_add(ctx, r, f, ms, 1, &dz, 2) == CLEAVE_E_INVALID);
    cost_features fb = f[0];
    fb.cls = (cost_op_class)99;
    cleave_ctx_clear_error(ctx);
    CHECK(cost_regress_add(ctx, r, &fb, ms, 1, &da, 2) == CLEAVE_E_INVALID);
    cleave_ctx_clear_error(ctx);
    /* 45 conv + 15 pool (< 20): conv fitted, pool on the base regressors */
    CHECK(cost_regress_add(ctx, r, f + 5, ms + 5, 55, &da, 2) == CLEAVE_OK);
    CHECK(cost_regress_fit(ctx, r) == CLEAVE_OK);
    cost_regress_cell(r, COST_DT_FP32, COST_OP_CONV, NULL, &src, NULL);
    CHECK(src == COST_REGRESS_SRC_FIT);
    cost_regress_cell(r, COST_DT_FP32, COST_OP_POOL, NULL, &src, NULL);
    CHECK(src == COST_REGRESS_SRC_FIT_BASE);
    cost_regress_cell(r, COST_DT_FP32, COST_OP_GEMM, NULL, &src, NULL);
    CHECK(src == COST_REGRESS_SRC_POOLED);
    CHECK_NEAR(cost_regress_node_ms(r, &f[50], &db, 1), model_ms(c0, &f[50], &db, 1), 0, 1e-8);

    /* save / load round trip */
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_cost_regress_%d.json", (int)(urand() * 1e6));
    CHECK(cost_regress_save(ctx, r, path) == CLEAVE_OK);
    cost_regress *q;
    CHECK(cost_regress_create(ctx, NULL, &q) == CLEAVE_OK);
    CHECK(cost_regress_load(ctx, q, path) == CLEAVE_OK);
    for (int d = 0; d < COST_DT_N; d++)
        for (int c = 0; c < COST_OP_N; c++) {
            double a[COST_REG_N], b[COST_REG_N];
            cost_regress_source sa, sb;
            cost_regress_stats ta, tb;
            cost_regress_cell(r, (cost_dtype)d, (cost_op_class)c, a, &sa, &ta);
            cost_regress_cell(q, (cost_dtype)d, (cost_op_class)c, b, &sb, &tb);
            CHECK(sa == sb && ta.n == tb.n);
            CHECK(memcmp(a, b, sizeof a) == 0);
            CHECK_NEAR(tb.rel_rms, ta.rel_rms, 0, 1e-15);
        }
    for (int i = 0; i < 60; i += 7)
        CHECK(cost_regress_node_ms(q, &f[i], &db, 4) == cost_regress_node_ms(r, &f[i], &db, 4));
    if (cleave_ctx_verbose(ctx)) cost_regress_describe(q, stdout);
    /* bad files */
    char names[512] = "", cell[256];
    for (int k = 0; k < COST_REG_N; k++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s\"%s\"", k ? "," : "",
                 cost_regressor_name((cost_regressor)k));
    char bads[8][1024];
    snprintf(bads[0], sizeof bads[0], "[]");
    snprintf(bads[1], sizeof bads[1], "{\"format\":\"other\",\"version\":1}");
    snprintf(bads[2], sizeof bads[2], "{\"format\":\"cleave-regress\",\"version\":2}");
    snprintf(bads[3], sizeof bads[3], "{\"format\":\"cleave-regress\",\"version\":1,"
             "\"regressors\":[\"x\"],\"cells\":[]}");
    snprintf(bads[4], sizeof bads[4], "{\"format\":\"cleave-regress\",");
    const char *cells[3] = {"\"coef\":[1,1,-1,0,0,0,0,0]", "\"coef\":[1,1,1]",
                            "\"coef\":[1,1,1,0,0,0,0,1e300]"};
    for (int k = 0; k < 3; k++) {
        snprintf(cell, sizeof cell, "{\"dtype\":\"fp32\",\"class\":\"conv\",\"source\":\"fit\",%s}",
                 cells[k]);
        snprintf(bads[5 + k], sizeof bads[5 + k], "{\"format\":\"cleave-regress\",\"version\":1,"
                 "\"regressors\":[%s],\"cells\":[%s]}", names, cell);
    }
    for (int i = 0; i < 8; i++) {
        CHECK(cv_write_file(ctx, path, bads[i], strlen(bads[i])) == CLEAVE_OK);
        cleave_ctx_clear_error(ctx);
        cleave_status s = cost_regress_load(ctx, q, path);
        CHECK(s == (i == 2 || i == 3 ? CLEAVE_E_UNSUPPORTED : CLEAVE_E_PARSE));
        CHECK(strstr(cleave_ctx_error(ctx), path) != NULL);
        if (i >= 5) CHECK(strstr(cleave_ctx_error(ctx), "coef") != NULL);
    }
    /* a failed load leaves the coefficients alone */
    CHECK(cost_regress_node_ms(q, &f[3], &db, 4) == cost_regress_node_ms(r, &f[3], &db, 4));
    cleave_ctx_clear_error(ctx);
    remove(path);
    cost_regress_destroy(q);
    cost_regress_destroy(r);
    /* NAN for unusable input */
    CHECK(isnan(cost_regress_node_ms(NULL, &g, &db, 1)));
}

int main(int argc, char **argv) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    if (argc > 1 && !strcmp(argv[1], "-v")) cleave_ctx_set_verbose(ctx, 1);
    test_lsq_exact(ctx);
    test_lsq_line(ctx);
    test_lsq_rank(ctx);
    test_nnls(ctx);
    test_regress_recover(ctx);
    test_regress_fallback_and_io(ctx);
    cleave_ctx_destroy(ctx);
    return check_summary("test_cost_regress");
}
