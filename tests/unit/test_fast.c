/* Unit test for ops/fast.h (the oneDNN backend, or "none"): fast_conv against
 * a naive direct convolution in double precision over shapes with odd tails
 * (1x1, 3x3 stride 1/2, 7x7/2 pad 3, dilation 2, groups, depthwise, pads
 * that differ per side, batch 2), every fused activation, both layouts
 * (plain NCHW and blocked) and 1/2 threads; fast_gemm against a triple loop
 * (trans_b 0/1, bias or not, m = 1). Tolerance 1e-4 abs + 1e-4 rel. Prints
 * GFLOP/s of a resnet18 3x3 64->64 56x56 layer on one thread (not asserted). */
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

int main(int argc, char **argv) {
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0; /* list each case and its kernel */
    have_backend = strcmp(fast_backend_name(), "none") != 0;
    printf("fast backend: %s\n", fast_backend_name());
    test_conv();
    test_gemm();
    printf("conv runs per layout: auto %d, plain %d, blocked %d\n", layouts_run[0], layouts_run[1],
           layouts_run[2]);
    bench_resnet_layer();
    return check_summary("test_fast");
}
