/* Channel-blocked kernels (ops/blocked.c) against plain NCHW references:
 * reorders round-trip exactly with zero padding, pooling and global pooling
 * and channel concat equal the plain computation (exactly for max/concat,
 * 1e-6 relative for averages), for block 8 and 16 and odd channel counts. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/blocked.h"

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
    /* concat of channel counts that are multiples of the block */
    for (int bi = 0; bi < 2; bi++) {
        int b = blocks[bi];
        int64_t n = 2, hw = 5, c[3] = {b, 2 * b, b}, ct = 4 * b;
        float *xs[3], *xbs[3], *y = malloc(sizeof(float) * (size_t)(n * ct * hw));
        float *yp = malloc(sizeof(float) * (size_t)(n * ct * hw));
        for (int k = 0; k < 3; k++) {
            xs[k] = malloc(sizeof(float) * (size_t)(n * c[k] * hw));
            xbs[k] = malloc(sizeof(float) * (size_t)(n * c[k] * hw));
            for (int64_t i = 0; i < n * c[k] * hw; i++) xs[k][i] = frand(&seed);
            blk_to_blocked_f32(xs[k], xbs[k], n, c[k], hw, b, 1);
        }
        blk_concat_f32((const float *const *)xbs, c, 3, y, n, hw, b);
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
    return check_summary("blocked kernels");
}
