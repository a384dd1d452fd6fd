/* reduce.c: ReduceSum/Mean/Max/Min and ArgMax/ArgMin. The input shape is
 * simplified (size-1 dims dropped, neighbouring dims with the same
 * reduced/kept role merged); when one reduced group remains it is an
 * (outer, n, inner) block reduction (contiguous lanes when inner == 1,
 * vectorised along inner otherwise), else a strided per-output walk. Axes
 * come from the attribute, or from input 1 (ReduceSum >= 13, others >= 18). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/op.h"

#define REDUCE_PAR_MIN 32768
#define REDUCE_CHUNK 256 /* inner columns accumulated at once on the stack */

typedef enum reduce_kind { RED_SUM, RED_MEAN, RED_MAX, RED_MIN } reduce_kind;

typedef struct reduce_plan {
    int noop;      /* noop_with_empty_axes: output = input */
    int64_t count; /* elements per reduction (mean divisor) */
    int out_ndim;
    int64_t out_dims[CV_MAX_DIMS];
    int ndim; /* simplified view of the input */
    int64_t dims[CV_MAX_DIMS];
    unsigned char red[CV_MAX_DIMS]; /* 1: dims[i] is reduced */
    int blocked;                    /* one reduced group: (outer, n, inner) */
    int64_t outer, n, inner;
} reduce_plan;

static int reduce_dtype_ok(cv_dtype t) {
    return t == CV_F32 || t == CV_F64 || t == CV_F16 || t == CV_I32 || t == CV_I64 || t == CV_U8 ||
           t == CV_I8;
}

static cleave_status reduce_need_data(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    if (!reduce_dtype_ok(c->in[0]->dtype))
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "input has dtype %s; supported: float32, float64, float16, int32, int64, "
                       "uint8, int8",
                       cv_dtype_name(c->in[0]->dtype));
    return CLEAVE_OK;
}

static cleave_status reduce_add_axis(op_call *c, int64_t v, int r, unsigned char *mask) {
    int a = cv_axis(v, r);
    if (a < 0)
        return op_fail(c, CLEAVE_E_INVALID, "axis %lld is out of range for rank %d", (long long)v,
                       r);
    if (mask[a]) return op_fail(c, CLEAVE_E_INVALID, "axis %lld is listed twice", (long long)v);
    mask[a] = 1;
    return CLEAVE_OK;
}

/* Axes (attribute or input 1, by opset), keepdims, noop_with_empty_axes ->
 * output shape and the simplified iteration plan. */
static cleave_status reduce_make_plan(op_call *c, reduce_kind kind, reduce_plan *p) {
    const ir_node *nd = c->node;
    CV_TRY(reduce_need_data(c));
    const cv_tensor *x = c->in[0];
    int r = x->ndim, naxes = 0;
    unsigned char mask[CV_MAX_DIMS] = {0};
    int since = kind == RED_SUM ? 13 : 18; /* opset where axes became an input */
    memset(p, 0, sizeof *p);
    if (nd->opset >= since) {
        if (ir_node_attr(nd, "axes"))
            return op_fail(c, CLEAVE_E_INVALID,
                           "attribute 'axes' is not allowed from opset %d (axes is input 1)",
                           since);
        const cv_tensor *a = c->n_in > 1 ? c->in[1] : NULL;
        if (a) {
            if (a->dtype != CV_I64 && a->dtype != CV_I32)
                return op_fail(c, CLEAVE_E_INVALID, "input 1 (axes) must be int64, got %s",
                               cv_dtype_name(a->dtype));
            if (a->ndim > 1) return op_fail(c, CLEAVE_E_INVALID, "input 1 (axes) must be 1-D");
            naxes = (int)cv_numel(a);
            if (naxes > 0) CV_TRY(op_need_const(c, 1, "axes"));
            for (int i = 0; i < naxes; i++)
                CV_TRY(reduce_add_axis(c, cv_get_i64(a, i), r, mask));
        }
    } else {
        if (c->n_in > 1 && c->in[1])
            return op_fail(c, CLEAVE_E_INVALID,
                           "takes a single input before opset %d (axes is an attribute)", since);
        const int64_t *ax;
        naxes = ir_attr_ints(nd, "axes", &ax);
        for (int i = 0; i < naxes; i++)
            CV_TRY(reduce_add_axis(c, ax[i], r, mask));
    }
    int keep = ir_attr_int(nd, "keepdims", 1) != 0;
    if (naxes == 0 && ir_attr_int(nd, "noop_with_empty_axes", 0)) {
        p->noop = 1;
        p->out_ndim = r;
        memcpy(p->out_dims, x->dims, sizeof(int64_t) * (size_t)r);
        return CLEAVE_OK;
    }
    if (naxes == 0) memset(mask, 1, sizeof mask); /* empty axes: reduce all */
    p->count = 1;
    for (int i = 0; i < r; i++) {
        if (mask[i]) p->count *= x->dims[i];
        if (!mask[i] || keep) p->out_dims[p->out_ndim++] = mask[i] ? 1 : x->dims[i];
        if (x->dims[i] == 1) continue; /* no effect on the layout */
        if (p->ndim > 0 && p->red[p->ndim - 1] == mask[i]) {
            p->dims[p->ndim - 1] *= x->dims[i];
        } else {
            p->red[p->ndim] = mask[i];
            p->dims[p->ndim++] = x->dims[i];
        }
    }
    int groups = 0, g = -1;
    for (int i = 0; i < p->ndim; i++)
        if (p->red[i]) groups++, g = i;
    p->blocked = groups <= 1;
    if (g < 0) { /* nothing of size > 1 reduced: a copy (mean divides by 1) */
        p->outer = 1;
        p->n = 1;
        p->inner = cv_shape_numel(p->ndim, p->dims);
    } else {
        p->outer = cv_shape_numel(g, p->dims);
        p->n = p->dims[g];
        p->inner = cv_shape_numel(p->ndim - g - 1, p->dims + g + 1);
    }
    return CLEAVE_OK;
}

#define RED_ADD(a, v) ((a) + (v))
#define RED_MAXOF(a, v) ((v) > (a) ? (v) : (a))
#define RED_MINOF(a, v) ((v) < (a) ? (v) : (a))

/* Reduce x[0], x[st], ..., x[(n-1)*st] starting from the identity ID. */
#define REDUCE_SEG(NAME, T, A, LD, COMB, ID)                                                       \
    static A NAME(const T *restrict x, int64_t n, int64_t st) {                                    \
        A a = ID;                                                                                  \
        if (st != 1) {                                                                             \
            for (int64_t i = 0; i < n; i++) {                                                      \
                A v = LD(x[i * st]);                                                               \
                a = COMB(a, v);                                                                    \
            }                                                                                      \
            return a;                                                                              \
        }                                                                                          \
        A l[8];                                                                                    \
        int64_t i = 0;                                                                             \
        for (int j = 0; j < 8; j++)                                                                \
            l[j] = ID;                                                                             \
        for (; i + 8 <= n; i += 8)                                                                 \
            for (int j = 0; j < 8; j++) {                                                          \
                A v = LD(x[i + j]);                                                                \
                l[j] = COMB(l[j], v);                                                              \
            }                                                                                      \
        for (; i < n; i++) {                                                                       \
            A v = LD(x[i]);                                                                        \
            a = COMB(a, v);                                                                        \
        }                                                                                          \
        for (int j = 0; j < 8; j++)                                                                \
            a = COMB(a, l[j]);                                                                     \
        return a;                                                                                  \
    }

/* acc[j] = reduction over r < n of x[r * inner + j], j < len. */
#define REDUCE_COLS(NAME, T, A, LD, COMB, ID)                                                      \
    static void NAME(const T *restrict x, int64_t n, int64_t inner, int64_t len,                   \
                     A *restrict acc) {                                                            \
        for (int64_t j = 0; j < len; j++)                                                          \
            acc[j] = ID;                                                                           \
        for (int64_t r = 0; r < n; r++) {                                                          \
            const T *restrict xr = x + r * inner;                                                  \
            for (int64_t j = 0; j < len; j++) {                                                    \
                A v = LD(xr[j]);                                                                   \
                acc[j] = COMB(acc[j], v);                                                          \
            }                                                                                      \
        }                                                                                          \
    }

/* The templates keep their OpenMP pragma on its own line. */
// clang-format off
/* All reduce kernels for storage T accumulated in A; LO/HI are the max/min
 * identities, EMPTY the mean of nothing. */
#define REDUCE_DEF(SFX, T, A, LD, ST, LO, HI, EMPTY)                                               \
    REDUCE_SEG(reduce_seg_sum_##SFX, T, A, LD, RED_ADD, 0)                                         \
    REDUCE_SEG(reduce_seg_max_##SFX, T, A, LD, RED_MAXOF, LO)                                      \
    REDUCE_SEG(reduce_seg_min_##SFX, T, A, LD, RED_MINOF, HI)                                      \
    REDUCE_COLS(reduce_cols_sum_##SFX, T, A, LD, RED_ADD, 0)                                       \
    REDUCE_COLS(reduce_cols_max_##SFX, T, A, LD, RED_MAXOF, LO)                                    \
    REDUCE_COLS(reduce_cols_min_##SFX, T, A, LD, RED_MINOF, HI)                                    \
    static A reduce_seg_##SFX(int kind, const T *x, int64_t n, int64_t st) {                       \
        return kind == RED_MAX   ? reduce_seg_max_##SFX(x, n, st)                                  \
               : kind == RED_MIN ? reduce_seg_min_##SFX(x, n, st)                                  \
                                 : reduce_seg_sum_##SFX(x, n, st);                                 \
    }                                                                                              \
    static A reduce_comb_##SFX(int kind, A a, A v) {                                               \
        return kind == RED_MAX ? RED_MAXOF(a, v) : kind == RED_MIN ? RED_MINOF(a, v) : a + v;      \
    }                                                                                              \
    static T reduce_fin_##SFX(int kind, A a, int64_t count) {                                      \
        if (kind != RED_MEAN) return ST(a);                                                        \
        return count ? ST(a / (A)count) : ST(EMPTY);                                               \
    }                                                                                              \
    /* x is [outer, n, inner], y is [outer, inner]. */                                             \
    static void reduce_block_##SFX##_ref(int kind, const T *restrict x, T *restrict y,             \
                                         int64_t outer, int64_t n, int64_t inner, int64_t count,   \
                                         int nt) {                                                 \
        _Pragma("omp parallel for num_threads(nt) if(nt > 1)")                                     \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            const T *xo = x + o * n * inner;                                                       \
            T *yo = y + o * inner;                                                                 \
            if (inner == 1) {                                                                      \
                yo[0] = reduce_fin_##SFX(kind, reduce_seg_##SFX(kind, xo, n, 1), count);           \
                continue;                                                                          \
            }                                                                                      \
            A acc[REDUCE_CHUNK];                                                                   \
            for (int64_t j0 = 0; j0 < inner; j0 += REDUCE_CHUNK) {                                 \
                int64_t len = inner - j0 < REDUCE_CHUNK ? inner - j0 : REDUCE_CHUNK;               \
                if (kind == RED_MAX)                                                               \
                    reduce_cols_max_##SFX(xo + j0, n, inner, len, acc);                            \
                else if (kind == RED_MIN)                                                          \
                    reduce_cols_min_##SFX(xo + j0, n, inner, len, acc);                            \
                else                                                                               \
                    reduce_cols_sum_##SFX(xo + j0, n, inner, len, acc);                            \
                for (int64_t j = 0; j < len; j++)                                                  \
                    yo[j0 + j] = reduce_fin_##SFX(kind, acc[j], count);                            \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* Several reduced groups: per output element, walk its reduced elements. */                   \
    static void reduce_general_##SFX##_ref(int kind, const T *restrict x, T *restrict y,           \
                                           const reduce_plan *p, int nt) {                         \
        int64_t kd[CV_MAX_DIMS], ks[CV_MAX_DIMS], rd[CV_MAX_DIMS], rs[CV_MAX_DIMS], s = 1;         \
        int nk = 0, nr = 0;                                                                        \
        for (int i = p->ndim - 1; i >= 0; i--) { /* innermost first */                             \
            if (p->red[i])                                                                         \
                rd[nr] = p->dims[i], rs[nr++] = s;                                                 \
            else                                                                                   \
                kd[nk] = p->dims[i], ks[nk++] = s;                                                 \
            s *= p->dims[i];                                                                       \
        }                                                                                          \
        int64_t nout = cv_shape_numel(nk, kd), nseg = cv_shape_numel(nr - 1, rd + 1);              \
        _Pragma("omp parallel for num_threads(nt) if(nt > 1)")                                     \
        for (int64_t oi = 0; oi < nout; oi++) {                                                    \
            int64_t rem = oi, base = 0, off = 0, idx[CV_MAX_DIMS] = {0};                           \
            for (int k = 0; k < nk; k++)                                                           \
                base += (rem % kd[k]) * ks[k], rem /= kd[k];                                       \
            A a = reduce_seg_##SFX(kind, x + base, 0, 1); /* identity */                           \
            for (int64_t q = 0; q < nseg; q++) {                                                   \
                a = reduce_comb_##SFX(kind, a,                                                     \
                                      reduce_seg_##SFX(kind, x + base + off, rd[0], rs[0]));       \
                for (int k = 1; k < nr; k++) { /* odometer over the outer reduced dims */          \
                    off += rs[k];                                                                  \
                    if (++idx[k] < rd[k]) break;                                                   \
                    off -= rs[k] * rd[k];                                                          \
                    idx[k] = 0;                                                                    \
                }                                                                                  \
            }                                                                                      \
            y[oi] = reduce_fin_##SFX(kind, a, p->count);                                           \
        }                                                                                          \
    }

#define RED_ID(v) (v)
#define RED_H2F(v) cv_f16_to_f32(v)
#define RED_F2H(v) cv_f32_to_f16((float)(v))

REDUCE_DEF(f32, float, float, RED_ID, RED_ID, -INFINITY, INFINITY, NAN)
REDUCE_DEF(f64, double, double, RED_ID, RED_ID, -INFINITY, INFINITY, NAN)
REDUCE_DEF(f16, uint16_t, float, RED_H2F, RED_F2H, -INFINITY, INFINITY, NAN)
REDUCE_DEF(i32, int32_t, int64_t, RED_ID, (int32_t)RED_ID, INT32_MIN, INT32_MAX, 0)
REDUCE_DEF(i64, int64_t, int64_t, RED_ID, RED_ID, INT64_MIN, INT64_MAX, 0)
REDUCE_DEF(u8, uint8_t, int64_t, RED_ID, (uint8_t)RED_ID, 0, UINT8_MAX, 0)
REDUCE_DEF(i8, int8_t, int64_t, RED_ID, (int8_t)RED_ID, INT8_MIN, INT8_MAX, 0)
// clang-format on

static cleave_status reduce_infer_any(op_call *c, reduce_kind kind) {
    reduce_plan p;
    CV_TRY(reduce_make_plan(c, kind, &p));
    op_set_out(c, 0, c->in[0]->dtype, p.out_ndim, p.out_dims);
    return CLEAVE_OK;
}

static cleave_status reduce_run_any(op_call *c, reduce_kind kind) {
    reduce_plan p;
    CV_TRY(reduce_make_plan(c, kind, &p));
    const cv_tensor *x = c->in[0];
    void *y = c->out[0]->data;
    if (p.noop) {
        memcpy(y, x->data, cv_nbytes(x));
        return CLEAVE_OK;
    }
    int64_t numel = cv_numel(x);
    int nt = c->threads > 1 && numel >= REDUCE_PAR_MIN ? c->threads : 1;
#define RED_CASE(DT, SFX)                                                                          \
    case DT:                                                                                       \
        if (p.blocked)                                                                             \
            reduce_block_##SFX##_ref(kind, x->data, y, p.outer, p.n, p.inner, p.count, nt);        \
        else                                                                                       \
            reduce_general_##SFX##_ref(kind, x->data, y, &p, nt);                                  \
        break;
    switch (x->dtype) {
        RED_CASE(CV_F32, f32)
        RED_CASE(CV_F64, f64)
        RED_CASE(CV_F16, f16)
        RED_CASE(CV_I32, i32)
        RED_CASE(CV_I64, i64)
        RED_CASE(CV_U8, u8)
        RED_CASE(CV_I8, i8)
    default: return op_fail(c, CLEAVE_E_INTERNAL, "dtype not bound in infer");
    }
#undef RED_CASE
    return CLEAVE_OK;
}

#define REDUCE_OP(NAME, KIND)                                                                      \
    static cleave_status NAME##_infer(op_call *c) {                                                \
        return reduce_infer_any(c, KIND);                                                          \
    }                                                                                              \
    static cleave_status NAME##_run(op_call *c) {                                                  \
        return reduce_run_any(c, KIND);                                                            \
    }                                                                                              \
    const op_def op_def_##NAME = {#NAME, 1, 2, 1, 1, NAME##_infer, NULL, NAME##_run, NULL, 0};

REDUCE_OP(ReduceSum, RED_SUM)
REDUCE_OP(ReduceMean, RED_MEAN)
REDUCE_OP(ReduceMax, RED_MAX)
REDUCE_OP(ReduceMin, RED_MIN)

/* ---- ArgMax / ArgMin: int64 index of the first (or last) extreme ---- */

/* Row scan of xo[0..n) keeping the index of the best value under CMP. */
#define ARG_ROW(A, LD, CMP)                                                                        \
    for (int64_t k = 1; k < n; k++) {                                                              \
        A v = LD(xo[k]);                                                                           \
        if (v CMP best) best = v, bi = k;                                                          \
    }
/* Column scan: bests[j] / idx[j] over rows of a [n, inner] block, j < len. */
#define ARG_COLS(T, A, LD, CMP)                                                                    \
    for (int64_t k = 1; k < n; k++) {                                                              \
        const T *restrict xr = xo + k * inner + j0;                                                \
        for (int64_t j = 0; j < len; j++) {                                                        \
            A v = LD(xr[j]);                                                                       \
            int t = v CMP bests[j];                                                                \
            bests[j] = t ? v : bests[j];                                                           \
            idx[j] = t ? k : idx[j];                                                               \
        }                                                                                          \
    }

// clang-format off
/* mode: 0 max first, 1 max last, 2 min first, 3 min last. x is [outer, n,
 * inner] (n >= 1), y is [outer, inner] int64. */
#define ARG_DEF(SFX, T, A, LD)                                                                     \
    static void arg_block_##SFX##_ref(int mode, const T *restrict x, int64_t *restrict y,          \
                                      int64_t outer, int64_t n, int64_t inner, int nt) {           \
        _Pragma("omp parallel for num_threads(nt) if(nt > 1)")                                     \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            const T *restrict xo = x + o * n * inner;                                              \
            int64_t *restrict yo = y + o * inner;                                                  \
            if (inner == 1) {                                                                      \
                A best = LD(xo[0]);                                                                \
                int64_t bi = 0;                                                                    \
                switch (mode) {                                                                    \
                case 0: ARG_ROW(A, LD, >) break;                                                   \
                case 1: ARG_ROW(A, LD, >=) break;                                                  \
                case 2: ARG_ROW(A, LD, <) break;                                                   \
                default: ARG_ROW(A, LD, <=) break;                                                 \
                }                                                                                  \
                yo[0] = bi;                                                                        \
                continue;                                                                          \
            }                                                                                      \
            A bests[REDUCE_CHUNK];                                                                 \
            int64_t idx[REDUCE_CHUNK];                                                             \
            for (int64_t j0 = 0; j0 < inner; j0 += REDUCE_CHUNK) {                                 \
                int64_t len = inner - j0 < REDUCE_CHUNK ? inner - j0 : REDUCE_CHUNK;               \
                for (int64_t j = 0; j < len; j++)                                                  \
                    bests[j] = LD(xo[j0 + j]), idx[j] = 0;                                         \
                switch (mode) {                                                                    \
                case 0: ARG_COLS(T, A, LD, >) break;                                               \
                case 1: ARG_COLS(T, A, LD, >=) break;                                              \
                case 2: ARG_COLS(T, A, LD, <) break;                                               \
                default: ARG_COLS(T, A, LD, <=) break;                                             \
                }                                                                                  \
                memcpy(yo + j0, idx, (size_t)len * sizeof(int64_t));                               \
            }                                                                                      \
        }                                                                                          \
    }

ARG_DEF(f32, float, float, RED_ID)
ARG_DEF(f64, double, double, RED_ID)
ARG_DEF(f16, uint16_t, float, RED_H2F)
ARG_DEF(i32, int32_t, int32_t, RED_ID)
ARG_DEF(i64, int64_t, int64_t, RED_ID)
ARG_DEF(u8, uint8_t, uint8_t, RED_ID)
ARG_DEF(i8, int8_t, int8_t, RED_ID)
// clang-format on

/* Axis (default 0) normalised against the rank, or -1 after failing. */
static int arg_axis(op_call *c) {
    const cv_tensor *x = c->in[0];
    int64_t a = ir_attr_int(c->node, "axis", 0);
    int axis = cv_axis(a, x->ndim);
    if (axis < 0)
        op_fail(c, CLEAVE_E_INVALID, "attribute axis=%lld is out of range for rank %d",
                (long long)a, x->ndim);
    return axis;
}

static cleave_status arg_infer(op_call *c) {
    CV_TRY(reduce_need_data(c));
    const cv_tensor *x = c->in[0];
    int axis = arg_axis(c);
    if (axis < 0) return CLEAVE_E_INVALID;
    if (x->dims[axis] == 0)
        return op_fail(c, CLEAVE_E_INVALID, "axis %d has size 0: no index to return", axis);
    int keep = ir_attr_int(c->node, "keepdims", 1) != 0, r = 0;
    int64_t od[CV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        if (i != axis || keep) od[r++] = i == axis ? 1 : x->dims[i];
    op_set_out(c, 0, CV_I64, r, od);
    return CLEAVE_OK;
}

static cleave_status arg_run_any(op_call *c, int is_min) {
    const cv_tensor *x = c->in[0];
    int axis = arg_axis(c);
    if (axis < 0) return CLEAVE_E_INVALID;
    int64_t outer = cv_shape_numel(axis, x->dims), n = x->dims[axis];
    int64_t inner = cv_shape_numel(x->ndim - axis - 1, x->dims + axis + 1);
    int mode = 2 * is_min + (ir_attr_int(c->node, "select_last_index", 0) != 0);
    int nt = c->threads > 1 && cv_numel(x) >= REDUCE_PAR_MIN ? c->threads : 1;
    int64_t *y = c->out[0]->data;
    if (outer == 0 || inner == 0) return CLEAVE_OK;
    switch (x->dtype) {
    case CV_F32: arg_block_f32_ref(mode, x->data, y, outer, n, inner, nt); break;
    case CV_F64: arg_block_f64_ref(mode, x->data, y, outer, n, inner, nt); break;
    case CV_F16: arg_block_f16_ref(mode, x->data, y, outer, n, inner, nt); break;
    case CV_I32: arg_block_i32_ref(mode, x->data, y, outer, n, inner, nt); break;
    case CV_I64: arg_block_i64_ref(mode, x->data, y, outer, n, inner, nt); break;
    case CV_U8: arg_block_u8_ref(mode, x->data, y, outer, n, inner, nt); break;
    case CV_I8: arg_block_i8_ref(mode, x->data, y, outer, n, inner, nt); break;
    default: return op_fail(c, CLEAVE_E_INTERNAL, "dtype not bound in infer");
    }
    return CLEAVE_OK;
}

static cleave_status argmax_run(op_call *c) {
    return arg_run_any(c, 0);
}
static cleave_status argmin_run(op_call *c) {
    return arg_run_any(c, 1);
}

const op_def op_def_ArgMax = {"ArgMax", 1, 1, 1, 1, arg_infer, NULL, argmax_run, NULL, 0};
const op_def op_def_ArgMin = {"ArgMin", 1, 1, 1, 1, arg_infer, NULL, argmin_run, NULL, 0};
