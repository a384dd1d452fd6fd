/* ops/winograd: F(2x2, 3x3) convolution (Lavin & Gray 2016, section 4.1).
 * Per block of tiles: transform each 4x4 input tile, d -> B^T d B, into V
 * ([16][tile][channel]); 16 GEMMs M[xi] = V[xi] * U[xi] with the weights
 * transformed at create (U = G g G^T, [16][k/16][c][16]); each 2x2 output
 * tile is A^T m A + bias (+ sum), then the activation. Everything is
 * vectorised across 8 channels, the lanes of the nChw8c / nChw16c blocks. */
#include "ops/winograd.h"

#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/base.h"
#include "ops/op.h" /* op_apply_act_f32 */

/* ISO C mode turns off FMA contraction; the GEMM is built on a * b + c. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

typedef float wino_v8 __attribute__((vector_size(32)));
typedef int wino_v8i __attribute__((vector_size(32)));
/* unaligned, aliasing loads and stores of 8 floats */
typedef float wino_v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define WINO_LD(p) ((wino_v8)(*(const wino_v8u *)(p)))
#define WINO_ST(p, v) (*(wino_v8u *)(p) = (v))

enum {
    WINO_MR = 6, /* GEMM micro-tile: 6 tiles x 16 output channels, 12 accumulators */
    WINO_RQ = 2, /* rows of V per block are a multiple of this (tails: 4 or 2 rows) */
    WINO_NR = 16,
    WINO_L = 8 /* channel lanes per vector */
};

/* One block of tiles being computed: tiles [t0, t0 + nt) of the batch
 * (tile g: image g / (th*tw), row (g % (th*tw)) / tw, column g % tw), its
 * transformed inputs v ([16][ntp][cp]) and products m ([16][ntp][kp]),
 * ntp = nt rounded up to WINO_RQ (rows past nt are zero in v). */
typedef struct wino_job {
    const wino_f2x3 *w;
    const float *src;
    float *dst;
    const float *sum;
    float *v, *m;
    int64_t t0, nt, ntp;
} wino_job;

typedef void (*wino_phase)(const wino_job *j, int64_t lo, int64_t hi);

struct wino_f2x3 {
    int64_t n, c, h, w, k, oh, ow, pad_t, pad_l;
    int64_t cp, kp;           /* c rounded up to 8, k to 16 */
    int64_t th, tw, ntiles;   /* tiles down, across, in the batch */
    int64_t tb, nblocks;      /* tiles per block (multiple of WINO_RQ), blocks */
    int64_t nkv;              /* 8-lane dst vectors per pixel the run writes */
    int64_t src_img, dst_img; /* floats per image of src, dst (padded lanes included) */
    int src_block, dst_block, with_sum, threads;
    int slots; /* 1: all threads share each block; else one block per thread */
    ir_act act;
    float *u;    /* [16][kp/16][cp][16] */
    float *bias; /* kp, zero past k */
    size_t slot_floats, scratch_bytes, held_bytes;
    const char *isa;
    wino_phase in, gemm, out;
};

#define WINO_INLINE static inline __attribute__((always_inline))

static int64_t round_up(int64_t a, int64_t b) {
    return (a + b - 1) / b * b;
}

/* Offset of the 8 channels from cb*8 at pixel 0 of an image, in block
 * format b (0 = NCHW; then those channels are hw apart, else adjacent). */
WINO_INLINE int64_t wino_chan_off(int b, int64_t cb, int64_t hw) {
    if (b == 16) return (cb >> 1) * hw * 16 + (cb & 1) * WINO_L;
    return cb * hw * WINO_L; /* nChw8c, and NCHW: channel cb*8 starts at cb*8*hw */
}

/* A tile's image and top-left output pixel, stepped along the batch. */
typedef struct wino_pos {
    int64_t img, ty, tx;
} wino_pos;

static inline void wino_pos_set(const wino_f2x3 *w, int64_t g, wino_pos *p) {
    const int64_t r = g % (w->th * w->tw);
    p->img = g / (w->th * w->tw), p->ty = r / w->tw * 2, p->tx = r % w->tw * 2;
}

static inline void wino_pos_next(const wino_f2x3 *w, wino_pos *p) {
    p->tx += 2;
    if (p->tx < w->tw * 2) return;
    p->tx = 0, p->ty += 2;
    if (p->ty < w->th * 2) return;
    p->ty = 0, p->img++;
}

/* Input transform of units [lo, hi): unit = t * (cp/8) + cb, the 8
 * channels from cb*8 of the block's tile t. V[xi][t][cb*8..] = (B^T d B)[xi]
 *   B^T = | 1  0 -1  0 |
 *         | 0  1  1  0 |
 *         | 0 -1  1  0 |
 *         | 0  1  0 -1 |   (d zero outside the image). */
WINO_INLINE void wino_in_body(const wino_job *j, int64_t lo, int64_t hi) {
    const wino_f2x3 *w = j->w;
    const int64_t H = w->h, W = w->w, hw = H * W, cp = w->cp, ncb = cp / WINO_L;
    const int64_t vs = j->ntp * cp;              /* floats between V[xi] and V[xi + 1] */
    const int b = w->src_block, contig = b != 0; /* plain: lanes hw apart */
    const int64_t ps = b ? b : 1;
    const wino_v8 zero = {0};
    int64_t t = lo / ncb, cb = lo % ncb;
    wino_pos pos;
    wino_pos_set(w, j->t0 + t, &pos);
    for (int64_t u = lo; u < hi; u++) {
        float *vp = j->v + t * cp + cb * WINO_L;
        if (t >= j->nt) { /* GEMM padding rows */
            for (int xi = 0; xi < 16; xi++)
                WINO_ST(vp + xi * vs, zero);
            goto next;
        }
        const int64_t y0 = pos.ty - w->pad_t, x0 = pos.tx - w->pad_l;
        const float *base = j->src + pos.img * w->src_img + wino_chan_off(b, cb, hw);
        const float *p; /* the 4x4 tile: rows rs floats apart, pixels cs */
        int64_t rs, cs;
        float tile[16 * WINO_L]; /* edge tiles: a zero-padded copy */
        if (contig && y0 >= 0 && y0 + 4 <= H && x0 >= 0 && x0 + 4 <= W) {
            p = base + (y0 * W + x0) * ps, rs = W * ps, cs = ps;
        } else {
            const int lanes =
                contig || w->c - cb * WINO_L >= WINO_L ? WINO_L : (int)(w->c - cb * WINO_L);
            for (int i = 0; i < 4; i++)
                for (int k = 0; k < 4; k++) {
                    const int64_t y = y0 + i, x = x0 + k;
                    float *tp = tile + (i * 4 + k) * WINO_L;
                    const float *q = base + (y * W + x) * ps;
                    if (y < 0 || y >= H || x < 0 || x >= W) {
                        WINO_ST(tp, zero);
                    } else if (contig) {
                        WINO_ST(tp, WINO_LD(q));
                    } else {
                        WINO_ST(tp, zero);
                        for (int l = 0; l < lanes; l++)
                            tp[l] = q[l * hw];
                    }
                }
            p = tile, rs = 4 * WINO_L, cs = WINO_L;
        }
        wino_v8 r[4][4];
        for (int i = 0; i < 4; i++) { /* d B: combine the columns of each row */
            const float *q = p + i * rs;
            const wino_v8 a0 = WINO_LD(q), a1 = WINO_LD(q + cs), a2 = WINO_LD(q + 2 * cs),
                          a3 = WINO_LD(q + 3 * cs);
            r[i][0] = a0 - a2, r[i][1] = a1 + a2, r[i][2] = a2 - a1, r[i][3] = a1 - a3;
        }
        for (int k = 0; k < 4; k++) { /* B^T (d B): combine rows */
            WINO_ST(vp + k * vs, r[0][k] - r[2][k]);
            WINO_ST(vp + (4 + k) * vs, r[1][k] + r[2][k]);
            WINO_ST(vp + (8 + k) * vs, r[2][k] - r[1][k]);
            WINO_ST(vp + (12 + k) * vs, r[1][k] - r[3][k]);
        }
    next:
        if (++cb == ncb) cb = 0, t++, wino_pos_next(w, &pos);
    }
}

/* c[R][16] = a[R][0..cp) * b[cp][16]: a's rows lda apart, c's ldc apart;
 * R <= WINO_MR rows, a constant once inlined. */
WINO_INLINE void wino_gemm_rx16(int R, int64_t cp, const float *restrict a, int64_t lda,
                                const float *restrict b, float *restrict c, int64_t ldc) {
    wino_v8 acc[WINO_MR][2];
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = (wino_v8){0};
    for (int64_t i = 0; i < cp; i++) {
        const wino_v8 b0 = WINO_LD(b + i * WINO_NR), b1 = WINO_LD(b + i * WINO_NR + 8);
        for (int r = 0; r < R; r++) {
            const float x = a[r * lda + i];
            acc[r][0] += x * b0;
            acc[r][1] += x * b1;
        }
    }
    for (int r = 0; r < R; r++) {
        WINO_ST(c + r * ldc, acc[r][0]);
        WINO_ST(c + r * ldc + 8, acc[r][1]);
    }
}

/* GEMM units [lo, hi): unit = xi * (kp/16) + 16-channel panel p,
 * M[xi][0..ntp)[p*16..] = V[xi] * U[xi][p]. The panel of U (cp x 16)
 * stays in L1 while the block's rows stream past it. */
WINO_INLINE void wino_gemm_body(const wino_job *j, int64_t lo, int64_t hi) {
    const wino_f2x3 *w = j->w;
    const int64_t cp = w->cp, kp = w->kp, np = kp / WINO_NR, ntp = j->ntp;
    for (int64_t u = lo; u < hi; u++) {
        const int64_t xi = u / np, p = u % np;
        const float *a = j->v + xi * ntp * cp;
        const float *b = w->u + (xi * np + p) * cp * WINO_NR;
        float *c = j->m + xi * ntp * kp + p * WINO_NR;
        int64_t r = 0;
        for (; r + WINO_MR <= ntp; r += WINO_MR)
            wino_gemm_rx16(WINO_MR, cp, a + r * cp, cp, b, c + r * kp, kp);
        if (ntp - r == 4) wino_gemm_rx16(4, cp, a + r * cp, cp, b, c + r * kp, kp);
        if (ntp - r == 2) wino_gemm_rx16(2, cp, a + r * cp, cp, b, c + r * kp, kp);
    }
}

/* Output transform of units [lo, hi): unit = t * nkv + kv, 8 output
 * channels from kv*8 of the block's tile t:
 *   y = A^T m A + bias (+ sum), then act;  A^T = | 1  1  1  0 |
 *                                                | 0  1 -1 -1 |
 * Lanes past k are written as exact zeros (blocked dst) or not at all. */
WINO_INLINE void wino_out_body(const wino_job *j, int64_t lo, int64_t hi) {
    const wino_f2x3 *w = j->w;
    const int64_t OH = w->oh, OW = w->ow, ohw = OH * OW, kp = w->kp, nkv = w->nkv;
    const int64_t ms = j->ntp * kp;              /* floats between M[xi] and M[xi + 1] */
    const int b = w->dst_block, contig = b != 0; /* plain: lanes ohw apart */
    const int64_t ps = b ? b : 1;
    const int relu = w->act.kind == IR_ACT_RELU, other = !relu && w->act.kind != IR_ACT_NONE;
    const wino_v8 zero = {0};
    int64_t t = lo / nkv, kv = lo % nkv;
    wino_pos pos;
    wino_pos_set(w, j->t0 + t, &pos);
    for (int64_t u = lo; u < hi; u++) {
        const int64_t k0 = kv * WINO_L;
        const float *mp = j->m + t * kp + k0;
        wino_v8 m[16], s[8], y[4], bias;
        for (int xi = 0; xi < 16; xi++)
            m[xi] = WINO_LD(mp + xi * ms);
        bias = WINO_LD(w->bias + k0);
        for (int k = 0; k < 4; k++) { /* A^T m: combine rows */
            s[k] = m[k] + m[4 + k] + m[8 + k];
            s[4 + k] = m[4 + k] - m[8 + k] - m[12 + k];
        }
        for (int i = 0; i < 2; i++) { /* (A^T m) A: combine columns */
            const wino_v8 *q = s + i * 4;
            y[i * 2] = q[0] + q[1] + q[2] + bias;
            y[i * 2 + 1] = q[1] - q[2] - q[3] + bias;
        }
        const int64_t off = pos.img * w->dst_img + wino_chan_off(b, kv, ohw);
        const int lanes = w->k - k0 >= WINO_L ? WINO_L : (int)(w->k - k0); /* may be <= 0 */
        const int full = pos.ty + 2 <= OH && pos.tx + 2 <= OW;
        if (w->with_sum)
            for (int q = 0; q < 4; q++) {
                const int64_t oy = pos.ty + q / 2, ox = pos.tx + q % 2;
                if (oy >= OH || ox >= OW) continue;
                const float *sp = j->sum + off + (oy * OW + ox) * ps;
                wino_v8 sv = zero;
                if (contig) {
                    sv = WINO_LD(sp);
                } else {
                    float g8[WINO_L] = {0};
                    for (int l = 0; l < lanes; l++)
                        g8[l] = sp[l * ohw];
                    memcpy(&sv, g8, sizeof g8);
                }
                y[q] += sv;
            }
        if (relu) {
            for (int q = 0; q < 4; q++)
                y[q] = (wino_v8)((wino_v8i)y[q] & (y[q] > zero));
        } else if (other) {
            float buf[4 * WINO_L];
            memcpy(buf, y, sizeof buf);
            op_apply_act_f32(&w->act, buf, 4 * WINO_L);
            memcpy(y, buf, sizeof buf);
        }
        if (lanes < WINO_L) { /* padded channels: exact zeros */
            wino_v8i keep = {0};
            for (int l = 0; l < lanes; l++)
                keep[l] = -1;
            for (int q = 0; q < 4; q++)
                y[q] = (wino_v8)((wino_v8i)y[q] & keep);
        }
        float *dp = j->dst + off + (pos.ty * OW + pos.tx) * ps;
        if (contig && full) {
            WINO_ST(dp, y[0]);
            WINO_ST(dp + ps, y[1]);
            WINO_ST(dp + OW * ps, y[2]);
            WINO_ST(dp + (OW + 1) * ps, y[3]);
        } else {
            for (int q = 0; q < 4; q++) {
                const int64_t oy = pos.ty + q / 2, ox = pos.tx + q % 2;
                if (oy >= OH || ox >= OW) continue;
                float *qp = j->dst + off + (oy * OW + ox) * ps;
                if (contig) {
                    WINO_ST(qp, y[q]);
                } else {
                    for (int l = 0; l < lanes; l++)
                        qp[l * ohw] = y[q][l];
                }
            }
        }
        if (++kv == nkv) kv = 0, t++, wino_pos_next(w, &pos);
    }
}

/* The three phases compiled per ISA: the bodies inline into each copy. */
#define WINO_PHASES(SFX, ATTR)                                                                     \
    ATTR static void wino_in_##SFX(const wino_job *j, int64_t lo, int64_t hi) {                    \
        wino_in_body(j, lo, hi);                                                                   \
    }                                                                                              \
    ATTR static void wino_gemm_##SFX(const wino_job *j, int64_t lo, int64_t hi) {                  \
        wino_gemm_body(j, lo, hi);                                                                 \
    }                                                                                              \
    ATTR static void wino_out_##SFX(const wino_job *j, int64_t lo, int64_t hi) {                   \
        wino_out_body(j, lo, hi);                                                                  \
    }
WINO_PHASES(generic, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WINO_HAVE_AVX2 1
WINO_PHASES(avx2, __attribute__((target("avx2,fma"))))
#endif

int wino_f2x3_supported(const fast_conv_desc *d) {
    const int64_t cap = (int64_t)1 << 24;
    int64_t v[] = {d->n, d->c, d->h, d->w, d->k, d->oh, d->ow};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] < 1 || v[i] > cap) return 0;
    if (d->pad_t < 0 || d->pad_l < 0 || d->pad_b < 0 || d->pad_r < 0 || d->pad_t > cap ||
        d->pad_l > cap || d->pad_b > cap || d->pad_r > cap)
        return 0;
    for (int i = 0; i < 2; i++) {
        int b = i ? d->dst_block : d->src_block;
        if (b != 0 && b != 8 && b != 16) return 0;
    }
    /* sizes in double: each factor is capped, their products need not fit */
    const double cp = (double)((d->c + 7) / 8 * 8), kp = (double)((d->k + 15) / 16 * 16);
    const double big = (double)((int64_t)1 << 40);
    if (16 * cp * kp > (double)((int64_t)1 << 26)) return 0; /* 256 MB of transformed weights */
    if ((double)d->n * (double)d->h * (double)d->w * (cp + 8) > big ||
        (double)d->n * (double)d->oh * (double)d->ow * (kp + 16) > big)
        return 0;
    return d->kh == 3 && d->kw == 3 && d->stride[0] == 1 && d->stride[1] == 1 &&
           d->dilation[0] == 1 && d->dilation[1] == 1 && d->group == 1 && d->weight &&
           d->oh == d->h + d->pad_t + d->pad_b - 2 && d->ow == d->w + d->pad_l + d->pad_r - 2;
}

/* U[xi][k/16][c][k%16] = (G g G^T)[xi] for every (k, c), in double:
 *   G = | 1    0    0  |
 *       | 1/2  1/2  1/2|
 *       | 1/2 -1/2  1/2|
 *       | 0    0    1  |   (zero for padded k and c). */
static void wino_weights(const fast_conv_desc *d, int64_t cp, int64_t kp, float *u) {
    const int64_t np = kp / WINO_NR;
    memset(u, 0, (size_t)(16 * cp * kp) * sizeof *u);
    for (int64_t k = 0; k < d->k; k++)
        for (int64_t c = 0; c < d->c; c++) {
            const float *g = d->weight + (k * d->c + c) * 9;
            double gg[4][3], r[4][4];
            for (int j = 0; j < 3; j++) {
                double a = g[j], b = g[3 + j], e = g[6 + j];
                gg[0][j] = a, gg[1][j] = (a + b + e) / 2, gg[2][j] = (a - b + e) / 2, gg[3][j] = e;
            }
            for (int i = 0; i < 4; i++) {
                double a = gg[i][0], b = gg[i][1], e = gg[i][2];
                r[i][0] = a, r[i][1] = (a + b + e) / 2, r[i][2] = (a - b + e) / 2, r[i][3] = e;
            }
            for (int xi = 0; xi < 16; xi++)
                u[((xi * np + k / WINO_NR) * cp + c) * WINO_NR + k % WINO_NR] =
                    (float)r[xi / 4][xi % 4];
        }
}

/* Tiles per block: the block's V and M (16 * (cp + kp) floats per tile)
 * within about WINO_BLOCK_BYTES of L2. When U does not fit in L2 it is
 * streamed from L3 or memory once per block, so blocks grow to at least
 * WINO_UREUSE_TILES (V and M then live in L3 between the phases; the
 * GEMM's working set, one xi's V and M, stays under WINO_XI_BYTES). */
#define WINO_BLOCK_BYTES (320 * 1024)
#define WINO_MIN_TILES 24
#define WINO_MAX_TILES 144
#define WINO_UREUSE_TILES 96
#define WINO_L2_U_BYTES (512 * 1024)
#define WINO_XI_BYTES (256 * 1024)

/* Block size and thread mode: with at least two blocks per thread, each
 * thread takes whole blocks (no barriers), the size nudged up (to 1.5x)
 * where that evens out the rows per thread; otherwise all threads share
 * each block, phase by phase (two barriers per block). */
static void wino_plan(wino_f2x3 *w, int tile_block) {
    int64_t tb =
        tile_block > 0 ? tile_block : (int64_t)WINO_BLOCK_BYTES / (16 * (w->cp + w->kp) * 4);
    if (tile_block <= 0) {
        tb = tb < WINO_MIN_TILES ? WINO_MIN_TILES : tb > WINO_MAX_TILES ? WINO_MAX_TILES : tb;
        const int64_t xi_tiles = (int64_t)WINO_XI_BYTES / ((w->cp + w->kp) * 4);
        if (16 * w->cp * w->kp * 4 > WINO_L2_U_BYTES && tb < WINO_UREUSE_TILES)
            tb = WINO_UREUSE_TILES < xi_tiles ? WINO_UREUSE_TILES : xi_tiles > tb ? xi_tiles : tb;
        /* even blocks: 49 tiles in blocks of 24 would leave one of 1 */
        const int64_t nb = (w->ntiles + tb - 1) / tb;
        tb = (w->ntiles + nb - 1) / nb;
    }
    tb = round_up(tb < w->ntiles ? tb : w->ntiles, WINO_RQ);
    const int64_t nth = w->threads;
    w->slots = 1;
    if (nth > 1 && (w->ntiles + tb - 1) / tb >= 2 * nth) {
        w->slots = (int)nth;
        int64_t best = tb, best_cost = INT64_MAX;
        for (int64_t c = tb; tile_block <= 0 && c <= tb * 3 / 2; c += WINO_RQ) {
            int64_t nb = (w->ntiles + c - 1) / c, cost = (nb + nth - 1) / nth * c;
            if (nb >= 2 * nth && cost < best_cost) best = c, best_cost = cost;
        }
        tb = best;
    }
    w->tb = tb;
    w->nblocks = (w->ntiles + tb - 1) / tb;
    w->slot_floats = (size_t)round_up(16 * tb * (w->cp + w->kp), 16);
    w->scratch_bytes = w->slot_floats * sizeof(float) * (size_t)w->slots;
}

int wino_f2x3_create(const fast_conv_desc *d, const wino_f2x3_opts *opt, wino_f2x3 **out) {
    *out = NULL;
    if (!wino_f2x3_supported(d)) return FAST_NO;
    wino_f2x3 *w = cv_calloc(1, sizeof *w);
    if (!w) return FAST_NOMEM;
    w->n = d->n, w->c = d->c, w->h = d->h, w->w = d->w, w->k = d->k, w->oh = d->oh, w->ow = d->ow;
    w->pad_t = d->pad_t, w->pad_l = d->pad_l;
    w->cp = round_up(d->c, WINO_L), w->kp = round_up(d->k, WINO_NR);
    w->th = (d->oh + 1) / 2, w->tw = (d->ow + 1) / 2, w->ntiles = d->n * w->th * w->tw;
    w->src_block = d->src_block, w->dst_block = d->dst_block, w->with_sum = d->with_sum != 0;
    w->act = d->act;
    w->src_img = (d->src_block ? round_up(d->c, d->src_block) : d->c) * d->h * d->w;
    w->dst_img = (d->dst_block ? round_up(d->k, d->dst_block) : d->k) * d->oh * d->ow;
    w->nkv = d->dst_block ? (d->k + d->dst_block - 1) / d->dst_block * (d->dst_block / WINO_L)
                          : (d->k + WINO_L - 1) / WINO_L;
    int threads = d->threads;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    w->threads = threads > 0 ? threads : 1;
    wino_plan(w, opt ? opt->tile_block : 0);
    size_t ub = (size_t)(16 * w->cp * w->kp) * sizeof(float), bb = (size_t)w->kp * sizeof(float);
    w->u = cv_aligned_alloc(ub);
    w->bias = cv_aligned_alloc(bb);
    if (!w->u || !w->bias) {
        wino_f2x3_destroy(w);
        return FAST_NOMEM;
    }
    w->held_bytes = ub + bb;
    wino_weights(d, w->cp, w->kp, w->u);
    memset(w->bias, 0, bb);
    if (d->bias) memcpy(w->bias, d->bias, (size_t)d->k * sizeof(float));
    w->isa = "generic", w->in = wino_in_generic, w->gemm = wino_gemm_generic;
    w->out = wino_out_generic;
#ifdef WINO_HAVE_AVX2
    if (!(opt && opt->generic) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        w->isa = "avx2_fma", w->in = wino_in_avx2, w->gemm = wino_gemm_avx2;
        w->out = wino_out_avx2;
    }
#endif
    *out = w;
    return FAST_OK;
}

size_t wino_f2x3_scratch_bytes(const wino_f2x3 *w) {
    return w->scratch_bytes;
}

size_t wino_f2x3_held_bytes(const wino_f2x3 *w) {
    return w->held_bytes;
}

const char *wino_f2x3_isa(const wino_f2x3 *w) {
    return w->isa;
}

/* The three phases of block b on scratch slot `slot`, split over nt
 * threads (this one is tid) with barriers between phases when nt > 1. */
static void wino_block(const wino_f2x3 *w, const float *src, float *dst, const float *sum,
                       float *slot, int64_t b, int tid, int nt) {
    wino_job j = {.w = w, .src = src, .dst = dst, .sum = sum, .t0 = b * w->tb};
    j.nt = w->ntiles - j.t0 < w->tb ? w->ntiles - j.t0 : w->tb;
    j.ntp = round_up(j.nt, WINO_RQ);
    j.v = slot, j.m = slot + 16 * j.ntp * w->cp;
    const int64_t units[3] = {j.ntp * (w->cp / WINO_L), 16 * (w->kp / WINO_NR), j.nt * w->nkv};
    const wino_phase fn[3] = {w->in, w->gemm, w->out};
    for (int p = 0; p < 3; p++) {
        fn[p](&j, units[p] * tid / nt, units[p] * (tid + 1) / nt);
        /* after out: the next block's in writes V only, which no one reads now */
        if (nt > 1 && p < 2) {
#pragma omp barrier
        }
    }
}

void wino_f2x3_run(const wino_f2x3 *w, const float *src, float *dst, const float *sum,
                   void *scratch) {
    float *sc = scratch;
#pragma omp parallel num_threads(w->threads) if (w->threads > 1)
    {
        int tid = 0, nt = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
        if (w->slots > 1 || nt == 1) {
            /* dynamic: a vCPU that loses its time slice hands blocks over */
#pragma omp for schedule(dynamic, 1)
            for (int64_t b = 0; b < w->nblocks; b++)
                wino_block(w, src, dst, sum, sc + (size_t)tid * w->slot_floats, b, 0, 1);
        } else {
            for (int64_t b = 0; b < w->nblocks; b++)
                wino_block(w, src, dst, sum, sc, b, tid, nt);
        }
    }
}

void wino_f2x3_destroy(wino_f2x3 *w) {
    if (!w) return;
    cv_aligned_free(w->u);
    cv_aligned_free(w->bias);
    cv_free(w);
}
