/* Unit tests for src/quant/{quantize,pack,observer}.c: closed-form
 * quantization parameters, the ONNX rounding rule, round-trip error bounds,
 * bit packing against a bit-by-bit reference and hand-computed bytes, and
 * the observers against closed-form statistics of seeded synthetic data
 * (uniform, Laplace, Gaussian, ReLU(Laplace)). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quant/quant.h"

static cleave_ctx *g_ctx;

/* ---- seeded PRNG (splitmix64) and samplers ---- */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd64(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* uniform in (0, 1) */
static double uni(void) {
    return ((rnd64() >> 11) + 0.5) * 0x1p-53;
}
static double laplace(double b) {
    double u = uni() - 0.5;
    return u < 0 ? b * log(1.0 + 2.0 * u) : -b * log(1.0 - 2.0 * u);
}
static double gauss(double sigma) {
    return sigma * sqrt(-2.0 * log(uni())) * cos(2.0 * 3.14159265358979323846 * uni());
}

/* fresh error state so each bad-input case shows its own message */
static void clear_err(void) {
    g_ctx->has_error = 0;
    g_ctx->error[0] = 0;
}

/* exact mean squared fake-quant error of x under range [lo, hi] */
static double emp_mse(const float *x, size_t n, float lo, float hi, int bits, int sym) {
    q_params p;
    if (q_params_from_range(g_ctx, lo, hi, bits, sym, &p)) return NAN;
    float *y = malloc(n * sizeof *y);
    q_fake_quant(x, n, &p, y);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    free(y);
    return s / (double)n;
}

/* ---- parameters and quantizers ---- */

static void test_params(void) {
    q_params p;
    CHECK(q_params_from_range(g_ctx, -1.0f, 2.0f, 8, 1, &p) == CLEAVE_OK);
    CHECK(p.is_signed == 1 && p.zero_point == 0 && p.bits == 8);
    CHECK_NEAR(p.scale, 2.0 / 127.0, 0, 1e-7);
    CHECK(q_params_from_range(g_ctx, 0.0f, 255.0f, 8, 0, &p) == CLEAVE_OK);
    CHECK(p.scale == 1.0f && p.zero_point == 0 && !p.is_signed);
    /* [-1, 3] at 2 bits: scale 4/3, zp = rint(0.75) = 1 */
    CHECK(q_params_from_range(g_ctx, -1.0f, 3.0f, 2, 0, &p) == CLEAVE_OK);
    CHECK_NEAR(p.scale, 4.0 / 3.0, 0, 1e-7);
    CHECK(p.zero_point == 1);
    /* widened to include 0 */
    CHECK(q_params_from_range(g_ctx, 2.0f, 5.0f, 8, 0, &p) == CLEAVE_OK);
    CHECK_NEAR(p.scale, 5.0 / 255.0, 0, 1e-7);
    CHECK(p.zero_point == 0);
    CHECK(q_params_from_range(g_ctx, -5.0f, -1.0f, 4, 0, &p) == CLEAVE_OK);
    CHECK_NEAR(p.scale, 5.0 / 15.0, 0, 1e-7);
    CHECK(p.zero_point == 15);
    /* degenerate ranges: scale 1, nothing divides by 0 */
    CHECK(q_params_from_range(g_ctx, 0.0f, 0.0f, 4, 0, &p) == CLEAVE_OK);
    CHECK(p.scale == 1.0f && p.zero_point == 0);
    CHECK(q_params_from_range(g_ctx, 0.0f, 0.0f, 4, 1, &p) == CLEAVE_OK);
    CHECK(p.scale == 1.0f && p.zero_point == 0);
    /* 2-bit symmetric is ternary {-1, 0, 1} */
    CHECK(q_params_from_range(g_ctx, -0.5f, 0.5f, 2, 1, &p) == CLEAVE_OK);
    CHECK(p.scale == 0.5f);
    const float x[] = {-0.3f, -0.2f, 0.1f, 0.26f, 2.0f, -7.0f};
    const int8_t want[] = {-1, 0, 0, 1, 1, -1};
    int8_t q[6];
    q_quantize_s8(x, 6, &p, q);
    CHECK(!memcmp(q, want, 6));
    int32_t qmin, qmax;
    q_params_qrange(&p, &qmin, &qmax);
    CHECK(qmin == -1 && qmax == 1);
}

static void test_rounding(void) {
    /* ONNX: round(x/scale) half to even, THEN add the zero point */
    q_params p = {.scale = 1.0f, .zero_point = 0, .bits = 8, .is_signed = 1};
    const float x[] = {2.5f, 3.5f, -2.5f, 0.5f, 1.5f, -0.5f, 2.4999f, 2.5001f};
    const int8_t want[] = {2, 4, -2, 0, 2, 0, 2, 3};
    int8_t q[8];
    q_quantize_s8(x, 8, &p, q);
    CHECK(!memcmp(q, want, 8));
    /* odd zero point tells the two orders apart: rint(2.5)+11 = 13, rint(13.5) = 14 */
    q_params u = {.scale = 1.0f, .zero_point = 11, .bits = 8, .is_signed = 0};
    const float xu[] = {2.5f, 3.5f, -11.0f, -20.0f, 300.0f, NAN};
    const uint8_t wu[] = {13, 15, 0, 0, 255, 11};
    uint8_t qu[6];
    q_quantize_u8(xu, 6, &u, qu);
    CHECK(!memcmp(qu, wu, 6));
    /* divide (not multiply by a rounded reciprocal): 0.3 / 0.1f */
    q_params d = {.scale = 0.1f, .zero_point = 0, .bits = 8, .is_signed = 1};
    float x3 = 0.35f;
    int8_t q3;
    q_quantize_s8(&x3, 1, &d, &q3);
    CHECK(q3 == (int8_t)rintf(0.35f / 0.1f));
    float back;
    q_dequantize_s8(&q3, 1, &d, &back);
    CHECK(back == (float)q3 * 0.1f);
    uint8_t q4 = 200;
    q_dequantize_u8(&q4, 1, &u, &back);
    CHECK(back == 189.0f);
}

static void test_roundtrip(void) {
    enum { N = 4001 };
    static float x[N], y[N];
    const float lo = -1.3f, hi = 2.7f;
    for (int sym = 0; sym <= 1; sym++)
        for (int bits = 2; bits <= 8; bits++) {
            q_params p;
            CHECK(q_params_from_range(g_ctx, lo, hi, bits, sym, &p) == CLEAVE_OK);
            for (int i = 0; i < N; i++)
                x[i] = lo + (hi - lo) * (float)i / (N - 1);
            q_fake_quant(x, N, &p, y);
            double worst = 0;
            for (int i = 0; i < N; i++)
                worst = fmax(worst, fabs((double)y[i] - x[i]));
            CHECK(worst <= p.scale * 0.5 * (1 + 1e-5) + 1e-6);
            /* u8/s8 paths agree with fake_quant */
            int bad = 0;
            for (int i = 0; i < N; i++) {
                float z;
                if (sym) {
                    int8_t q;
                    q_quantize_s8(&x[i], 1, &p, &q);
                    q_dequantize_s8(&q, 1, &p, &z);
                } else {
                    uint8_t q;
                    q_quantize_u8(&x[i], 1, &p, &q);
                    q_dequantize_u8(&q, 1, &p, &z);
                }
                bad += z != y[i];
            }
            CHECK(bad == 0);
            /* saturation outside */
            int32_t qmin, qmax;
            q_params_qrange(&p, &qmin, &qmax);
            float out[2] = {lo - 100.0f, hi + 100.0f}, r[2];
            q_fake_quant(out, 2, &p, r);
            CHECK(r[0] == (float)(qmin - p.zero_point) * p.scale);
            CHECK(r[1] == (float)(qmax - p.zero_point) * p.scale);
            /* zero is exact; in-place works */
            float z[2] = {0.0f, 1.0f};
            q_fake_quant(z, 2, &p, z);
            CHECK(z[0] == 0.0f);
            CHECK(fabsf(z[1] - 1.0f) <= p.scale * 0.5f * 1.00001f);
        }
    /* zero exact for awkward asymmetric ranges too */
    for (int bits = 2; bits <= 8; bits++) {
        q_params p;
        q_params_from_range(g_ctx, -0.37f, 1.91f, bits, 0, &p);
        float z = 0.0f, r;
        q_fake_quant(&z, 1, &p, &r);
        CHECK(r == 0.0f);
    }
}

/* ---- packing ---- */

/* bit-by-bit reference: value i, bit j -> stream bit i*bits + j */
static void ref_pack(const uint8_t *q, size_t n, int bits, uint8_t *out) {
    memset(out, 0, q_packed_bytes(n, bits));
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < bits; j++)
            if (q[i] >> j & 1) {
                size_t k = i * (size_t)bits + (size_t)j;
                out[k / 8] |= (uint8_t)(1u << (k % 8));
            }
}

static void test_pack(void) {
    CHECK(q_packed_bytes(0, 4) == 0);
    CHECK(q_packed_bytes(7, 1) == 1);
    CHECK(q_packed_bytes(13, 5) == 9);
    CHECK(q_packed_bytes(1001, 3) == 376);
    CHECK(q_packed_bytes(8, 7) == 7);
    CHECK(q_packed_bytes(1001, 8) == 1001);
    CHECK(q_packed_bytes(5, 9) == 0);

    /* hand-computed bytes */
    uint8_t o[4];
    const uint8_t v2[] = {1, 2, 3, 0, 3};
    q_pack_u(v2, 5, 2, o);
    CHECK(o[0] == 0x39 && o[1] == 0x03);
    const uint8_t v3[] = {5, 3, 7, 1};
    q_pack_u(v3, 4, 3, o);
    CHECK(o[0] == 0xDD && o[1] == 0x03);
    const uint8_t v4[] = {0xA, 0x3, 0xF};
    q_pack_u(v4, 3, 4, o);
    CHECK(o[0] == 0x3A && o[1] == 0x0F);
    const int8_t s3[] = {-1, 2, -4};
    q_pack_s(s3, 3, 3, o);
    CHECK(o[0] == 0x17 && o[1] == 0x01);
    int8_t s3b[3];
    q_unpack_s(o, 3, 3, s3b);
    CHECK(s3b[0] == -1 && s3b[1] == 2 && s3b[2] == -4);

    static uint8_t q[1001], u[1001], pk[1002], rf[1002];
    static int8_t sq[1001], su[1001];
    static int16_t s16[1001];
    const size_t ns[] = {1, 7, 13, 64, 129, 1001};
    for (int bits = 1; bits <= 8; bits++)
        for (int t = 0; t < 6; t++) {
            size_t n = ns[t], nb = q_packed_bytes(n, bits);
            for (size_t i = 0; i < n; i++)
                q[i] = (uint8_t)rnd64(); /* high bits must be ignored */
            memset(pk, 0xAB, sizeof pk);
            q_pack_u(q, n, bits, pk);
            ref_pack(q, n, bits, rf);
            CHECK(!memcmp(pk, rf, nb));
            CHECK(pk[nb] == 0xAB); /* nothing written past the end */
            q_unpack_u(pk, n, bits, u);
            int bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += u[i] != (q[i] & ((1u << bits) - 1));
            CHECK(bad == 0);
            /* trailing bits of the last byte are zero */
            size_t used = n * (size_t)bits % 8;
            if (used) CHECK((pk[nb - 1] >> used) == 0);

            /* signed: values in [-2^(b-1), 2^(b-1)-1] */
            int half = 1 << (bits - 1);
            for (size_t i = 0; i < n; i++)
                sq[i] = (int8_t)((int)(rnd64() % (uint64_t)(2 * half)) - half);
            q_pack_s(sq, n, bits, pk);
            q_unpack_s(pk, n, bits, su);
            q_unpack_s16(pk, n, bits, s16);
            bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += su[i] != sq[i] || s16[i] != sq[i];
            CHECK(bad == 0);
            /* the width detected from the values: at most `bits`, and the
             * extremes of the range need all of them */
            if (bits >= 2) {
                CHECK(q_bits_s8(sq, n) <= bits);
                sq[0] = (int8_t)-half;
                CHECK(q_bits_s8(sq, n) == bits);
                s16[0] = (int16_t)(half - 1), s16[1 % n] = (int16_t)(half - 1);
                CHECK(n < 2 || q_bits_s16(s16, 2) == (bits == 2 ? 2 : bits));
            }
        }
    const int16_t wide[] = {0, 128};
    CHECK(q_bits_s16(wide, 2) == 9);

    /* ranges of a stream (how the engine reads and writes parts of a packed
     * activation): any start and length, the other values' bits untouched */
    for (int bits = 1; bits <= 8; bits++) {
        const size_t n = 1001, nb = q_packed_bytes(n, bits);
        const unsigned mask = (1u << bits) - 1u;
        int bad = 0;
        for (int t = 0; t < 200; t++) {
            for (size_t i = 0; i < n; i++) q[i] = (uint8_t)rnd64();
            q_pack_u(q, n, bits, pk);
            const size_t first = (size_t)(rnd64() % n), len = (size_t)(rnd64() % (n - first + 1));
            q_unpack_u_at(pk, first, len, bits, u);
            for (size_t i = 0; i < len; i++) bad += u[i] != (q[first + i] & mask);
            uint8_t nv[1001];
            for (size_t i = 0; i < len; i++) nv[i] = (uint8_t)rnd64(), q[first + i] = nv[i];
            q_pack_u_at(nv, first, len, bits, pk);
            q_pack_u(q, n, bits, rf); /* the whole stream as it should now be */
            bad += memcmp(pk, rf, nb) != 0;
        }
        CHECK(bad == 0);
    }
}

/* ---- observers ---- */

static float *sample(size_t n, int kind, double s) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double v = kind == 0 ? -2.0 + 5.0 * uni() : kind == 1 ? laplace(s) : gauss(s);
        x[i] = (float)v;
    }
    return x;
}

static void build(q_hist *h, const float *x, size_t n) {
    CHECK(q_hist_init(g_ctx, h, Q_HIST_DEFAULT_BINS) == CLEAVE_OK);
    /* several batches, like calibration */
    for (size_t i = 0; i < n; i += 100000)
        CHECK(q_hist_add(g_ctx, h, x + i, n - i < 100000 ? n - i : 100000) == CLEAVE_OK);
}

static void test_names(void) {
    for (int m = Q_RANGE_MINMAX; m <= Q_RANGE_ACIQ_GAUSS; m++) {
        q_range_method r;
        CHECK(q_range_method_parse(q_range_method_name((q_range_method)m), &r) == 0 && (int)r == m);
    }
    q_range_method r;
    CHECK(q_range_method_parse("aciq", &r) == -1);
    CHECK(!strcmp(q_range_method_name(Q_RANGE_ACIQ_LAPLACE), "aciq-laplace"));
}

static void test_aciq_table(void) {
    /* the solver reproduces the published factors for 2^M steps (Banner
     * et al. 2019; authors' released table) */
    const double lap[] = {2.83068299, 3.89722946, 5.02864014, 6.20476633,
                          7.41312622, 8.64561995, 9.89675982};
    const double gau[] = {1.71063519, 2.15159277, 2.55913646, 2.93620062,
                          3.28691474, 3.6151146,  3.92403714};
    for (int m = 2; m <= 8; m++) {
        CHECK_NEAR(q_aciq_alpha(0, ldexp(1, m)), lap[m - 2], 1e-6, 0);
        CHECK_NEAR(q_aciq_alpha(1, ldexp(1, m)), gau[m - 2], 1e-5, 0);
    }
}

static void test_uniform(void) {
    size_t n = 1000000;
    float *x = sample(n, 0, 0);
    float mn = x[0], mx = x[0];
    for (size_t i = 0; i < n; i++)
        mn = fminf(mn, x[i]), mx = fmaxf(mx, x[i]);
    q_hist h;
    build(&h, x, n);
    float lo, hi;
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MINMAX, 8, 0, 0, &lo, &hi) == CLEAVE_OK);
    CHECK(lo == mn && hi == mx);
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MINMAX, 8, 1, 0, &lo, &hi) == CLEAVE_OK);
    CHECK(lo == -mx && hi == mx);
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_PERCENTILE, 8, 0, 99.0, &lo, &hi) == CLEAVE_OK);
    CHECK_NEAR(lo, -1.95, 0.01, 0);
    CHECK_NEAR(hi, 2.95, 0.01, 0);
    /* |x| quantile: P(|x| <= a) = (2 + a)/5 for 2 < a <= 3 */
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_PERCENTILE, 8, 1, 99.0, &lo, &hi) == CLEAVE_OK);
    CHECK_NEAR(hi, 2.95, 0.01, 0);
    CHECK(lo == -hi);
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_PERCENTILE, 8, 1, 80.0, &lo, &hi) == CLEAVE_OK);
    CHECK_NEAR(hi, 2.0, 0.01, 0);
    /* uniform data: 8-bit MSE-optimal range is (nearly) the full range */
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MSE, 8, 0, 0, &lo, &hi) == CLEAVE_OK);
    CHECK_NEAR(lo, mn, 0.05, 0);
    CHECK_NEAR(hi, mx, 0.05, 0);
    CHECK(lo >= mn && hi <= mx);
    /* the same through q_range_of */
    CHECK(q_range_of(g_ctx, x, n, Q_RANGE_PERCENTILE, 8, 0, 99.0, &lo, &hi) == CLEAVE_OK);
    CHECK_NEAR(hi, 2.95, 0.01, 0);
    q_hist_free(&h);
    free(x);
}

static void test_laplace(void) {
    size_t n = 1000000;
    const double b = 0.7;
    float *x = sample(n, 1, b);
    q_hist h;
    build(&h, x, n);
    float lo, hi;
    printf("Laplace b=%.2f, n=%zu, symmetric (restricted signed):\n", b, n);
    printf("  bits  aciq/b (expect)    mse/b   mse(aciq)/mse(opt)  mse(minmax)/mse(opt)"
           "  hist/measured (opt, minmax)\n");
    for (int bits = 2; bits <= 8; bits++) {
        double want = q_aciq_alpha(0, ldexp(1, bits) - 2) * b;
        CHECK(q_hist_range(g_ctx, &h, Q_RANGE_ACIQ_LAPLACE, bits, 1, 0, &lo, &hi) == CLEAVE_OK);
        CHECK_NEAR(hi, want, 0, 0.03);
        CHECK(lo == -hi);
        float mlo, mhi, xlo, xhi;
        CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MSE, bits, 1, 0, &mlo, &mhi) == CLEAVE_OK);
        CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MINMAX, bits, 1, 0, &xlo, &xhi) == CLEAVE_OK);
        double e_opt = q_hist_mse(&h, mlo, mhi, bits, 1);
        double e_aciq = q_hist_mse(&h, lo, hi, bits, 1);
        double e_mm = q_hist_mse(&h, xlo, xhi, bits, 1);
        CHECK(e_opt <= e_mm);
        CHECK(e_opt <= e_aciq * (1 + 1e-4));
        if (bits <= 4) CHECK_NEAR(mhi, hi, 0, 0.10);
        /* histogram MSE vs measured fake-quant MSE on the same samples */
        double m_opt = emp_mse(x, n, mlo, mhi, bits, 1), m_mm = emp_mse(x, n, xlo, xhi, bits, 1);
        CHECK_NEAR(e_opt, m_opt, 0, 0.03);
        CHECK_NEAR(e_mm, m_mm, 0, 0.03);
        printf("  %d     %6.3f (%6.3f)    %6.3f   %6.4f              %8.2f      %.4f %.4f\n", bits,
               hi / b, want / b, mhi / b, e_aciq / e_opt, e_mm / e_opt, e_opt / m_opt, e_mm / m_mm);
    }
    /* asymmetric on two-sided data: ACIQ centred on the mean, N = 2^b - 1 */
    for (int bits = 3; bits <= 8; bits += 5) {
        double alpha = q_aciq_alpha(0, ldexp(1, bits) - 1) * b;
        CHECK(q_hist_range(g_ctx, &h, Q_RANGE_ACIQ_LAPLACE, bits, 0, 0, &lo, &hi) == CLEAVE_OK);
        CHECK_NEAR(hi, alpha, 0.01, 0.03);
        CHECK_NEAR(lo, -alpha, 0.01, 0.03);
        float mlo, mhi;
        CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MSE, bits, 0, 0, &mlo, &mhi) == CLEAVE_OK);
        double e = q_hist_mse(&h, mlo, mhi, bits, 0);
        CHECK(e <= q_hist_mse(&h, h.min, h.max, bits, 0));
        CHECK(e <= q_hist_mse(&h, lo, hi, bits, 0) * (1 + 1e-4));
        CHECK_NEAR(e, emp_mse(x, n, mlo, mhi, bits, 0), 0, 0.03);
        printf("  asym %d bits: aciq [%.3f, %.3f]  mse [%.3f, %.3f] (units of b)\n", bits, lo / b,
               hi / b, mlo / b, mhi / b);
    }

    /* ReLU(Laplace): one-sided, lo' = 0, alpha from the exponential tail */
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0 ? x[i] : 0.0f;
    q_hist r;
    build(&r, x, n);
    for (int bits = 2; bits <= 8; bits += 2) {
        double want = q_aciq_alpha(0, 2 * (ldexp(1, bits) - 1)) * b;
        CHECK(q_hist_range(g_ctx, &r, Q_RANGE_ACIQ_LAPLACE, bits, 0, 0, &lo, &hi) == CLEAVE_OK);
        CHECK(lo == 0.0f);
        CHECK_NEAR(hi, fmin(want, r.max), 0, 0.03);
        float mlo, mhi;
        CHECK(q_hist_range(g_ctx, &r, Q_RANGE_MSE, bits, 0, 0, &mlo, &mhi) == CLEAVE_OK);
        CHECK(mlo == 0.0f && mhi < r.max);
        double e_opt = q_hist_mse(&r, mlo, mhi, bits, 0);
        CHECK(e_opt <= q_hist_mse(&r, 0, r.max, bits, 0));
        double e_emp = emp_mse(x, n, mlo, mhi, bits, 0);
        CHECK_NEAR(e_opt, e_emp, 0, 0.03);
        if (bits <= 4) CHECK_NEAR(mhi, hi, 0, 0.10);
        printf("  relu %d bits: aciq %.3f (expect %.3f)  mse-opt %.3f (units of b)  "
               "hist/measured mse %.4f\n",
               bits, hi / b, want / b, mhi / b, e_opt / e_emp);
        /* percentile keeps 0 and clips the top */
        CHECK(q_hist_range(g_ctx, &r, Q_RANGE_PERCENTILE, bits, 0, 99.9, &lo, &hi) == CLEAVE_OK);
        CHECK(lo == 0.0f);
        /* P(x > t) = 0.5 e^{-t/b} = 0.001 */
        CHECK_NEAR(hi, b * log(500.0), 0, 0.03);
    }
    q_hist_free(&r);
    /* ReLU6-like: atoms at both ends (0 and 1.5 b) */
    for (size_t i = 0; i < n; i++)
        x[i] = fminf(x[i], (float)(1.5 * b));
    build(&r, x, n);
    for (int bits = 2; bits <= 8; bits += 3) {
        double e_h = q_hist_mse(&r, 0, (float)(1.2 * b), bits, 0);
        double e_m = emp_mse(x, n, 0, (float)(1.2 * b), bits, 0);
        CHECK_NEAR(e_h, e_m, 0, 0.03);
        printf("  clip(relu, 1.5b) %d bits, range [0, 1.2b]: hist/measured mse %.4f\n", bits,
               e_h / e_m);
    }
    q_hist_free(&r);
    q_hist_free(&h);
    free(x);
}

static void test_gauss(void) {
    size_t n = 1000000;
    const double sigma = 2.0;
    float *x = sample(n, 2, sigma);
    q_hist h;
    build(&h, x, n);
    float lo, hi;
    printf("Gauss sigma=%.1f: bits aciq/sigma (expect) mse-opt/sigma\n", sigma);
    for (int bits = 2; bits <= 8; bits++) {
        double want = q_aciq_alpha(1, ldexp(1, bits) - 2) * sigma;
        CHECK(q_hist_range(g_ctx, &h, Q_RANGE_ACIQ_GAUSS, bits, 1, 0, &lo, &hi) == CLEAVE_OK);
        CHECK_NEAR(hi, want, 0, 0.03);
        float mlo, mhi;
        CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MSE, bits, 1, 0, &mlo, &mhi) == CLEAVE_OK);
        CHECK_NEAR(q_hist_mse(&h, mlo, mhi, bits, 1), emp_mse(x, n, mlo, mhi, bits, 1), 0, 0.03);
        printf("  %d  %6.3f (%6.3f)  %6.3f\n", bits, hi / sigma, want / sigma, mhi / sigma);
    }
    q_hist_free(&h);
    free(x);
}

static void test_growth(void) {
    enum { N = 30000 };
    static float x[N];
    double sum = 0;
    for (int i = 0; i < N; i++) {
        /* three batches, each beyond the previous span, both directions */
        double v = i < 10000 ? uni() : i < 20000 ? -5.0 + 45.0 * uni() : 100.0 + 900.0 * uni();
        x[i] = (float)v;
        sum += x[i];
    }
    x[12345] = -7.25f; /* exact extremes to look for */
    x[25000] = 1234.5f;
    sum = 0;
    for (int i = 0; i < N; i++)
        sum += x[i];
    q_hist h;
    CHECK(q_hist_init(g_ctx, &h, 1000) == CLEAVE_OK); /* not a power of two on purpose */
    CHECK(h.count == 0 && h.hi > h.lo);
    for (int k = 0; k < 3; k++)
        CHECK(q_hist_add(g_ctx, &h, x + k * 10000, 10000) == CLEAVE_OK);
    CHECK(h.count == N);
    CHECK(h.min == -7.25f && h.max == 1234.5f);
    CHECK_NEAR(h.sum, sum, 1e-6, 1e-12);
    CHECK(h.lo <= -7.25 && h.hi >= 1234.5);
    double tot = 0;
    for (int i = 0; i < h.nbins; i++)
        tot += h.bins[i];
    CHECK(tot == N);
    /* merging is exact: every value sits in the bin its position says */
    double *want = calloc((size_t)h.nbins, sizeof *want);
    double w = (h.hi - h.lo) / h.nbins;
    int edge = 0;
    for (int i = 0; i < N; i++) {
        double f = (x[i] - h.lo) / w;
        if (fabs(f - rint(f)) < 1e-6) edge++;
        int k = (int)f;
        want[k < 0 ? 0 : k >= h.nbins ? h.nbins - 1 : k] += 1;
    }
    int diff = 0;
    for (int i = 0; i < h.nbins; i++)
        diff += fabs(want[i] - h.bins[i]) > 0;
    CHECK(diff <= 2 * edge);
    free(want);
    /* a histogram built in one batch gives the same minmax range */
    q_hist one;
    CHECK(q_hist_init(g_ctx, &one, 1000) == CLEAVE_OK);
    CHECK(q_hist_add(g_ctx, &one, x, N) == CLEAVE_OK);
    float l1, h1, l2, h2;
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MINMAX, 8, 0, 0, &l1, &h1) == CLEAVE_OK);
    CHECK(q_hist_range(g_ctx, &one, Q_RANGE_MINMAX, 8, 0, 0, &l2, &h2) == CLEAVE_OK);
    CHECK(l1 == l2 && h1 == h2 && l1 == -7.25f && h1 == 1234.5f);
    q_hist_free(&one);
    /* constant first batch, then real data */
    q_hist z;
    CHECK(q_hist_init(g_ctx, &z, 64) == CLEAVE_OK);
    float zeros[5] = {0}, some[3] = {-1e6f, 3.0f, 2e7f};
    CHECK(q_hist_add(g_ctx, &z, zeros, 5) == CLEAVE_OK);
    CHECK(q_hist_add(g_ctx, &z, some, 3) == CLEAVE_OK);
    CHECK(z.count == 8 && z.min == -1e6f && z.max == 2e7f);
    float lo, hi;
    CHECK(q_hist_range(g_ctx, &z, Q_RANGE_ACIQ_GAUSS, 4, 1, 0, &lo, &hi) == CLEAVE_OK);
    CHECK(hi > 0 && hi <= 2e7f && lo == -hi);
    q_hist_free(&z);
    q_hist_free(&h);
}

static void test_per_channel(void) {
    enum { C = 3, K = 300 };
    static float w[C * K];
    for (int c = 0; c < C; c++)
        for (int k = 0; k < K; k++)
            w[c * K + k] = (float)laplace(0.1 * (c + 1));
    w[2 * K + 7] = 5.0f; /* an outlier in channel 2 */
    q_params p[C];
    CHECK(q_weight_params_per_channel(g_ctx, w, C, K, 4, Q_RANGE_MINMAX, p) == CLEAVE_OK);
    for (int c = 0; c < C; c++) {
        float a = 0;
        for (int k = 0; k < K; k++)
            a = fmaxf(a, fabsf(w[c * K + k]));
        CHECK_NEAR(p[c].scale, a / 7.0, 0, 1e-6);
        CHECK(p[c].is_signed && p[c].zero_point == 0 && p[c].bits == 4);
    }
    q_params m[C];
    CHECK(q_weight_params_per_channel(g_ctx, w, C, K, 4, Q_RANGE_MSE, m) == CLEAVE_OK);
    for (int c = 0; c < C; c++) {
        float a = p[c].scale * 7, b = m[c].scale * 7;
        CHECK(emp_mse(w + c * K, K, -b, b, 4, 1) <= emp_mse(w + c * K, K, -a, a, 4, 1));
    }
    printf("per-channel 4-bit, Laplace b=0.3 + outlier 5.0: minmax a=%.3f, mse a=%.3f\n",
           p[2].scale * 7, m[2].scale * 7);
    CHECK(m[2].scale < 0.75f * p[2].scale); /* the outlier is clipped */
}

static void test_bad_input(void) {
    q_params p;
    for (int bits = 1; bits <= 9; bits += 8) {
        clear_err();
        CHECK(q_params_from_range(g_ctx, -1, 1, bits, 1, &p) == CLEAVE_E_INVALID);
        CHECK(g_ctx->has_error && strstr(g_ctx->error, "bits"));
    }
    clear_err();
    CHECK(q_params_from_range(g_ctx, 2, 1, 8, 0, &p) == CLEAVE_E_INVALID);
    clear_err();
    CHECK(q_params_from_range(g_ctx, NAN, 1, 8, 0, &p) == CLEAVE_E_INVALID);

    q_hist h;
    CHECK(q_hist_init(g_ctx, &h, 128) == CLEAVE_OK);
    float lo, hi;
    clear_err();
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MINMAX, 8, 0, 0, &lo, &hi) == CLEAVE_E_INVALID);
    CHECK(strstr(g_ctx->error, "empty") != NULL);
    float good[3] = {1, 2, 3}, bad[3] = {1, NAN, 3}, inf[2] = {0, INFINITY};
    CHECK(q_hist_add(g_ctx, &h, good, 3) == CLEAVE_OK);
    clear_err();
    CHECK(q_hist_add(g_ctx, &h, bad, 3) == CLEAVE_E_INVALID);
    CHECK(strstr(g_ctx->error, "NaN") != NULL);
    CHECK(h.count == 3 && h.max == 3.0f); /* unchanged */
    clear_err();
    CHECK(q_hist_add(g_ctx, &h, inf, 2) == CLEAVE_E_INVALID);
    for (int bits = 1; bits <= 9; bits += 8) {
        clear_err();
        CHECK(q_hist_range(g_ctx, &h, Q_RANGE_MSE, bits, 0, 0, &lo, &hi) == CLEAVE_E_INVALID);
        CHECK(strstr(g_ctx->error, "bits") != NULL);
        CHECK(isnan(q_hist_mse(&h, 0, 3, bits, 0)));
        clear_err();
        CHECK(q_weight_params_per_channel(g_ctx, good, 1, 3, bits, Q_RANGE_MINMAX, &p) ==
              CLEAVE_E_INVALID);
        clear_err();
        CHECK(q_range_of(g_ctx, good, 3, Q_RANGE_MINMAX, bits, 1, 0, &lo, &hi) == CLEAVE_E_INVALID);
    }
    clear_err();
    CHECK(q_hist_range(g_ctx, &h, Q_RANGE_PERCENTILE, 8, 0, 30.0, &lo, &hi) == CLEAVE_E_INVALID);
    clear_err();
    CHECK(q_range_of(g_ctx, bad, 3, Q_RANGE_MSE, 4, 1, 0, &lo, &hi) == CLEAVE_E_INVALID);
    CHECK(strstr(g_ctx->error, "NaN") != NULL);
    q_hist_free(&h);
    q_hist_free(&h); /* idempotent after free */
    clear_err();
    CHECK(q_hist_init(g_ctx, &h, 0) == CLEAVE_E_INVALID);
    q_hist_free(&h);
    clear_err();
}

int main(void) {
    if (cleave_ctx_create(&g_ctx) != CLEAVE_OK) return 1;
    test_params();
    test_rounding();
    test_roundtrip();
    test_pack();
    test_names();
    test_aciq_table();
    test_uniform();
    test_laplace();
    test_gauss();
    test_growth();
    test_per_channel();
    test_bad_input();
    cleave_ctx_destroy(g_ctx);
    return check_summary("test_quant");
}
