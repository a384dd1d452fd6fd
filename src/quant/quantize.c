/* quant quantize: affine quantization parameters from a range and the
 * element-wise quantizers. The rounding rule is ONNX QuantizeLinear's:
 * divide by the scale (f32), round half to even (rintf in the default
 * rounding mode), add the zero point, saturate. Dequantize is
 * (q - zero_point) * scale, so fake_quant == DequantizeLinear(QuantizeLinear). */
#include <float.h>
#include <math.h>

#include "quant/quant.h"

void q_params_qrange(const q_params *p, int32_t *qmin, int32_t *qmax) {
    if (p->is_signed) {
        *qmax = (1 << (p->bits - 1)) - 1; /* restricted: -qmax..qmax */
        *qmin = -*qmax;
    } else {
        *qmin = 0;
        *qmax = (1 << p->bits) - 1;
    }
}

cleave_status q_params_from_range(cleave_ctx *ctx, float lo, float hi, int bits, int symmetric,
                                  q_params *out) {
    if (bits < Q_BITS_MIN || bits > Q_BITS_MAX)
        return cv_fail(ctx, CLEAVE_E_INVALID, "quant params: bits = %d, must be in %d..%d", bits,
                       Q_BITS_MIN, Q_BITS_MAX);
    if (!isfinite(lo) || !isfinite(hi) || lo > hi)
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "quant params: range [%g, %g] must be finite with lo <= hi", (double)lo,
                       (double)hi);
    q_params p = {.scale = 1.0f, .zero_point = 0, .bits = bits, .is_signed = symmetric != 0};
    int32_t qmin, qmax;
    q_params_qrange(&p, &qmin, &qmax);
    if (symmetric) {
        double a = fmax(fabs((double)lo), fabs((double)hi));
        float s = (float)(a / qmax);
        if (s >= FLT_MIN && isfinite(s)) p.scale = s;
    } else {
        /* widen to include 0 so that 0.0 is exact (zero padding, ReLU) */
        double l = fmin((double)lo, 0.0), h = fmax((double)hi, 0.0);
        float s = (float)((h - l) / qmax);
        if (s >= FLT_MIN && isfinite(s)) {
            p.scale = s;
            double zp = rint(-l / (double)s);
            p.zero_point = (int32_t)(zp < qmin ? qmin : zp > qmax ? qmax : zp);
        }
    }
    *out = p;
    return CLEAVE_OK;
}

/* One element: the ONNX rule, saturated to [qmin, qmax]; NaN -> zero point. */
static inline int32_t quant1(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
    float r = rintf(x / scale);
    if (r != r) return zp;
    /* clamp in float before converting: x/scale may exceed the int range */
    float lo = (float)(qmin - zp), hi = (float)(qmax - zp);
    r = r < lo ? lo : r > hi ? hi : r;
    return (int32_t)r + zp;
}

void q_quantize_u8(const float *x, size_t n, const q_params *p, uint8_t *q) {
    int32_t qmin, qmax;
    q_params_qrange(p, &qmin, &qmax);
    if (qmin < 0) qmin = 0;
    if (qmax > 255) qmax = 255;
    for (size_t i = 0; i < n; i++)
        q[i] = (uint8_t)quant1(x[i], p->scale, p->zero_point, qmin, qmax);
}

void q_quantize_s8(const float *x, size_t n, const q_params *p, int8_t *q) {
    int32_t qmin, qmax;
    q_params_qrange(p, &qmin, &qmax);
    if (qmin < -128) qmin = -128;
    if (qmax > 127) qmax = 127;
    for (size_t i = 0; i < n; i++)
        q[i] = (int8_t)quant1(x[i], p->scale, p->zero_point, qmin, qmax);
}

void q_dequantize_u8(const uint8_t *q, size_t n, const q_params *p, float *x) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((int32_t)q[i] - p->zero_point) * p->scale;
}

void q_dequantize_s8(const int8_t *q, size_t n, const q_params *p, float *x) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((int32_t)q[i] - p->zero_point) * p->scale;
}

void q_fake_quant(const float *x, size_t n, const q_params *p, float *y) {
    int32_t qmin, qmax;
    q_params_qrange(p, &qmin, &qmax);
    for (size_t i = 0; i < n; i++) {
        int32_t q = quant1(x[i], p->scale, p->zero_point, qmin, qmax);
        y[i] = (float)(q - p->zero_point) * p->scale;
    }
}

cleave_status q_weight_params_per_channel(cleave_ctx *ctx, const float *w, int64_t channels,
                                          int64_t per_ch, int bits, q_range_method m,
                                          q_params *out) {
    if (channels < 1 || per_ch < 1)
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "per-channel weight params: %lld channels x %lld values, both must be >= 1",
                       (long long)channels, (long long)per_ch);
    if (bits < Q_BITS_MIN || bits > Q_BITS_MAX)
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "per-channel weight params: bits = %d, must be in %d..%d", bits, Q_BITS_MIN,
                       Q_BITS_MAX);
    for (int64_t c = 0; c < channels; c++) {
        float lo, hi;
        CV_TRY(q_range_of(ctx, w + c * per_ch, (size_t)per_ch, m, bits, 1, 99.99, &lo, &hi));
        CV_TRY(q_params_from_range(ctx, lo, hi, bits, 1, &out[c]));
    }
    return CLEAVE_OK;
}
