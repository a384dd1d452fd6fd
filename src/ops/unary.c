/* unary: elementwise ops on one tensor. Math and activations (Sqrt .. Clip)
 * bind one row kernel per dtype in prepare; float16/bfloat16 run the float32
 * kernel on converted chunks. Not (bool), Identity and Dropout (inference:
 * copy, all-true mask) and Cast between every pair of numeric dtypes, which
 * goes through a double / int64 / uint64 chunk so each pair is exact. */
#include <float.h>
#include <stdint.h>
#include <string.h>
#include <tgmath.h> /* exp/log/... resolve to expf/logf on float */

#include "ops/op.h"
#include "ops/vexp.h"

#define UN_NT (CV_BF16 + 1) /* size of the per-dtype tables */
#define UN_CHUNK 256        /* elements per conversion chunk */
#define UN_PAR_MIN 65536    /* elements before threads pay off */

typedef struct un_par {
    double alpha, beta;           /* LeakyRelu alpha; HardSigmoid alpha, beta */
    double lo, hi;                /* Clip bounds for float dtypes */
    int has_lo, has_hi;           /* Clip bounds given (integer dtypes) */
    unsigned char ilo[8], ihi[8]; /* Clip integer bounds, bytes in X's dtype */
} un_par;

/* y[0..n) = f(x[0..n)). y may equal x (in-place), so no restrict. */
typedef void (*un_fn)(int64_t n, const void *x, void *y, const un_par *p);

/* Float kernels for float32 and float64. STMT computes y from x; the element
 * type is un_elem; al/be/lo/hi are the parameters, read once before the loop
 * (y may alias p's memory as far as the compiler knows). */
#define UN_FKERN(name, T, STMT)                                                                    \
    static void name(int64_t n, const void *px, void *py, const un_par *p) {                       \
        typedef T un_elem;                                                                         \
        const un_elem *a = px;                                                                     \
        un_elem *o = py;                                                                           \
        const un_elem al = (un_elem)p->alpha, be = (un_elem)p->beta, lo = (un_elem)p->lo,          \
                      hi = (un_elem)p->hi;                                                         \
        (void)al, (void)be, (void)lo, (void)hi;                                                    \
        for (int64_t i = 0; i < n; i++) {                                                          \
            un_elem x = a[i], y;                                                                   \
            STMT;                                                                                  \
            o[i] = y;                                                                              \
        }                                                                                          \
    }
#define UN_FLOAT(op, STMT)                                                                         \
    UN_FKERN(un_##op##_f32, float, STMT)                                                           \
    UN_FKERN(un_##op##_f64, double, STMT)
/* float16/bfloat16 use the float32 kernel (see un_apply). */
#define UN_FTAB(op)                                                                                \
    [CV_F32] = un_##op##_f32, [CV_F64] = un_##op##_f64, [CV_F16] = un_##op##_f32,                  \
    [CV_BF16] = un_##op##_f32

UN_FLOAT(sqrt, y = sqrt(x))
UN_FLOAT(exp, y = exp(x))
UN_FLOAT(log, y = log(x))
UN_FLOAT(neg, y = -x)
UN_FLOAT(abs, y = fabs(x))
UN_FLOAT(recip, y = 1 / x)
UN_FLOAT(erf, y = erf(x))
UN_FLOAT(floor, y = floor(x))
UN_FLOAT(ceil, y = ceil(x))
UN_FLOAT(relu, y = x < 0 ? 0 : x) /* NaN passes through */
UN_FLOAT(leaky, y = x < 0 ? al * x : x)
UN_FKERN(un_sigmoid_f64, double, y = 1 / (1 + exp(-x))) /* exp overflow gives 0, underflow 1 */

/* exp(x) clamped to [-87.3, 88.3] (vexp_f32's domain), which is exact
 * enough for the sigmoid: a few ulp inside, saturation to 0 or 1 beyond.
 * Written so NaN maps to the lower bound (the caller restores it) and the
 * loop has no branch. */
static inline float exp_f32_clamped(float x) {
    x = !(x >= -87.3365447505531f) ? -87.3365447505531f : x;
    x = x > 88.3762626647949f ? 88.3762626647949f : x;
    return vexp_f32(x);
}

/* Wider vectors where the CPU has them, chosen at load time (ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define UN_VEC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define UN_VEC_CLONES
#endif

UN_VEC_CLONES
static void un_sigmoid_f32(int64_t n, const void *px, void *py, const un_par *p) {
    const float *a = px;
    float *o = py;
    (void)p;
    for (int64_t i = 0; i < n; i++) {
        float x = a[i], y = 1.0f / (1.0f + exp_f32_clamped(-x));
        y = x < -104.0f ? 0.0f : y; /* the true value rounds to 0 in float below -103.3 */
        o[i] = x != x ? x : y;      /* NaN in, NaN out */
    }
}
UN_FLOAT(tanh, y = tanh(x))
UN_FLOAT(hsig, un_elem v = al * x + be; y = v < 0 ? 0 : v > 1 ? 1 : v)
UN_FLOAT(hswish, un_elem v = x * (un_elem)(1.0 / 6) + (un_elem)0.5; v = v < 0 ? 0 : v;
         y = x * (v > 1 ? 1 : v))
UN_FLOAT(clip, y = x < lo ? lo : x; y = y > hi ? hi : y)

/* Integer kernels. Neg/Abs wrap (-INT_MIN == INT_MIN) via unsigned math. */
#define UN_IKERN(name, T, STMT)                                                                    \
    static void name(int64_t n, const void *px, void *py, const un_par *p) {                       \
        const T *a = px;                                                                           \
        T *o = py;                                                                                 \
        (void)p;                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = a[i], y;                                                                         \
            STMT;                                                                                  \
            o[i] = y;                                                                              \
        }                                                                                          \
    }
#define UN_ICLIP(sfx, T, TMIN, TMAX)                                                               \
    static void un_clip_##sfx(int64_t n, const void *px, void *py, const un_par *p) {              \
        const T *a = px;                                                                           \
        T *o = py, lo = TMIN, hi = TMAX;                                                           \
        if (p->has_lo) memcpy(&lo, p->ilo, sizeof lo);                                             \
        if (p->has_hi) memcpy(&hi, p->ihi, sizeof hi);                                             \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T y = a[i] < lo ? lo : a[i];                                                           \
            o[i] = y > hi ? hi : y;                                                                \
        }                                                                                          \
    }
#define UN_SINT(sfx, T, U, TMIN, TMAX)                                                             \
    UN_IKERN(un_neg_##sfx, T, y = (T)(0u - (U)x))                                                  \
    UN_IKERN(un_abs_##sfx, T, y = x < 0 ? (T)(0u - (U)x) : x)                                      \
    UN_IKERN(un_relu_##sfx, T, y = x < 0 ? 0 : x)                                                  \
    UN_ICLIP(sfx, T, TMIN, TMAX)
UN_SINT(i8, int8_t, uint32_t, INT8_MIN, INT8_MAX)
UN_SINT(i16, int16_t, uint32_t, INT16_MIN, INT16_MAX)
UN_SINT(i32, int32_t, uint32_t, INT32_MIN, INT32_MAX)
UN_SINT(i64, int64_t, uint64_t, INT64_MIN, INT64_MAX)
UN_ICLIP(u8, uint8_t, 0, UINT8_MAX)
UN_ICLIP(u16, uint16_t, 0, UINT16_MAX)
UN_ICLIP(u32, uint32_t, 0, UINT32_MAX)
UN_ICLIP(u64, uint64_t, 0, UINT64_MAX)
UN_IKERN(un_not_b, uint8_t, y = !x)
#define UN_STAB(op)                                                                                \
    [CV_I8] = un_##op##_i8, [CV_I16] = un_##op##_i16, [CV_I32] = un_##op##_i32,                    \
    [CV_I64] = un_##op##_i64

/* Byte copies (Abs of unsigned, Identity, Dropout). */
#define UN_COPY(name, E)                                                                           \
    static void name(int64_t n, const void *x, void *y, const un_par *p) {                         \
        (void)p;                                                                                   \
        if (x != y) memcpy(y, x, (size_t)n *E);                                                    \
    }
UN_COPY(un_copy1, 1)
UN_COPY(un_copy2, 2)
UN_COPY(un_copy4, 4)
UN_COPY(un_copy8, 8)

typedef const un_fn un_table[UN_NT];
static un_table un_t_sqrt = {UN_FTAB(sqrt)}, un_t_exp = {UN_FTAB(exp)}, un_t_log = {UN_FTAB(log)},
                un_t_recip = {UN_FTAB(recip)}, un_t_erf = {UN_FTAB(erf)},
                un_t_floor = {UN_FTAB(floor)}, un_t_ceil = {UN_FTAB(ceil)},
                un_t_leaky = {UN_FTAB(leaky)}, un_t_sigmoid = {UN_FTAB(sigmoid)},
                un_t_tanh = {UN_FTAB(tanh)}, un_t_hsig = {UN_FTAB(hsig)},
                un_t_hswish = {UN_FTAB(hswish)}, un_t_not = {[CV_BOOL] = un_not_b};
static un_table un_t_neg = {UN_FTAB(neg), UN_STAB(neg)};
static un_table un_t_relu = {UN_FTAB(relu), UN_STAB(relu)};
static un_table un_t_abs = {UN_FTAB(abs),        UN_STAB(abs),        [CV_U8] = un_copy1,
                            [CV_U16] = un_copy2, [CV_U32] = un_copy4, [CV_U64] = un_copy8};
static un_table un_t_clip = {
    UN_FTAB(clip),          UN_STAB(clip),          [CV_U8] = un_clip_u8,
    [CV_U16] = un_clip_u16, [CV_U32] = un_clip_u32, [CV_U64] = un_clip_u64};

/* ---- Cast: source -> wide chunk (double, int64 or uint64) -> target ---- */

typedef void (*un_conv_fn)(int64_t n, const void *x, void *y);

/* double -> IEEE half, round to nearest even, directly (no double rounding
 * through float). */
static uint16_t un_f64_to_f16(double d) {
    uint64_t x;
    memcpy(&x, &d, sizeof x);
    uint16_t sign = (uint16_t)((x >> 48) & 0x8000);
    int e = (int)((x >> 52) & 0x7ff) - 1023 + 15;
    uint64_t man = x & 0xfffffffffffffull;
    if (e == 0x7ff - 1023 + 15) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e < -10) return sign; /* below half the smallest subnormal */
    /* keep 10 mantissa bits (normal) or fewer (subnormal: value = M * 2^-24) */
    int shift = e > 0 ? 42 : 43 - e;
    uint64_t m = e > 0 ? man : man | (1ull << 52);
    uint64_t h = m >> shift, rem = m & ((1ull << shift) - 1), mid = 1ull << (shift - 1);
    if (e > 0) h |= (uint64_t)e << 10;
    if (rem > mid || (rem == mid && (h & 1))) h++; /* may carry into the exponent: correct */
    return (uint16_t)(sign | h);
}

/* float -> bfloat16 by truncation, as the ONNX 1.12 reference and backend
 * test data do for Cast (the opset-13 spec leaves rounding unspecified);
 * NaN stays a quiet NaN. */
static uint16_t un_bf16_trunc(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)(x >> 16);
}

#define UN_CONV(name, S, D, CONV)                                                                  \
    static void name(int64_t n, const void *px, void *py) {                                        \
        const S *x = px;                                                                           \
        D *y = py;                                                                                 \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = CONV(x[i]);                                                                     \
    }
#define UN_ID(v) (v)
#define UN_BOOL(v) ((v) != 0)
#define UN_TO_F16(v) un_f64_to_f16((double)(v))
#define UN_TO_BF16(v) un_bf16_trunc((float)(v))
/* float -> integer saturates to the target range, NaN -> 0 (C leaves
 * out-of-range conversions undefined; the spec leaves them open). */
#define UN_SAT(T, lo, hi, v)                                                                       \
    ((v) != (v) ? (T)0 : (v) <= (double)(lo) ? (T)(lo) : (v) >= (double)(hi) ? (T)(hi) : (T)(v))
#define UN_SAT_I8(v) UN_SAT(int8_t, INT8_MIN, INT8_MAX, v)
#define UN_SAT_I16(v) UN_SAT(int16_t, INT16_MIN, INT16_MAX, v)
#define UN_SAT_I32(v) UN_SAT(int32_t, INT32_MIN, INT32_MAX, v)
#define UN_SAT_I64(v) UN_SAT(int64_t, INT64_MIN, INT64_MAX, v)
#define UN_SAT_U8(v) UN_SAT(uint8_t, 0, UINT8_MAX, v)
#define UN_SAT_U16(v) UN_SAT(uint16_t, 0, UINT16_MAX, v)
#define UN_SAT_U32(v) UN_SAT(uint32_t, 0, UINT32_MAX, v)
#define UN_SAT_U64(v) UN_SAT(uint64_t, 0, UINT64_MAX, v)

enum { UN_WD, UN_WI, UN_WU }; /* wide kinds: double, int64, uint64 */
UN_CONV(un_ld_f32, float, double, UN_ID)
UN_CONV(un_ld_f64, double, double, UN_ID)
UN_CONV(un_ld_f16, uint16_t, double, cv_f16_to_f32)
UN_CONV(un_ld_bf16, uint16_t, double, cv_bf16_to_f32)
UN_CONV(un_ld_i8, int8_t, int64_t, UN_ID)
UN_CONV(un_ld_i16, int16_t, int64_t, UN_ID)
UN_CONV(un_ld_i32, int32_t, int64_t, UN_ID)
UN_CONV(un_ld_i64, int64_t, int64_t, UN_ID)
UN_CONV(un_ld_u8, uint8_t, int64_t, UN_ID)
UN_CONV(un_ld_u16, uint16_t, int64_t, UN_ID)
UN_CONV(un_ld_u32, uint32_t, int64_t, UN_ID)
UN_CONV(un_ld_b, uint8_t, int64_t, UN_BOOL)
UN_CONV(un_ld_u64, uint64_t, uint64_t, UN_ID)
static const un_conv_fn un_ld[UN_NT] = {
    [CV_F32] = un_ld_f32, [CV_F64] = un_ld_f64, [CV_F16] = un_ld_f16, [CV_BF16] = un_ld_bf16,
    [CV_I8] = un_ld_i8,   [CV_I16] = un_ld_i16, [CV_I32] = un_ld_i32, [CV_I64] = un_ld_i64,
    [CV_U8] = un_ld_u8,   [CV_U16] = un_ld_u16, [CV_U32] = un_ld_u32, [CV_BOOL] = un_ld_b,
    [CV_U64] = un_ld_u64};

/* Stores from wide W; integer targets use I8..U64 (saturate from double,
 * wrap modulo 2^n from integers, like numpy's astype). */
#define UN_STORES(w, W, I8, I16, I32, I64, U8, U16, U32, U64)                                      \
    UN_CONV(un_st_##w##_f32, W, float, UN_ID)                                                      \
    UN_CONV(un_st_##w##_f64, W, double, UN_ID)                                                     \
    UN_CONV(un_st_##w##_f16, W, uint16_t, UN_TO_F16)                                               \
    UN_CONV(un_st_##w##_bf16, W, uint16_t, UN_TO_BF16)                                             \
    UN_CONV(un_st_##w##_b, W, uint8_t, UN_BOOL)                                                    \
    UN_CONV(un_st_##w##_i8, W, int8_t, I8)                                                         \
    UN_CONV(un_st_##w##_i16, W, int16_t, I16)                                                      \
    UN_CONV(un_st_##w##_i32, W, int32_t, I32)                                                      \
    UN_CONV(un_st_##w##_i64, W, int64_t, I64)                                                      \
    UN_CONV(un_st_##w##_u8, W, uint8_t, U8)                                                        \
    UN_CONV(un_st_##w##_u16, W, uint16_t, U16)                                                     \
    UN_CONV(un_st_##w##_u32, W, uint32_t, U32)                                                     \
    UN_CONV(un_st_##w##_u64, W, uint64_t, U64)
#define UN_STAB_ROW(w)                                                                             \
    {                                                                                              \
        [CV_F32] = un_st_##w##_f32, [CV_F64] = un_st_##w##_f64, [CV_F16] = un_st_##w##_f16,        \
        [CV_BF16] = un_st_##w##_bf16, [CV_BOOL] = un_st_##w##_b, [CV_I8] = un_st_##w##_i8,         \
        [CV_I16] = un_st_##w##_i16, [CV_I32] = un_st_##w##_i32, [CV_I64] = un_st_##w##_i64,        \
        [CV_U8] = un_st_##w##_u8, [CV_U16] = un_st_##w##_u16, [CV_U32] = un_st_##w##_u32,          \
        [CV_U64] = un_st_##w##_u64                                                                 \
    }
UN_STORES(d, double, UN_SAT_I8, UN_SAT_I16, UN_SAT_I32, UN_SAT_I64, UN_SAT_U8, UN_SAT_U16,
          UN_SAT_U32, UN_SAT_U64)
UN_STORES(i, int64_t, UN_ID, UN_ID, UN_ID, UN_ID, UN_ID, UN_ID, UN_ID, UN_ID)
UN_STORES(u, uint64_t, UN_ID, UN_ID, UN_ID, UN_ID, UN_ID, UN_ID, UN_ID, UN_ID)
static const un_conv_fn un_st[3][UN_NT] = {UN_STAB_ROW(d), UN_STAB_ROW(i), UN_STAB_ROW(u)};

/* Direct kernels for the pairs mixed-precision models use. */
UN_CONV(un_f32_f16, float, uint16_t, cv_f32_to_f16)
UN_CONV(un_f16_f32, uint16_t, float, cv_f16_to_f32)
UN_CONV(un_f32_bf16, float, uint16_t, un_bf16_trunc)
UN_CONV(un_bf16_f32, uint16_t, float, cv_bf16_to_f32)
UN_CONV(un_f32_f64, float, double, UN_ID)
UN_CONV(un_f64_f32, double, float, UN_ID)

/* ---- state and drivers ---- */

typedef struct un_state {
    un_fn fn;                  /* map: row kernel */
    cv_dtype half;             /* map: CV_F16/CV_BF16 when fn is the float32 kernel */
    un_par par;                /* map: attributes; Clip inputs are read at run */
    un_conv_fn direct, ld, st; /* Cast: one direct kernel, or load + store */
    int same;                  /* Cast to the same dtype: copy */
    int wide;                  /* Cast: wide kind of ld */
    size_t es, eo;             /* element bytes in / out */
} un_state;

typedef void (*un_range_fn)(const un_state *s, const un_par *p, const char *x, char *y, int64_t i0,
                            int64_t i1);

static void un_map_range(const un_state *s, const un_par *p, const char *x, char *y, int64_t i0,
                         int64_t i1) {
    if (!s->half) {
        s->fn(i1 - i0, x + (size_t)i0 * s->es, y + (size_t)i0 * s->eo, p);
        return;
    }
    const uint16_t *hx = (const uint16_t *)x;
    uint16_t *hy = (uint16_t *)y;
    float buf[UN_CHUNK];
    for (int64_t off = i0; off < i1; off += UN_CHUNK) {
        int64_t k = i1 - off < UN_CHUNK ? i1 - off : UN_CHUNK;
        if (s->half == CV_F16)
            for (int64_t j = 0; j < k; j++)
                buf[j] = cv_f16_to_f32(hx[off + j]);
        else
            for (int64_t j = 0; j < k; j++)
                buf[j] = cv_bf16_to_f32(hx[off + j]);
        s->fn(k, buf, buf, p);
        if (s->half == CV_F16)
            for (int64_t j = 0; j < k; j++)
                hy[off + j] = cv_f32_to_f16(buf[j]);
        else
            for (int64_t j = 0; j < k; j++)
                hy[off + j] = cv_f32_to_bf16(buf[j]);
    }
}

static void un_cast_range(const un_state *s, const un_par *p, const char *x, char *y, int64_t i0,
                          int64_t i1) {
    (void)p;
    x += (size_t)i0 * s->es;
    y += (size_t)i0 * s->eo;
    if (s->same) {
        memcpy(y, x, (size_t)(i1 - i0) * s->es);
    } else if (s->direct) {
        s->direct(i1 - i0, x, y);
    } else {
        union {
            double d[UN_CHUNK];
            int64_t i[UN_CHUNK];
            uint64_t u[UN_CHUNK];
        } w;
        for (int64_t off = 0; off < i1 - i0; off += UN_CHUNK) {
            int64_t k = i1 - i0 - off < UN_CHUNK ? i1 - i0 - off : UN_CHUNK;
            s->ld(k, x + (size_t)off * s->es, &w);
            s->st(k, &w, y + (size_t)off * s->eo);
        }
    }
}

static int64_t un_split(int64_t n, int t, int nt) {
    return t >= nt ? n : (n * t / nt) & ~(int64_t)(UN_CHUNK - 1);
}

static void un_exec(const un_state *s, const un_par *p, const void *x, void *y, int64_t n,
                    int threads, un_range_fn f) {
    int nt = threads > 1 && n >= UN_PAR_MIN ? threads : 1;
    if (nt == 1) {
        f(s, p, x, y, 0, n);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++)
        f(s, p, x, y, un_split(n, t, nt), un_split(n, t + 1, nt));
}

static void un_release(void *state) {
    cv_free(state);
}

static int un_is_float(cv_dtype t) {
    return t == CV_F32 || t == CV_F64 || t == CV_F16 || t == CV_BF16;
}

/* ---- math, activations, Clip, Not ---- */

static const un_fn *un_table_of(int op) {
    switch (op) {
    case OP_Sqrt: return un_t_sqrt;
    case OP_Exp: return un_t_exp;
    case OP_Log: return un_t_log;
    case OP_Neg: return un_t_neg;
    case OP_Abs: return un_t_abs;
    case OP_Reciprocal: return un_t_recip;
    case OP_Erf: return un_t_erf;
    case OP_Floor: return un_t_floor;
    case OP_Ceil: return un_t_ceil;
    case OP_Not: return un_t_not;
    case OP_Relu: return un_t_relu;
    case OP_LeakyRelu: return un_t_leaky;
    case OP_Sigmoid: return un_t_sigmoid;
    case OP_Tanh: return un_t_tanh;
    case OP_HardSigmoid: return un_t_hsig;
    case OP_HardSwish: return un_t_hswish;
    default: return un_t_clip;
    }
}

static cleave_status un_map_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    if (!un_table_of(c->node->op)[x->dtype])
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "dtype %s is not supported",
                       cv_dtype_name(x->dtype));
    if (c->node->op == OP_Clip) {
        if (c->node->opset < 11 && !un_is_float(x->dtype))
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "Clip-%d on %s (float only before opset 11)",
                           c->node->opset, cv_dtype_name(x->dtype));
        for (int k = 1; k < c->n_in && k < 3; k++) {
            if (!c->in[k]) continue;
            const char *what = k == 1 ? "min" : "max";
            if (c->in[k]->dtype != x->dtype)
                return op_fail(c, CLEAVE_E_INVALID, "%s is %s but input is %s", what,
                               cv_dtype_name(c->in[k]->dtype), cv_dtype_name(x->dtype));
            if (cv_numel(c->in[k]) != 1)
                return op_fail(c, CLEAVE_E_INVALID, "%s must be a scalar, has %lld elements", what,
                               (long long)cv_numel(c->in[k]));
        }
    }
    op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return CLEAVE_OK;
}

static cleave_status un_map_prepare(op_call *c) {
    un_state *s = cv_calloc(1, sizeof *s);
    if (!s) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
    cv_dtype dt = c->in[0]->dtype;
    s->fn = un_table_of(c->node->op)[dt];
    s->half = dt == CV_F16 || dt == CV_BF16 ? dt : CV_UNDEF;
    s->es = s->eo = cv_dtype_size(dt);
    const ir_node *n = c->node;
    if (n->op == OP_LeakyRelu) s->par.alpha = ir_attr_float(n, "alpha", 0.01f);
    if (n->op == OP_HardSigmoid) {
        s->par.alpha = ir_attr_float(n, "alpha", 0.2f);
        s->par.beta = ir_attr_float(n, "beta", 0.5f);
    }
    if (n->op == OP_Clip) {
        s->par.lo = n->opset < 11 ? ir_attr_float(n, "min", -FLT_MAX) : -INFINITY;
        s->par.hi = n->opset < 11 ? ir_attr_float(n, "max", FLT_MAX) : INFINITY;
    }
    c->state = s;
    return CLEAVE_OK;
}

static cleave_status un_map_run(op_call *c) {
    const un_state *s = c->state;
    if (!s) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    un_par p = s->par;
    if (c->node->op == OP_Clip && c->node->opset >= 11) { /* bounds may change per run */
        const cv_tensor *lo = c->n_in > 1 ? c->in[1] : NULL, *hi = c->n_in > 2 ? c->in[2] : NULL;
        if (lo) {
            p.has_lo = 1;
            p.lo = cv_get_f64(lo, 0);
            memcpy(p.ilo, lo->data, s->es);
        }
        if (hi) {
            p.has_hi = 1;
            p.hi = cv_get_f64(hi, 0);
            memcpy(p.ihi, hi->data, s->es);
        }
    }
    un_exec(s, &p, c->in[0]->data, c->out[0]->data, cv_numel(c->out[0]), c->threads, un_map_range);
    return CLEAVE_OK;
}

/* ---- Identity, Dropout ---- */

static cleave_status un_copy_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    op_set_out(c, 0, c->in[0]->dtype, c->in[0]->ndim, c->in[0]->dims);
    return CLEAVE_OK;
}

static cleave_status un_copy_run(op_call *c) {
    if (c->out[0]->data != c->in[0]->data)
        memcpy(c->out[0]->data, c->in[0]->data, cv_nbytes(c->out[0]));
    return CLEAVE_OK;
}

/* Dropout is the identity at inference. training_mode=true is random unless
 * ratio is 0; that case fails as unsupported (here or at run). */
static cleave_status un_dropout_check(op_call *c, int at_run) {
    const cv_tensor *r = c->n_in > 1 ? c->in[1] : NULL, *t = c->n_in > 2 ? c->in[2] : NULL;
    if (!t || !t->data || !cv_get_f64(t, 0)) return CLEAVE_OK;
    if (r && !r->data) {
        if (at_run) return op_fail(c, CLEAVE_E_INTERNAL, "ratio has no data");
        return CLEAVE_OK; /* decided at run */
    }
    double ratio = r ? cv_get_f64(r, 0) : 0.5;
    if (ratio != 0)
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "training_mode=true with ratio %g (random dropout) is not supported", ratio);
    return CLEAVE_OK;
}

static cleave_status un_dropout_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    for (int k = 1; k < c->n_in && k < 3; k++) {
        if (!c->in[k]) continue;
        if (cv_numel(c->in[k]) != 1)
            return op_fail(c, CLEAVE_E_INVALID, "%s must be a scalar",
                           k == 1 ? "ratio" : "training_mode");
        if (!cv_dtype_supported(c->in[k]->dtype))
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "input %d has unsupported dtype %s", k,
                           cv_dtype_name(c->in[k]->dtype));
    }
    CV_TRY(un_dropout_check(c, 0));
    op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    op_set_out(c, 1, c->node->opset >= 10 ? CV_BOOL : x->dtype, x->ndim, x->dims);
    return CLEAVE_OK;
}

static cleave_status un_dropout_run(op_call *c) {
    CV_TRY(un_dropout_check(c, 1));
    CV_TRY(un_copy_run(c));
    cv_tensor *m = c->n_out > 1 ? c->out[1] : NULL;
    if (m && m->dtype == CV_BOOL) {
        memset(m->data, 1, cv_nbytes(m));
    } else if (m) { /* opset < 10: mask has X's dtype */
        for (int64_t i = 0, n = cv_numel(m); i < n; i++)
            cv_set_f64(m, i, 1.0);
    }
    return CLEAVE_OK;
}

/* ---- Cast ---- */

/* Cast-1 names the target dtype with a string. */
static int64_t un_cast_to(const ir_node *n) {
    static const char *const names[UN_NT] = {
        [CV_F32] = "FLOAT",  [CV_U8] = "UINT8",     [CV_I8] = "INT8",    [CV_U16] = "UINT16",
        [CV_I16] = "INT16",  [CV_I32] = "INT32",    [CV_I64] = "INT64",  [CV_STRING] = "STRING",
        [CV_BOOL] = "BOOL",  [CV_F16] = "FLOAT16",  [CV_F64] = "DOUBLE", [CV_U32] = "UINT32",
        [CV_U64] = "UINT64", [CV_BF16] = "BFLOAT16"};
    const char *s = ir_attr_string(n, "to", NULL);
    if (!s) return ir_attr_int(n, "to", -1);
    for (int i = 0; i < UN_NT; i++)
        if (names[i] && strcmp(names[i], s) == 0) return i;
    return -1;
}

static cleave_status un_cast_infer(op_call *c) {
    if (c->in[0] && c->in[0]->dtype == CV_STRING)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "casting from string is not supported");
    CV_TRY(op_need_input(c, 0));
    int64_t to = un_cast_to(c->node);
    if (to == CV_STRING)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "casting to string is not supported");
    if (to < 0 || to >= UN_NT || !cv_dtype_supported((cv_dtype)to))
        return op_fail(c, to < 0 ? CLEAVE_E_INVALID : CLEAVE_E_UNSUPPORTED,
                       "attribute 'to' (%lld) is missing or not a supported dtype", (long long)to);
    op_set_out(c, 0, (cv_dtype)to, c->in[0]->ndim, c->in[0]->dims);
    return CLEAVE_OK;
}

/* CastLike (opset 15): the target dtype is input 1's. */
static cleave_status un_castlike_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    CV_TRY(op_need_input(c, 1));
    op_set_out(c, 0, c->in[1]->dtype, c->in[0]->ndim, c->in[0]->dims);
    return CLEAVE_OK;
}

static cleave_status un_cast_prepare(op_call *c) {
    un_state *s = cv_calloc(1, sizeof *s);
    if (!s) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
    cv_dtype a = c->in[0]->dtype, b = c->out[0]->dtype;
    s->es = cv_dtype_size(a);
    s->eo = cv_dtype_size(b);
    s->same = a == b;
    if (a == CV_F32 && b == CV_F16)
        s->direct = un_f32_f16;
    else if (a == CV_F16 && b == CV_F32)
        s->direct = un_f16_f32;
    else if (a == CV_F32 && b == CV_BF16)
        s->direct = un_f32_bf16;
    else if (a == CV_BF16 && b == CV_F32)
        s->direct = un_bf16_f32;
    else if (a == CV_F32 && b == CV_F64)
        s->direct = un_f32_f64;
    else if (a == CV_F64 && b == CV_F32)
        s->direct = un_f64_f32;
    s->wide = un_is_float(a) ? UN_WD : a == CV_U64 ? UN_WU : UN_WI;
    s->ld = un_ld[a];
    s->st = un_st[s->wide][b];
    c->state = s;
    return CLEAVE_OK;
}

static cleave_status un_cast_run(op_call *c) {
    const un_state *s = c->state;
    if (!s) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    un_exec(s, NULL, c->in[0]->data, c->out[0]->data, cv_numel(c->out[0]), c->threads,
            un_cast_range);
    return CLEAVE_OK;
}

#define UN_DEF(NAME, MAX_IN)                                                                       \
    const op_def op_def_##NAME = {#NAME,          1,          MAX_IN,     1, 1, un_map_infer,      \
                                  un_map_prepare, un_map_run, un_release, 0};
UN_DEF(Sqrt, 1)
UN_DEF(Exp, 1)
UN_DEF(Log, 1)
UN_DEF(Neg, 1)
UN_DEF(Abs, 1)
UN_DEF(Reciprocal, 1)
UN_DEF(Erf, 1)
UN_DEF(Floor, 1)
UN_DEF(Ceil, 1)
UN_DEF(Not, 1)
UN_DEF(Relu, 1)
UN_DEF(LeakyRelu, 1)
UN_DEF(Sigmoid, 1)
UN_DEF(Tanh, 1)
UN_DEF(HardSigmoid, 1)
UN_DEF(HardSwish, 1)
UN_DEF(Clip, 3)
const op_def op_def_Identity = {"Identity",    1,    1,           1,    1,
                                un_copy_infer, NULL, un_copy_run, NULL, OP_F_VIEW};
const op_def op_def_Dropout = {"Dropout",      1,    3, 1, 2, un_dropout_infer, NULL,
                               un_dropout_run, NULL, 0};
const op_def op_def_Cast = {"Cast",          1,           1,          1, 1, un_cast_infer,
                            un_cast_prepare, un_cast_run, un_release, 0};
/* Not in op_list.inc yet: add OP(CastLike, unary) to enable it. */
const op_def op_def_CastLike = {"CastLike",      2,           2,          1, 1, un_castlike_infer,
                                un_cast_prepare, un_cast_run, un_release, 0};
