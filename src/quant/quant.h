/* quant: the numerical core of post-training quantization — affine
 * quantization parameters, ONNX-exact quantize/dequantize, dense 1..8-bit
 * packing, and histogram observers that answer a clipping range for any bit
 * width and method after one calibration pass (min/max, percentile,
 * MSE-optimal search, ACIQ Laplace/Gauss). Pure C11 + libm. */
#ifndef CLEAVE_QUANT_QUANT_H
#define CLEAVE_QUANT_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "base/pack.h"

#define Q_BITS_MIN 2 /* quantizer widths accepted by q_params_from_range & co */
#define Q_BITS_MAX 8

/* ---- parameters and element-wise quantizers (quantize.c) ---- */

/* real = (q - zero_point) * scale.
 * is_signed=1: q in [-(2^(bits-1)-1), 2^(bits-1)-1] (restricted, symmetric),
 *              zero_point 0;
 * is_signed=0: q in [0, 2^bits-1], zero_point in that range. */
typedef struct q_params {
    float scale; /* > 0 */
    int32_t zero_point;
    int bits; /* 2..8 */
    int is_signed;
} q_params;

/* Integer range [*qmin, *qmax] of p (see q_params). */
void q_params_qrange(const q_params *p, int32_t *qmin, int32_t *qmax);

/* Range -> parameters. lo <= hi, both finite; bits 2..8.
 * symmetric=1: signed, zero_point 0, scale = max(|lo|,|hi|)/(2^(b-1)-1)
 *   (restricted range, so 2 bits is ternary).
 * symmetric=0: unsigned; the range is first widened to include 0;
 *   scale = (hi-lo)/(2^b-1); zero_point = round_half_even(-lo/scale) in
 *   [0, 2^b-1], so 0.0 is exactly representable.
 * A degenerate range (width 0, or a scale that underflows FLT_MIN) gives
 * scale 1, zero_point 0 — nothing divides by 0 and 0.0 stays exact. */
cleave_status q_params_from_range(cleave_ctx *ctx, float lo, float hi, int bits, int symmetric,
                                  q_params *out);

/* q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax): the ONNX
 * QuantizeLinear rule (divide, round half to even, add zero point, saturate).
 * x: n f32; q: n elements. The clamp is p's range intersected with the
 * output dtype (u8: [0,255], s8: [-128,127]); NaN quantizes to zero_point.
 * Use u8 with unsigned params and s8 with signed params. */
void q_quantize_u8(const float *x, size_t n, const q_params *p, uint8_t *q);
void q_quantize_s8(const float *x, size_t n, const q_params *p, int8_t *q);
/* x = (q - zero_point) * scale (ONNX DequantizeLinear). */
void q_dequantize_u8(const uint8_t *q, size_t n, const q_params *p, float *x);
void q_dequantize_s8(const int8_t *q, size_t n, const q_params *p, float *x);
/* y = dequant(quant(x)) with p's range; y may equal x (in place). */
void q_fake_quant(const float *x, size_t n, const q_params *p, float *y);

/* dense bit packing: base/pack.h */

/* ---- observers (observer.c) ---- */

typedef enum q_range_method {
    Q_RANGE_MINMAX,
    Q_RANGE_PERCENTILE,
    Q_RANGE_MSE,
    Q_RANGE_ACIQ_LAPLACE,
    Q_RANGE_ACIQ_GAUSS
} q_range_method;

/* "minmax", "percentile", "mse", "aciq-laplace", "aciq-gauss".
 * q_range_method_parse returns 0 on success, -1 for an unknown name. */
const char *q_range_method_name(q_range_method m);
int q_range_method_parse(const char *s, q_range_method *out);

/* Statistics of one tensor over many batches. Plain data so it can be
 * saved and rebuilt field by field (q_hist_init, then set every field):
 *   min, max      exact extremes of all values added (0, 0 while empty)
 *   count         number of values; sum, sumsq: Σx, Σx² (double)
 *   lo, hi        histogram span, lo < hi; bins[k] counts values in
 *                 [lo + k*w, lo + (k+1)*w), w = (hi-lo)/nbins (x == hi goes
 *                 to the last bin). The span only ever doubles (exact merge
 *                 of bin pairs), so counts are never redistributed. */
typedef struct q_hist {
    float min, max;
    double count, sum, sumsq;
    double lo, hi;
    int nbins;
    double *bins; /* [nbins], owned (cv_calloc) */
} q_hist;

#define Q_HIST_DEFAULT_BINS 2048
#define Q_HIST_MAX_BINS (1 << 20)

/* nbins in 1..Q_HIST_MAX_BINS. Empty: count 0, min = max = 0, [lo,hi] = [0,1]. */
cleave_status q_hist_init(cleave_ctx *ctx, q_hist *h, int nbins);
void q_hist_free(q_hist *h);
/* Add n values (f32). The first values of an empty histogram set the span;
 * later values outside [lo,hi] double the span (merging bin pairs) until
 * they fit. NaN/Inf -> CLEAVE_E_INVALID and h is left unchanged. */
cleave_status q_hist_add(cleave_ctx *ctx, q_hist *h, const float *x, size_t n);

/* Clipping range for `bits` (2..8) and symmetric (1: [-a, a] for the signed
 * restricted quantizer; 0: [lo', hi'] for the unsigned one; for data that
 * is >= 0 lo' = min, i.e. 0 for ReLU outputs, and only the top is clipped).
 * param: the percentile (0 < p <= 100, e.g. 99.99) for Q_RANGE_PERCENTILE,
 * ignored otherwise. Never wider than the observed [min, max] (or, when
 * symmetric, max(|min|,|max|)). Empty histogram -> CLEAVE_E_INVALID.
 *   MINMAX: observed extremes.   PERCENTILE: quantiles of x (asymmetric) or
 *   of |x| (symmetric).   MSE: grid search + refinement minimising
 *   q_hist_mse.   ACIQ_*: Banner et al. (see observer.c for the table and
 *   how it is mapped to cleave's quantizers). */
cleave_status q_hist_range(cleave_ctx *ctx, const q_hist *h, q_range_method m, int bits,
                           int symmetric, double param, float *lo, float *hi);

/* Expected squared error per value of fake-quantizing the observed
 * distribution with q_params_from_range(lo, hi, bits, symmetric) (clipping +
 * rounding), the density taken as uniform inside each bin (clipped to
 * [min, max]). Returns NAN for bad arguments (bits, lo > hi, non-finite)
 * and 0 for an empty histogram. */
double q_hist_mse(const q_hist *h, float lo, float hi, int bits, int symmetric);

/* ACIQ optimal clip in units of the Laplace b (gauss=0) or the Gaussian
 * sigma (gauss=1) for a uniform quantizer with `steps` steps across the
 * clipping interval [-alpha, alpha] (Banner et al. 2019, eq. for the
 * clipping + rounding MSE, minimised numerically). steps = 2^M gives the
 * paper's table (Laplace 2.83, 3.89, 5.03, ... for M = 2, 3, 4, ...). */
double q_aciq_alpha(int gauss, double steps);

/* Range of an array (e.g. one weight channel): MINMAX exactly; MSE by an
 * exact search on the values when n is small, else like the others through
 * a temporary histogram of Q_HIST_DEFAULT_BINS bins. NaN/Inf -> error. */
cleave_status q_range_of(cleave_ctx *ctx, const float *x, size_t n, q_range_method m, int bits,
                         int symmetric, double param, float *lo, float *hi);

/* Per-channel weight parameters: w is [channels, per_ch] (axis 0 = output
 * channel, row-major, f32); out[c] = symmetric signed params of channel c
 * at `bits` with the range chosen by m (percentile methods use 99.99). */
cleave_status q_weight_params_per_channel(cleave_ctx *ctx, const float *w, int64_t channels,
                                          int64_t per_ch, int bits, q_range_method m,
                                          q_params *out);

#endif
