/* ops/blocked: reorders between NCHW and nChw<B>c, and the pooling and
 * concat kernels that let activations stay blocked between oneDNN convs.
 * Inner loops run over the B channels of one pixel (unit stride), so they
 * vectorise for any B. */
#include "ops/blocked.h"

#include <float.h>
#include <string.h>

void blk_to_blocked_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw, int b,
                        int threads) {
    int64_t cb = (c + b - 1) / b;
#pragma omp parallel for collapse(2) num_threads(threads) if (threads > 1 && n * c * hw > 65536)
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < cb; j++) {
            float *d = dst + (i * cb + j) * hw * b;
            int64_t c0 = j * b, cn = c - c0 < b ? c - c0 : b;
            const float *s = src + (i * c + c0) * hw;
            for (int64_t p = 0; p < hw; p++) {
                for (int64_t k = 0; k < cn; k++) d[p * b + k] = s[k * hw + p];
                for (int64_t k = cn; k < b; k++) d[p * b + k] = 0.0f;
            }
        }
}

void blk_to_plain_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw, int b,
                      int threads) {
    int64_t cb = (c + b - 1) / b;
#pragma omp parallel for collapse(2) num_threads(threads) if (threads > 1 && n * c * hw > 65536)
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < cb; j++) {
            const float *s = src + (i * cb + j) * hw * b;
            int64_t c0 = j * b, cn = c - c0 < b ? c - c0 : b;
            float *d = dst + (i * c + c0) * hw;
            for (int64_t k = 0; k < cn; k++)
                for (int64_t p = 0; p < hw; p++) d[k * hw + p] = s[p * b + k];
        }
}

void blk_pool2d_f32(const blk_pool2d *p, const float *x, float *y, int threads) {
    const int b = p->b;
#pragma omp parallel for collapse(2) num_threads(threads) if (threads > 1)
    for (int64_t i = 0; i < p->n * p->cb; i++)
        for (int64_t oh = 0; oh < p->oh; oh++) {
            const float *xp = x + i * p->h * p->w * b;
            float *yp = y + (i * p->oh + oh) * p->ow * b;
            float acc[64];
            for (int64_t ow = 0; ow < p->ow; ow++) {
                for (int k = 0; k < b; k++) acc[k] = p->is_max ? -FLT_MAX : 0.0f;
                int64_t cnt = 0;
                for (int64_t kh = 0; kh < p->kh; kh++) {
                    int64_t ih = oh * p->sh - p->pt + kh * p->dh;
                    if (ih < 0 || ih >= p->h) continue;
                    for (int64_t kw = 0; kw < p->kw; kw++) {
                        int64_t iw = ow * p->sw - p->pl + kw * p->dw;
                        if (iw < 0 || iw >= p->w) continue;
                        const float *v = xp + (ih * p->w + iw) * b;
                        if (p->is_max)
                            for (int k = 0; k < b; k++) acc[k] = v[k] > acc[k] ? v[k] : acc[k];
                        else
                            for (int k = 0; k < b; k++) acc[k] += v[k];
                        cnt++;
                    }
                }
                if (!p->is_max) {
                    int64_t den = cnt;
                    if (p->include_pad) { /* taps inside the padded input */
                        int64_t h0 = oh * p->sh - p->pt, w0 = ow * p->sw - p->pl;
                        int64_t hl = p->h + p->pb, wl = p->w + p->pr;
                        int64_t th = 0, tw = 0;
                        for (int64_t kh = 0; kh < p->kh; kh++) {
                            int64_t ih = h0 + kh * p->dh;
                            th += ih >= -p->pt && ih < hl;
                        }
                        for (int64_t kw = 0; kw < p->kw; kw++) {
                            int64_t iw = w0 + kw * p->dw;
                            tw += iw >= -p->pl && iw < wl;
                        }
                        den = th * tw;
                    }
                    float r = den > 0 ? 1.0f / (float)den : 0.0f;
                    for (int k = 0; k < b; k++) acc[k] *= r;
                } else if (cnt == 0) {
                    for (int k = 0; k < b; k++) acc[k] = 0.0f;
                }
                memcpy(yp + ow * b, acc, sizeof(float) * (size_t)b);
            }
        }
}

void blk_global_pool_f32(const float *x, float *y, int64_t n, int64_t cb, int64_t hw, int b,
                         int is_max, int threads) {
#pragma omp parallel for num_threads(threads) if (threads > 1 && n * cb * hw * b > 65536)
    for (int64_t i = 0; i < n * cb; i++) {
        const float *xp = x + i * hw * b;
        float acc[64];
        for (int k = 0; k < b; k++) acc[k] = is_max ? -FLT_MAX : 0.0f;
        for (int64_t p = 0; p < hw; p++) {
            const float *v = xp + p * b;
            if (is_max)
                for (int k = 0; k < b; k++) acc[k] = v[k] > acc[k] ? v[k] : acc[k];
            else
                for (int k = 0; k < b; k++) acc[k] += v[k];
        }
        if (!is_max)
            for (int k = 0; k < b; k++) acc[k] /= (float)hw;
        memcpy(y + i * b, acc, sizeof(float) * (size_t)b);
    }
}

void blk_concat_f32(const float *const *x, const int64_t *c, int nx, float *y, int64_t n,
                    int64_t hw, int b) {
    int64_t ctot = 0;
    for (int k = 0; k < nx; k++) ctot += c[k];
    for (int64_t i = 0; i < n; i++) {
        float *d = y + i * ctot * hw;
        for (int k = 0; k < nx; k++) {
            size_t sz = (size_t)(c[k] * hw);
            memcpy(d, x[k] + i * sz, sz * sizeof(float));
            d += sz;
        }
    }
    (void)b;
}
