/* softmax.c: Softmax and LogSoftmax. The input is viewed as (outer, n, inner)
 * blocks reduced along n. From opset 13 n is the single dimension `axis`
 * (default -1); before 13 the input is coerced to 2-D at `axis` (default 1),
 * so n is the flattened trailing block and inner = 1. Numerically stable:
 * the maximum is subtracted before exp. float16 runs through float scratch. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/op.h"
#include "ops/vexp.h"

#define SOFTMAX_PAR_MIN 32768

typedef struct softmax_shape {
    int64_t outer, n, inner;
} softmax_shape;

/* Block shape from the opset-dependent axis semantics; fails on a bad axis. */
static cleave_status softmax_shape_of(op_call *c, softmax_shape *s) {
    const cv_tensor *x = c->in[0];
    int new_sem = c->node->opset >= 13;
    int64_t a = ir_attr_int(c->node, "axis", new_sem ? -1 : 1);
    int r = x->ndim;
    if (r < 1) return op_fail(c, CLEAVE_E_INVALID, "input must have rank >= 1 (got a scalar)");
    int axis = cv_axis(a, r);
    if (axis < 0)
        return op_fail(c, CLEAVE_E_INVALID, "attribute axis=%lld is out of range for rank %d",
                       (long long)a, r);
    s->outer = cv_shape_numel(axis, x->dims);
    if (new_sem) {
        s->n = x->dims[axis];
        s->inner = cv_shape_numel(r - axis - 1, x->dims + axis + 1);
    } else {
        s->n = cv_shape_numel(r - axis, x->dims + axis);
        s->inner = 1;
    }
    return CLEAVE_OK;
}

/* Per-thread scratch: max and sum rows (inner > 1), plus a float copy of the
 * input and output block for float16. */
static size_t softmax_scratch_per_thread(cv_dtype dt, const softmax_shape *s) {
    size_t es = dt == CV_F64 ? 8 : 4;
    size_t b = s->inner > 1 || dt == CV_F16 ? 2 * (size_t)s->inner * es : 0;
    if (dt == CV_F16) b += 2 * (size_t)s->n * (size_t)s->inner * 4;
    return (b + 63) & ~(size_t)63;
}

/* y[i] = exp(x[i] - m[i]) (ms = 1) or exp(x[i] - m[0]) (ms = 0). The clamp
 * is a separate pass: fused, GCC threads the clamped constant into a branch
 * and gives up vectorising the polynomial. exp(-87.3) ~ 1e-38 stands in for 0. */
static void softmax_expsub_f32(const float *restrict x, const float *restrict m, int ms,
                               float *restrict y, int64_t n) {
    if (ms) {
        for (int64_t i = 0; i < n; i++) {
            float d = x[i] - m[i];
            y[i] = d < -87.3f ? -87.3f : d;
        }
    } else {
        float m0 = m[0];
        for (int64_t i = 0; i < n; i++) {
            float d = x[i] - m0;
            y[i] = d < -87.3f ? -87.3f : d;
        }
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = vexp_f32(y[i]);
}

static void softmax_expsub_f64(const double *restrict x, const double *restrict m, int ms,
                               double *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = exp(x[i] - m[ms ? i : 0]);
}

/* One (n, inner) block of x into y; tmp holds 2 * inner values (inner > 1). */
#define SOFTMAX_DEF(SFX, T)                                                                        \
    static T softmax_max_##SFX(const T *restrict x, int64_t n) {                                   \
        T l[8], m = x[0];                                                                          \
        int64_t i = 0;                                                                             \
        for (int j = 0; j < 8; j++)                                                                \
            l[j] = m;                                                                              \
        for (; i + 8 <= n; i += 8)                                                                 \
            for (int j = 0; j < 8; j++)                                                            \
                l[j] = x[i + j] > l[j] ? x[i + j] : l[j];                                          \
        for (; i < n; i++)                                                                         \
            m = x[i] > m ? x[i] : m;                                                               \
        for (int j = 0; j < 8; j++)                                                                \
            m = l[j] > m ? l[j] : m;                                                               \
        return m;                                                                                  \
    }                                                                                              \
    static double softmax_sum_##SFX(const T *restrict x, int64_t n) {                              \
        T l[8] = {0};                                                                              \
        double s = 0;                                                                              \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8)                                                                 \
            for (int j = 0; j < 8; j++)                                                            \
                l[j] += x[i + j];                                                                  \
        for (; i < n; i++)                                                                         \
            s += x[i];                                                                             \
        for (int j = 0; j < 8; j++)                                                                \
            s += l[j];                                                                             \
        return s;                                                                                  \
    }                                                                                              \
    static void softmax_block_##SFX##_ref(const T *restrict x, T *restrict y, int64_t n,           \
                                          int64_t inner, T *restrict tmp, int log_out) {           \
        if (inner == 1) { /* contiguous fast path; y holds the exps first */                       \
            T m = softmax_max_##SFX(x, n);                                                         \
            softmax_expsub_##SFX(x, &m, 0, y, n);                                                  \
            double s = softmax_sum_##SFX(y, n);                                                    \
            if (log_out) {                                                                         \
                T ls = m + (T)log(s);                                                              \
                for (int64_t i = 0; i < n; i++)                                                    \
                    y[i] = x[i] - ls;                                                              \
            } else {                                                                               \
                T inv = (T)(1.0 / s);                                                              \
                for (int64_t i = 0; i < n; i++)                                                    \
                    y[i] *= inv;                                                                   \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        T *restrict mx = tmp, *restrict sm = tmp + inner;                                          \
        memcpy(mx, x, (size_t)inner * sizeof(T));                                                  \
        for (int64_t k = 1; k < n; k++) {                                                          \
            const T *restrict xk = x + k * inner;                                                  \
            for (int64_t j = 0; j < inner; j++)                                                    \
                mx[j] = xk[j] > mx[j] ? xk[j] : mx[j];                                             \
        }                                                                                          \
        for (int64_t j = 0; j < inner; j++)                                                        \
            sm[j] = 0;                                                                             \
        for (int64_t k = 0; k < n; k++) {                                                          \
            T *restrict yk = y + k * inner;                                                        \
            softmax_expsub_##SFX(x + k * inner, mx, 1, yk, inner);                                 \
            for (int64_t j = 0; j < inner; j++)                                                    \
                sm[j] += yk[j];                                                                    \
        }                                                                                          \
        if (log_out) {                                                                             \
            for (int64_t j = 0; j < inner; j++)                                                    \
                sm[j] = mx[j] + (T)log(sm[j]);                                                     \
            for (int64_t k = 0; k < n; k++) {                                                      \
                const T *restrict xk = x + k * inner;                                              \
                T *restrict yk = y + k * inner;                                                    \
                for (int64_t j = 0; j < inner; j++)                                                \
                    yk[j] = xk[j] - sm[j];                                                         \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t j = 0; j < inner; j++)                                                    \
                sm[j] = (T)1 / sm[j];                                                              \
            for (int64_t k = 0; k < n; k++) {                                                      \
                T *restrict yk = y + k * inner;                                                    \
                for (int64_t j = 0; j < inner; j++)                                                \
                    yk[j] *= sm[j];                                                                \
            }                                                                                      \
        }                                                                                          \
    }

SOFTMAX_DEF(f32, float)
SOFTMAX_DEF(f64, double)

/* float16: convert one block to float, run the f32 kernel, convert back. */
static void softmax_block_f16_ref(const uint16_t *restrict x, uint16_t *restrict y, int64_t n,
                                  int64_t inner, float *restrict tmp, int log_out) {
    int64_t b = n * inner;
    float *restrict xf = tmp + 2 * inner, *restrict yf = xf + b;
    for (int64_t i = 0; i < b; i++)
        xf[i] = cv_f16_to_f32(x[i]);
    softmax_block_f32_ref(xf, yf, n, inner, tmp, log_out);
    for (int64_t i = 0; i < b; i++)
        y[i] = cv_f32_to_f16(yf[i]);
}

static cleave_status softmax_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    if (x->dtype != CV_F32 && x->dtype != CV_F64 && x->dtype != CV_F16)
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "input has dtype %s; supported: float32, float64, float16",
                       cv_dtype_name(x->dtype));
    softmax_shape s = {0, 0, 0};
    CV_TRY(softmax_shape_of(c, &s));
    op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return CLEAVE_OK;
}

static cleave_status softmax_prepare(op_call *c) {
    softmax_shape s = {0, 0, 0};
    CV_TRY(softmax_shape_of(c, &s));
    size_t per = softmax_scratch_per_thread(c->in[0]->dtype, &s), tot;
    int nt = c->threads > 1 ? c->threads : 1;
    if (!cv_mul_size(per, (size_t)nt, &tot))
        return op_fail(c, CLEAVE_E_LIMIT, "scratch size overflows");
    c->scratch_bytes = tot;
    return CLEAVE_OK;
}

static cleave_status softmax_run_any(op_call *c, int log_out) {
    const cv_tensor *x = c->in[0];
    softmax_shape s = {0, 0, 0};
    CV_TRY(softmax_shape_of(c, &s));
    size_t per = softmax_scratch_per_thread(x->dtype, &s);
    int nt = c->threads > 1 ? c->threads : 1;
    if (per) { /* as many threads as prepare gave scratch for */
        size_t have = c->scratch ? c->scratch_bytes / per : 0;
        if (have == 0) return op_fail(c, CLEAVE_E_INTERNAL, "scratch of %zu bytes missing", per);
        if ((size_t)nt > have) nt = (int)have;
    }
    if (s.outer * s.n * s.inner < SOFTMAX_PAR_MIN) nt = 1;
    if (nt > s.outer) nt = (int)s.outer;
    int64_t blk = s.n * s.inner;
    if (blk == 0 || s.outer == 0) return CLEAVE_OK; /* empty: nothing to write */
    cv_dtype dt = x->dtype;
    const char *xd = x->data;
    char *yd = c->out[0]->data, *sc = c->scratch;
    size_t es = cv_dtype_size(dt);
    /* Thread t owns outer blocks [outer*t/nt, outer*(t+1)/nt) and scratch slice t. */
#pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        void *tmp = sc ? sc + (size_t)t * per : NULL;
        for (int64_t o = s.outer * t / nt; o < s.outer * (t + 1) / nt; o++) {
            const void *xb = xd + (size_t)(o * blk) * es;
            void *yb = yd + (size_t)(o * blk) * es;
            if (dt == CV_F32)
                softmax_block_f32_ref(xb, yb, s.n, s.inner, tmp, log_out);
            else if (dt == CV_F64)
                softmax_block_f64_ref(xb, yb, s.n, s.inner, tmp, log_out);
            else
                softmax_block_f16_ref(xb, yb, s.n, s.inner, tmp, log_out);
        }
    }
    return CLEAVE_OK;
}

static cleave_status softmax_run(op_call *c) {
    return softmax_run_any(c, 0);
}
static cleave_status logsoftmax_run(op_call *c) {
    return softmax_run_any(c, 1);
}

const op_def op_def_Softmax = {"Softmax",       1,           1,    1, 1, softmax_infer,
                               softmax_prepare, softmax_run, NULL, 0};
const op_def op_def_LogSoftmax = {"LogSoftmax",   1,    1, 1, 1, softmax_infer, softmax_prepare,
                                  logsoftmax_run, NULL, 0};
