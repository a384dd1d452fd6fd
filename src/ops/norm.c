/* norm.c: BatchNormalization (inference only), InstanceNormalization and
 * LayerNormalization. Kernels are plain C references templated by macro over
 * the storage type (f32, f64, f16) and the compute type; statistics take two
 * passes (mean, then centred sum of squares) with 8-lane accumulators so the
 * compiler can vectorise the reductions without reassociating. */
#include <math.h>
#include <string.h>

#include "ops/op.h"

/* Below this many elements a node runs on one thread. */
#define NORM_PAR_MIN 32768

static int norm_threads(const op_call *c, int64_t work) {
    return c->threads > 1 && work >= NORM_PAR_MIN ? c->threads : 1;
}

static int norm_is_float(cv_dtype t) {
    return t == CV_F32 || t == CV_F64 || t == CV_F16;
}

/* Input k present and float32/float64/float16. */
static cleave_status norm_need_float(op_call *c, int k, const char *what) {
    if (k >= c->n_in || !c->in[k])
        return op_fail(c, CLEAVE_E_INVALID, "input %d (%s) is missing", k, what);
    if (!norm_is_float(c->in[k]->dtype))
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "input %d (%s) has dtype %s; supported: float32, float64, float16", k, what,
                       cv_dtype_name(c->in[k]->dtype));
    return CLEAVE_OK;
}

/* Per-channel parameter k: a 1-D tensor of C elements. */
static cleave_status norm_need_channel_param(op_call *c, int k, const char *what, int64_t C) {
    CV_TRY(norm_need_float(c, k, what));
    const cv_tensor *p = c->in[k];
    if (p->ndim != 1 || p->dims[0] != C) {
        char s[128];
        return op_fail(c, CLEAVE_E_INVALID, "input %d (%s) has shape %s, expected [%lld]", k, what,
                       cv_shape_str(p->ndim, p->dims, s, sizeof s), (long long)C);
    }
    return CLEAVE_OK;
}

#define NORM_ID(v) (v)
#define NORM_D2F(v) ((float)(v))
#define NORM_H2F(v) cv_f16_to_f32(v)
#define NORM_F2H(v) cv_f32_to_f16((float)(v))

/* The templates keep their OpenMP pragma on its own line. */
// clang-format off
/* Helpers and the LayerNormalization kernel for storage type T computed in
 * A. LD converts T -> A, ST converts A -> T. */
#define NORM_DEF_ROW(SFX, T, A, LD, ST)                                                            \
    /* sum of x[0..n) */                                                                           \
    static A norm_sum_##SFX(const T *restrict x, int64_t n) {                                      \
        A l[8] = {0}, s = 0;                                                                       \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8)                                                                 \
            for (int j = 0; j < 8; j++)                                                            \
                l[j] += LD(x[i + j]);                                                              \
        for (; i < n; i++)                                                                         \
            s += LD(x[i]);                                                                         \
        for (int j = 0; j < 8; j++)                                                                \
            s += l[j];                                                                             \
        return s;                                                                                  \
    }                                                                                              \
    /* sum of (x - m)^2 over x[0..n) */                                                            \
    static A norm_sqdev_##SFX(const T *restrict x, int64_t n, A m) {                               \
        A l[8] = {0}, s = 0;                                                                       \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8)                                                                 \
            for (int j = 0; j < 8; j++) {                                                          \
                A d = LD(x[i + j]) - m;                                                            \
                l[j] += d * d;                                                                     \
            }                                                                                      \
        for (; i < n; i++) {                                                                       \
            A d = LD(x[i]) - m;                                                                    \
            s += d * d;                                                                            \
        }                                                                                          \
        for (int j = 0; j < 8; j++)                                                                \
            s += l[j];                                                                             \
        return s;                                                                                  \
    }                                                                                              \
    /* LayerNormalization over rows: x, y are [M, N] row-major; sc, bi are the                     \
     * scale and bias expanded to N values; mo, io (nullable) get each row's mean                  \
     * and 1/sqrt(var + eps). */                                                                   \
    static void layernorm_rows_##SFX##_ref(const T *restrict x, T *restrict y, int64_t M,          \
                                           int64_t N, const A *restrict sc, const A *restrict bi,  \
                                           double eps, A *mo, A *io, int nt) {                     \
        _Pragma("omp parallel for num_threads(nt) if(nt > 1)")                                     \
        for (int64_t m = 0; m < M; m++) {                                                          \
            const T *restrict xr = x + m * N;                                                      \
            T *restrict yr = y + m * N;                                                            \
            A mean = norm_sum_##SFX(xr, N) / (A)N;                                                 \
            A var = norm_sqdev_##SFX(xr, N, mean) / (A)N;                                          \
            A inv = (A)(1.0 / sqrt((double)var + eps));                                            \
            for (int64_t i = 0; i < N; i++)                                                        \
                yr[i] = ST((LD(xr[i]) - mean) * inv * sc[i] + bi[i]);                              \
            if (mo) mo[m] = mean;                                                                  \
            if (io) io[m] = inv;                                                                   \
        }                                                                                          \
    }

/* Batch/instance normalization kernels (T stored, A computed). x, y are
 * [N, C, S] row-major (S = product of spatial dims). */
#define NORM_DEF_CHAN(SFX, STATS, T, A, LD, ST)                                                    \
    /* y = x * a[c] + b[c] with a = scale / sqrt(var + eps), b = B - mean * a */                   \
    static void batchnorm_ncs_##SFX##_ref(                                                         \
        const T *restrict x, T *restrict y, int64_t N, int64_t C, int64_t S, const cv_tensor *sc,  \
        const cv_tensor *bi, const cv_tensor *mu, const cv_tensor *var, double eps, int nt) {      \
        _Pragma("omp parallel for num_threads(nt) if(nt > 1)")                                     \
        for (int64_t nc = 0; nc < N * C; nc++) {                                                   \
            int64_t ch = nc % C;                                                                   \
            double a = cv_get_f64(sc, ch) / sqrt(cv_get_f64(var, ch) + eps);                       \
            A aa = (A)a, bb = (A)(cv_get_f64(bi, ch) - cv_get_f64(mu, ch) * a);                    \
            const T *restrict xr = x + nc * S;                                                     \
            T *restrict yr = y + nc * S;                                                           \
            for (int64_t i = 0; i < S; i++)                                                        \
                yr[i] = ST(LD(xr[i]) * aa + bb);                                                   \
        }                                                                                          \
    }                                                                                              \
    /* per (n, c): y = (x - mean) / sqrt(var + eps) * scale[c] + B[c] */                           \
    static void instnorm_ncs_##SFX##_ref(const T *restrict x, T *restrict y, int64_t N, int64_t C, \
                                         int64_t S, const cv_tensor *sc, const cv_tensor *bi,      \
                                         double eps, int nt) {                                     \
        _Pragma("omp parallel for num_threads(nt) if(nt > 1)")                                     \
        for (int64_t nc = 0; nc < N * C; nc++) {                                                   \
            int64_t ch = nc % C;                                                                   \
            const T *restrict xr = x + nc * S;                                                     \
            T *restrict yr = y + nc * S;                                                           \
            double mean = S ? norm_sum_##STATS(xr, S) / (double)S : 0;                             \
            double var = S ? norm_sqdev_##STATS(xr, S, mean) / (double)S : 0;                      \
            double k = cv_get_f64(sc, ch) / sqrt(var + eps);                                       \
            A aa = (A)k, bb = (A)(cv_get_f64(bi, ch) - mean * k);                                  \
            for (int64_t i = 0; i < S; i++)                                                        \
                yr[i] = ST(LD(xr[i]) * aa + bb);                                                   \
        }                                                                                          \
    }

NORM_DEF_ROW(f32, float, float, NORM_ID, NORM_ID)
NORM_DEF_ROW(f32d, float, double, NORM_ID, NORM_ID)
NORM_DEF_ROW(f64, double, double, NORM_ID, NORM_ID)
NORM_DEF_ROW(f64f, double, float, NORM_D2F, NORM_ID)
NORM_DEF_ROW(f16, uint16_t, float, NORM_H2F, NORM_F2H)
NORM_DEF_ROW(f16d, uint16_t, double, NORM_H2F, NORM_F2H)
/* Instance statistics in double: spatial planes can be large. */
NORM_DEF_CHAN(f32, f32d, float, float, NORM_ID, NORM_ID)
NORM_DEF_CHAN(f64, f64, double, double, NORM_ID, NORM_ID)
NORM_DEF_CHAN(f16, f16d, uint16_t, float, NORM_H2F, NORM_F2H)
// clang-format on

/* ---- BatchNormalization ---- */

static cleave_status batchnorm_infer(op_call *c) {
    const ir_node *n = c->node;
    CV_TRY(norm_need_float(c, 0, "X"));
    const cv_tensor *x = c->in[0];
    if (x->ndim < 2)
        return op_fail(c, CLEAVE_E_INVALID, "input X must have rank >= 2 (N, C, ...), got %d",
                       x->ndim);
    if (n->opset >= 14 && ir_attr_int(n, "training_mode", 0) != 0)
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "training_mode=1 is not supported (inference only)");
    if (n->opset < 7 && ir_node_attr(n, "is_test") && ir_attr_int(n, "is_test", 0) == 0)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "is_test=0 (training) is not supported");
    if (n->opset < 9 && ir_attr_int(n, "spatial", 1) != 1)
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "spatial=0 (per-activation statistics) is not "
                       "supported");
    for (int k = 1; k < c->n_out; k++)
        if (c->out[k])
            return op_fail(c, n->opset >= 14 ? CLEAVE_E_INVALID : CLEAVE_E_UNSUPPORTED,
                           "output %d (running/saved statistics) exists only in training mode, "
                           "which is not supported",
                           k);
    static const char *const names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int k = 1; k < 5; k++)
        CV_TRY(norm_need_channel_param(c, k, names[k], x->dims[1]));
    if (ir_attr_float(n, "epsilon", 1e-5f) < 0)
        return op_fail(c, CLEAVE_E_INVALID, "attribute epsilon must be >= 0");
    op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return CLEAVE_OK;
}

static cleave_status batchnorm_run(op_call *c) {
    const cv_tensor *x = c->in[0];
    cv_tensor *y = c->out[0];
    int64_t N = x->dims[0], C = x->dims[1], S = cv_shape_numel(x->ndim - 2, x->dims + 2);
    double eps = ir_attr_float(c->node, "epsilon", 1e-5f);
    int nt = norm_threads(c, N * C * S);
    const cv_tensor *const *p = c->in;
    switch (x->dtype) {
    case CV_F32:
        batchnorm_ncs_f32_ref(x->data, y->data, N, C, S, p[1], p[2], p[3], p[4], eps, nt);
        break;
    case CV_F64:
        batchnorm_ncs_f64_ref(x->data, y->data, N, C, S, p[1], p[2], p[3], p[4], eps, nt);
        break;
    case CV_F16:
        batchnorm_ncs_f16_ref(x->data, y->data, N, C, S, p[1], p[2], p[3], p[4], eps, nt);
        break;
    default: return op_fail(c, CLEAVE_E_INTERNAL, "dtype not bound in infer");
    }
    return CLEAVE_OK;
}

const op_def op_def_BatchNormalization = {
    "BatchNormalization", 5, 5, 1, 5, batchnorm_infer, NULL, batchnorm_run, NULL, 0};

/* ---- InstanceNormalization ---- */

static cleave_status instnorm_infer(op_call *c) {
    CV_TRY(norm_need_float(c, 0, "input"));
    const cv_tensor *x = c->in[0];
    if (x->ndim < 2)
        return op_fail(c, CLEAVE_E_INVALID, "input must have rank >= 2 (N, C, D1, ...), got %d",
                       x->ndim);
    CV_TRY(norm_need_channel_param(c, 1, "scale", x->dims[1]));
    CV_TRY(norm_need_channel_param(c, 2, "B", x->dims[1]));
    if (ir_attr_float(c->node, "epsilon", 1e-5f) < 0)
        return op_fail(c, CLEAVE_E_INVALID, "attribute epsilon must be >= 0");
    op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return CLEAVE_OK;
}

static cleave_status instnorm_run(op_call *c) {
    const cv_tensor *x = c->in[0];
    cv_tensor *y = c->out[0];
    int64_t N = x->dims[0], C = x->dims[1], S = cv_shape_numel(x->ndim - 2, x->dims + 2);
    double eps = ir_attr_float(c->node, "epsilon", 1e-5f);
    int nt = norm_threads(c, N * C * S);
    switch (x->dtype) {
    case CV_F32:
        instnorm_ncs_f32_ref(x->data, y->data, N, C, S, c->in[1], c->in[2], eps, nt);
        break;
    case CV_F64:
        instnorm_ncs_f64_ref(x->data, y->data, N, C, S, c->in[1], c->in[2], eps, nt);
        break;
    case CV_F16:
        instnorm_ncs_f16_ref(x->data, y->data, N, C, S, c->in[1], c->in[2], eps, nt);
        break;
    default: return op_fail(c, CLEAVE_E_INTERNAL, "dtype not bound in infer");
    }
    return CLEAVE_OK;
}

const op_def op_def_InstanceNormalization = {
    "InstanceNormalization", 3, 3, 1, 1, instnorm_infer, NULL, instnorm_run, NULL, 0};

/* ---- LayerNormalization ---- */

/* Normalized block of X: dims[axis..]. Returns the axis or -1 after failing. */
static int layernorm_axis(op_call *c) {
    const cv_tensor *x = c->in[0];
    int64_t a = ir_attr_int(c->node, "axis", -1);
    int axis = cv_axis(a, x->ndim);
    if (axis < 0)
        op_fail(c, CLEAVE_E_INVALID, "attribute axis=%lld is out of range for rank %d",
                (long long)a, x->ndim);
    return axis;
}

/* Scale/bias p must broadcast (numpy, right-aligned) to the k dims nd. */
static cleave_status layernorm_check_param(op_call *c, int k, const char *what, const int64_t *nd,
                                           int nk) {
    CV_TRY(norm_need_float(c, k, what));
    const cv_tensor *p = c->in[k];
    int ok = 1;
    for (int i = 0; i < p->ndim && ok; i++) {
        int j = nk - p->ndim + i; /* matching normalized dim, < 0: leading */
        int64_t d = p->dims[i];
        ok = j < 0 ? d == 1 : (d == 1 || d == nd[j]);
    }
    if (!ok) {
        char s1[128], s2[128];
        return op_fail(c, CLEAVE_E_INVALID,
                       "input %d (%s) of shape %s does not broadcast to the normalized shape %s", k,
                       what, cv_shape_str(p->ndim, p->dims, s1, sizeof s1),
                       cv_shape_str(nk, nd, s2, sizeof s2));
    }
    return CLEAVE_OK;
}

static cleave_status layernorm_infer(op_call *c) {
    CV_TRY(norm_need_float(c, 0, "X"));
    const cv_tensor *x = c->in[0];
    if (x->ndim < 1) return op_fail(c, CLEAVE_E_INVALID, "input X must have rank >= 1");
    int axis = layernorm_axis(c);
    if (axis < 0) return CLEAVE_E_INVALID;
    int64_t stash = ir_attr_int(c->node, "stash_type", 1);
    if (stash != CV_F32 && stash != CV_F64)
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "stash_type=%lld is not supported (1 = float32, 11 = float64)",
                       (long long)stash);
    const int64_t *nd = x->dims + axis;
    int nk = x->ndim - axis;
    CV_TRY(layernorm_check_param(c, 1, "Scale", nd, nk));
    if (c->n_in > 2 && c->in[2]) CV_TRY(layernorm_check_param(c, 2, "B", nd, nk));
    op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    int64_t rd[CV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        rd[i] = i < axis ? x->dims[i] : 1;
    op_set_out(c, 1, (cv_dtype)stash, x->ndim, rd);
    op_set_out(c, 2, (cv_dtype)stash, x->ndim, rd);
    return CLEAVE_OK;
}

static cleave_status layernorm_prepare(op_call *c) {
    const cv_tensor *x = c->in[0];
    int axis = layernorm_axis(c);
    if (axis < 0) return CLEAVE_E_INVALID;
    size_t es = ir_attr_int(c->node, "stash_type", 1) == CV_F64 ? 8 : 4, n;
    if (!cv_mul_size((size_t)cv_shape_numel(x->ndim - axis, x->dims + axis), 2 * es, &n))
        return op_fail(c, CLEAVE_E_LIMIT, "normalized block too large");
    c->scratch_bytes = n;
    return CLEAVE_OK;
}

/* Expand scale/bias p (or zeros when p is NULL) to the N = prod(nd) values of
 * the normalized block, as float (dbl = 0) or double (dbl = 1) into dst. */
static void layernorm_expand(const cv_tensor *p, const int64_t *nd, int nk, int dbl, void *dst) {
    int64_t N = cv_shape_numel(nk, nd), st[CV_MAX_DIMS], idx[CV_MAX_DIMS] = {0}, src = 0;
    int64_t s = 1;
    for (int j = nk - 1; j >= 0; j--) { /* stride of p along normalized dim j, 0 if broadcast */
        int i = p ? p->ndim - (nk - j) : -1;
        int64_t d = i >= 0 ? p->dims[i] : 1;
        st[j] = d == 1 ? 0 : s;
        s *= d;
    }
    for (int64_t e = 0; e < N; e++) {
        double v = p ? cv_get_f64(p, src) : 0.0;
        if (dbl)
            ((double *)dst)[e] = v;
        else
            ((float *)dst)[e] = (float)v;
        for (int j = nk - 1; j >= 0; j--) { /* odometer step */
            src += st[j];
            if (++idx[j] < nd[j]) break;
            src -= st[j] * nd[j];
            idx[j] = 0;
        }
    }
}

static cleave_status layernorm_run(op_call *c) {
    const cv_tensor *x = c->in[0];
    int axis = layernorm_axis(c);
    if (axis < 0) return CLEAVE_E_INVALID;
    int dbl = ir_attr_int(c->node, "stash_type", 1) == CV_F64;
    const int64_t *nd = x->dims + axis;
    int nk = x->ndim - axis;
    int64_t M = cv_shape_numel(axis, x->dims), N = cv_shape_numel(nk, nd);
    size_t es = dbl ? 8 : 4;
    if (N > 0 && (!c->scratch || c->scratch_bytes < (size_t)N * 2 * es))
        return op_fail(c, CLEAVE_E_INTERNAL, "scratch of %zu bytes missing", (size_t)N * 2 * es);
    char *sc = c->scratch, *bi = sc ? sc + (size_t)N * es : NULL;
    layernorm_expand(c->in[1], nd, nk, dbl, sc);
    layernorm_expand(c->n_in > 2 ? c->in[2] : NULL, nd, nk, dbl, bi);
    double eps = ir_attr_float(c->node, "epsilon", 1e-5f);
    void *y = c->out[0]->data;
    void *mo = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
    void *io = c->n_out > 2 && c->out[2] ? c->out[2]->data : NULL;
    int nt = norm_threads(c, M * N);
    const void *xd = x->data;
#define LN_CALL(SFX, A)                                                                            \
    layernorm_rows_##SFX##_ref(xd, y, M, N, (const A *)sc, (const A *)bi, eps, mo, io, nt)
    switch (x->dtype) {
    case CV_F32:
        if (dbl)
            LN_CALL(f32d, double);
        else
            LN_CALL(f32, float);
        break;
    case CV_F64:
        if (dbl)
            LN_CALL(f64, double);
        else
            LN_CALL(f64f, float);
        break;
    case CV_F16:
        if (dbl)
            LN_CALL(f16d, double);
        else
            LN_CALL(f16, float);
        break;
    default: return op_fail(c, CLEAVE_E_INTERNAL, "dtype not bound in infer");
    }
#undef LN_CALL
    return CLEAVE_OK;
}

const op_def op_def_LayerNormalization = {
    "LayerNormalization", 2, 3, 1, 3, layernorm_infer, layernorm_prepare, layernorm_run, NULL, 0};
