/* pool: MaxPool (with the optional Indices output), AveragePool,
 * GlobalAveragePool, GlobalMaxPool over N-d NC<spatial> tensors, reference
 * kernels. Per spatial dim the valid kernel-tap range of every output index
 * is tabulated once, so the window loops carry no bounds checks or
 * divisions. Max pools are generic over float32/float64/int8/uint8. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "base/pack.h"
#include "ops/blocked.h"
#include "ops/fast.h"
#include "ops/op.h"

#define POOL_MAX_SP (CV_MAX_DIMS - 2)

typedef struct pool_geom {
    int nsp;
    int64_t in[POOL_MAX_SP], out[POOL_MAX_SP], k[POOL_MAX_SP];
    int64_t s[POOL_MAX_SP], d[POOL_MAX_SP], pb[POOL_MAX_SP], pe[POOL_MAX_SP];
    int64_t in_size, out_size, planes; /* planes = N * C */
} pool_geom;

/* Window of output index o along one dim: taps k in [klo, khi) fall inside
 * the input at o*s - pb + k*d; npad taps fall inside the padded input. */
typedef struct pool_tap {
    int64_t klo, khi, npad;
} pool_tap;

static int64_t pool_cdiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

static int pool_dtype_ok(cv_dtype t, int max) {
    return t == CV_F32 || t == CV_F64 || (max && (t == CV_U8 || t == CV_I8));
}

/* Input checks and the output geometry of MaxPool / AveragePool. */
static cleave_status pool_shape(op_call *c, int is_max, pool_geom *g) {
    const ir_node *n = c->node;
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    if (!pool_dtype_ok(x->dtype, is_max))
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "input X has unsupported dtype %s",
                       cv_dtype_name(x->dtype));
    if (x->ndim < 3)
        return op_fail(c, CLEAVE_E_INVALID,
                       "input X must have rank >= 3 (N, C, spatial...), got %d", x->ndim);
    for (int i = 0; i < x->ndim; i++)
        if (x->dims[i] < 0) return op_fail(c, CLEAVE_E_INVALID, "input X has unknown dim %d", i);
    const int nsp = g->nsp = x->ndim - 2;
    const int64_t *v;
    int cnt = ir_attr_ints(n, "kernel_shape", &v);
    if (cnt != nsp)
        return op_fail(c, CLEAVE_E_INVALID, "kernel_shape must have %d values, has %d", nsp, cnt);
    for (int i = 0; i < nsp; i++) {
        if (v[i] < 1 || v[i] > (1 << 20))
            return op_fail(c, CLEAVE_E_INVALID, "kernel_shape[%d] = %lld must be >= 1", i,
                           (long long)v[i]);
        g->k[i] = v[i], g->s[i] = g->d[i] = 1, g->pb[i] = g->pe[i] = 0;
        g->in[i] = x->dims[2 + i];
    }
    int autopad;
    CV_TRY(op_window_attrs(c, nsp, g->s, g->d, g->pb, g->pe, &autopad));
    int64_t ceil_mode = ir_attr_int(n, "ceil_mode", 0);
    g->in_size = g->out_size = 1;
    for (int i = 0; i < nsp; i++) {
        const int64_t ext = (g->k[i] - 1) * g->d[i] + 1;
        if (autopad == 1 || autopad == 2) {
            int64_t out = pool_cdiv(g->in[i], g->s[i]);
            int64_t total = (out - 1) * g->s[i] + ext - g->in[i];
            if (total < 0) total = 0;
            g->pb[i] = autopad == 1 ? total / 2 : total - total / 2;
            g->pe[i] = total - g->pb[i];
            g->out[i] = out;
        } else {
            if (autopad == 3) g->pb[i] = g->pe[i] = 0;
            int64_t span = g->in[i] + g->pb[i] + g->pe[i] - ext;
            if (span < 0)
                return op_fail(c, CLEAVE_E_INVALID,
                               "spatial dim %d: the window (%lld) is larger than the padded "
                               "input (%lld)",
                               i, (long long)ext, (long long)(g->in[i] + g->pb[i] + g->pe[i]));
            g->out[i] = (ceil_mode && autopad == 0 ? pool_cdiv(span, g->s[i]) : span / g->s[i]) + 1;
            /* ceil_mode: a last window starting in the end padding is
             * dropped (PyTorch, ONNX >= 1.16 reference). */
            if (ceil_mode && (g->out[i] - 1) * g->s[i] >= g->in[i] + g->pb[i]) g->out[i]--;
        }
        g->in_size *= g->in[i], g->out_size *= g->out[i];
    }
    g->planes = x->dims[0] * x->dims[1];
    return CLEAVE_OK;
}

static void pool_set_out(op_call *c, const pool_geom *g, cv_dtype dt, int k) {
    int64_t dims[CV_MAX_DIMS];
    dims[0] = c->in[0]->dims[0], dims[1] = c->in[0]->dims[1];
    for (int i = 0; i < g->nsp; i++)
        dims[2 + i] = g->out[i];
    op_set_out(c, k, dt, g->nsp + 2, dims);
}

static cleave_status pool_max_infer(op_call *c) {
    pool_geom g;
    CV_TRY(pool_shape(c, 1, &g));
    int64_t so = ir_attr_int(c->node, "storage_order", 0);
    if (so != 0 && so != 1)
        return op_fail(c, CLEAVE_E_INVALID, "storage_order = %lld must be 0 or 1", (long long)so);
    pool_set_out(c, &g, c->in[0]->dtype, 0);
    if (c->n_out > 1) pool_set_out(c, &g, CV_I64, 1);
    if (c->node->act.kind != IR_ACT_NONE) { /* a Clip of codes (ir_pass_fuse_code_clips) */
        int32_t lo, hi;
        if (c->node->act.kind != IR_ACT_CLIP || (c->in[0]->dtype != CV_U8 && c->in[0]->dtype != CV_I8))
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "a fused activation needs uint8 / int8 codes");
        CV_TRY(op_int_bounds(c, c->in[0]->dtype, 0, &lo, &hi));
    }
    return CLEAVE_OK;
}

static cleave_status pool_avg_infer(op_call *c) {
    pool_geom g;
    CV_TRY(pool_shape(c, 0, &g));
    pool_set_out(c, &g, c->in[0]->dtype, 0);
    return CLEAVE_OK;
}

/* Scratch: one pool_tap per (dim, output index). */
static size_t pool_tap_count(const pool_geom *g) {
    size_t n = 0;
    for (int i = 0; i < g->nsp; i++)
        n += (size_t)g->out[i];
    return n;
}

static int pool_threads(const op_call *c) {
    return c->threads > 1 ? c->threads : 1;
}

/* Blocked f32 pooling runs on cleave's own kernel (blocked.c): on an AVX2
 * EPYC it took 0.22 ms for resnet18's max pool where oneDNN 2.6's jit
 * pooling took 0.76, and 1.5 ms for googlenet's 13 where oneDNN took 5.2.
 * CLEAVE_POOL_LIB=1 gives the library's back, for A/B runs. */
static int pool_lib(void) {
    const char *e = getenv("CLEAVE_POOL_LIB");
    return e && *e == '1';
}

static cleave_status pool_prepare(op_call *c) {
    pool_geom g;
    int is_max = c->node->op == OP_MaxPool;
    CV_TRY(pool_shape(c, is_max, &g));
    c->scratch_bytes = pool_tap_count(&g) * sizeof(pool_tap);
    const cv_tensor *x = c->in[0];
    /* blocked 2-D f32: the library's pooling if it has one */
    if (x->block && x->dtype == CV_F32 && c->fast && g.nsp == 2 && pool_lib()) {
        fast_pool_desc d = {.n = x->dims[0], .c = x->dims[1], .h = g.in[0], .w = g.in[1],
                            .oh = g.out[0], .ow = g.out[1], .kh = g.k[0], .kw = g.k[1],
                            .stride = {g.s[0], g.s[1]}, .dilation = {g.d[0], g.d[1]},
                            .pad_t = g.pb[0], .pad_l = g.pb[1], .pad_b = g.pe[0], .pad_r = g.pe[1],
                            .is_max = is_max,
                            .include_pad = !is_max && ir_attr_int(c->node, "count_include_pad", 0) != 0,
                            .block = x->block, .threads = pool_threads(c)};
        int r = fast_pool_create(&d, &c->state);
        if (r == FAST_NOMEM) return op_fail(c, CLEAVE_E_NOMEM, "out of memory creating the fast kernel");
        if (r == FAST_OK) c->scratch_bytes = fast_pool_scratch_bytes(c->state);
        else c->state = NULL;
    }
    if (x->pbits || c->out[0]->pbits) { /* packed codes: a plane of each unpacked at a time */
        if (!is_max || x->dtype != CV_U8 || x->block || (c->n_out > 1 && c->out[1]))
            return op_fail(c, CLEAVE_E_INTERNAL, "packed activations on a pool that is not a plain uint8 MaxPool");
        c->scratch_bytes = (c->scratch_bytes + 63) / 64 * 64 + (size_t)(g.in_size + g.out_size);
    }
    return CLEAVE_OK;
}

static void pool_release(void *state) {
    fast_pool_destroy(state);
}

static void pool_fill_taps(const pool_geom *g, pool_tap *taps) {
    for (int i = 0; i < g->nsp; i++) {
        for (int64_t o = 0; o < g->out[i]; o++, taps++) {
            const int64_t start = o * g->s[i] - g->pb[i], d = g->d[i];
            int64_t lo = start >= 0 ? 0 : pool_cdiv(-start, d);
            int64_t hi = g->in[i] - start <= 0 ? 0 : pool_cdiv(g->in[i] - start, d);
            int64_t hp = pool_cdiv(g->in[i] + g->pe[i] - start, d); /* start >= -pb */
            if (hi > g->k[i]) hi = g->k[i];
            if (hp > g->k[i]) hp = g->k[i];
            if (lo > hi) lo = hi;
            taps->klo = lo, taps->khi = hi, taps->npad = hp;
        }
    }
}

/* Per-dim tap tables of output position o (advanced by pool_next). */
static void pool_first(const pool_geom *g, const pool_tap *taps, int64_t *o, const pool_tap **tp) {
    for (int i = 0; i < g->nsp; i++)
        o[i] = 0, tp[i] = taps, taps += g->out[i];
}

static void pool_next(const pool_geom *g, int64_t *o, const pool_tap **tp) {
    for (int i = g->nsp - 1; i >= 0; i--) {
        tp[i]++;
        if (++o[i] < g->out[i]) return;
        tp[i] -= g->out[i], o[i] = 0;
    }
}

/* Iterates over the rows of one output position's window: all dims but the
 * last form an odometer over valid taps; each row gives `row`, the flat
 * in-plane offset of the last dim's window start (o*s - pb), so the inputs
 * are row + k*dl for k in [klo, khi). */
typedef struct pool_win {
    const pool_geom *g;
    const pool_tap *const *tp;
    const int64_t *o;
    int64_t kk[POOL_MAX_SP];
    int64_t klo, khi, dl;
} pool_win;

static int64_t pool_win_row(const pool_win *w) {
    const pool_geom *g = w->g;
    const int L = g->nsp - 1;
    int64_t row = 0;
    for (int d = 0; d < L; d++)
        row = (row + w->o[d] * g->s[d] - g->pb[d] + w->kk[d] * g->d[d]) * g->in[d + 1];
    return row + w->o[L] * g->s[L] - g->pb[L];
}

/* Returns 0 when the window is empty. */
static int pool_win_first(pool_win *w, const pool_geom *g, const pool_tap *const *tp,
                          const int64_t *o, int64_t *row) {
    const int L = g->nsp - 1;
    w->g = g, w->tp = tp, w->o = o;
    w->klo = tp[L]->klo, w->khi = tp[L]->khi, w->dl = g->d[L];
    int ok = w->klo < w->khi;
    for (int d = 0; d < L; d++) {
        w->kk[d] = tp[d]->klo;
        ok &= w->kk[d] < tp[d]->khi;
    }
    if (ok) *row = pool_win_row(w);
    return ok;
}

static int pool_win_next(pool_win *w, int64_t *row) {
    for (int d = w->g->nsp - 2; d >= 0; d--) {
        if (++w->kk[d] < w->tp[d]->khi) {
            *row = pool_win_row(w);
            return 1;
        }
        w->kk[d] = w->tp[d]->klo;
    }
    return 0;
}

/* One (n, c) plane: x in_size values in, y out_size values out. */
typedef void (*pool_plane_fn)(const pool_geom *g, const pool_tap *taps, const void *x, void *y,
                              int64_t *ind, int include_pad);

/* 1-D and 2-D pools seen as (H, W) planes (H = 1 for 1-D): the common case
 * gets plain nested loops instead of the N-d window iterator. */
typedef struct pool_2d {
    int64_t W, OH, OW, sh, sw, ph, pw, dh, dw, th_step;
    const pool_tap *th, *tw;
} pool_2d;

static const pool_tap pool_one_tap = {0, 1, 1};

static void pool_2d_view(const pool_geom *g, const pool_tap *taps, pool_2d *v) {
    const int two = g->nsp == 2, L = g->nsp - 1;
    v->W = g->in[L], v->OW = g->out[L], v->sw = g->s[L], v->pw = g->pb[L], v->dw = g->d[L];
    v->OH = two ? g->out[0] : 1, v->sh = two ? g->s[0] : 1, v->ph = two ? g->pb[0] : 0;
    v->dh = two ? g->d[0] : 1;
    v->th = two ? taps : &pool_one_tap, v->th_step = two;
    v->tw = two ? taps + g->out[0] : taps;
}

/* Max pool of one plane; ind (optional) receives the row-major in-plane
 * index of the first maximum (-1 for an all-padding window, which yields
 * the lowest value). */
#define POOL_MAX_PLANE(NAME, T, LOWEST)                                                            \
    static void NAME(const pool_geom *g, const pool_tap *taps, const void *xv, void *yv,           \
                     int64_t *ind, int include_pad) {                                              \
        const T *x = (const T *)xv;                                                                \
        T *y = (T *)yv;                                                                            \
        (void)include_pad;                                                                         \
        if (g->nsp <= 2) {                                                                         \
            pool_2d v;                                                                             \
            pool_2d_view(g, taps, &v);                                                             \
            for (int64_t oh = 0; oh < v.OH; oh++) {                                                \
                const pool_tap *th = v.th + oh * v.th_step;                                        \
                const int64_t ih0 = oh * v.sh - v.ph;                                              \
                for (int64_t ow = 0; ow < v.OW; ow++) {                                            \
                    const pool_tap *tw = v.tw + ow;                                                \
                    const int64_t iw0 = ow * v.sw - v.pw;                                          \
                    T best = LOWEST;                                                               \
                    int64_t bi = -1;                                                               \
                    if (th->klo < th->khi && tw->klo < tw->khi)                                    \
                        bi = (ih0 + th->klo * v.dh) * v.W + iw0 + tw->klo * v.dw;                  \
                    for (int64_t kh = th->klo; kh < th->khi; kh++) {                               \
                        const int64_t r = (ih0 + kh * v.dh) * v.W + iw0;                           \
                        for (int64_t kw = tw->klo; kw < tw->khi; kw++)                             \
                            if (x[r + kw * v.dw] > best)                                           \
                                best = x[r + kw * v.dw], bi = r + kw * v.dw;                       \
                    }                                                                              \
                    y[oh * v.OW + ow] = best;                                                      \
                    if (ind) ind[oh * v.OW + ow] = bi;                                             \
                }                                                                                  \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        int64_t o[POOL_MAX_SP], row;                                                               \
        const pool_tap *tp[POOL_MAX_SP];                                                           \
        pool_win w;                                                                                \
        pool_first(g, taps, o, tp);                                                                \
        for (int64_t q = 0; q < g->out_size; q++, pool_next(g, o, tp)) {                           \
            T best = LOWEST;                                                                       \
            int64_t bi = -1;                                                                       \
            for (int ok = pool_win_first(&w, g, tp, o, &row); ok; ok = pool_win_next(&w, &row))    \
                for (int64_t k = w.klo; k < w.khi; k++) {                                          \
                    const T v = x[row + k * w.dl];                                                 \
                    if (v > best || bi < 0) best = v, bi = row + k * w.dl;                         \
                }                                                                                  \
            y[q] = best;                                                                           \
            if (ind) ind[q] = bi;                                                                  \
        }                                                                                          \
    }

POOL_MAX_PLANE(pool_max_nd_f32_ref, float, -FLT_MAX)
POOL_MAX_PLANE(pool_max_nd_f64_ref, double, -DBL_MAX)
POOL_MAX_PLANE(pool_max_nd_u8_ref, uint8_t, 0)
POOL_MAX_PLANE(pool_max_nd_i8_ref, int8_t, -128)

/* Average pool of one plane; the divisor counts taps inside the input, or
 * inside the padded input with count_include_pad. One reciprocal per output. */
#define POOL_AVG_PLANE(NAME, T)                                                                    \
    static void NAME(const pool_geom *g, const pool_tap *taps, const void *xv, void *yv,           \
                     int64_t *ind, int include_pad) {                                              \
        const T *x = (const T *)xv;                                                                \
        T *y = (T *)yv;                                                                            \
        (void)ind;                                                                                 \
        if (g->nsp <= 2) {                                                                         \
            pool_2d v;                                                                             \
            pool_2d_view(g, taps, &v);                                                             \
            for (int64_t oh = 0; oh < v.OH; oh++) {                                                \
                const pool_tap *th = v.th + oh * v.th_step;                                        \
                const int64_t ih0 = oh * v.sh - v.ph;                                              \
                for (int64_t ow = 0; ow < v.OW; ow++) {                                            \
                    const pool_tap *tw = v.tw + ow;                                                \
                    const int64_t iw0 = ow * v.sw - v.pw;                                          \
                    const int64_t cnt = include_pad ? th->npad * tw->npad                          \
                                                    : (th->khi - th->klo) * (tw->khi - tw->klo);   \
                    T sum = 0;                                                                     \
                    for (int64_t kh = th->klo; kh < th->khi; kh++) {                               \
                        const T *r = x + (ih0 + kh * v.dh) * v.W + iw0;                            \
                        for (int64_t kw = tw->klo; kw < tw->khi; kw++)                             \
                            sum += r[kw * v.dw];                                                   \
                    }                                                                              \
                    y[oh * v.OW + ow] = cnt > 0 ? sum * ((T)1 / (T)cnt) : (T)0;                    \
                }                                                                                  \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        int64_t o[POOL_MAX_SP], row;                                                               \
        const pool_tap *tp[POOL_MAX_SP];                                                           \
        pool_win w;                                                                                \
        pool_first(g, taps, o, tp);                                                                \
        for (int64_t q = 0; q < g->out_size; q++, pool_next(g, o, tp)) {                           \
            T sum = 0;                                                                             \
            int64_t cnt = 1;                                                                       \
            for (int d = 0; d < g->nsp; d++)                                                       \
                cnt *= include_pad ? tp[d]->npad : tp[d]->khi - tp[d]->klo;                        \
            for (int ok = pool_win_first(&w, g, tp, o, &row); ok; ok = pool_win_next(&w, &row))    \
                for (int64_t k = w.klo; k < w.khi; k++)                                            \
                    sum += x[row + k * w.dl];                                                      \
            y[q] = cnt > 0 ? sum * ((T)1 / (T)cnt) : (T)0;                                         \
        }                                                                                          \
    }

POOL_AVG_PLANE(pool_avg_nd_f32_ref, float)
POOL_AVG_PLANE(pool_avg_nd_f64_ref, double)

/* 2-D max pool (f32, u8, i8) without indices, two passes per output row: the max
 * over the window's rows at every input column (unit stride, vectorises),
 * then the max over each window's columns of that row. Planes up to
 * POOL_ROW_MAX columns; others use the general kernel. */
#define POOL_ROW_MAX 4096
#define POOL_MAX_ROWS(NAME, T, LOWEST)\
static void NAME(const pool_geom *g, const pool_tap *taps, const void *xv,                         \
                                 void *yv, int64_t *ind, int include_pad) {                        \
    (void)ind, (void)include_pad;                                                                  \
    const T *x = (const T *)xv;                                                                    \
    T *y = (T *)yv;                                                                                \
    pool_2d v;                                                                                     \
    pool_2d_view(g, taps, &v);                                                                     \
    T row[POOL_ROW_MAX];                                                                           \
    for (int64_t oh = 0; oh < v.OH; oh++) {                                                        \
        const pool_tap *th = v.th + oh * v.th_step;                                                \
        const int64_t ih0 = oh * v.sh - v.ph;                                                      \
        T *yr = y + oh * v.OW;                                                                     \
        if (th->klo >= th->khi) { /* window entirely in padding */                                 \
            for (int64_t ow = 0; ow < v.OW; ow++) yr[ow] = LOWEST;                                 \
            continue;                                                                              \
        }                                                                                          \
        const T *x0 = x + (ih0 + th->klo * v.dh) * v.W;                                            \
        for (int64_t iw = 0; iw < v.W; iw++) row[iw] = x0[iw];                                     \
        for (int64_t kh = th->klo + 1; kh < th->khi; kh++) {                                       \
            const T *restrict xr = x + (ih0 + kh * v.dh) * v.W;                                    \
            for (int64_t iw = 0; iw < v.W; iw++) row[iw] = xr[iw] > row[iw] ? xr[iw] : row[iw];    \
        }                                                                                          \
        for (int64_t ow = 0; ow < v.OW; ow++) {                                                    \
            const pool_tap *tw = v.tw + ow;                                                        \
            const T *r = row + ow * v.sw - v.pw;                                                   \
            T best = LOWEST;                                                                       \
            for (int64_t kw = tw->klo; kw < tw->khi; kw++) best = r[kw * v.dw] > best ? r[kw * v.dw] : best;\
            yr[ow] = best;                                                                         \
        }                                                                                          \
    }                                                                                              \
}

POOL_MAX_ROWS(pool_max_2d_f32_rows, float, -FLT_MAX)
POOL_MAX_ROWS(pool_max_2d_u8_rows, uint8_t, 0)
POOL_MAX_ROWS(pool_max_2d_i8_rows, int8_t, -128)

/* Runs a plane kernel over all N*C planes, in parallel when threads > 1. */
static void pool_planes(const pool_geom *g, const pool_tap *taps, pool_plane_fn fn, const void *x,
                        void *y, size_t esize, int64_t *ind, int include_pad, int threads) {
    const int64_t planes = g->planes;
#pragma omp parallel for num_threads(threads) if (threads > 1 && planes > 1 &&                     \
                                                  planes * (g->in_size + g->out_size) > 32768)
    for (int64_t p = 0; p < planes; p++)
        fn(g, taps, (const char *)x + (size_t)(p * g->in_size) * esize,
           (char *)y + (size_t)(p * g->out_size) * esize, ind ? ind + p * g->out_size : NULL,
           include_pad);
}


/* 2-D pooling on a channel-blocked input (the executor only hands blocked
 * tensors to 2-D pools without the Indices output: f32 nChw<B>c, or uint8
 * NHWC to MaxPool). */
static void pool_run_blocked(op_call *c, const pool_geom *g, int is_max, int include_pad) {
    const cv_tensor *x = c->in[0];
    if (c->state && fast_pool_run(c->state, x->data, c->out[0]->data, c->scratch) == 0) return;
    int b = x->block;
    if (x->dtype == CV_U8) { /* NHWC uint8 max pool (b == C) */
        blk_pool2d p = {.n = x->dims[0], .cb = 1, .h = g->in[0], .w = g->in[1], .oh = g->out[0],
                        .ow = g->out[1], .kh = g->k[0], .kw = g->k[1], .sh = g->s[0], .sw = g->s[1],
                        .dh = g->d[0], .dw = g->d[1], .pt = g->pb[0], .pl = g->pb[1], .b = b, .is_max = 1};
        blk_maxpool2d_u8(&p, x->data, c->out[0]->data, pool_threads(c));
        return;
    }
    blk_pool2d p = {.n = x->dims[0], .cb = (x->dims[1] + b - 1) / b, .h = g->in[0], .w = g->in[1],
                    .oh = g->out[0], .ow = g->out[1], .kh = g->k[0], .kw = g->k[1], .sh = g->s[0],
                    .sw = g->s[1], .dh = g->d[0], .dw = g->d[1], .pt = g->pb[0], .pl = g->pb[1],
                    .pb = g->pe[0], .pr = g->pe[1], .b = b, .is_max = is_max,
                    .include_pad = include_pad};
    blk_pool2d_f32(&p, x->data, c->out[0]->data, pool_threads(c));
}

static cleave_status pool_max_run(op_call *c) {
    pool_geom g;
    CV_TRY(pool_shape(c, 1, &g));
    if (c->in[0]->block) {
        pool_run_blocked(c, &g, 1, 0);
        return op_clamp_out_codes(c); /* max commutes with a clip: after */
    }
    pool_tap *taps = (pool_tap *)c->scratch;
    pool_fill_taps(&g, taps);
    int64_t *ind = c->n_out > 1 && c->out[1] ? (int64_t *)c->out[1]->data : NULL;
    const int xb = c->in[0]->pbits, yb = c->out[0]->pbits;
    if (xb || yb) { /* packed codes (uint8, no Indices): plane by plane, one thread */
        uint8_t *xp = (uint8_t *)c->scratch + (pool_tap_count(&g) * sizeof(pool_tap) + 63) / 64 * 64;
        uint8_t *yp = xp + g.in_size;
        int32_t lo = 0, hi = 255;
        CV_TRY(op_int_bounds(c, CV_U8, 0, &lo, &hi));
        const pool_plane_fn f = g.nsp == 2 && g.in[1] <= POOL_ROW_MAX ? pool_max_2d_u8_rows : pool_max_nd_u8_ref;
        const uint8_t *x = (const uint8_t *)c->in[0]->data;
        uint8_t *y = (uint8_t *)c->out[0]->data;
        for (int64_t p = 0; p < g.planes; p++) {
            if (xb) q_unpack_u_at(x, (size_t)(p * g.in_size), (size_t)g.in_size, xb, xp);
            uint8_t *yo = yb ? yp : y + p * g.out_size;
            f(&g, taps, xb ? xp : x + p * g.in_size, yo, NULL, 0);
            op_clamp_codes(yo, CV_U8, g.out_size, lo, hi);
            if (yb) q_pack_u_at(yp, (size_t)(p * g.out_size), (size_t)g.out_size, yb, y);
        }
        return CLEAVE_OK;
    }
    pool_plane_fn fn;
    switch (c->in[0]->dtype) {
    case CV_F32:
        fn = !ind && g.nsp == 2 && g.in[1] <= POOL_ROW_MAX ? pool_max_2d_f32_rows : pool_max_nd_f32_ref;
        break;
    case CV_F64: fn = pool_max_nd_f64_ref; break;
    case CV_U8:
        fn = !ind && g.nsp == 2 && g.in[1] <= POOL_ROW_MAX ? pool_max_2d_u8_rows : pool_max_nd_u8_ref;
        break;
    case CV_I8:
        fn = !ind && g.nsp == 2 && g.in[1] <= POOL_ROW_MAX ? pool_max_2d_i8_rows : pool_max_nd_i8_ref;
        break;
    default: return op_fail(c, CLEAVE_E_UNSUPPORTED, "unsupported dtype");
    }
    pool_planes(&g, taps, fn, c->in[0]->data, c->out[0]->data, cv_dtype_size(c->in[0]->dtype), ind,
                0, pool_threads(c));
    if (!ind) return op_clamp_out_codes(c);
    /* In-plane index -> flat NC<spatial> index; storage_order 1 numbers
     * the spatial positions column-major. */
    const int colmajor = ir_attr_int(c->node, "storage_order", 0) == 1;
    for (int64_t p = 0; p < g.planes; p++) {
        int64_t *ip = ind + p * g.out_size;
        for (int64_t q = 0; q < g.out_size; q++) {
            int64_t i = ip[q] < 0 ? 0 : ip[q];
            if (colmajor) {
                int64_t cm = 0, stride = 1, coord[POOL_MAX_SP];
                for (int d = g.nsp - 1; d >= 0; d--)
                    coord[d] = i % g.in[d], i /= g.in[d];
                for (int d = 0; d < g.nsp; d++)
                    cm += coord[d] * stride, stride *= g.in[d];
                i = cm;
            }
            ip[q] = p * g.in_size + i;
        }
    }
    return CLEAVE_OK;
}

static cleave_status pool_avg_run(op_call *c) {
    pool_geom g;
    CV_TRY(pool_shape(c, 0, &g));
    int inc = ir_attr_int(c->node, "count_include_pad", 0) != 0;
    if (c->in[0]->block) {
        pool_run_blocked(c, &g, 0, inc);
        return CLEAVE_OK;
    }
    pool_tap *taps = (pool_tap *)c->scratch;
    pool_fill_taps(&g, taps);
    int f32 = c->in[0]->dtype == CV_F32;
    pool_planes(&g, taps, f32 ? pool_avg_nd_f32_ref : pool_avg_nd_f64_ref, c->in[0]->data,
                c->out[0]->data, f32 ? 4 : 8, NULL, inc, pool_threads(c));
    return CLEAVE_OK;
}

/* ---- global pools: one value per (n, c) plane ---- */

static cleave_status pool_global_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    if (x->dtype != CV_F32 && x->dtype != CV_F64)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "input X has unsupported dtype %s",
                       cv_dtype_name(x->dtype));
    if (x->ndim < 3)
        return op_fail(c, CLEAVE_E_INVALID, "input X must have rank >= 3, got %d", x->ndim);
    int64_t dims[CV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        dims[i] = i < 2 ? x->dims[i] : 1;
    if (c->node->op == OP_GlobalMaxPool && cv_numel(x) > 0)
        for (int i = 2; i < x->ndim; i++)
            if (x->dims[i] == 0)
                return op_fail(c, CLEAVE_E_INVALID, "GlobalMaxPool of an empty plane");
    op_set_out(c, 0, x->dtype, x->ndim, dims);
    return CLEAVE_OK;
}

/* One value per plane: the mean or the maximum of `size` values. */
#define POOL_GLOBAL_PLANE(NAME, T)                                                                 \
    static void NAME(const pool_geom *g, const pool_tap *taps, const void *xv, void *yv,           \
                     int64_t *ind, int is_max) {                                                   \
        const T *x = (const T *)xv;                                                                \
        const int64_t size = g->in_size;                                                           \
        (void)taps, (void)ind;                                                                     \
        T acc = size > 0 ? x[0] : (T)0;                                                            \
        if (is_max) {                                                                              \
            for (int64_t i = 1; i < size; i++)                                                     \
                acc = x[i] > acc ? x[i] : acc;                                                     \
        } else {                                                                                   \
            for (int64_t i = 1; i < size; i++)                                                     \
                acc += x[i];                                                                       \
            acc = size > 0 ? acc / (T)size : (T)0;                                                 \
        }                                                                                          \
        *(T *)yv = acc;                                                                            \
    }

POOL_GLOBAL_PLANE(pool_global_nd_f32_ref, float)
POOL_GLOBAL_PLANE(pool_global_nd_f64_ref, double)

static cleave_status pool_global_run(op_call *c) {
    const cv_tensor *x = c->in[0];
    if (x->block) {
        int b = x->block;
        blk_global_pool_f32(x->data, c->out[0]->data, x->dims[0], (x->dims[1] + b - 1) / b,
                            cv_shape_numel(x->ndim - 2, x->dims + 2), b,
                            c->node->op == OP_GlobalMaxPool, pool_threads(c));
        return CLEAVE_OK;
    }
    pool_geom g = {0};
    g.planes = x->dims[0] * x->dims[1];
    g.in_size = g.planes > 0 ? cv_numel(x) / g.planes : 0;
    g.out_size = 1;
    int f32 = x->dtype == CV_F32;
    pool_planes(&g, NULL, f32 ? pool_global_nd_f32_ref : pool_global_nd_f64_ref, x->data,
                c->out[0]->data, f32 ? 4 : 8, NULL, c->node->op == OP_GlobalMaxPool,
                g.planes * g.in_size > 65536 ? pool_threads(c) : 1);
    return CLEAVE_OK;
}

const op_def op_def_MaxPool = {"MaxPool",    1,    1, 1, 2, pool_max_infer, pool_prepare,
                               pool_max_run, pool_release, 0};
const op_def op_def_AveragePool = {"AveragePool", 1,    1, 1, 1, pool_avg_infer, pool_prepare,
                                   pool_avg_run,  pool_release, 0};
const op_def op_def_GlobalAveragePool = {
    "GlobalAveragePool", 1, 1, 1, 1, pool_global_infer, NULL, pool_global_run, NULL, 0};
const op_def op_def_GlobalMaxPool = {"GlobalMaxPool", 1,    1, 1, 1, pool_global_infer, NULL,
                                     pool_global_run, NULL, 0};
