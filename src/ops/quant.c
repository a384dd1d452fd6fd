/* quant: the ONNX linear quantizers: QuantizeLinear, DequantizeLinear
 * (per tensor, and per axis from opset 13; uint8 / int8), DynamicQuantizeLinear
 * (uint8, ONNX Runtime's scale / zero point), and Round, the rounding
 * DynamicQuantizeLinear's function body is written with. Quantization is
 * y = saturate(round_half_even(x / scale) + zero_point), in float like ONNX
 * Runtime. The integer products (QLinearConv, ...) are in qconv.c. */
#include <math.h>
#include <string.h>

#include "base/pack.h"
#include "ops/op.h"

/* Packed codes (cv_tensor.pbits) are (de)quantized this many at a time. */
#define QUANT_PK_CHUNK 2048

/* round_half_even(v) for |v| <= 2^22: adding 1.5 * 2^23 leaves no fraction
 * bits, so the FPU's default round-to-nearest-even rounds v (C11 F.8.3:
 * without -ffast-math the compiler may not fold the add and sub). */
static inline float quant_rne(float v) {
    return (v + 12582912.0f) - 12582912.0f;
}

/* How a (De)QuantizeLinear's scale / zero point apply to x: x viewed as
 * outer x n x inner with parameter j for the middle index (n = 1: one
 * parameter for the whole tensor). */
typedef struct quant_axis {
    int64_t outer, n, inner;
} quant_axis;

/* Checks scale (input 1, float32) and the optional zero point (input 2, one
 * of zp_types, numel equal to the scale's) against x (input 0); per-axis
 * parameters need opset >= 13 and a 1-D scale of x.dims[axis] values. */
static cleave_status quant_params(op_call *c, const cv_dtype *zp_types, int n_zp_types,
                                  quant_axis *qa) {
    CV_TRY(op_need_input(c, 0));
    CV_TRY(op_need_input(c, 1));
    const cv_tensor *x = c->in[0], *s = c->in[1];
    const cv_tensor *z = c->n_in > 2 ? c->in[2] : NULL;
    if (s->dtype != CV_F32)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "scale has dtype %s; only float32 is supported",
                       cv_dtype_name(s->dtype));
    if (ir_attr_int(c->node, "block_size", 0) != 0)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "blocked quantization (block_size) is not supported");
    int64_t ns = cv_numel(s);
    if (s->ndim > 1 || ns < 1)
        return op_fail(c, CLEAVE_E_INVALID, "scale must be a scalar or 1-D, got rank %d with %lld values",
                       s->ndim, (long long)ns);
    if (z) {
        int ok = 0;
        for (int i = 0; i < n_zp_types; i++) ok |= z->dtype == zp_types[i];
        if (!ok)
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "zero point has unsupported dtype %s",
                           cv_dtype_name(z->dtype));
        if (cv_numel(z) != ns || z->ndim > 1)
            return op_fail(c, CLEAVE_E_INVALID, "zero point has %lld values, scale has %lld",
                           (long long)cv_numel(z), (long long)ns);
    }
    qa->outer = 1, qa->n = 1, qa->inner = cv_numel(x);
    if (ns == 1) return CLEAVE_OK; /* per tensor (also a 1-element 1-D scale) */
    if (c->node->opset < 13)
        return op_fail(c, CLEAVE_E_INVALID, "a 1-D scale needs opset >= 13 (node has %d)",
                       c->node->opset);
    int axis = cv_axis(ir_attr_int(c->node, "axis", 1), x->ndim);
    if (axis < 0)
        return op_fail(c, CLEAVE_E_INVALID, "axis %lld is out of range for rank %d",
                       (long long)ir_attr_int(c->node, "axis", 1), x->ndim);
    if (x->dims[axis] != ns)
        return op_fail(c, CLEAVE_E_INVALID, "scale has %lld values, x has %lld along axis %d",
                       (long long)ns, (long long)x->dims[axis], axis);
    qa->n = ns;
    qa->outer = qa->inner = 1;
    for (int i = 0; i < axis; i++) qa->outer *= x->dims[i];
    for (int i = axis + 1; i < x->ndim; i++) qa->inner *= x->dims[i];
    return CLEAVE_OK;
}

/* Zero point j as int32 (0 when absent). */
static int32_t quant_zp(const cv_tensor *z, int64_t j) {
    if (!z) return 0;
    return z->dtype == CV_U8 ? ((const uint8_t *)z->data)[j] : ((const int8_t *)z->data)[j];
}

/* ---- QuantizeLinear ---- */

static cleave_status quantize_infer(op_call *c) {
    static const cv_dtype zt[2] = {CV_U8, CV_I8};
    quant_axis qa = {1, 1, 1};
    CV_TRY(quant_params(c, zt, 2, &qa));
    const cv_tensor *x = c->in[0], *z = c->n_in > 2 ? c->in[2] : NULL;
    if (x->dtype != CV_F32 && x->dtype != CV_I32)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "x has dtype %s; float32 and int32 are supported",
                       cv_dtype_name(x->dtype));
    /* opset 21: output_dtype picks the type when there is no zero point */
    int64_t od = ir_attr_int(c->node, "output_dtype", 0);
    cv_dtype yt = z ? z->dtype : od ? (cv_dtype)od : CV_U8;
    if (yt != CV_U8 && yt != CV_I8)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "output dtype %s is not supported (uint8, int8)",
                       cv_dtype_name(yt));
    if (z && od && od != (int64_t)z->dtype)
        return op_fail(c, CLEAVE_E_INVALID, "output_dtype %lld differs from the zero point's dtype",
                       (long long)od);
    int32_t lo, hi; /* a fused activation: a Clip of the codes (ir_pass_fuse_code_clips) */
    CV_TRY(op_int_bounds(c, yt, 0, &lo, &hi));
    op_set_out(c, 0, yt, x->ndim, x->dims);
    return CLEAVE_OK;
}

/* y[i] = clamp(rne(x[i] / s) + zp, qlo, qhi), n values from offset off; x float32
 * or int32 (converted to float first), y uint8 / int8 by yt. Clamping
 * before the rounding is the same as after (the bounds are integers) and
 * keeps quant_rne in range; a NaN quotient saturates to the high bound.
 * One loop per dtype pair so each is branch-free. */
#define QUANT_LOOP(XT, YT)                                                                         \
    do {                                                                                           \
        const XT *restrict xs_ = (const XT *)x + off;                                              \
        YT *restrict ys_ = (YT *)y + off;                                                          \
        for (int64_t i = 0; i < n; i++) {                                                          \
            /* ternaries, not fminf/fmaxf: they vectorise (NaN still goes to hi) */                \
            float v_ = (float)xs_[i] / s;                                                          \
            v_ = v_ < hi ? v_ : hi;                                                                \
            v_ = v_ > lo ? v_ : lo;                                                                \
            ys_[i] = (YT)((int32_t)quant_rne(v_) + zp);                                            \
        }                                                                                          \
    } while (0)
static void quantize_run_span(const void *x, cv_dtype xt, int64_t off, void *y, cv_dtype yt,
                              float s, int32_t zp, int32_t qlo, int32_t qhi, int64_t n) {
    const float lo = (float)(qlo - zp), hi = (float)(qhi - zp);
    if (xt == CV_F32 && yt == CV_U8) QUANT_LOOP(float, uint8_t);
    else if (xt == CV_F32) QUANT_LOOP(float, int8_t);
    else if (yt == CV_U8) QUANT_LOOP(int32_t, uint8_t);
    else QUANT_LOOP(int32_t, int8_t);
}
#undef QUANT_LOOP

static cleave_status quantize_run(op_call *c) {
    static const cv_dtype zt[2] = {CV_U8, CV_I8};
    quant_axis qa = {1, 1, 1};
    CV_TRY(quant_params(c, zt, 2, &qa));
    const cv_tensor *x = c->in[0], *z = c->n_in > 2 ? c->in[2] : NULL;
    const float *s = (const float *)c->in[1]->data;
    cv_tensor *y = c->out[0];
    for (int64_t o = 0; o < qa.outer; o++)
        for (int64_t j = 0; j < qa.n; j++) {
            int32_t lo, hi; /* the type's range, or a fused activation's codes */
            CV_TRY(op_int_bounds(c, y->dtype, quant_zp(z, j), &lo, &hi));
            const int64_t off = (o * qa.n + j) * qa.inner;
            if (!y->pbits) {
                quantize_run_span(x->data, x->dtype, off, y->data, y->dtype, s[j], quant_zp(z, j), lo,
                                  hi, qa.inner);
                continue;
            }
            /* packed codes (cv_tensor.pbits): QUANT_PK_CHUNK at a time through scratch */
            for (int64_t i0 = 0; i0 < qa.inner; i0 += QUANT_PK_CHUNK) {
                const int64_t len = qa.inner - i0 < QUANT_PK_CHUNK ? qa.inner - i0 : QUANT_PK_CHUNK;
                const char *xs = (const char *)x->data + (size_t)(off + i0) * cv_dtype_size(x->dtype);
                quantize_run_span(xs, x->dtype, 0, c->scratch, CV_U8, s[j], quant_zp(z, j), lo, hi, len);
                q_pack_u_at(c->scratch, (size_t)(off + i0), (size_t)len, y->pbits, y->data);
            }
        }
    return CLEAVE_OK;
}

/* Packed codes in or out (cv_tensor.pbits, uint8 only) go through a chunk of scratch. */
static cleave_status quant_packed_prepare(op_call *c) {
    const cv_tensor *t = c->node->op == OP_QuantizeLinear ? c->out[0] : c->in[0];
    if (!t->pbits) return CLEAVE_OK;
    if (t->dtype != CV_U8) return op_fail(c, CLEAVE_E_INTERNAL, "packed activations must be uint8");
    c->scratch_bytes = QUANT_PK_CHUNK;
    return CLEAVE_OK;
}

/* ---- DequantizeLinear ---- */

static cleave_status dequantize_infer(op_call *c) {
    static const cv_dtype zt[3] = {CV_U8, CV_I8, CV_I32};
    quant_axis qa = {1, 1, 1};
    CV_TRY(quant_params(c, zt, 3, &qa));
    const cv_tensor *x = c->in[0], *z = c->n_in > 2 ? c->in[2] : NULL;
    if (x->dtype != CV_U8 && x->dtype != CV_I8 && x->dtype != CV_I32)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "x has dtype %s; uint8, int8 and int32 are supported",
                       cv_dtype_name(x->dtype));
    if (z && z->dtype != x->dtype)
        return op_fail(c, CLEAVE_E_INVALID, "zero point dtype %s differs from x's %s",
                       cv_dtype_name(z->dtype), cv_dtype_name(x->dtype));
    op_set_out(c, 0, CV_F32, x->ndim, x->dims);
    return CLEAVE_OK;
}

/* y = (float)(x - zp) * scale, as ONNX Runtime computes it (the
 * difference in integers, one rounding in the product). */
static cleave_status dequantize_run(op_call *c) {
    static const cv_dtype zt[3] = {CV_U8, CV_I8, CV_I32};
    quant_axis qa = {1, 1, 1};
    CV_TRY(quant_params(c, zt, 3, &qa));
    const cv_tensor *x = c->in[0], *z = c->n_in > 2 ? c->in[2] : NULL;
    const float *s = (const float *)c->in[1]->data;
    float *y = (float *)c->out[0]->data;
    for (int64_t o = 0; o < qa.outer; o++)
        for (int64_t j = 0; j < qa.n; j++) {
            const int64_t off = (o * qa.n + j) * qa.inner;
            const float sc = s[j];
            float *yr = y + off;
            if (x->dtype == CV_I32) {
                const int64_t zp = z ? ((const int32_t *)z->data)[j] : 0;
                const int32_t *xr = (const int32_t *)x->data + off;
                for (int64_t i = 0; i < qa.inner; i++) yr[i] = (float)(xr[i] - zp) * sc;
            } else if (x->dtype == CV_U8 && x->pbits) { /* packed codes: a chunk at a time */
                const int32_t zp = quant_zp(z, j);
                uint8_t *xr = (uint8_t *)c->scratch;
                for (int64_t i0 = 0; i0 < qa.inner; i0 += QUANT_PK_CHUNK) {
                    const int64_t len = qa.inner - i0 < QUANT_PK_CHUNK ? qa.inner - i0 : QUANT_PK_CHUNK;
                    q_unpack_u_at(x->data, (size_t)(off + i0), (size_t)len, x->pbits, xr);
                    for (int64_t i = 0; i < len; i++) yr[i0 + i] = (float)(xr[i] - zp) * sc;
                }
            } else if (x->dtype == CV_U8) {
                const int32_t zp = quant_zp(z, j);
                const uint8_t *xr = (const uint8_t *)x->data + off;
                for (int64_t i = 0; i < qa.inner; i++) yr[i] = (float)(xr[i] - zp) * sc;
            } else {
                const int32_t zp = quant_zp(z, j);
                const int8_t *xr = (const int8_t *)x->data + off;
                for (int64_t i = 0; i < qa.inner; i++) yr[i] = (float)(xr[i] - zp) * sc;
            }
        }
    return CLEAVE_OK;
}

/* ---- DynamicQuantizeLinear ---- */

static cleave_status dynquant_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    if (x->dtype != CV_F32)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "x has dtype %s; only float32 is supported",
                       cv_dtype_name(x->dtype));
    op_set_out(c, 0, CV_U8, x->ndim, x->dims);
    op_set_out(c, 1, CV_F32, 0, NULL);
    op_set_out(c, 2, CV_U8, 0, NULL);
    return CLEAVE_OK;
}

/* Spec: range [min(0, min x), max(0, max x)] over [0, 255]; scale =
 * range / 255, zp = rne(clamp(0 - min / scale, 0, 255)), then the
 * QuantizeLinear formula. An all-zero x has scale 1 (ONNX Runtime's choice;
 * the spec's formula would divide by 0). */
static cleave_status dynquant_run(op_call *c) {
    const cv_tensor *x = c->in[0];
    const float *xv = (const float *)x->data;
    const int64_t n = cv_numel(x);
    float mn = 0.0f, mx = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        mn = xv[i] < mn ? xv[i] : mn;
        mx = xv[i] > mx ? xv[i] : mx;
    }
    const float scale = mx == mn ? 1.0f : (mx - mn) / 255.0f;
    const float zf = fmaxf(0.0f, fminf(255.0f, 0.0f - mn / scale));
    const int32_t zp = (int32_t)quant_rne(zf);
    quantize_run_span(xv, CV_F32, 0, c->out[0]->data, CV_U8, scale, zp, 0, 255, n);
    if (c->n_out > 1 && c->out[1]) *(float *)c->out[1]->data = scale;
    if (c->n_out > 2 && c->out[2]) *(uint8_t *)c->out[2]->data = (uint8_t)zp;
    return CLEAVE_OK;
}

/* ---- Round (half to even) ---- */

static cleave_status round_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    if (x->dtype != CV_F32 && x->dtype != CV_F64)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "x has dtype %s; float32 and float64 are supported",
                       cv_dtype_name(x->dtype));
    op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return CLEAVE_OK;
}

/* nearbyint rounds in the current mode, which C starts as nearest-even
 * and cleave never changes. */
static cleave_status round_run(op_call *c) {
    const cv_tensor *x = c->in[0];
    const int64_t n = cv_numel(x);
    if (x->dtype == CV_F32) {
        const float *a = (const float *)x->data;
        float *y = (float *)c->out[0]->data;
        for (int64_t i = 0; i < n; i++) y[i] = nearbyintf(a[i]);
    } else {
        const double *a = (const double *)x->data;
        double *y = (double *)c->out[0]->data;
        for (int64_t i = 0; i < n; i++) y[i] = nearbyint(a[i]);
    }
    return CLEAVE_OK;
}

const op_def op_def_QuantizeLinear = {
    .name = "QuantizeLinear", .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 1,
    .infer = quantize_infer, .prepare = quant_packed_prepare, .run = quantize_run,
};
const op_def op_def_DequantizeLinear = {
    .name = "DequantizeLinear", .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 1,
    .infer = dequantize_infer, .prepare = quant_packed_prepare, .run = dequantize_run,
};
const op_def op_def_DynamicQuantizeLinear = {
    .name = "DynamicQuantizeLinear", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 3,
    .infer = dynquant_infer, .run = dynquant_run,
};
const op_def op_def_Round = {
    .name = "Round", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = round_infer, .run = round_run,
};
