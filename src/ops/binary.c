/* binary: elementwise ops over two or more inputs with numpy broadcasting:
 * arithmetic (Add Sub Mul Div Pow; variadic Sum Mean Min Max), comparisons
 * and logic (bool out), Where and PRelu. prepare collapses the broadcast into
 * rows x inner (same shape, scalar and NCHW + C11 bias all become one or few
 * long inner loops) and binds one typed row kernel; run walks the rows. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/op.h"

#define BIN_NT (CV_BF16 + 1) /* size of the per-dtype kernel tables */
#define BIN_PAR_MIN 65536    /* elements before threads pay off */

/* A row kernel computes n outputs; the _vs/_sv variants read b / a as one
 * broadcast scalar. Output may alias a (in-place accumulation), so no
 * restrict: gcc versions the loops on a runtime overlap check instead. */
typedef void (*bin_row_fn)(int64_t n, const void *a, const void *b, void *o, const void *aux);
typedef struct bin_kern {
    bin_row_fn vv, vs, sv;
} bin_kern;

#define BIN_ID(v) (v)
#define BIN_F16L(v) cv_f16_to_f32(v)
#define BIN_F16S(v) cv_f32_to_f16(v)
#define BIN_BF16L(v) cv_bf16_to_f32(v)
#define BIN_BF16S(v) cv_f32_to_bf16(v)

/* name, dtype, storage T, output TO, compute C, load, store, expression */
#define BIN_KERN(name, DT, T, TO, C, LD, ST, E)                                                    \
    static void name##_vv(int64_t n, const void *pa, const void *pb, void *po, const void *aux) {  \
        const T *a = pa, *b = pb;                                                                  \
        TO *o = po;                                                                                \
        (void)aux;                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                          \
            C x = LD(a[i]), y = LD(b[i]);                                                          \
            o[i] = ST(E(x, y));                                                                    \
        }                                                                                          \
    }                                                                                              \
    static void name##_vs(int64_t n, const void *pa, const void *pb, void *po, const void *aux) {  \
        const T *a = pa;                                                                           \
        TO *o = po;                                                                                \
        const C y = LD(*(const T *)pb);                                                            \
        (void)aux;                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                          \
            C x = LD(a[i]);                                                                        \
            o[i] = ST(E(x, y));                                                                    \
        }                                                                                          \
    }                                                                                              \
    static void name##_sv(int64_t n, const void *pa, const void *pb, void *po, const void *aux) {  \
        const T *b = pb;                                                                           \
        TO *o = po;                                                                                \
        const C x = LD(*(const T *)pa);                                                            \
        (void)aux;                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                          \
            C y = LD(b[i]);                                                                        \
            o[i] = ST(E(x, y));                                                                    \
        }                                                                                          \
    }                                                                                              \
    static const bin_kern name = {name##_vv, name##_vs, name##_sv};
#define BIN_ENTRY(name, DT, T, TO, C, LD, ST, E) [DT] = &name,

/* Type lists: X(name, dtype, T, TO, C, load, store, expr). */
#define BIN_L_FLOAT(X, op, E)                                                                      \
    X(op##_f32, CV_F32, float, float, float, BIN_ID, BIN_ID, E)                                    \
    X(op##_f64, CV_F64, double, double, double, BIN_ID, BIN_ID, E)                                 \
    X(op##_f16, CV_F16, uint16_t, uint16_t, float, BIN_F16L, BIN_F16S, E)                          \
    X(op##_bf16, CV_BF16, uint16_t, uint16_t, float, BIN_BF16L, BIN_BF16S, E)
/* Integers modulo 2^n, computed unsigned so overflow is defined. */
#define BIN_L_WRAP(X, op, E)                                                                       \
    X(op##_i8, CV_I8, int8_t, int8_t, uint32_t, BIN_ID, BIN_ID, E)                                 \
    X(op##_i16, CV_I16, int16_t, int16_t, uint32_t, BIN_ID, BIN_ID, E)                             \
    X(op##_i32, CV_I32, int32_t, int32_t, uint32_t, BIN_ID, BIN_ID, E)                             \
    X(op##_i64, CV_I64, int64_t, int64_t, uint64_t, BIN_ID, BIN_ID, E)                             \
    X(op##_u8, CV_U8, uint8_t, uint8_t, uint32_t, BIN_ID, BIN_ID, E)                               \
    X(op##_u16, CV_U16, uint16_t, uint16_t, uint32_t, BIN_ID, BIN_ID, E)                           \
    X(op##_u32, CV_U32, uint32_t, uint32_t, uint32_t, BIN_ID, BIN_ID, E)                           \
    X(op##_u64, CV_U64, uint64_t, uint64_t, uint64_t, BIN_ID, BIN_ID, E)
/* Signed integers widened to int64 (division, PRelu). */
#define BIN_L_SINT(X, op, E)                                                                       \
    X(op##_i8, CV_I8, int8_t, int8_t, int64_t, BIN_ID, BIN_ID, E)                                  \
    X(op##_i16, CV_I16, int16_t, int16_t, int64_t, BIN_ID, BIN_ID, E)                              \
    X(op##_i32, CV_I32, int32_t, int32_t, int64_t, BIN_ID, BIN_ID, E)                              \
    X(op##_i64, CV_I64, int64_t, int64_t, int64_t, BIN_ID, BIN_ID, E)
#define BIN_L_UINT(X, op, E)                                                                       \
    X(op##_u8, CV_U8, uint8_t, uint8_t, uint8_t, BIN_ID, BIN_ID, E)                                \
    X(op##_u16, CV_U16, uint16_t, uint16_t, uint16_t, BIN_ID, BIN_ID, E)                           \
    X(op##_u32, CV_U32, uint32_t, uint32_t, uint32_t, BIN_ID, BIN_ID, E)                           \
    X(op##_u64, CV_U64, uint64_t, uint64_t, uint64_t, BIN_ID, BIN_ID, E)
/* Integers in their own type (order-based ops). */
#define BIN_L_INT(X, op, E)                                                                        \
    X(op##_i8, CV_I8, int8_t, int8_t, int8_t, BIN_ID, BIN_ID, E)                                   \
    X(op##_i16, CV_I16, int16_t, int16_t, int16_t, BIN_ID, BIN_ID, E)                              \
    X(op##_i32, CV_I32, int32_t, int32_t, int32_t, BIN_ID, BIN_ID, E)                              \
    X(op##_i64, CV_I64, int64_t, int64_t, int64_t, BIN_ID, BIN_ID, E)                              \
    BIN_L_UINT(X, op, E)
/* Comparisons: any numeric type in, bool (uint8 0/1) out. */
#define BIN_L_CMP(X, op, E)                                                                        \
    X(op##_f32, CV_F32, float, uint8_t, float, BIN_ID, BIN_ID, E)                                  \
    X(op##_f64, CV_F64, double, uint8_t, double, BIN_ID, BIN_ID, E)                                \
    X(op##_f16, CV_F16, uint16_t, uint8_t, float, BIN_F16L, BIN_ID, E)                             \
    X(op##_bf16, CV_BF16, uint16_t, uint8_t, float, BIN_BF16L, BIN_ID, E)                          \
    X(op##_i8, CV_I8, int8_t, uint8_t, int8_t, BIN_ID, BIN_ID, E)                                  \
    X(op##_i16, CV_I16, int16_t, uint8_t, int16_t, BIN_ID, BIN_ID, E)                              \
    X(op##_i32, CV_I32, int32_t, uint8_t, int32_t, BIN_ID, BIN_ID, E)                              \
    X(op##_i64, CV_I64, int64_t, uint8_t, int64_t, BIN_ID, BIN_ID, E)                              \
    X(op##_u8, CV_U8, uint8_t, uint8_t, uint8_t, BIN_ID, BIN_ID, E)                                \
    X(op##_u16, CV_U16, uint16_t, uint8_t, uint16_t, BIN_ID, BIN_ID, E)                            \
    X(op##_u32, CV_U32, uint32_t, uint8_t, uint32_t, BIN_ID, BIN_ID, E)                            \
    X(op##_u64, CV_U64, uint64_t, uint8_t, uint64_t, BIN_ID, BIN_ID, E)
#define BIN_L_BOOL(X, op, E) X(op##_b, CV_BOOL, uint8_t, uint8_t, uint8_t, BIN_ID, BIN_ID, E)

#define BIN_E_ADD(x, y) ((x) + (y))
#define BIN_E_SUB(x, y) ((x) - (y))
#define BIN_E_MUL(x, y) ((x) * (y))
#define BIN_E_DIVF(x, y) ((x) / (y))
/* Integer division truncates (C and ONNX); x/0 gives 0 instead of trapping
 * and INT64_MIN/-1 wraps instead of overflowing. */
#define BIN_E_DIVS(x, y) ((y) == 0 ? 0 : (y) == -1 ? (int64_t)(0u - (uint64_t)(x)) : (x) / (y))
#define BIN_E_DIVU(x, y) ((y) == 0 ? 0 : (x) / (y))
/* Float min/max propagate NaN like numpy.minimum/maximum. */
#define BIN_E_MINF(x, y) ((x) < (y) || (x) != (x) ? (x) : (y))
#define BIN_E_MAXF(x, y) ((x) > (y) || (x) != (x) ? (x) : (y))
#define BIN_E_MIN(x, y) ((x) < (y) ? (x) : (y))
#define BIN_E_MAX(x, y) ((x) > (y) ? (x) : (y))
#define BIN_E_EQ(x, y) ((x) == (y))
#define BIN_E_EQB(x, y) (((x) != 0) == ((y) != 0))
#define BIN_E_LT(x, y) ((x) < (y))
#define BIN_E_GT(x, y) ((x) > (y))
#define BIN_E_LE(x, y) ((x) <= (y))
#define BIN_E_GE(x, y) ((x) >= (y))
#define BIN_E_AND(x, y) (((x) != 0) & ((y) != 0))
#define BIN_E_OR(x, y) (((x) != 0) | ((y) != 0))
#define BIN_E_XOR(x, y) (((x) != 0) ^ ((y) != 0))
#define BIN_E_PRELUF(x, y) ((x) < 0 ? (y) * (x) : (x))
#define BIN_E_PRELUS(x, y) ((x) < 0 ? (int64_t)((uint64_t)(y) * (uint64_t)(x)) : (x))

BIN_L_FLOAT(BIN_KERN, bin_add, BIN_E_ADD)
BIN_L_WRAP(BIN_KERN, bin_add, BIN_E_ADD)
BIN_L_FLOAT(BIN_KERN, bin_sub, BIN_E_SUB)
BIN_L_WRAP(BIN_KERN, bin_sub, BIN_E_SUB)
BIN_L_FLOAT(BIN_KERN, bin_mul, BIN_E_MUL)
BIN_L_WRAP(BIN_KERN, bin_mul, BIN_E_MUL)
BIN_L_FLOAT(BIN_KERN, bin_div, BIN_E_DIVF)
BIN_L_SINT(BIN_KERN, bin_div, BIN_E_DIVS)
BIN_L_UINT(BIN_KERN, bin_div, BIN_E_DIVU)
BIN_L_FLOAT(BIN_KERN, bin_min, BIN_E_MINF)
BIN_L_INT(BIN_KERN, bin_min, BIN_E_MIN)
BIN_L_FLOAT(BIN_KERN, bin_max, BIN_E_MAXF)
BIN_L_INT(BIN_KERN, bin_max, BIN_E_MAX)
BIN_L_CMP(BIN_KERN, bin_eq, BIN_E_EQ)
BIN_L_BOOL(BIN_KERN, bin_eq, BIN_E_EQB)
BIN_L_CMP(BIN_KERN, bin_lt, BIN_E_LT)
BIN_L_CMP(BIN_KERN, bin_gt, BIN_E_GT)
BIN_L_CMP(BIN_KERN, bin_le, BIN_E_LE)
BIN_L_CMP(BIN_KERN, bin_ge, BIN_E_GE)
BIN_L_BOOL(BIN_KERN, bin_and, BIN_E_AND)
BIN_L_BOOL(BIN_KERN, bin_or, BIN_E_OR)
BIN_L_BOOL(BIN_KERN, bin_xor, BIN_E_XOR)
BIN_L_FLOAT(BIN_KERN, bin_prelu, BIN_E_PRELUF)
BIN_L_SINT(BIN_KERN, bin_prelu, BIN_E_PRELUS)

typedef const bin_kern *const bin_table[BIN_NT];
static bin_table bin_t_add = {BIN_L_FLOAT(BIN_ENTRY, bin_add, 0) BIN_L_WRAP(BIN_ENTRY, bin_add, 0)};
static bin_table bin_t_sub = {BIN_L_FLOAT(BIN_ENTRY, bin_sub, 0) BIN_L_WRAP(BIN_ENTRY, bin_sub, 0)};
static bin_table bin_t_mul = {BIN_L_FLOAT(BIN_ENTRY, bin_mul, 0) BIN_L_WRAP(BIN_ENTRY, bin_mul, 0)};
static bin_table bin_t_div = {BIN_L_FLOAT(BIN_ENTRY, bin_div, 0) BIN_L_SINT(BIN_ENTRY, bin_div, 0)
                                  BIN_L_UINT(BIN_ENTRY, bin_div, 0)};
static bin_table bin_t_min = {BIN_L_FLOAT(BIN_ENTRY, bin_min, 0) BIN_L_INT(BIN_ENTRY, bin_min, 0)};
static bin_table bin_t_max = {BIN_L_FLOAT(BIN_ENTRY, bin_max, 0) BIN_L_INT(BIN_ENTRY, bin_max, 0)};
static bin_table bin_t_eq = {BIN_L_CMP(BIN_ENTRY, bin_eq, 0) BIN_L_BOOL(BIN_ENTRY, bin_eq, 0)};
static bin_table bin_t_lt = {BIN_L_CMP(BIN_ENTRY, bin_lt, 0)};
static bin_table bin_t_gt = {BIN_L_CMP(BIN_ENTRY, bin_gt, 0)};
static bin_table bin_t_le = {BIN_L_CMP(BIN_ENTRY, bin_le, 0)};
static bin_table bin_t_ge = {BIN_L_CMP(BIN_ENTRY, bin_ge, 0)};
static bin_table bin_t_and = {BIN_L_BOOL(BIN_ENTRY, bin_and, 0)};
static bin_table bin_t_or = {BIN_L_BOOL(BIN_ENTRY, bin_or, 0)};
static bin_table bin_t_xor = {BIN_L_BOOL(BIN_ENTRY, bin_xor, 0)};
static bin_table bin_t_prelu = {BIN_L_FLOAT(BIN_ENTRY, bin_prelu, 0)
                                    BIN_L_SINT(BIN_ENTRY, bin_prelu, 0)};

/* ---- Pow: float32/float64 fast rows, anything else element by element ---- */

static void bin_pow_f32_vv(int64_t n, const void *pa, const void *pb, void *po, const void *aux) {
    const float *a = pa, *b = pb;
    float *o = po;
    (void)aux;
    for (int64_t i = 0; i < n; i++)
        o[i] = powf(a[i], b[i]);
}
static void bin_pow_f32_vs(int64_t n, const void *pa, const void *pb, void *po, const void *aux) {
    const float *a = pa;
    float *o = po, y = *(const float *)pb;
    (void)aux;
    if (y == 2.0f) /* x^2 (variance, norms) is the common case */
        for (int64_t i = 0; i < n; i++)
            o[i] = a[i] * a[i];
    else
        for (int64_t i = 0; i < n; i++)
            o[i] = powf(a[i], y);
}
static void bin_pow_f32_sv(int64_t n, const void *pa, const void *pb, void *po, const void *aux) {
    const float *b = pb;
    float *o = po, x = *(const float *)pa;
    (void)aux;
    for (int64_t i = 0; i < n; i++)
        o[i] = powf(x, b[i]);
}
#define BIN_E_POW(x, y) pow((x), (y))
BIN_KERN(bin_pow_f64, CV_F64, double, double, double, BIN_ID, BIN_ID, BIN_E_POW)
static const bin_kern bin_pow_f32 = {bin_pow_f32_vv, bin_pow_f32_vs, bin_pow_f32_sv};

/* ---- plans and state ---- */

typedef void (*bin_where_fn)(int64_t n, const uint8_t *c, int64_t sc, const void *x, int64_t sx,
                             const void *y, int64_t sy, void *o);

typedef struct bin_plan {
    int nd;                      /* collapsed rank >= 1; dim nd-1 is the inner loop */
    int64_t ext[CV_MAX_DIMS];    /* collapsed output extents */
    int64_t str[3][CV_MAX_DIMS]; /* element strides of each input, 0 = broadcast */
    size_t esz[3];               /* element bytes of each input */
    int64_t rows, inner;
    bin_row_fn fn; /* two-input row kernel matching the inner strides */
} bin_plan;

typedef struct bin_state {
    int var;              /* variadic: plans[j] folds input j+1 into the output */
    int mean;             /* Mean: the last plan divides by the input count */
    unsigned char cnt[8]; /* Mean: the input count in the output dtype */
    cv_dtype ta, tb;      /* Pow generic path: base and exponent dtypes */
    int int_pow;          /* Pow generic path: exact integer power */
    size_t eo;            /* output element bytes */
    bin_where_fn where;   /* Where only */
    const ir_act *act;    /* fused activation (f32 Add/Sub/Mul), applied per row while hot */
    int n_plans;
    bin_plan plans[];
} bin_state;

/* Pow on any other dtype pair, element by element in double (or int64 when
 * both are integers); the result has the base's dtype, float->int saturates. */
static void bin_store_f64(cv_dtype dt, void *o, int64_t i, double v) {
#define BIN_SAT(T, lo, hi)                                                                         \
    ((T *)o)[i] = v != v ? (T)0 : v <= (double)(lo) ? (T)(lo) : v >= (double)(hi) ? (T)(hi) : (T)v
    switch (dt) {
    case CV_I8: BIN_SAT(int8_t, INT8_MIN, INT8_MAX); break;
    case CV_I16: BIN_SAT(int16_t, INT16_MIN, INT16_MAX); break;
    case CV_I32: BIN_SAT(int32_t, INT32_MIN, INT32_MAX); break;
    case CV_I64: BIN_SAT(int64_t, INT64_MIN, INT64_MAX); break;
    case CV_U8: BIN_SAT(uint8_t, 0, UINT8_MAX); break;
    case CV_U16: BIN_SAT(uint16_t, 0, UINT16_MAX); break;
    case CV_U32: BIN_SAT(uint32_t, 0, UINT32_MAX); break;
    case CV_U64: BIN_SAT(uint64_t, 0, UINT64_MAX); break;
    default: {
        cv_tensor t = {.dtype = dt, .data = o};
        cv_set_f64(&t, i, v); /* float dtypes only here */
    }
    }
#undef BIN_SAT
}

static void bin_store_i64(cv_dtype dt, void *o, int64_t i, int64_t v) {
    switch (dt) { /* narrowing wraps modulo 2^n */
    case CV_I8: ((int8_t *)o)[i] = (int8_t)v; break;
    case CV_I16: ((int16_t *)o)[i] = (int16_t)v; break;
    case CV_I32: ((int32_t *)o)[i] = (int32_t)v; break;
    case CV_U8: ((uint8_t *)o)[i] = (uint8_t)v; break;
    case CV_U16: ((uint16_t *)o)[i] = (uint16_t)v; break;
    case CV_U32: ((uint32_t *)o)[i] = (uint32_t)v; break;
    case CV_U64: ((uint64_t *)o)[i] = (uint64_t)v; break;
    default: ((int64_t *)o)[i] = v; break;
    }
}

/* x^y by squaring modulo 2^64; negative y truncates 1/x^|y| toward zero. */
static int64_t bin_ipow(int64_t x, int64_t y) {
    if (y < 0) return x == 1 ? 1 : x == -1 ? ((y & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    for (; y; y >>= 1) {
        if (y & 1) r *= b;
        b *= b;
    }
    return (int64_t)r;
}

static void bin_pow_any(int64_t n, const void *a, int64_t sa, const void *b, int64_t sb, void *o,
                        const bin_state *s) {
    cv_tensor ta = {.dtype = s->ta, .data = (void *)a}, tb = {.dtype = s->tb, .data = (void *)b};
    for (int64_t i = 0; i < n; i++) {
        if (s->int_pow)
            bin_store_i64(s->ta, o, i, bin_ipow(cv_get_i64(&ta, i * sa), cv_get_i64(&tb, i * sb)));
        else
            bin_store_f64(s->ta, o, i, pow(cv_get_f64(&ta, i * sa), cv_get_f64(&tb, i * sb)));
    }
}
static void bin_pow_any_vv(int64_t n, const void *a, const void *b, void *o, const void *aux) {
    bin_pow_any(n, a, 1, b, 1, o, aux);
}
static void bin_pow_any_vs(int64_t n, const void *a, const void *b, void *o, const void *aux) {
    bin_pow_any(n, a, 1, b, 0, o, aux);
}
static void bin_pow_any_sv(int64_t n, const void *a, const void *b, void *o, const void *aux) {
    bin_pow_any(n, a, 0, b, 1, o, aux);
}
static const bin_kern bin_pow_any_k = {bin_pow_any_vv, bin_pow_any_vs, bin_pow_any_sv};

/* Where by element size; strides are 0 (broadcast) or 1. */
#define BIN_WHERE(name, T)                                                                         \
    static void name(int64_t n, const uint8_t *c, int64_t sc, const void *px, int64_t sx,          \
                     const void *py, int64_t sy, void *po) {                                       \
        const T *x = px, *y = py;                                                                  \
        T *o = po;                                                                                 \
        for (int64_t i = 0; i < n; i++)                                                            \
            o[i] = c[i * sc] ? x[i * sx] : y[i * sy];                                              \
    }
BIN_WHERE(bin_where_1, uint8_t)
BIN_WHERE(bin_where_2, uint16_t)
BIN_WHERE(bin_where_4, uint32_t)
BIN_WHERE(bin_where_8, uint64_t)

/* Collapse the broadcast of k inputs to output dims od[r]: drop size-1 dims
 * and merge neighbours every input either has or broadcasts alike. */
static void bin_plan_make(bin_plan *p, int k, const cv_tensor *const *ts, int r,
                          const int64_t *od) {
    unsigned char pres[3][CV_MAX_DIMS];
    int nd = 0;
    memset(p, 0, sizeof *p);
    memset(pres, 0, sizeof pres);
    for (int d = 0; d < r; d++) {
        if (od[d] == 1) continue;
        unsigned char pr[3] = {0, 0, 0};
        for (int j = 0; j < k; j++) {
            int dd = d - (r - ts[j]->ndim);
            pr[j] = dd >= 0 && ts[j]->dims[dd] != 1;
        }
        int same = nd > 0;
        for (int j = 0; j < k && same; j++)
            same = pres[j][nd - 1] == pr[j];
        if (same) {
            p->ext[nd - 1] *= od[d];
            continue;
        }
        p->ext[nd] = od[d];
        for (int j = 0; j < k; j++)
            pres[j][nd] = pr[j];
        nd++;
    }
    if (nd == 0) { /* every dim is 1: one element */
        p->ext[0] = 1;
        for (int j = 0; j < k; j++)
            pres[j][0] = 1;
        nd = 1;
    }
    for (int j = 0; j < k; j++) {
        int64_t s = 1;
        for (int d = nd - 1; d >= 0; d--) {
            p->str[j][d] = pres[j][d] ? s : 0;
            if (pres[j][d]) s *= p->ext[d];
        }
        p->esz[j] = cv_dtype_size(ts[j]->dtype);
    }
    p->nd = nd;
    p->inner = p->ext[nd - 1];
    p->rows = 1;
    for (int d = 0; d < nd - 1; d++)
        p->rows *= p->ext[d];
}

static void bin_plan_bind(bin_plan *p, const bin_kern *k) {
    int va = p->str[0][p->nd - 1] != 0, vb = p->str[1][p->nd - 1] != 0;
    p->fn = va && !vb ? k->vs : !va && vb ? k->sv : k->vv;
}

/* Rows [r0, r1), inner elements [i0, i1) of each. */
static void bin_rows(const bin_state *s, const bin_plan *p, const char *const *in, char *out,
                     int64_t r0, int64_t r1, int64_t i0, int64_t i1) {
    int no = p->nd - 1, k = s->where ? 3 : 2;
    int64_t idx[CV_MAX_DIMS] = {0}, off[3] = {0, 0, 0}, rem = r0;
    for (int d = no - 1; d >= 0; d--) {
        idx[d] = rem % p->ext[d];
        rem /= p->ext[d];
        for (int j = 0; j < k; j++)
            off[j] += idx[d] * p->str[j][d];
    }
    for (int64_t r = r0; r < r1; r++) {
        const char *pi[3] = {NULL, NULL, NULL};
        for (int j = 0; j < k; j++)
            pi[j] = in[j] + (size_t)(off[j] + i0 * p->str[j][no]) * p->esz[j];
        char *po = out + (size_t)(r * p->inner + i0) * s->eo;
        if (s->where)
            s->where(i1 - i0, (const uint8_t *)pi[0], p->str[0][no], pi[1], p->str[1][no], pi[2],
                     p->str[2][no], po);
        else
            p->fn(i1 - i0, pi[0], pi[1], po, s);
        if (s->act) op_apply_act_f32(s->act, (float *)po, i1 - i0);
        for (int d = no - 1; d >= 0; d--) { /* odometer over the outer dims */
            idx[d]++;
            for (int j = 0; j < k; j++)
                off[j] += p->str[j][d];
            if (idx[d] < p->ext[d]) break;
            idx[d] = 0;
            for (int j = 0; j < k; j++)
                off[j] -= p->ext[d] * p->str[j][d];
        }
    }
}

static int64_t bin_split(int64_t n, int t, int nt) {
    return t >= nt ? n : (n * t / nt) & ~(int64_t)15;
}

static void bin_exec(const bin_state *s, const bin_plan *p, const char *const *in, char *out,
                     int threads) {
    int64_t total = p->rows * p->inner;
    if (total <= 0) return;
    int nt = threads > 1 && total >= BIN_PAR_MIN ? threads : 1;
    if (nt == 1) {
        bin_rows(s, p, in, out, 0, p->rows, 0, p->inner);
        return;
    }
    int by_rows = p->rows >= nt; /* else split the long inner loop */
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++) {
        if (by_rows)
            bin_rows(s, p, in, out, p->rows * t / nt, p->rows * (t + 1) / nt, 0, p->inner);
        else
            bin_rows(s, p, in, out, 0, p->rows, bin_split(p->inner, t, nt),
                     bin_split(p->inner, t + 1, nt));
    }
}

/* ---- ops ---- */

enum { BIN_PLAIN, BIN_CMP, BIN_POW, BIN_VAR, BIN_WHERE_K, BIN_PRELU };
typedef struct bin_info {
    int kind;
    const bin_kern *const *tab; /* per dtype */
    int legacy;                 /* had opset<7 broadcast/axis attributes */
} bin_info;

static bin_info bin_info_of(int op) {
    switch (op) {
    case OP_Add: return (bin_info){BIN_PLAIN, bin_t_add, 1};
    case OP_Sub: return (bin_info){BIN_PLAIN, bin_t_sub, 1};
    case OP_Mul: return (bin_info){BIN_PLAIN, bin_t_mul, 1};
    case OP_Div: return (bin_info){BIN_PLAIN, bin_t_div, 1};
    case OP_Pow: return (bin_info){BIN_POW, NULL, 1};
    case OP_Sum:
    case OP_Mean: return (bin_info){BIN_VAR, bin_t_add, 0};
    case OP_Min: return (bin_info){BIN_VAR, bin_t_min, 0};
    case OP_Max: return (bin_info){BIN_VAR, bin_t_max, 0};
    case OP_Equal: return (bin_info){BIN_CMP, bin_t_eq, 1};
    case OP_Less: return (bin_info){BIN_CMP, bin_t_lt, 1};
    case OP_Greater: return (bin_info){BIN_CMP, bin_t_gt, 1};
    case OP_LessOrEqual: return (bin_info){BIN_CMP, bin_t_le, 0};
    case OP_GreaterOrEqual: return (bin_info){BIN_CMP, bin_t_ge, 0};
    case OP_And: return (bin_info){BIN_CMP, bin_t_and, 1};
    case OP_Or: return (bin_info){BIN_CMP, bin_t_or, 1};
    case OP_Xor: return (bin_info){BIN_CMP, bin_t_xor, 1};
    case OP_Where: return (bin_info){BIN_WHERE_K, NULL, 0};
    default: return (bin_info){BIN_PRELU, bin_t_prelu, 0};
    }
}

static int bin_is_float(cv_dtype t) {
    return t == CV_F32 || t == CV_F64 || t == CV_F16 || t == CV_BF16;
}

/* The two operands as broadcasting sees them. Before opset 7, broadcast=1
 * with an axis attribute aligns B with A's dims starting at axis. */
static cleave_status bin_views(op_call *c, const bin_info *bi, cv_tensor *tmp,
                               const cv_tensor **ts) {
    ts[0] = c->in[0];
    ts[1] = c->in[1];
    if (!bi->legacy || c->node->opset >= 7 || !ir_attr_int(c->node, "broadcast", 0) ||
        !ir_node_attr(c->node, "axis"))
        return CLEAVE_OK;
    const cv_tensor *a = c->in[0], *b = c->in[1];
    int64_t axis = ir_attr_int(c->node, "axis", 0), ax = axis < 0 ? axis + a->ndim : axis;
    if (ax < 0 || ax + b->ndim > a->ndim)
        return op_fail(c, CLEAVE_E_INVALID,
                       "attribute axis=%lld does not place B (rank %d) inside A (rank %d)",
                       (long long)axis, b->ndim, a->ndim);
    *tmp = *b;
    tmp->ndim = a->ndim - (int)ax;
    for (int d = b->ndim; d < tmp->ndim; d++)
        tmp->dims[d] = 1;
    ts[1] = tmp;
    return CLEAVE_OK;
}

static cleave_status bin_infer(op_call *c) {
    bin_info bi = bin_info_of(c->node->op);
    for (int k = 0; k < c->n_in; k++)
        CV_TRY(op_need_input(c, k));
    cv_dtype dt = c->in[0]->dtype, odt = dt;
    if (bi.kind == BIN_WHERE_K) {
        if (dt != CV_BOOL)
            return op_fail(c, CLEAVE_E_INVALID, "condition (input 0) must be bool, got %s",
                           cv_dtype_name(dt));
        if (c->in[1]->dtype != c->in[2]->dtype)
            return op_fail(c, CLEAVE_E_INVALID, "X is %s but Y is %s",
                           cv_dtype_name(c->in[1]->dtype), cv_dtype_name(c->in[2]->dtype));
        odt = c->in[1]->dtype;
    } else if (bi.kind == BIN_POW) {
        if (dt == CV_BOOL || c->in[1]->dtype == CV_BOOL)
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "bool operands are not supported");
    } else {
        for (int k = 1; k < c->n_in; k++)
            if (c->in[k]->dtype != dt)
                return op_fail(c, CLEAVE_E_INVALID, "input %d is %s but input 0 is %s", k,
                               cv_dtype_name(c->in[k]->dtype), cv_dtype_name(dt));
        if (!bi.tab[dt] || (c->node->op == OP_Mean && !bin_is_float(dt)))
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "dtype %s is not supported", cv_dtype_name(dt));
        if (bi.kind == BIN_CMP) odt = CV_BOOL;
    }
    int nd;
    int64_t dims[CV_MAX_DIMS];
    if (bi.kind == BIN_VAR || bi.kind == BIN_WHERE_K) {
        CV_TRY(op_broadcast_shape(c, c->n_in, c->in, &nd, dims));
    } else {
        cv_tensor tmp;
        const cv_tensor *ts[2];
        CV_TRY(bin_views(c, &bi, &tmp, ts));
        CV_TRY(op_broadcast_shape(c, 2, ts, &nd, dims));
    }
    if (bi.kind == BIN_PRELU) { /* slope broadcasts to X, never X to slope */
        int ok = nd == c->in[0]->ndim;
        for (int d = 0; ok && d < nd; d++)
            ok = dims[d] == c->in[0]->dims[d];
        char s1[128], s2[128];
        if (!ok)
            return op_fail(c, CLEAVE_E_INVALID, "slope shape %s does not broadcast to X shape %s",
                           cv_shape_str(c->in[1]->ndim, c->in[1]->dims, s1, sizeof s1),
                           cv_shape_str(c->in[0]->ndim, c->in[0]->dims, s2, sizeof s2));
    }
    op_set_out(c, 0, odt, nd, dims);
    return CLEAVE_OK;
}

static void bin_set_count(bin_state *s, cv_dtype dt, int n) {
    float f = (float)n;
    double d = n;
    uint16_t h = dt == CV_F16 ? cv_f32_to_f16(f) : cv_f32_to_bf16(f);
    if (dt == CV_F32)
        memcpy(s->cnt, &f, sizeof f);
    else if (dt == CV_F64)
        memcpy(s->cnt, &d, sizeof d);
    else
        memcpy(s->cnt, &h, sizeof h);
}

static cleave_status bin_prepare(op_call *c) {
    bin_info bi = bin_info_of(c->node->op);
    const cv_tensor *out = c->out[0];
    int mean = c->node->op == OP_Mean && c->n_in > 1;
    int n_plans = bi.kind == BIN_VAR ? c->n_in - 1 + mean : 1;
    bin_state *s = cv_calloc(1, sizeof(bin_state) + (size_t)n_plans * sizeof(bin_plan));
    if (!s) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
    s->n_plans = n_plans;
    s->eo = cv_dtype_size(out->dtype);
    cv_dtype dt = c->in[0]->dtype;
    cv_tensor tmp;
    const cv_tensor *ts[3];
    if (bi.kind == BIN_WHERE_K) {
        size_t e = cv_dtype_size(c->in[1]->dtype);
        s->where = e == 1 ? bin_where_1 : e == 2 ? bin_where_2 : e == 4 ? bin_where_4 : bin_where_8;
        bin_plan_make(&s->plans[0], 3, c->in, out->ndim, out->dims);
    } else if (bi.kind == BIN_VAR) {
        s->var = 1;
        for (int j = 0; j + 1 < c->n_in; j++) {
            ts[0] = j ? out : c->in[0];
            ts[1] = c->in[j + 1];
            bin_plan_make(&s->plans[j], 2, ts, out->ndim, out->dims);
            bin_plan_bind(&s->plans[j], bi.tab[dt]);
        }
        if (mean) { /* out /= count, the count a broadcast scalar */
            s->mean = 1;
            bin_set_count(s, dt, c->n_in);
            tmp = *out;
            tmp.ndim = 0;
            ts[0] = out;
            ts[1] = &tmp;
            bin_plan_make(&s->plans[n_plans - 1], 2, ts, out->ndim, out->dims);
            bin_plan_bind(&s->plans[n_plans - 1], bin_t_div[dt]);
        }
    } else {
        cleave_status st = bin_views(c, &bi, &tmp, ts);
        if (st) {
            cv_free(s);
            return st;
        }
        bin_plan_make(&s->plans[0], 2, ts, out->ndim, out->dims);
        const bin_kern *k = bi.tab ? bi.tab[dt] : NULL;
        if (bi.kind == BIN_POW) {
            cv_dtype tb = c->in[1]->dtype;
            k = dt == CV_F32 && tb == CV_F32   ? &bin_pow_f32
                : dt == CV_F64 && tb == CV_F64 ? &bin_pow_f64
                                               : &bin_pow_any_k;
            s->ta = dt;
            s->tb = tb;
            s->int_pow = !bin_is_float(dt) && !bin_is_float(tb);
        }
        bin_plan_bind(&s->plans[0], k);
        /* The IR fuses activations only into f32 Add/Sub/Mul (ir_pass_fuse_activations). */
        if (c->node->act.kind != IR_ACT_NONE) {
            if (out->dtype != CV_F32 || bi.kind != BIN_PLAIN) {
                cv_free(s);
                return op_fail(c, CLEAVE_E_INTERNAL, "a fused activation needs a float32 Add/Sub/Mul");
            }
            s->act = &c->node->act;
        }
    }
    c->state = s;
    return CLEAVE_OK;
}

static cleave_status bin_run(op_call *c) {
    const bin_state *s = c->state;
    if (!s) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    char *out = c->out[0]->data;
    const char *in[3] = {NULL, NULL, NULL};
    if (!s->var) {
        for (int k = 0; k < c->n_in && k < 3; k++)
            in[k] = c->in[k]->data;
        bin_exec(s, &s->plans[0], in, out, c->threads);
        return CLEAVE_OK;
    }
    if (c->n_in == 1) {
        if (out != c->in[0]->data) memcpy(out, c->in[0]->data, cv_nbytes(c->out[0]));
        return CLEAVE_OK;
    }
    for (int j = 0; j + 1 < c->n_in; j++) {
        in[0] = j ? out : (const char *)c->in[0]->data;
        in[1] = c->in[j + 1]->data;
        bin_exec(s, &s->plans[j], in, out, c->threads);
    }
    if (s->mean) {
        in[0] = out;
        in[1] = (const char *)s->cnt;
        bin_exec(s, &s->plans[s->n_plans - 1], in, out, c->threads);
    }
    return CLEAVE_OK;
}

static void bin_release(void *state) {
    cv_free(state);
}

#define BIN_DEF(NAME, MIN_IN, MAX_IN)                                                              \
    const op_def op_def_##NAME = {#NAME,     MIN_IN,      MAX_IN,  1,           1,                 \
                                  bin_infer, bin_prepare, bin_run, bin_release, 0};
BIN_DEF(Add, 2, 2)
BIN_DEF(Sub, 2, 2)
BIN_DEF(Mul, 2, 2)
BIN_DEF(Div, 2, 2)
BIN_DEF(Pow, 2, 2)
BIN_DEF(Min, 1, 1 << 20)
BIN_DEF(Max, 1, 1 << 20)
BIN_DEF(Sum, 1, 1 << 20)
BIN_DEF(Mean, 1, 1 << 20)
BIN_DEF(Equal, 2, 2)
BIN_DEF(Less, 2, 2)
BIN_DEF(Greater, 2, 2)
BIN_DEF(LessOrEqual, 2, 2)
BIN_DEF(GreaterOrEqual, 2, 2)
BIN_DEF(And, 2, 2)
BIN_DEF(Or, 2, 2)
BIN_DEF(Xor, 2, 2)
BIN_DEF(Where, 3, 3)
BIN_DEF(PRelu, 2, 2)
