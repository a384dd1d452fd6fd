/* Unit test for ops/fast.h (the oneDNN backend, or "none"): fast_conv against
 * a naive direct convolution in double precision over shapes with odd tails
 * (1x1, 3x3 stride 1/2, 7x7/2 pad 3, dilation 2, groups, depthwise, pads
 * that differ per side, batch 2), every fused activation, both layouts
 * (plain NCHW and blocked) and 1/2 threads; fast_gemm against a triple loop
 * (trans_b 0/1, bias or not, m = 1). Tolerance 1e-4 abs + 1e-4 rel. Prints
 * GFLOP/s of a resnet18 3x3 64->64 56x56 layer on one thread (not asserted).
 * Blocked activations: every src_block / dst_block combination of
 * {0, fast_block_size()} (and the other block size) over the conv shapes
 * against the plain path with the layouts converted here; padded dst lanes
 * must be exactly 0 (also when act(0) != 0), padded src lanes must not
 * matter. Residual sum (with_sum): act(conv + bias + sum) with none / relu /
 * sigmoid, plain and blocked dst, sum == dst and sum != dst. Prints per-call
 * ms of three layers plain vs blocked in/out (not asserted). */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "check.h"
#include "ops/fast.h"
#include "ops/op.h"

static uint32_t rng_state = 2024u;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *make(int64_t n) {
    float *p = (float *)malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

static const char *act_names[] = {"none",    "relu",        "clip",      "leaky",
                                  "sigmoid", "hardsigmoid", "hardswish", "tanh"};

/* Naive direct convolution, NCHW, double accumulation, then the activation
 * as the reference ops apply it. */
static void conv_naive(const fast_conv_desc *d, const float *x, float *y) {
    int64_t cg = d->c / d->group, kg = d->k / d->group;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t k = 0; k < d->k; k++) {
            int64_t g = k / kg;
            for (int64_t oy = 0; oy < d->oh; oy++)
                for (int64_t ox = 0; ox < d->ow; ox++) {
                    double s = d->bias ? d->bias[k] : 0.0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t ky = 0; ky < d->kh; ky++) {
                            int64_t iy = oy * d->stride[0] - d->pad_t + ky * d->dilation[0];
                            if (iy < 0 || iy >= d->h) continue;
                            for (int64_t kx = 0; kx < d->kw; kx++) {
                                int64_t ix = ox * d->stride[1] - d->pad_l + kx * d->dilation[1];
                                if (ix < 0 || ix >= d->w) continue;
                                s += (double)x[((n * d->c + g * cg + c) * d->h + iy) * d->w + ix] *
                                     d->weight[((k * cg + c) * d->kh + ky) * d->kw + kx];
                            }
                        }
                    y[((n * d->k + k) * d->oh + oy) * d->ow + ox] = (float)s;
                }
        }
    op_apply_act_f32(&d->act, y, d->n * d->k * d->oh * d->ow);
}

/* Worst element under |a-b| <= 1e-4 + 1e-4|b|, checked (and printed) once. */
static void check_close(const char *what, const float *got, const float *want, int64_t n) {
    int64_t worst = 0;
    double worst_excess = -1e30;
    for (int64_t i = 0; i < n; i++) {
        double excess = fabs((double)got[i] - want[i]) - (1e-4 + 1e-4 * fabs((double)want[i]));
        if (excess > worst_excess || got[i] != got[i]) {
            worst_excess = got[i] != got[i] ? 1e30 : excess;
            worst = i;
        }
    }
    if (worst_excess > 0)
        fprintf(stderr, "mismatch in %s at element %lld\n", what, (long long)worst);
    CHECK_NEAR(got[worst], want[worst], 1e-4, 1e-4);
}

static int have_backend, verbose;
static int layouts_run[3];

typedef struct conv_case {
    const char *name;
    int64_t n, c, h, w, k, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
} conv_case;

static void conv_one(const conv_case *cc, ir_act act, int bias, fast_layout layout, int threads) {
    fast_conv_desc d = {.n = cc->n,
                        .c = cc->c,
                        .h = cc->h,
                        .w = cc->w,
                        .k = cc->k,
                        .kh = cc->kh,
                        .kw = cc->kw,
                        .stride = {cc->sh, cc->sw},
                        .dilation = {cc->dh, cc->dw},
                        .pad_t = cc->pt,
                        .pad_l = cc->pl,
                        .pad_b = cc->pb,
                        .pad_r = cc->pr,
                        .group = cc->group,
                        .act = act,
                        .threads = threads,
                        .layout = layout};
    d.oh = (d.h + d.pad_t + d.pad_b - ((d.kh - 1) * d.dilation[0] + 1)) / d.stride[0] + 1;
    d.ow = (d.w + d.pad_l + d.pad_r - ((d.kw - 1) * d.dilation[1] + 1)) / d.stride[1] + 1;
    int64_t nx = d.n * d.c * d.h * d.w, ny = d.n * d.k * d.oh * d.ow;
    int64_t nw = d.k * (d.c / d.group) * d.kh * d.kw;
    float *x = make(nx), *wt = make(nw), *b = make(d.k), *y = make(ny), *ref = make(ny);
    float *wcopy = (float *)malloc((size_t)nw * sizeof(float)), *bcopy = make(d.k);
    memcpy(wcopy, wt, (size_t)nw * sizeof(float));
    memcpy(bcopy, b, (size_t)d.k * sizeof(float));
    d.weight = wcopy;
    d.bias = bias ? bcopy : NULL;
    void *st = NULL;
    int rc = fast_conv_create(&d, &st);
    if (!have_backend)
        CHECK(rc == FAST_NO && st == NULL);
    else if (layout == FAST_LAYOUT_AUTO)
        CHECK(rc == FAST_OK); /* all cases have a real kernel */
    if (rc == FAST_OK) {
        char what[160];
        snprintf(what, sizeof what, "conv %s act=%s bias=%d layout=%d threads=%d [%s]", cc->name,
                 act_names[act.kind], bias, (int)layout, threads, fast_impl_name(st));
        layouts_run[layout]++;
        if (verbose) printf("%s\n", what);
        /* The state must own its weights: scribble over the caller's copies,
         * and over the scratch before each run. */
        memset(wcopy, 0xff, (size_t)nw * sizeof(float));
        memset(bcopy, 0xff, (size_t)d.k * sizeof(float));
        size_t sb = fast_conv_scratch_bytes(st);
        void *scratch = sb ? cv_aligned_alloc(sb) : NULL;
        d.weight = wt;
        d.bias = bias ? b : NULL;
        conv_naive(&d, x, ref);
        for (int rep = 0; rep < 2; rep++) { /* a second run reuses the bound state */
            if (sb) memset(scratch, 0x7f, sb);
            memset(y, 0xff, (size_t)ny * sizeof(float));
            CHECK(fast_conv_run(st, x, y, scratch) == 0);
            check_close(what, y, ref, ny);
        }
        fast_conv_destroy(st);
        cv_aligned_free(scratch);
    }
    free(x), free(wt), free(b), free(y), free(ref), free(wcopy), free(bcopy);
}

/* clang-format off */
static const conv_case conv_cases[] = {
    /* name           n  c   h   w   k  kh kw sh sw dh dw pt pl pb pr group */
    {"1x1",           1, 5,  7,  9,  11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1-s2",        1, 24, 9,  11, 40, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},
    {"3x3-s1",        1, 3,  13, 11, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3-s1-c35",    1, 35, 10, 9,  21, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3-s2",        1, 19, 15, 17, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
    {"7x7-s2-p3",     1, 3,  29, 31, 16, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1},
    {"3x3-dil2",      1, 8,  12, 10, 8,  3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},
    {"3x3-dil2-s2",   1, 16, 13, 14, 20, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1},
    {"groups2",       1, 6,  9,  8,  10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {"groups2-c32",   1, 32, 9,  8,  48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {"depthwise",     1, 24, 11, 13, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 24},
    {"depthwise-s2",  1, 19, 11, 13, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 19},
    {"depthwise-5x5", 1, 32, 14, 14, 32, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 32},
    {"dw-mult2",      1, 8,  10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},
    {"asym-pads",     1, 7,  10, 12, 9,  3, 3, 1, 1, 1, 1, 0, 1, 2, 1, 1},
    {"asym-2x5",      1, 16, 9,  15, 16, 2, 5, 1, 2, 1, 1, 1, 0, 0, 3, 1},
    {"batch2",        2, 16, 12, 11, 32, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},
    {"batch2-1x1",    2, 64, 7,  7,  24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1-reduce",    1, 48, 12, 13, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1}, /* auto: plain */
};
/* clang-format on */
#define N_CONV_CASES (sizeof conv_cases / sizeof conv_cases[0])

static const ir_act acts[] = {
    {IR_ACT_NONE, 0, 0},
    {IR_ACT_RELU, 0, 0},
    {IR_ACT_CLIP, 0, 6},
    {IR_ACT_CLIP, -0.5f, 0.25f},
    {IR_ACT_LEAKY, 0.1f, 0},
    {IR_ACT_SIGMOID, 0, 0},
    {IR_ACT_HARDSIGMOID, 0.2f, 0.5f},
    {IR_ACT_HARDSWISH, 0, 0},
    {IR_ACT_TANH, 0, 0},
};
#define N_ACTS (sizeof acts / sizeof acts[0])

static void test_conv(void) {
    const ir_act none = {IR_ACT_NONE, 0, 0}, relu = {IR_ACT_RELU, 0, 0};
    for (size_t i = 0; i < N_CONV_CASES; i++)
        for (int layout = 0; layout < 3; layout++) {
            conv_one(&conv_cases[i], i % 2 ? relu : none, 1, (fast_layout)layout, 1);
            if (layout == FAST_LAYOUT_AUTO) conv_one(&conv_cases[i], none, 0, FAST_LAYOUT_AUTO, 2);
        }
    /* Every activation on a plain-friendly and a blocked-friendly shape. */
    for (size_t a = 0; a < N_ACTS; a++)
        for (int layout = 0; layout < 3; layout++) {
            conv_one(&conv_cases[3], acts[a], 1, (fast_layout)layout, 1);
            conv_one(&conv_cases[10], acts[a], a % 2, (fast_layout)layout, 1);
        }
    /* Clip with infinite bounds (opset 11 Clip without min / max). */
    ir_act clip_lo = {IR_ACT_CLIP, 0, INFINITY}, clip_none = {IR_ACT_CLIP, -INFINITY, INFINITY};
    conv_one(&conv_cases[2], clip_lo, 1, FAST_LAYOUT_AUTO, 1);
    conv_one(&conv_cases[2], clip_none, 1, FAST_LAYOUT_AUTO, 1);
    /* Invalid descriptions are declined, not crashed on. */
    fast_conv_desc bad = {.n = 1,
                          .c = 3,
                          .h = 4,
                          .w = 4,
                          .k = 4,
                          .kh = 3,
                          .kw = 3,
                          .oh = 2,
                          .ow = 2,
                          .stride = {1, 1},
                          .dilation = {1, 1},
                          .group = 2};
    float wbad[4 * 3 * 9] = {0};
    bad.weight = wbad;
    void *st = (void *)1;
    CHECK(fast_conv_create(&bad, &st) == FAST_NO && st == NULL); /* c % group != 0 */
    bad.group = 1;
    bad.oh = 5; /* inconsistent with the pads */
    CHECK(fast_conv_create(&bad, &st) == FAST_NO && st == NULL);
}

static void gemm_one(int64_t m, int64_t n, int64_t k, int trans_b, int bias, ir_act act,
                     int threads) {
    float *a = make(m * k), *b = make(k * n), *bb = make(n), *y = make(m * n), *ref = make(m * n);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = bias ? bb[j] : 0.0;
            for (int64_t p = 0; p < k; p++)
                s += (double)a[i * k + p] * (trans_b ? b[j * k + p] : b[p * n + j]);
            ref[i * n + j] = (float)s;
        }
    op_apply_act_f32(&act, ref, m * n);
    float *bcopy = (float *)malloc((size_t)(k * n) * sizeof(float));
    memcpy(bcopy, b, (size_t)(k * n) * sizeof(float));
    fast_gemm_desc d = {.m = m,
                        .n = n,
                        .k = k,
                        .trans_b = trans_b,
                        .b = bcopy,
                        .bias = bias ? bb : NULL,
                        .act = act,
                        .threads = threads};
    void *st = NULL;
    int rc = fast_gemm_create(&d, &st);
    CHECK(rc == (have_backend ? FAST_OK : FAST_NO));
    if (rc == FAST_OK) {
        char what[160];
        snprintf(what, sizeof what, "gemm %lldx%lldx%lld trans_b=%d bias=%d act=%s [%s]",
                 (long long)m, (long long)n, (long long)k, trans_b, bias, act_names[act.kind],
                 fast_impl_name(st));
        if (verbose) printf("%s\n", what);
        memset(bcopy, 0xff, (size_t)(k * n) * sizeof(float));
        size_t sb = fast_gemm_scratch_bytes(st);
        void *scratch = sb ? cv_aligned_alloc(sb) : NULL;
        CHECK(fast_gemm_run(st, a, y, scratch) == 0);
        check_close(what, y, ref, m * n);
        fast_gemm_destroy(st);
        cv_aligned_free(scratch);
    }
    free(a), free(b), free(bb), free(y), free(ref), free(bcopy);
}

static void test_gemm(void) {
    const ir_act none = {IR_ACT_NONE, 0, 0};
    static const int64_t shapes[][3] = {{1, 1000, 512}, {1, 5, 3},   {7, 13, 29},
                                        {64, 33, 100},  {3, 128, 1}, {17, 1, 40}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int tb = 0; tb < 2; tb++)
            for (int bias = 0; bias < 2; bias++)
                gemm_one(shapes[i][0], shapes[i][1], shapes[i][2], tb, bias, none, 1);
    for (size_t a = 0; a < N_ACTS; a++)
        gemm_one(5, 37, 19, (int)(a % 2), 1, acts[a], 1);
    gemm_one(96, 80, 70, 1, 1, acts[1], 2);
}

/* Best-of-reps seconds per call of the fast conv, or -1 when unavailable. */
static double bench_fast(fast_conv_desc *d, const float *x, float *y, fast_layout layout,
                         char *impl, size_t impl_len) {
    void *st = NULL;
    d->layout = layout;
    if (fast_conv_create(d, &st) != FAST_OK) return -1;
    snprintf(impl, impl_len, "%s", fast_impl_name(st));
    size_t sb = fast_conv_scratch_bytes(st);
    void *scratch = sb ? cv_aligned_alloc(sb) : NULL;
    double best = 1e30;
    fast_conv_run(st, x, y, scratch); /* warm-up */
    for (int r = 0; r < 10; r++) {
        double t0 = cv_now_ms();
        fast_conv_run(st, x, y, scratch);
        double t = (cv_now_ms() - t0) / 1e3;
        if (t < best) best = t;
    }
    fast_conv_destroy(st);
    cv_aligned_free(scratch);
    return best;
}

static void bench_resnet_layer(void) {
    fast_conv_desc d = {.n = 1,
                        .c = 64,
                        .h = 56,
                        .w = 56,
                        .k = 64,
                        .kh = 3,
                        .kw = 3,
                        .oh = 56,
                        .ow = 56,
                        .stride = {1, 1},
                        .dilation = {1, 1},
                        .pad_t = 1,
                        .pad_l = 1,
                        .pad_b = 1,
                        .pad_r = 1,
                        .group = 1,
                        .act = {IR_ACT_RELU, 0, 0},
                        .threads = 1};
    float *x = make(64 * 56 * 56), *w = make(64 * 64 * 9), *b = make(64);
    float *y = make(64 * 56 * 56);
    d.weight = w;
    d.bias = b;
    double flops = 2.0 * 64 * 56 * 56 * 64 * 9;
    static const char *lname[] = {"auto", "plain", "blocked"};
    char impl[128];
    for (int l = 0; l < 3; l++) {
        double t = bench_fast(&d, x, y, (fast_layout)l, impl, sizeof impl);
        if (t > 0)
            printf("resnet18 3x3 64->64 56x56, 1 thread, fast %-7s: %7.1f GFLOP/s (%.3f ms) [%s]\n",
                   lname[l], flops / t * 1e-9, t * 1e3, impl);
    }
    double t0 = cv_now_ms();
    conv_naive(&d, x, y);
    double t = (cv_now_ms() - t0) / 1e3;
    printf("resnet18 3x3 64->64 56x56, 1 thread, naive        : %7.1f GFLOP/s (%.3f ms)\n",
           flops / t * 1e-9, t * 1e3);
    free(x), free(w), free(b), free(y);
}

/* ---- blocked activations (src_block / dst_block) and the residual sum ---- */

static int64_t cdiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* Elements of an nChw{B}c tensor (channels padded up to a multiple of B). */
static int64_t blk_elems(int64_t n, int64_t c, int64_t hw, int b) {
    return n * cdiv(c, b) * b * hw;
}

/* NCHW -> nChw{B}c; padded lanes set to pad. */
static void to_blk(const float *x, int64_t n, int64_t c, int64_t hw, int b, float pad, float *o) {
    int64_t cb = cdiv(c, b);
    for (int64_t in = 0; in < n; in++)
        for (int64_t ib = 0; ib < cb; ib++)
            for (int64_t p = 0; p < hw; p++)
                for (int l = 0; l < b; l++) {
                    int64_t ch = ib * b + l;
                    o[((in * cb + ib) * hw + p) * b + l] = ch < c ? x[(in * c + ch) * hw + p] : pad;
                }
}

/* nChw{B}c -> NCHW. */
static void from_blk(const float *o, int64_t n, int64_t c, int64_t hw, int b, float *x) {
    int64_t cb = cdiv(c, b);
    for (int64_t in = 0; in < n; in++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++)
                x[(in * c + ch) * hw + p] = o[((in * cb + ch / b) * hw + p) * b + ch % b];
}

/* Padded lanes of an nChw{B}c tensor that are not exactly 0. */
static int64_t blk_pad_nonzero(const float *o, int64_t n, int64_t c, int64_t hw, int b) {
    int64_t cb = cdiv(c, b), bad = 0;
    for (int64_t in = 0; in < n; in++)
        for (int64_t p = 0; p < hw; p++)
            for (int64_t ch = c; ch < cb * b; ch++)
                bad += o[((in * cb + ch / b) * hw + p) * b + ch % b] != 0.0f;
    return bad;
}

static int blk_direct, blk_fallback; /* blocked sides the conv took as is / reordered */

/* sum_mode: 0 no sum, 1 sum == dst (in place), 2 separate sum buffer.
 * src_pad: value of the padded src and sum lanes (must not matter). */
static void blocked_one(const conv_case *cc, ir_act act, int bias, int sb, int db, int sum_mode,
                        float src_pad, int threads) {
    fast_conv_desc d = {.n = cc->n,
                        .c = cc->c,
                        .h = cc->h,
                        .w = cc->w,
                        .k = cc->k,
                        .kh = cc->kh,
                        .kw = cc->kw,
                        .stride = {cc->sh, cc->sw},
                        .dilation = {cc->dh, cc->dw},
                        .pad_t = cc->pt,
                        .pad_l = cc->pl,
                        .pad_b = cc->pb,
                        .pad_r = cc->pr,
                        .group = cc->group,
                        .act = {IR_ACT_NONE, 0, 0},
                        .threads = threads};
    d.oh = (d.h + d.pad_t + d.pad_b - ((d.kh - 1) * d.dilation[0] + 1)) / d.stride[0] + 1;
    d.ow = (d.w + d.pad_l + d.pad_r - ((d.kw - 1) * d.dilation[1] + 1)) / d.stride[1] + 1;
    int64_t hw = d.h * d.w, ohw = d.oh * d.ow;
    int64_t nx = d.n * d.c * hw, ny = d.n * d.k * ohw;
    int64_t nw = d.k * (d.c / d.group) * d.kh * d.kw;
    float *x = make(nx), *wt = make(nw), *b = make(d.k), *sum = make(ny), *ref = make(ny);
    d.weight = wt;
    d.bias = bias ? b : NULL;
    /* Reference: the plain path without activation, then + sum, then act. */
    void *pst = NULL;
    int rc = fast_conv_create(&d, &pst);
    CHECK(rc == (have_backend ? FAST_OK : FAST_NO));
    if (rc != FAST_OK) {
        d.src_block = sb ? sb : 16, d.dst_block = db, d.with_sum = sum_mode != 0;
        CHECK(fast_conv_create(&d, &pst) == FAST_NO && pst == NULL);
        free(x), free(wt), free(b), free(sum), free(ref);
        return;
    }
    size_t psb = fast_conv_scratch_bytes(pst);
    void *pscratch = psb ? cv_aligned_alloc(psb) : NULL;
    CHECK(fast_conv_run(pst, x, ref, pscratch) == 0);
    CHECK(fast_conv_run_sum(pst, x, ref, ref, pscratch) == -1); /* not a sum state */
    fast_conv_destroy(pst);
    cv_aligned_free(pscratch);
    if (sum_mode)
        for (int64_t i = 0; i < ny; i++)
            ref[i] += sum[i];
    op_apply_act_f32(&act, ref, ny);

    d.act = act;
    d.src_block = sb;
    d.dst_block = db;
    d.with_sum = sum_mode != 0;
    void *st = NULL;
    rc = fast_conv_create(&d, &st);
    CHECK(rc == FAST_OK);
    if (rc == FAST_OK) {
        const char *impl = fast_impl_name(st);
        char what[200];
        snprintf(what, sizeof what, "blocked conv %s act=%s bias=%d src_block=%d dst_block=%d "
                 "sum=%d threads=%d [%s]", cc->name, act_names[act.kind], bias, sb, db, sum_mode,
                 threads, impl);
        if (verbose) printf("%s\n", what);
        if (sb || db) { /* "impl src->dst", a '*' marks a side reordered inside */
            const char *sp = strrchr(impl, ' ');
            const char *arrow = sp ? strstr(sp, "->") : NULL;
            if (sb) (arrow && arrow[-1] == '*') ? blk_fallback++ : blk_direct++;
            if (db) (arrow && strchr(arrow, '*')) ? blk_fallback++ : blk_direct++;
        }
        int64_t nxb = sb ? blk_elems(d.n, d.c, hw, sb) : nx;
        int64_t nyb = db ? blk_elems(d.n, d.k, ohw, db) : ny;
        float *xin = (float *)malloc((size_t)nxb * sizeof(float));
        float *yout = (float *)malloc((size_t)nyb * sizeof(float));
        float *sin = (float *)malloc((size_t)nyb * sizeof(float));
        float *sin_copy = (float *)malloc((size_t)nyb * sizeof(float));
        float *got = (float *)malloc((size_t)ny * sizeof(float));
        if (sb)
            to_blk(x, d.n, d.c, hw, sb, src_pad, xin);
        else
            memcpy(xin, x, (size_t)nx * sizeof(float));
        if (db)
            to_blk(sum, d.n, d.k, ohw, db, src_pad, sin); /* padding: like src's */
        else
            memcpy(sin, sum, (size_t)ny * sizeof(float));
        memcpy(sin_copy, sin, (size_t)nyb * sizeof(float));
        size_t sbytes = fast_conv_scratch_bytes(st);
        void *scratch = sbytes ? cv_aligned_alloc(sbytes) : NULL;
        for (int rep = 0; rep < 2; rep++) {
            if (sbytes) memset(scratch, 0x7f, sbytes);
            int r;
            if (sum_mode == 1) {
                memcpy(yout, sin, (size_t)nyb * sizeof(float));
                r = fast_conv_run_sum(st, xin, yout, yout, scratch);
            } else {
                memset(yout, 0xff, (size_t)nyb * sizeof(float)); /* NaN everywhere */
                r = sum_mode ? fast_conv_run_sum(st, xin, yout, sin, scratch)
                             : fast_conv_run(st, xin, yout, scratch);
            }
            CHECK(r == 0);
            if (db) {
                from_blk(yout, d.n, d.k, ohw, db, got);
                int64_t bad = blk_pad_nonzero(yout, d.n, d.k, ohw, db);
                if (bad) fprintf(stderr, "%s: %lld padded dst lanes not 0\n", what, (long long)bad);
                CHECK(bad == 0);
            } else {
                memcpy(got, yout, (size_t)ny * sizeof(float));
            }
            check_close(what, got, ref, ny);
            if (sum_mode == 2) CHECK(memcmp(sin, sin_copy, (size_t)nyb * sizeof(float)) == 0);
        }
        /* The other run entry point refuses the state. */
        if (sum_mode)
            CHECK(fast_conv_run(st, xin, yout, scratch) == -1);
        else
            CHECK(fast_conv_run_sum(st, xin, yout, yout, scratch) == -1);
        fast_conv_destroy(st);
        cv_aligned_free(scratch);
        free(xin), free(yout), free(sin), free(sin_copy), free(got);
    }
    free(x), free(wt), free(b), free(sum), free(ref);
}

/* clang-format off */
static const conv_case blk_extra_cases[] = {
    /* name           n  c   h   w   k  kh kw sh sw dh dw pt pl pb pr group */
    {"3x3-c40-k24",   1, 40, 9,  10, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3-s2-c24-k40",2, 24, 11, 9,  40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
    {"1x1-c40-k3",    1, 40, 8,  8,  3,  1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"dw-c40",        2, 40, 10, 9,  40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 40},
    {"dw-c40-s2",     1, 40, 12, 12, 40, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 40},
    {"1x1-c64-k64",   1, 64, 14, 14, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
};
/* clang-format on */
#define N_BLK_EXTRA (sizeof blk_extra_cases / sizeof blk_extra_cases[0])

static void test_blocked(void) {
    const ir_act none = {IR_ACT_NONE, 0, 0}, relu = {IR_ACT_RELU, 0, 0};
    const ir_act hsig = {IR_ACT_HARDSIGMOID, 0.2f, 0.5f}, sig = {IR_ACT_SIGMOID, 0, 0};
    int bs = fast_block_size();
    printf("fast_block_size: %d\n", bs);
    CHECK(have_backend ? (bs == 0 || bs == 8 || bs == 16) : bs == 0);
    /* Blocks to try: the backend's, and the other one it accepts. */
    int blocks[2] = {bs, bs == 16 ? 8 : bs == 8 ? 16 : 0};
    int nblocks = bs ? 2 : 1;
    for (int bi = 0; bi < nblocks; bi++) {
        int b = blocks[bi];
        for (size_t i = 0; i < N_CONV_CASES + N_BLK_EXTRA; i++) {
            const conv_case *cc = i < N_CONV_CASES ? &conv_cases[i] : &blk_extra_cases[i - N_CONV_CASES];
            for (int sb = 0; sb <= b; sb += b ? b : 1)
                for (int db = 0; db <= b; db += b ? b : 1) {
                    blocked_one(cc, i % 2 ? relu : none, 1, sb, db, 0, 0.0f, 1);
                    if (bi == 0) {
                        /* act(0) != 0: padded dst lanes must still be 0 */
                        blocked_one(cc, hsig, (int)(i % 2), sb, db, 0, 0.0f, 1);
                        /* padded src lanes holding finite nonzero values */
                        if (sb) blocked_one(cc, relu, 1, sb, db, 0, 1.5f, 2);
                    }
                    if (!b) break;
                }
        }
    }
    /* Residual sum: none / relu / sigmoid fused after it, sum == dst and
     * sum != dst, every src/dst format combination. */
    static const size_t sum_cases[] = {0, 1, 2, 4, 10, 16}; /* conv_cases indices */
    const ir_act sum_acts[] = {none, relu, sig};
    for (size_t i = 0; i < sizeof sum_cases / sizeof sum_cases[0]; i++)
        for (int sb = 0; sb <= bs; sb += bs ? bs : 1) {
            for (int db = 0; db <= bs; db += bs ? bs : 1) {
                for (size_t a = 0; a < 3; a++)
                    for (int mode = 1; mode <= 2; mode++) {
                        blocked_one(&conv_cases[sum_cases[i]], sum_acts[a], (int)(a != 1), sb, db,
                                    mode, 0.0f, 1 + (int)(a == 2 && mode == 2));
                        if (sb || db) /* finite junk in padded src / sum lanes */
                            blocked_one(&conv_cases[sum_cases[i]], sum_acts[a], 1, sb, db, mode,
                                        -2.5f, 1);
                    }
                if (!bs) break;
            }
            if (!bs) break;
        }
    for (size_t i = 0; i < N_BLK_EXTRA; i++)
        for (int mode = 1; mode <= 2; mode++)
            blocked_one(&blk_extra_cases[i], relu, 1, bs, bs, mode, 0.0f, 1);
    printf("blocked sides: %d taken by the conv as is, %d reordered inside\n", blk_direct,
           blk_fallback);
    /* Invalid block sizes are declined. */
    float w1[4] = {1, 1, 1, 1};
    fast_conv_desc bad = {.n = 1, .c = 4, .h = 2, .w = 2, .k = 1, .kh = 1, .kw = 1, .oh = 2,
                          .ow = 2, .stride = {1, 1}, .dilation = {1, 1}, .group = 1,
                          .weight = w1, .src_block = 4};
    void *st = (void *)1;
    CHECK(fast_conv_create(&bad, &st) == FAST_NO && st == NULL);
}

/* Per-call ms of plain NCHW in/out vs blocked in/out, one thread. */
static double bench_blk(fast_conv_desc *d, int block, int with_sum) {
    void *st = NULL;
    d->src_block = d->dst_block = block;
    d->with_sum = with_sum;
    d->layout = FAST_LAYOUT_AUTO;
    if (fast_conv_create(d, &st) != FAST_OK) return -1;
    int64_t nx = block ? blk_elems(d->n, d->c, d->h * d->w, block) : d->n * d->c * d->h * d->w;
    int64_t ny = block ? blk_elems(d->n, d->k, d->oh * d->ow, block) : d->n * d->k * d->oh * d->ow;
    float *x = make(nx), *y = make(ny), *sum = make(ny);
    size_t sb = fast_conv_scratch_bytes(st);
    void *scratch = sb ? cv_aligned_alloc(sb) : NULL;
    double best = 1e30;
    for (int r = 0; r < 21; r++) {
        double t0 = cv_now_ms();
        if (with_sum)
            fast_conv_run_sum(st, x, y, sum, scratch);
        else
            fast_conv_run(st, x, y, scratch);
        double t = cv_now_ms() - t0;
        if (r && t < best) best = t; /* r 0: warm-up */
    }
    printf("    %-8s%s %7.3f ms  [%s]\n", block ? "blocked" : "plain", with_sum ? "+sum" : "    ",
           best, fast_impl_name(st));
    fast_conv_destroy(st);
    cv_aligned_free(scratch);
    free(x), free(y), free(sum);
    return best;
}

static void bench_blocked_layers(void) {
    int bs = fast_block_size();
    if (!bs) return;
    struct {
        const char *name;
        int64_t c, hw, k, kh, s, p, g;
        int sum;
    } L[] = {
        {"resnet18 3x3 64->64 @56 relu", 64, 56, 64, 3, 1, 1, 1, 1},
        {"mobilenet 1x1 16->96 @112 relu6", 16, 112, 96, 1, 1, 0, 1, 0},
        {"mobilenet dw 3x3 96 s2 @112 relu6", 96, 112, 96, 3, 2, 1, 96, 0},
    };
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
        int64_t o = (L[i].hw + 2 * L[i].p - L[i].kh) / L[i].s + 1;
        float *w = make(L[i].k * (L[i].c / L[i].g) * L[i].kh * L[i].kh), *b = make(L[i].k);
        fast_conv_desc d = {.n = 1, .c = L[i].c, .h = L[i].hw, .w = L[i].hw, .k = L[i].k,
                            .kh = L[i].kh, .kw = L[i].kh, .oh = o, .ow = o,
                            .stride = {L[i].s, L[i].s}, .dilation = {1, 1}, .pad_t = L[i].p,
                            .pad_l = L[i].p, .pad_b = L[i].p, .pad_r = L[i].p, .group = L[i].g,
                            .weight = w, .bias = b, .threads = 1};
        d.act = i ? (ir_act){IR_ACT_CLIP, 0, 6} : (ir_act){IR_ACT_RELU, 0, 0};
        printf("%s, 1 thread, per call:\n", L[i].name);
        bench_blk(&d, 0, 0);
        bench_blk(&d, bs, 0);
        if (L[i].sum) {
            bench_blk(&d, 0, 1);
            bench_blk(&d, bs, 1);
        }
        free(w), free(b);
    }
}

int main(int argc, char **argv) {
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0; /* list each case and its kernel */
    have_backend = strcmp(fast_backend_name(), "none") != 0;
    printf("fast backend: %s\n", fast_backend_name());
    test_conv();
    test_gemm();
    test_blocked();
    printf("conv runs per layout: auto %d, plain %d, blocked %d\n", layouts_run[0], layouts_run[1],
           layouts_run[2]);
    bench_resnet_layer();
    bench_blocked_layers();
    return check_summary("test_fast");
}
