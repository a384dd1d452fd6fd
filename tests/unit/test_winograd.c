/* F(2x2, 3x3) Winograd conv (ops/winograd.c) against the reference Conv
 * (ops/conv.c, im2col + SGEMM) over a sweep of C, K in {1,3,8,9,16,64,67}
 * and H, W in {1,2,3,5,7,8,14,15,56}, with pads 0, 1 and asymmetric, bias,
 * ReLU / Clip / LeakyRelu, a fused residual sum, src / dst NCHW, nChw8c
 * and nChw16c, 1 and 2 threads, one or many tile blocks, AVX2+FMA and
 * portable kernels. Bar: relative L2 error <= 1e-5 per case; padded dst
 * lanes exactly 0. Prints the worst relative L2 and max abs error. With
 * oneDNN, also the fast_conv path forced to Winograd (CLEAVE_WINOGRAD=1). */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/blocked.h"
#include "ops/fast.h"
#include "ops/op.h"
#include "ops/winograd.h"

static cleave_ctx *g_ctx;
static unsigned g_seed = 11;
static double g_worst_rel, g_worst_abs;

static float frand(void) {
    g_seed = g_seed * 1103515245u + 12345u;
    return (float)((g_seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* Reference Conv (3x3, stride 1, pads t l b r, bias, no activation), plain
 * NCHW, through the op's own prepare / run with fast kernels off. */
static int ref_conv(const float *x, const float *wt, const float *bias, float *y, int64_t n,
                    int64_t c, int64_t h, int64_t w, int64_t k, const int64_t pads[4]) {
    ir_attr a = {.name = "pads", .kind = IR_ATTR_INTS, .ints = pads, .n = 4};
    ir_node nd = {.name = "ref",
                  .op_type = "Conv",
                  .domain = "",
                  .op = OP_Conv,
                  .opset = 13,
                  .attrs = &a,
                  .n_attrs = 1};
    cv_tensor tx = {.dtype = CV_F32, .ndim = 4, .dims = {n, c, h, w}, .data = (void *)x};
    cv_tensor tw = {.dtype = CV_F32, .ndim = 4, .dims = {k, c, 3, 3}, .data = (void *)wt};
    cv_tensor tb = {.dtype = CV_F32, .ndim = 1, .dims = {k}, .data = (void *)bias};
    cv_tensor ty = {.dtype = CV_F32};
    const cv_tensor *in[3] = {&tx, &tw, &tb};
    cv_tensor *out[1] = {&ty};
    op_call call = {.node = &nd,
                    .ctx = g_ctx,
                    .n_in = 3,
                    .n_out = 1,
                    .in = in,
                    .out = out,
                    .threads = 1,
                    .fast = 0};
    const op_def *d = op_get(OP_Conv);
    if (d->infer(&call) || d->prepare(&call)) return 0;
    ty.data = y;
    call.scratch = cv_aligned_alloc(call.scratch_bytes + 64);
    int ok = d->run(&call) == CLEAVE_OK;
    cv_aligned_free(call.scratch);
    d->release(call.state);
    return ok;
}

typedef struct wcase {
    int64_t n, c, h, w, k, pads[4];
    int src_block, dst_block, threads, tile_block, generic, with_sum;
    ir_act act;
    int via_fast; /* through fast_conv_create with CLEAVE_WINOGRAD=1 */
} wcase;

static size_t blocked_floats(int64_t n, int64_t c, int64_t hw, int b) {
    return (size_t)(n * (b ? (c + b - 1) / b * b : c) * hw);
}

/* Run one case against the reference; counts one CHECK for the error bar
 * and one for the padded lanes. */
static void run_case(const wcase *t) {
    const int64_t oh = t->h + t->pads[0] + t->pads[2] - 2, ow = t->w + t->pads[1] + t->pads[3] - 2;
    const int64_t xs = t->n * t->c * t->h * t->w, ys = t->n * t->k * oh * ow;
    float *x = malloc((size_t)xs * 4), *wt = malloc((size_t)(t->k * t->c * 9) * 4);
    float *bias = malloc((size_t)t->k * 4), *sum = malloc((size_t)ys * 4);
    float *yref = malloc((size_t)ys * 4), *yplain = malloc((size_t)ys * 4);
    size_t xbn = blocked_floats(t->n, t->c, t->h * t->w, t->src_block);
    size_t ybn = blocked_floats(t->n, t->k, oh * ow, t->dst_block);
    float *xb = cv_aligned_alloc(xbn * 4 + 64), *yb = cv_aligned_alloc(ybn * 4 + 64);
    float *sb = cv_aligned_alloc(ybn * 4 + 64);
    for (int64_t i = 0; i < xs; i++)
        x[i] = frand();
    for (int64_t i = 0; i < t->k * t->c * 9; i++)
        wt[i] = frand();
    for (int64_t i = 0; i < t->k; i++)
        bias[i] = frand();
    for (int64_t i = 0; i < ys; i++)
        sum[i] = frand();
    CHECK(ref_conv(x, wt, bias, yref, t->n, t->c, t->h, t->w, t->k, t->pads));
    for (int64_t i = 0; i < ys; i++) {
        if (t->with_sum) yref[i] += sum[i];
        op_apply_act_f32(&t->act, &yref[i], 1);
    }
    if (t->src_block)
        blk_to_blocked_f32(x, xb, t->n, t->c, t->h * t->w, t->src_block, 1);
    else
        memcpy(xb, x, (size_t)xs * 4);
    if (t->dst_block) {
        blk_to_blocked_f32(sum, sb, t->n, t->k, oh * ow, t->dst_block, 1);
        const int64_t b = t->dst_block, nb = (t->k + b - 1) / b;
        for (int64_t i = 0; i < t->n; i++) /* padded sum lanes: finite, not zero */
            for (int64_t p = 0; p < oh * ow; p++)
                for (int64_t l = t->k - (nb - 1) * b; l < b; l++)
                    sb[((i * nb + nb - 1) * oh * ow + p) * b + l] = 3.0f;
    } else {
        memcpy(sb, sum, (size_t)ys * 4);
    }
    for (size_t i = 0; i < ybn; i++)
        yb[i] = NAN; /* every element must be written */
    fast_conv_desc d = {.n = t->n,
                        .c = t->c,
                        .h = t->h,
                        .w = t->w,
                        .k = t->k,
                        .kh = 3,
                        .kw = 3,
                        .oh = oh,
                        .ow = ow,
                        .stride = {1, 1},
                        .dilation = {1, 1},
                        .pad_t = t->pads[0],
                        .pad_l = t->pads[1],
                        .pad_b = t->pads[2],
                        .pad_r = t->pads[3],
                        .group = 1,
                        .weight = wt,
                        .bias = bias,
                        .act = t->act,
                        .threads = t->threads,
                        .src_block = t->src_block,
                        .dst_block = t->dst_block,
                        .with_sum = t->with_sum};
    int ran = 0;
    if (t->via_fast) {
        void *st = NULL;
        if (fast_conv_create(&d, &st) == FAST_OK) {
            CHECK(strncmp(fast_impl_name(st), "winograd_f2x3", 13) == 0);
            void *scratch = cv_aligned_alloc(fast_conv_scratch_bytes(st) + 64);
            int r = t->with_sum ? fast_conv_run_sum(st, xb, yb, sb, scratch)
                                : fast_conv_run(st, xb, yb, scratch);
            CHECK(r == 0);
            cv_aligned_free(scratch);
            fast_conv_destroy(st);
            ran = 1;
        }
    } else {
        wino_f2x3_opts opt = {.tile_block = t->tile_block, .generic = t->generic};
        wino_f2x3 *wg = NULL;
        CHECK(wino_f2x3_create(&d, &opt, &wg) == FAST_OK);
        if (wg) {
            void *scratch = cv_aligned_alloc(wino_f2x3_scratch_bytes(wg) + 64);
            wino_f2x3_run(wg, xb, yb, t->with_sum ? sb : NULL, scratch);
            cv_aligned_free(scratch);
            wino_f2x3_destroy(wg);
            ran = 1;
        }
    }
    if (ran) {
        if (t->dst_block)
            blk_to_plain_f32(yb, yplain, t->n, t->k, oh * ow, t->dst_block, 1);
        else
            memcpy(yplain, yb, (size_t)ys * 4);
        double e2 = 0, r2 = 0, emax = 0;
        for (int64_t i = 0; i < ys; i++) {
            double e = fabs((double)yplain[i] - yref[i]);
            if (!(e <= emax)) emax = e; /* NaN (an unwritten output) sticks */
            e2 += e * e, r2 += (double)yref[i] * yref[i];
        }
        double rel = r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
        if (!(rel <= g_worst_rel)) g_worst_rel = rel;
        if (!(emax <= g_worst_abs)) g_worst_abs = emax;
        int pad_ok = 1;
        if (t->dst_block && t->k % t->dst_block) {
            const int64_t b = t->dst_block, nb = (t->k + b - 1) / b;
            for (int64_t i = 0; i < t->n; i++)
                for (int64_t p = 0; p < oh * ow; p++)
                    for (int64_t l = t->k % b; l < b; l++)
                        pad_ok &= yb[((i * nb + nb - 1) * oh * ow + p) * b + l] == 0.0f;
        }
        CHECK(pad_ok);
        if (!(rel <= 1e-5)) {
            fprintf(stderr,
                    "case n%lld c%lld h%lld w%lld k%lld pads %lld %lld %lld %lld blk %d->%d "
                    "thr %d tb %d gen %d sum %d act %d fast %d: rel %.3g max %.3g\n",
                    (long long)t->n, (long long)t->c, (long long)t->h, (long long)t->w,
                    (long long)t->k, (long long)t->pads[0], (long long)t->pads[1],
                    (long long)t->pads[2], (long long)t->pads[3], t->src_block, t->dst_block,
                    t->threads, t->tile_block, t->generic, t->with_sum, (int)t->act.kind,
                    t->via_fast, rel, emax);
        }
        CHECK(rel <= 1e-5);
    }
    free(x), free(wt), free(bias), free(sum), free(yref), free(yplain);
    cv_aligned_free(xb), cv_aligned_free(yb), cv_aligned_free(sb);
}

int main(void) {
    cleave_ctx_create(&g_ctx);
    static const int64_t chans[] = {1, 3, 8, 9, 16, 64, 67};
    static const int64_t sizes[] = {1, 2, 3, 5, 7, 8, 14, 15, 56};
    static const int64_t pads[4][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {1, 0, 0, 1}, {0, 2, 1, 0}};
    static const int layouts[5][2] = {{0, 0}, {8, 8}, {16, 16}, {0, 8}, {16, 0}};
    const ir_act acts[4] = {{.kind = IR_ACT_NONE},
                            {.kind = IR_ACT_RELU},
                            {.kind = IR_ACT_CLIP, .alpha = 0.1f, .beta = 0.6f},
                            {.kind = IR_ACT_LEAKY, .alpha = 0.1f}};
    int idx = 0, cases = 0;
    for (size_t ci = 0; ci < sizeof chans / sizeof chans[0]; ci++)
        for (size_t ki = 0; ki < sizeof chans / sizeof chans[0]; ki++)
            for (size_t hi = 0; hi < sizeof sizes / sizeof sizes[0]; hi++)
                for (size_t wi = 0; wi < sizeof sizes / sizeof sizes[0]; wi++) {
                    wcase t = {
                        .n = 1, .c = chans[ci], .h = sizes[hi], .w = sizes[wi], .k = chans[ki]};
                    /* big convs: every 8th shape, so the sweep stays a few seconds */
                    int big = t.c * t.k * t.h * t.w > 64 * 64 * 15 * 15;
                    int i = idx++;
                    if (big && i % 8) continue;
                    memcpy(t.pads, pads[i % 4], sizeof t.pads);
                    if (t.h + t.pads[0] + t.pads[2] < 3 || t.w + t.pads[1] + t.pads[3] < 3)
                        memcpy(t.pads, pads[1], sizeof t.pads);
                    t.src_block = layouts[i / 4 % 5][0], t.dst_block = layouts[i / 4 % 5][1];
                    t.threads = 1 + (i / 3) % 2;
                    t.tile_block = (int[]){0, 6, 10}[i / 7 % 3];
                    t.generic = i % 11 == 5;
                    t.with_sum = i % 5 >= 3;
                    t.act = t.with_sum ? acts[i / 5 % 2] : acts[i / 13 % 4];
                    t.n = i % 17 == 0 ? 2 : 1;
                    run_case(&t);
                    cases++;
                }
    /* resnet18's shapes, blocked 8 as the engine runs them, with sum and without */
    static const int64_t rs[4][2] = {{64, 56}, {128, 28}, {256, 14}, {512, 7}};
    for (int r = 0; r < 4; r++)
        for (int thr = 1; thr <= 2; thr++) {
            wcase t = {.n = 1,
                       .c = rs[r][0],
                       .h = rs[r][1],
                       .w = rs[r][1],
                       .k = rs[r][0],
                       .pads = {1, 1, 1, 1},
                       .src_block = 8,
                       .dst_block = 8,
                       .threads = thr,
                       .with_sum = thr == 2,
                       .act = {.kind = IR_ACT_RELU}};
            run_case(&t);
            cases++;
        }
#ifdef CLEAVE_HAVE_DNNL
    /* the hook in fast_conv_create, forced */
    setenv("CLEAVE_WINOGRAD", "1", 1);
    for (int i = 0; i < 12; i++) {
        wcase t = {.n = 1,
                   .c = chans[i % 7],
                   .h = sizes[3 + i % 6],
                   .w = sizes[2 + i % 7],
                   .k = chans[(i + 3) % 7],
                   .src_block = layouts[i % 5][0],
                   .dst_block = layouts[i % 5][1],
                   .threads = 1 + i % 2,
                   .with_sum = i % 3 == 2,
                   .act = {.kind = i % 2 ? IR_ACT_RELU : IR_ACT_NONE},
                   .via_fast = 1};
        memcpy(t.pads, pads[i % 4], sizeof t.pads);
        run_case(&t);
        cases++;
    }
    unsetenv("CLEAVE_WINOGRAD");
#endif
    printf("test_winograd: %d cases, worst relative L2 %.3g, worst max abs error %.3g\n", cases,
           g_worst_rel, g_worst_abs);
    cleave_ctx_destroy(g_ctx);
    return check_summary("test_winograd");
}
