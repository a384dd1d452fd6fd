/* Channel-blocked kernels (ops/blocked.c) against plain NCHW references:
 * reorders round-trip exactly with zero padding, pooling and global pooling
 * and channel concat equal the plain computation (exactly for max/concat,
 * 1e-6 relative for averages), for block 8 and 16 and odd channel counts;
 * the uint8 reorders (block 16 and NHWC) and the NHWC uint8 max pool. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/blocked.h"
#include "ops/op.h"

/* Run Conv by hand on x with the given layouts (fast: the library's kernel
 * when it has one; sum: the executor's fused Add, then Relu); y must be
 * sized for the output's layout. */
static int run_conv_ex(const cv_tensor *x, const cv_tensor *w, const cv_tensor *b, cv_tensor *y, int fast,
                       const cv_tensor *sum) {
    static cleave_ctx *ctx;
    if (!ctx) cleave_ctx_create(&ctx);
    ir_node n;
    memset(&n, 0, sizeof n);
    n.name = "conv", n.op_type = "Conv", n.domain = "", n.op = OP_Conv, n.opset = 13;
    n.act.kind = sum ? IR_ACT_NONE : IR_ACT_RELU;
    const cv_tensor *in[3] = {x, w, b};
    cv_tensor *out[1] = {y};
    op_call c = {.node = &n, .ctx = ctx, .n_in = 3, .n_out = 1, .in = in, .out = out, .threads = 2,
                 .fast = fast, .sum = sum, .sum_act = {.kind = IR_ACT_RELU}};
    const op_def *d = op_get(OP_Conv);
    int block = y->block;
    void *data = y->data;
    if (d->infer(&c) || d->prepare(&c)) return 0;
    y->block = block, y->data = data; /* infer resets the shape fields only */
    c.scratch = cv_aligned_alloc(c.scratch_bytes + 64);
    int ok = d->run(&c) == CLEAVE_OK;
    cv_aligned_free(c.scratch);
    d->release(c.state);
    return ok;
}
static int run_conv(const cv_tensor *x, const cv_tensor *w, const cv_tensor *b, cv_tensor *y) {
    return run_conv_ex(x, w, b, y, 0, NULL);
}

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static void plain_pool(const float *x, float *y, int64_t n, int64_t c, int64_t h, int64_t w,
                       int64_t oh, int64_t ow, int64_t k, int64_t s, int64_t pad, int is_max,
                       int incl) {
    for (int64_t i = 0; i < n * c; i++)
        for (int64_t a = 0; a < oh; a++)
            for (int64_t b = 0; b < ow; b++) {
                double acc = is_max ? -FLT_MAX : 0;
                int cnt = 0, tot = 0;
                for (int64_t u = 0; u < k; u++)
                    for (int64_t v = 0; v < k; v++) {
                        int64_t ih = a * s - pad + u, iw = b * s - pad + v;
                        if (ih >= -pad && ih < h + pad && iw >= -pad && iw < w + pad) tot++;
                        if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                        float t = x[(i * h + ih) * w + iw];
                        if (is_max) acc = t > acc ? t : acc;
                        else acc += t;
                        cnt++;
                    }
                if (!is_max) acc /= incl ? tot : cnt;
                y[(i * oh + a) * ow + b] = (float)acc;
            }
}

int main(void) {
    unsigned seed = 7;
    const int blocks[2] = {8, 16};
    const int64_t chans[3] = {3, 16, 40};
    for (int bi = 0; bi < 2; bi++)
        for (int ci = 0; ci < 3; ci++) {
            int b = blocks[bi];
            int64_t n = 2, c = chans[ci], h = 9, w = 7, hw = h * w, cp = (c + b - 1) / b * b;
            float *x = malloc(sizeof(float) * (size_t)(n * c * hw));
            float *xb = malloc(sizeof(float) * (size_t)(n * cp * hw));
            float *back = malloc(sizeof(float) * (size_t)(n * c * hw));
            for (int64_t i = 0; i < n * c * hw; i++) x[i] = frand(&seed);
            blk_to_blocked_f32(x, xb, n, c, hw, b, 1);
            blk_to_plain_f32(xb, back, n, c, hw, b, 2);
            CHECK(!memcmp(x, back, sizeof(float) * (size_t)(n * c * hw)));
            int zero = 1;
            for (int64_t i = 0; i < n; i++)
                for (int64_t ch = c; ch < cp; ch++)
                    for (int64_t p = 0; p < hw; p++)
                        zero &= xb[((i * (cp / b) + ch / b) * hw + p) * b + ch % b] == 0.0f;
            CHECK(zero);
            /* pools: 3x3 stride 2 pad 1 (max, avg, avg incl. pad) */
            int64_t oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
            float *yr = malloc(sizeof(float) * (size_t)(n * c * oh * ow));
            float *yb = malloc(sizeof(float) * (size_t)(n * cp * oh * ow));
            float *yp = malloc(sizeof(float) * (size_t)(n * c * oh * ow));
            for (int mode = 0; mode < 3; mode++) {
                int is_max = mode == 0, incl = mode == 2;
                plain_pool(x, yr, n, c, h, w, oh, ow, 3, 2, 1, is_max, incl);
                blk_pool2d p = {.n = n, .cb = cp / b, .h = h, .w = w, .oh = oh, .ow = ow, .kh = 3,
                                .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1,
                                .pb = 1, .pr = 1, .b = b, .is_max = is_max, .include_pad = incl};
                blk_pool2d_f32(&p, xb, yb, 2);
                blk_to_plain_f32(yb, yp, n, c, oh * ow, b, 1);
                for (int64_t i = 0; i < n * c * oh * ow; i++) CHECK_NEAR(yp[i], yr[i], 1e-6, 1e-6);
            }
            /* global average and max */
            for (int is_max = 0; is_max < 2; is_max++) {
                float *g = malloc(sizeof(float) * (size_t)(n * cp)), *gp = malloc(sizeof(float) * (size_t)(n * c));
                blk_global_pool_f32(xb, g, n, cp / b, hw, b, is_max, 1);
                blk_to_plain_f32(g, gp, n, c, 1, b, 1);
                for (int64_t i = 0; i < n * c; i++) {
                    double acc = is_max ? -FLT_MAX : 0;
                    for (int64_t q = 0; q < hw; q++) {
                        float t = x[i * hw + q];
                        acc = is_max ? (t > acc ? t : acc) : acc + t;
                    }
                    if (!is_max) acc /= (double)hw;
                    CHECK_NEAR(gp[i], acc, 1e-6, 1e-5);
                }
                free(g);
                free(gp);
            }
            free(x), free(xb), free(back), free(yr), free(yb), free(yp);
        }
    /* concat of channel counts that are multiples of the block: small (one
     * thread copies) and large (split between threads: 1, 2, 3) */
    for (int ci = 0; ci < 8; ci++) {
        int b = blocks[ci & 1], threads = 1 + (ci >> 2) * (1 + ((ci >> 1) & 1));
        int64_t n = 2, hw = ci & 4 ? 2053 : 5, c[3] = {b, 2 * b, b}, ct = 4 * b;
        float *xs[3], *xbs[3], *y = malloc(sizeof(float) * (size_t)(n * ct * hw));
        float *yp = malloc(sizeof(float) * (size_t)(n * ct * hw));
        for (int k = 0; k < 3; k++) {
            xs[k] = malloc(sizeof(float) * (size_t)(n * c[k] * hw));
            xbs[k] = malloc(sizeof(float) * (size_t)(n * c[k] * hw));
            for (int64_t i = 0; i < n * c[k] * hw; i++) xs[k][i] = frand(&seed);
            blk_to_blocked_f32(xs[k], xbs[k], n, c[k], hw, b, 1);
        }
        blk_concat_f32((const float *const *)xbs, c, 3, y, n, hw, b, threads);
        blk_to_plain_f32(y, yp, n, ct, hw, b, 1);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) {
            int64_t off = 0;
            for (int k = 0; k < 3; k++) {
                ok &= !memcmp(yp + (i * ct + off) * hw, xs[k] + i * c[k] * hw,
                              sizeof(float) * (size_t)(c[k] * hw));
                off += c[k];
            }
        }
        CHECK(ok);
        for (int k = 0; k < 3; k++) free(xs[k]), free(xbs[k]);
        free(y), free(yp);
    }
    /* Conv's reference kernel on blocked tensors (what runs when the fast
     * library declines a shape the executor laid out blocked) */
    for (int bi = 0; bi < 2; bi++) {
        int b = blocks[bi];
        int64_t n = 1, c = 24, h = 9, w = 8, k = 20, oh = 7, ow = 6;
        float *x = malloc(sizeof(float) * (size_t)(n * c * h * w)), *xb = calloc((size_t)(n * 32 * h * w), sizeof(float));
        float *wt = malloc(sizeof(float) * (size_t)(k * c * 9)), *bias = malloc(sizeof(float) * (size_t)k);
        float *yr = malloc(sizeof(float) * (size_t)(n * k * oh * ow)), *yb = calloc((size_t)(n * 32 * oh * ow), sizeof(float));
        float *yp = malloc(sizeof(float) * (size_t)(n * k * oh * ow));
        for (int64_t i = 0; i < n * c * h * w; i++) x[i] = frand(&seed);
        for (int64_t i = 0; i < k * c * 9; i++) wt[i] = frand(&seed);
        for (int64_t i = 0; i < k; i++) bias[i] = frand(&seed);
        blk_to_blocked_f32(x, xb, n, c, h * w, b, 1);
        cv_tensor tw = {.dtype = CV_F32, .ndim = 4, .dims = {k, c, 3, 3}, .data = wt};
        cv_tensor tb = {.dtype = CV_F32, .ndim = 1, .dims = {k}, .data = bias};
        cv_tensor tx = {.dtype = CV_F32, .ndim = 4, .dims = {n, c, h, w}, .data = x};
        cv_tensor ty = {.dtype = CV_F32, .data = yr};
        CHECK(run_conv(&tx, &tw, &tb, &ty));
        cv_tensor txb = tx, tyb = {.dtype = CV_F32, .data = yb, .block = b};
        txb.data = xb, txb.block = b;
        CHECK(run_conv(&txb, &tw, &tb, &tyb));
        blk_to_plain_f32(yb, yp, n, k, oh * ow, b, 1);
        for (int64_t i = 0; i < n * k * oh * ow; i++) CHECK_NEAR(yp[i], yr[i], 1e-5, 1e-5);
        int zero = 1; /* padded output channels stay zero */
        for (int64_t ch = k; ch < (k + b - 1) / b * b; ch++)
            for (int64_t q = 0; q < oh * ow; q++) zero &= yb[((ch / b) * oh * ow + q) * b + ch % b] == 0.0f;
        CHECK(zero);
        free(x), free(xb), free(wt), free(bias), free(yr), free(yb), free(yp);
    }
    /* Conv + Add + Relu fused as the executor does (sum in the output's
     * layout): plain and blocked, reference and fast kernels, against a
     * naive conv + add + relu within 1e-5; padded output channels stay 0 */
    for (int mode = 0; mode < 4; mode++) {
        const int fast = mode & 1, b = mode & 2 ? 16 : 0;
        const int64_t c = 24, h = 9, w = 8, k = 20, oh = 7, ow = 6, kp = 32;
        float *x = malloc(sizeof(float) * (size_t)(c * h * w)), *xb = calloc((size_t)(32 * h * w), sizeof(float));
        float *wt = malloc(sizeof(float) * (size_t)(k * c * 9)), *bias = malloc(sizeof(float) * (size_t)k);
        float *s = malloc(sizeof(float) * (size_t)(k * oh * ow)), *want = malloc(sizeof(float) * (size_t)(k * oh * ow));
        float *sb = calloc((size_t)(kp * oh * ow), sizeof(float)), *yb = calloc((size_t)(kp * oh * ow), sizeof(float));
        float *yp = malloc(sizeof(float) * (size_t)(k * oh * ow));
        for (int64_t i = 0; i < c * h * w; i++) x[i] = frand(&seed);
        for (int64_t i = 0; i < k * c * 9; i++) wt[i] = frand(&seed);
        for (int64_t i = 0; i < k; i++) bias[i] = frand(&seed);
        for (int64_t i = 0; i < k * oh * ow; i++) s[i] = 2 * frand(&seed);
        for (int64_t m = 0; m < k; m++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double acc = bias[m];
                    for (int64_t ci = 0; ci < c; ci++)
                        for (int64_t u = 0; u < 3; u++)
                            for (int64_t v = 0; v < 3; v++)
                                acc += (double)x[(ci * h + i + u) * w + j + v] * wt[((m * c + ci) * 3 + u) * 3 + v];
                    acc += s[(m * oh + i) * ow + j];
                    want[(m * oh + i) * ow + j] = acc > 0 ? (float)acc : 0.0f;
                }
        cv_tensor tw = {.dtype = CV_F32, .ndim = 4, .dims = {k, c, 3, 3}, .data = wt};
        cv_tensor tb = {.dtype = CV_F32, .ndim = 1, .dims = {k}, .data = bias};
        cv_tensor tx = {.dtype = CV_F32, .ndim = 4, .dims = {1, c, h, w}, .data = x};
        cv_tensor ts = {.dtype = CV_F32, .ndim = 4, .dims = {1, k, oh, ow}, .data = s};
        cv_tensor ty = {.dtype = CV_F32, .data = yp};
        if (b) {
            blk_to_blocked_f32(x, xb, 1, c, h * w, b, 1);
            blk_to_blocked_f32(s, sb, 1, k, oh * ow, b, 1);
            tx.data = xb, tx.block = b, ts.data = sb, ts.block = b, ty.data = yb, ty.block = b;
        }
        CHECK(run_conv_ex(&tx, &tw, &tb, &ty, fast, &ts));
        if (b) blk_to_plain_f32(yb, yp, 1, k, oh * ow, b, 1);
        int close = 1;
        for (int64_t i = 0; i < k * oh * ow; i++) close &= fabsf(yp[i] - want[i]) <= 1e-5f + 1e-5f * fabsf(want[i]);
        if (!close) fprintf(stderr, "conv + sum (fast %d, block %d) differs from conv + add + relu\n", fast, b);
        CHECK(close);
        if (b) {
            int zero = 1;
            for (int64_t ch = k; ch < kp; ch++)
                for (int64_t q = 0; q < oh * ow; q++) zero &= yb[((ch / b) * oh * ow + q) * b + ch % b] == 0.0f;
            CHECK(zero);
        }
        free(x), free(xb), free(wt), free(bias), free(s), free(want), free(sb), free(yb), free(yp);
    }
    /* uint8: NHWC (b == C) and nChw16c reorders round-trip with zero
     * padding; the NHWC max pool equals the plain one exactly (3x3 s2 p1,
     * 2x2 s1 p0 with dilation 2, 1x1 s2) */
    for (int ci = 0; ci < 3; ci++) {
        int64_t n = 2, c = chans[ci], h = 9, w = 7, hw = h * w;
        uint8_t *x = malloc((size_t)(n * c * hw)), *back = malloc((size_t)(n * c * hw));
        uint8_t *x16 = malloc((size_t)(n * 48 * hw)), *xn = malloc((size_t)(n * c * hw));
        for (int64_t i = 0; i < n * c * hw; i++) x[i] = (uint8_t)(frand(&seed) * 509.0f + 255.0f);
        blk_to_blocked_b8(x, x16, n, c, hw, 16, 1);
        blk_to_plain_b8(x16, back, n, c, hw, 16, 2);
        CHECK(!memcmp(x, back, (size_t)(n * c * hw)));
        int zero = 1;
        for (int64_t i = 0; i < n; i++)
            for (int64_t ch = c; ch < (c + 15) / 16 * 16; ch++)
                for (int64_t p = 0; p < hw; p++) zero &= x16[((i * ((c + 15) / 16) + ch / 16) * hw + p) * 16 + ch % 16] == 0;
        CHECK(zero);
        blk_to_blocked_b8(x, xn, n, c, hw, (int)c, 2);
        CHECK(xn[(1 * hw + 5) * c + (c - 1)] == x[(1 * c + c - 1) * hw + 5]); /* NHWC indexing */
        blk_to_plain_b8(xn, back, n, c, hw, (int)c, 1);
        CHECK(!memcmp(x, back, (size_t)(n * c * hw)));
        const int64_t geo[3][4] = {{3, 2, 1, 1}, {2, 1, 0, 2}, {1, 2, 0, 1}}; /* k, s, pad, dilation */
        for (int gi = 0; gi < 3; gi++) {
            int64_t k = geo[gi][0], s = geo[gi][1], pad = geo[gi][2], dl = geo[gi][3], ext = (k - 1) * dl + 1;
            int64_t oh = (h + 2 * pad - ext) / s + 1, ow = (w + 2 * pad - ext) / s + 1;
            uint8_t *yn = malloc((size_t)(n * c * oh * ow)), *yp = malloc((size_t)(n * c * oh * ow));
            blk_pool2d p = {.n = n, .cb = 1, .h = h, .w = w, .oh = oh, .ow = ow, .kh = k, .kw = k,
                            .sh = s, .sw = s, .dh = dl, .dw = dl, .pt = pad, .pl = pad, .pb = pad,
                            .pr = pad, .b = (int)c, .is_max = 1};
            blk_maxpool2d_u8(&p, xn, yn, 2);
            blk_to_plain_b8(yn, yp, n, c, oh * ow, (int)c, 1);
            int ok = 1;
            for (int64_t i = 0; i < n * c; i++)
                for (int64_t a = 0; a < oh; a++)
                    for (int64_t b = 0; b < ow; b++) {
                        int best = 0;
                        for (int64_t u = 0; u < k; u++)
                            for (int64_t v = 0; v < k; v++) {
                                int64_t ih = a * s - pad + u * dl, iw = b * s - pad + v * dl;
                                if (ih >= 0 && ih < h && iw >= 0 && iw < w && x[(i * h + ih) * w + iw] > best)
                                    best = x[(i * h + ih) * w + iw];
                            }
                        ok &= yp[(i * oh + a) * ow + b] == best;
                    }
            CHECK(ok);
            free(yn), free(yp);
        }
        free(x), free(back), free(x16), free(xn);
    }
    return check_summary("blocked kernels");
}
