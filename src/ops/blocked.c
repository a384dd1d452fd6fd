/* ops/blocked: reorders between NCHW and nChw<B>c, and the pooling and
 * concat kernels that let activations stay blocked between oneDNN convs.
 * Inner loops run over the B channels of one pixel (unit stride), so they
 * vectorise for any B. */
#include "ops/blocked.h"

#include <float.h>
#include <string.h>

/* NCHW <-> nChw<B>c for element type T, threaded when the tensor has at
 * least PAR elements. */
#define BLK_REORDERS(TO, FROM, T, PAR)                                                             \
    void TO(const T *src, T *dst, int64_t n, int64_t c, int64_t hw, int b, int threads) {         \
        const int64_t cb = (c + b - 1) / b;                                                        \
        const int par = threads > 1 && n * c * hw > (PAR);                                         \
        _Pragma("omp parallel for collapse(2) num_threads(threads) if (par)")                     \
        for (int64_t i = 0; i < n; i++)                                                            \
            for (int64_t j = 0; j < cb; j++) {                                                     \
                T *d = dst + (i * cb + j) * hw * b;                                                \
                int64_t c0 = j * b, cn = c - c0 < b ? c - c0 : b;                                  \
                const T *s = src + (i * c + c0) * hw;                                              \
                for (int64_t p = 0; p < hw; p++) {                                                 \
                    for (int64_t k = 0; k < cn; k++) d[p * b + k] = s[k * hw + p];                 \
                    for (int64_t k = cn; k < b; k++) d[p * b + k] = 0;                             \
                }                                                                                  \
            }                                                                                      \
    }                                                                                              \
    void FROM(const T *src, T *dst, int64_t n, int64_t c, int64_t hw, int b, int threads) {       \
        const int64_t cb = (c + b - 1) / b;                                                        \
        const int par = threads > 1 && n * c * hw > (PAR);                                         \
        _Pragma("omp parallel for collapse(2) num_threads(threads) if (par)")                     \
        for (int64_t i = 0; i < n; i++)                                                            \
            for (int64_t j = 0; j < cb; j++) {                                                     \
                const T *s = src + (i * cb + j) * hw * b;                                          \
                int64_t c0 = j * b, cn = c - c0 < b ? c - c0 : b;                                  \
                T *d = dst + (i * c + c0) * hw;                                                    \
                for (int64_t k = 0; k < cn; k++)                                                   \
                    for (int64_t p = 0; p < hw; p++) d[k * hw + p] = s[p * b + k];                 \
            }                                                                                      \
    }
BLK_REORDERS(blk_to_blocked_f32, blk_to_plain_f32, float, 65536)
BLK_REORDERS(blk_to_blocked_b8, blk_to_plain_b8, uint8_t, 262144)

/* B-lane accumulators as GCC/Clang vector types (lowered to SSE/AVX/NEON
 * as the target allows; gcc does not vectorise the plain max loop). */
typedef float blk_v8f __attribute__((vector_size(32)));
typedef int blk_v8i __attribute__((vector_size(32)));
/* a macro, not a function: a 32-byte vector argument changes the ABI */
#define blk_vmax(a, b) ((blk_v8f)(((blk_v8i)(a) & ((a) > (b))) | ((blk_v8i)(b) & ~((a) > (b)))))
/* 8 lanes: one AVX register, two SSE ones on the baseline x86-64 clone */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BLK_POOL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BLK_POOL_CLONES
#endif

/* One output row of 2-D pooling for a compile-time block B: geometry in
 * locals (stores to y cannot alias them), the B accumulators in registers,
 * taps outside the input skipped by clamping the kernel range. */
#define BLK_POOL_ROW(NAME, B)                                                                      \
    BLK_POOL_CLONES static void NAME(const blk_pool2d *p, const float *restrict xp,               \
                                     float *restrict yp, int64_t oh) {                             \
        enum { NV = B / 8 };                                                                       \
        const int64_t W = p->w, H = p->h, OW = p->ow, KH = p->kh, KW = p->kw, SW = p->sw;          \
        const int64_t DH = p->dh, DW = p->dw, PL = p->pl, h0 = oh * p->sh - p->pt;                \
        const int is_max = p->is_max, incl = p->include_pad;                                       \
        int64_t kh0 = 0, kh1 = KH, th = 0;                                                         \
        while (kh0 < kh1 && h0 + kh0 * DH < 0) kh0++;                                              \
        while (kh1 > kh0 && h0 + (kh1 - 1) * DH >= H) kh1--;                                       \
        for (int64_t kh = 0; kh < KH; kh++) th += h0 + kh * DH >= -p->pt && h0 + kh * DH < H + p->pb; \
        const blk_v8f lo = {-FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX,   \
                            -FLT_MAX},                                                             \
                      zero = {0, 0, 0, 0, 0, 0, 0, 0};                                             \
        for (int64_t ow = 0; ow < OW; ow++) {                                                      \
            const int64_t w0 = ow * SW - PL;                                                       \
            int64_t kw0 = 0, kw1 = KW;                                                             \
            while (kw0 < kw1 && w0 + kw0 * DW < 0) kw0++;                                          \
            while (kw1 > kw0 && w0 + (kw1 - 1) * DW >= W) kw1--;                                   \
            blk_v8f acc[NV], v;                                                                    \
            for (int j = 0; j < NV; j++) acc[j] = is_max ? lo : zero;                              \
            for (int64_t kh = kh0; kh < kh1; kh++)                                                 \
                for (int64_t kw = kw0; kw < kw1; kw++) {                                           \
                    const float *src = xp + ((h0 + kh * DH) * W + w0 + kw * DW) * B;               \
                    for (int j = 0; j < NV; j++) {                                                 \
                        memcpy(&v, src + 8 * j, sizeof v);                                         \
                        acc[j] = is_max ? blk_vmax(v, acc[j]) : acc[j] + v;                        \
                    }                                                                              \
                }                                                                                  \
            int64_t den = (kh1 - kh0) * (kw1 - kw0);                                               \
            if (is_max) {                                                                          \
                if (den == 0)                                                                      \
                    for (int j = 0; j < NV; j++) acc[j] = zero;                                    \
            } else {                                                                               \
                if (incl) {                                                                        \
                    int64_t tw = 0;                                                                \
                    for (int64_t kw = 0; kw < KW; kw++)                                            \
                        tw += w0 + kw * DW >= -PL && w0 + kw * DW < W + p->pr;                     \
                    den = th * tw;                                                                 \
                }                                                                                  \
                const float r = den > 0 ? 1.0f / (float)den : 0.0f;                                \
                for (int j = 0; j < NV; j++) acc[j] *= r;                                          \
            }                                                                                      \
            memcpy(yp + ow * B, acc, sizeof acc);                                                  \
        }                                                                                          \
    }
BLK_POOL_ROW(blk_pool_row16, 16)
BLK_POOL_ROW(blk_pool_row8, 8)

/* acc[NV] = the lane-wise max of count (>= 1) runs of NV vectors at src,
 * src + stride, ...; src ends at the last run. */
#define BLK_VMAX_RUN(acc, v, src, count, stride)                                                   \
    do {                                                                                           \
        for (int j = 0; j < NV; j++) memcpy(&(acc)[j], (src) + 8 * j, sizeof(v));                 \
        for (int64_t t_ = 1; t_ < (count); t_++) {                                                 \
            (src) += (stride);                                                                     \
            for (int j = 0; j < NV; j++) {                                                         \
                memcpy(&(v), (src) + 8 * j, sizeof(v));                                            \
                (acc)[j] = blk_vmax((v), (acc)[j]);                                                \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Max pooling without dilation, separably: the column maxima over the
 * window's rows into tmp (W x B floats), then the row maxima over the
 * window's columns. A 3x3 stride-1 window takes 3 + 3 maxima per output
 * instead of 9, and the clamping runs once per row and column. */
#define BLK_MAXPOOL_SEP(NAME, B)                                                                   \
    BLK_POOL_CLONES static void NAME(const blk_pool2d *p, const float *restrict xp,               \
                                     float *restrict yp, int64_t oh, float *restrict tmp) {        \
        enum { NV = B / 8 };                                                                       \
        const int64_t W = p->w, H = p->h, OW = p->ow, KH = p->kh, KW = p->kw, SW = p->sw;          \
        const int64_t PL = p->pl, h0 = oh * p->sh - p->pt;                                         \
        int64_t kh0 = 0, kh1 = KH;                                                                 \
        while (kh0 < kh1 && h0 + kh0 < 0) kh0++;                                                   \
        while (kh1 > kh0 && h0 + kh1 - 1 >= H) kh1--;                                              \
        if (kh0 == kh1) { /* the window is all padding: 0, as the plain kernel */                  \
            memset(yp, 0, sizeof(float) * (size_t)(OW * B));                                       \
            return;                                                                                \
        }                                                                                          \
        blk_v8f acc[NV], v;                                                                        \
        for (int64_t w = 0; w < W; w++) {                                                          \
            const float *src = xp + ((h0 + kh0) * W + w) * B;                                      \
            BLK_VMAX_RUN(acc, v, src, kh1 - kh0, W * B);                                           \
            memcpy(tmp + w * B, acc, sizeof acc);                                                  \
        }                                                                                          \
        for (int64_t ow = 0; ow < OW; ow++) {                                                      \
            const int64_t w0 = ow * SW - PL;                                                       \
            int64_t kw0 = 0, kw1 = KW;                                                             \
            while (kw0 < kw1 && w0 + kw0 < 0) kw0++;                                               \
            while (kw1 > kw0 && w0 + kw1 - 1 >= W) kw1--;                                          \
            if (kw0 == kw1) {                                                                      \
                memset(yp + ow * B, 0, sizeof(float) * B);                                         \
                continue;                                                                          \
            }                                                                                      \
            const float *src = tmp + (w0 + kw0) * B;                                               \
            BLK_VMAX_RUN(acc, v, src, kw1 - kw0, B);                                               \
            memcpy(yp + ow * B, acc, sizeof acc);                                                  \
        }                                                                                          \
    }
BLK_MAXPOOL_SEP(blk_maxpool_sep16, 16)
BLK_MAXPOOL_SEP(blk_maxpool_sep8, 8)
#define BLK_SEP_TMP 4096 /* floats of column maxima per thread (on the stack) */

void blk_pool2d_f32(const blk_pool2d *p, const float *x, float *y, int threads) {
    const int64_t rows = p->n * p->cb * p->oh;
    const int b = p->b;
    if (b != 16 && b != 8) return; /* the executor only blocks by 8 or 16 */
    const int sep = p->is_max && p->dh == 1 && p->dw == 1 && p->w * b <= BLK_SEP_TMP;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * p->ow * b > 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = r / p->oh, oh = r % p->oh;
        const float *xp = x + i * p->h * p->w * b;
        float *yp = y + (i * p->oh + oh) * p->ow * b;
        float tmp[BLK_SEP_TMP];
        if (sep && b == 16) blk_maxpool_sep16(p, xp, yp, oh, tmp);
        else if (sep) blk_maxpool_sep8(p, xp, yp, oh, tmp);
        else if (b == 16) blk_pool_row16(p, xp, yp, oh);
        else blk_pool_row8(p, xp, yp, oh);
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
                    int64_t hw, int b, int threads) {
    int64_t ctot = 0;
    for (int k = 0; k < nx; k++) ctot += c[k];
    const int64_t total = n * ctot * hw;
    if (threads <= 1 || total < 65536) {
        for (int64_t i = 0; i < n; i++) {
            float *d = y + i * ctot * hw;
            for (int k = 0; k < nx; k++) {
                size_t sz = (size_t)(c[k] * hw);
                memcpy(d, x[k] + i * sz, sz * sizeof(float));
                d += sz;
            }
        }
        return;
    }
    /* the output split into equal spans, each thread copying its own
     * (with blocked channels every input is one contiguous run per image) */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; t++) {
        int64_t lo = total * t / threads, hi = total * (t + 1) / threads, at = 0;
        for (int64_t i = 0; i < n; i++)
            for (int k = 0; k < nx; k++) {
                int64_t sz = c[k] * hw, s0 = lo > at ? lo : at, s1 = hi < at + sz ? hi : at + sz;
                if (s1 > s0) memcpy(y + s0, x[k] + i * sz + (s0 - at), (size_t)(s1 - s0) * sizeof(float));
                at += sz;
            }
    }
    (void)b;
}

/* Every output pixel: the channel-wise max of its window's pixels, the
 * first tap copied, the others folded in (unit stride over C). */
void blk_maxpool2d_u8(const blk_pool2d *p, const uint8_t *x, uint8_t *y, int threads) {
    const int64_t rows = p->n * p->oh, b = p->b;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * p->ow * b > 65536)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r / p->oh, oh = r % p->oh, h0 = oh * p->sh - p->pt;
        const uint8_t *xp = x + i * p->h * p->w * b;
        uint8_t *yr = y + r * p->ow * b;
        int64_t kh0 = 0, kh1 = p->kh;
        while (kh0 < kh1 && h0 + kh0 * p->dh < 0) kh0++;
        while (kh1 > kh0 && h0 + (kh1 - 1) * p->dh >= p->h) kh1--;
        for (int64_t ow = 0; ow < p->ow; ow++) {
            const int64_t w0 = ow * p->sw - p->pl;
            int64_t kw0 = 0, kw1 = p->kw;
            while (kw0 < kw1 && w0 + kw0 * p->dw < 0) kw0++;
            while (kw1 > kw0 && w0 + (kw1 - 1) * p->dw >= p->w) kw1--;
            uint8_t *restrict acc = yr + ow * b;
            if (kh0 >= kh1 || kw0 >= kw1) {
                memset(acc, 0, (size_t)b);
                continue;
            }
            memcpy(acc, xp + ((h0 + kh0 * p->dh) * p->w + w0 + kw0 * p->dw) * b, (size_t)b);
            for (int64_t kh = kh0; kh < kh1; kh++)
                for (int64_t kw = kh == kh0 ? kw0 + 1 : kw0; kw < kw1; kw++) {
                    const uint8_t *restrict s = xp + ((h0 + kh * p->dh) * p->w + w0 + kw * p->dw) * b;
                    for (int64_t k = 0; k < b; k++) acc[k] = s[k] > acc[k] ? s[k] : acc[k];
                }
        }
    }
}
