/* quant observer: calibration statistics of one tensor (exact min/max/sum/
 * sumsq plus a histogram whose span only ever doubles, so bin counts merge
 * exactly) and the clipping ranges derived from them for any bit width:
 * min/max, percentile, MSE-optimal search and ACIQ (Banner, Nahshan, Soudry,
 * "Post training 4-bit quantization of convolutional networks for
 * rapid-deployment", NeurIPS 2019). Density model: uniform inside each bin,
 * each bin clipped to the observed [min, max]. */
#include <math.h>
#include <string.h>

#include "quant/quant.h"

#define PI 3.14159265358979323846

static const char *const method_names[] = {"minmax", "percentile", "mse", "aciq-laplace",
                                           "aciq-gauss"};
#define N_METHODS ((int)(sizeof method_names / sizeof method_names[0]))

const char *q_range_method_name(q_range_method m) {
    return (int)m >= 0 && (int)m < N_METHODS ? method_names[m] : "?";
}

int q_range_method_parse(const char *s, q_range_method *out) {
    for (int i = 0; s && i < N_METHODS; i++)
        if (!strcmp(s, method_names[i])) {
            *out = (q_range_method)i;
            return 0;
        }
    return -1;
}

/* ---- histogram state ---- */

cleave_status q_hist_init(cleave_ctx *ctx, q_hist *h, int nbins) {
    memset(h, 0, sizeof *h);
    if (nbins < 1 || nbins > Q_HIST_MAX_BINS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "histogram: %d bins, must be in 1..%d", nbins,
                       Q_HIST_MAX_BINS);
    h->bins = cv_calloc((size_t)nbins, sizeof(double));
    if (!h->bins) return cv_fail(ctx, CLEAVE_E_NOMEM, "histogram: out of memory (%d bins)", nbins);
    h->nbins = nbins;
    h->lo = 0.0;
    h->hi = 1.0;
    return CLEAVE_OK;
}

void q_hist_free(q_hist *h) {
    cv_free(h->bins);
    memset(h, 0, sizeof *h);
}

/* Double the span upwards: new bin j = old bins 2j, 2j+1. Ascending i only
 * ever writes at i/2 <= i, already consumed. */
static void grow_up(q_hist *h) {
    for (int i = 0; i < h->nbins; i++) {
        double v = h->bins[i];
        h->bins[i] = 0.0;
        h->bins[i / 2] += v;
    }
    h->hi = h->lo + 2.0 * (h->hi - h->lo);
}

/* Double the span downwards: old bin i starts at new offset (nbins + i)
 * old widths, i.e. inside new bin (nbins + i) / 2 >= i (exact for any
 * nbins); descending i never overwrites an unconsumed old bin. */
static void grow_down(q_hist *h) {
    for (int i = h->nbins - 1; i >= 0; i--) {
        double v = h->bins[i];
        h->bins[i] = 0.0;
        h->bins[(h->nbins + i) / 2] += v;
    }
    h->lo = h->hi - 2.0 * (h->hi - h->lo);
}

cleave_status q_hist_add(cleave_ctx *ctx, q_hist *h, const float *x, size_t n) {
    if (!h->bins || h->nbins < 1 || !(h->hi > h->lo))
        return cv_fail(ctx, CLEAVE_E_INVALID, "histogram: not initialised (q_hist_init)");
    if (n == 0) return CLEAVE_OK;
    float bmin = x[0], bmax = x[0];
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return cv_fail(ctx, CLEAVE_E_INVALID, "histogram: value %zu of %zu is %s", i, n,
                           isnan(x[i]) ? "NaN" : "infinite");
        bmin = x[i] < bmin ? x[i] : bmin;
        bmax = x[i] > bmax ? x[i] : bmax;
    }
    if (h->count == 0) {
        /* first data places the span: [bmin, bmin + width], bins empty */
        memset(h->bins, 0, sizeof(double) * (size_t)h->nbins);
        double w = (double)bmax - (double)bmin;
        if (!(w > 0)) w = bmin != 0.0f ? fabs((double)bmin) * 0x1p-8 : 0x1p-20;
        h->lo = bmin;
        h->hi = h->lo + w;
        if (h->hi < bmax) h->hi = bmax;
        h->min = bmin;
        h->max = bmax;
    }
    while ((double)bmin < h->lo || (double)bmax > h->hi) {
        if ((double)bmin < h->lo) grow_down(h);
        if ((double)bmax > h->hi) grow_up(h);
        if (!isfinite(h->hi - h->lo))
            return cv_fail(ctx, CLEAVE_E_INTERNAL, "histogram: span overflow growing to [%g, %g]",
                           (double)bmin, (double)bmax);
    }
    double inv_w = h->nbins / (h->hi - h->lo), sum = 0.0, sumsq = 0.0;
    int last = h->nbins - 1;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        double f = (v - h->lo) * inv_w;
        int k = f <= 0.0 ? 0 : f >= last ? last : (int)f;
        h->bins[k] += 1.0;
        sum += v;
        sumsq += v * v;
    }
    h->count += (double)n;
    h->sum += sum;
    h->sumsq += sumsq;
    if (bmin < h->min) h->min = bmin;
    if (bmax > h->max) h->max = bmax;
    return CLEAVE_OK;
}

/* ---- the density model ---- */

/* Each bin's count is spread uniformly over the bin clipped to [min, max].
 * Activations often carry an atom at an extreme (ReLU: a large share of
 * exact zeros at min; ReLU6/Clip: at max) that a uniform bin would smear
 * over a whole bin width; when an end bin holds more than twice what its
 * neighbour's density predicts, the excess is kept as a point mass at
 * min / max. Elements 0..nbins-1 are the bins, nbins and nbins+1 the atoms. */
typedef struct dmodel {
    const q_hist *h;
    int first, last;         /* first / last non-empty bin */
    double atom_lo, atom_hi; /* point masses at min / max */
} dmodel;

/* Bin i clipped to [min, max]. */
static void bin_piece(const q_hist *h, int i, double *a, double *b) {
    double w = (h->hi - h->lo) / h->nbins;
    double lo = h->lo + i * w, hi = lo + w;
    *a = lo < h->min ? h->min : lo > h->max ? h->max : lo;
    *b = hi > h->max ? h->max : hi < h->min ? h->min : hi;
}

/* Count of end bin `end` that its neighbour `nb`'s density does not explain. */
static double atom_excess(const q_hist *h, int end, int nb) {
    double a, b, na, nb_hi;
    bin_piece(h, end, &a, &b);
    bin_piece(h, nb, &na, &nb_hi);
    double expect = nb_hi > na ? h->bins[nb] / (nb_hi - na) * (b - a) : h->bins[nb];
    return h->bins[end] > 2.0 * expect ? h->bins[end] - expect : 0.0;
}

static void dmodel_init(dmodel *m, const q_hist *h) {
    memset(m, 0, sizeof *m);
    m->h = h;
    m->first = 0;
    m->last = h->nbins - 1;
    while (m->first < m->last && h->bins[m->first] == 0.0)
        m->first++;
    while (m->last > m->first && h->bins[m->last] == 0.0)
        m->last--;
    if (m->last > m->first) {
        m->atom_lo = atom_excess(h, m->first, m->first + 1);
        m->atom_hi = atom_excess(h, m->last, m->last - 1);
    }
}

#define DM_ELEMS(m) ((m)->h->nbins + 2)

/* Element k as [*a, *b] (*a == *b: a point mass); returns its count. */
static double dm_elem(const dmodel *m, int k, double *a, double *b) {
    const q_hist *h = m->h;
    if (k >= h->nbins) {
        *a = *b = k == h->nbins ? h->min : h->max;
        return k == h->nbins ? m->atom_lo : m->atom_hi;
    }
    double c = h->bins[k];
    if (c == 0.0) return 0.0;
    bin_piece(h, k, a, b);
    if (k == m->first) c -= m->atom_lo;
    if (k == m->last) c -= m->atom_hi;
    return c;
}

/* Mass at or below t. */
static double cdf(const dmodel *m, double t) {
    double c = 0.0;
    for (int k = 0; k < DM_ELEMS(m); k++) {
        double a, b, n = dm_elem(m, k, &a, &b);
        if (n <= 0.0) continue;
        if (t >= b)
            c += n;
        else if (t > a)
            c += n * (t - a) / (b - a);
    }
    return c;
}

/* Smallest t in [lo, hi] with mass(t) >= target, mass monotone (bisection). */
static double solve_mass(const dmodel *m, int absolute, double target, double lo, double hi) {
    for (int it = 0; it < 100 && hi - lo > 1e-12 * fmax(fabs(lo), fabs(hi)); it++) {
        double mid = 0.5 * (lo + hi);
        double c = absolute ? cdf(m, mid) - cdf(m, -mid) : cdf(m, mid);
        if (c >= target)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* E|x - c| under the density model. */
static double mean_abs_dev(const dmodel *m, double c) {
    double s = 0.0;
    for (int k = 0; k < DM_ELEMS(m); k++) {
        double a, b, n = dm_elem(m, k, &a, &b);
        if (n <= 0.0) continue;
        double d;
        if (c <= a)
            d = 0.5 * (a + b) - c;
        else if (c >= b)
            d = c - 0.5 * (a + b);
        else
            d = ((c - a) * (c - a) + (b - c) * (b - c)) / (2.0 * (b - a));
        s += n * d;
    }
    return s / m->h->count;
}

/* Σ count * E[(x - Q(x))^2] for params p: in units v = x/scale the level
 * for v is r = clamp(rint(v), rmin, rmax); over a piece [v0, v1] each level
 * r owns [r - 1/2, r + 1/2) (the end levels own the tails), and the
 * integral of (v - r)^2 is exact. */
static double hist_sse(const dmodel *m, const q_params *p) {
    int32_t qmin, qmax;
    q_params_qrange(p, &qmin, &qmax);
    double s = p->scale, rmin = qmin - p->zero_point, rmax = qmax - p->zero_point, sse = 0.0;
    for (int k = 0; k < DM_ELEMS(m); k++) {
        double a, b, c = dm_elem(m, k, &a, &b);
        if (c <= 0.0) continue;
        double v0 = a / s, v1 = b / s;
        double r0 = fmin(fmax(floor(v0 + 0.5), rmin), rmax);
        if (!(v1 > v0)) {
            sse += c * (v0 - r0) * (v0 - r0);
            continue;
        }
        double r1 = fmin(fmax(floor(v1 + 0.5), rmin), rmax), acc = 0.0;
        for (double r = r0; r <= r1; r += 1.0) {
            double e0 = r == r0 ? v0 : r - 0.5, e1 = r == r1 ? v1 : r + 0.5;
            double d0 = e0 - r, d1 = e1 - r;
            acc += (d1 * d1 * d1 - d0 * d0 * d0) / 3.0;
        }
        sse += c * acc / (v1 - v0);
    }
    return sse * s * s;
}

double q_hist_mse(const q_hist *h, float lo, float hi, int bits, int symmetric) {
    q_params p;
    if (!h->bins || q_params_from_range(NULL, lo, hi, bits, symmetric, &p)) return NAN;
    if (h->count <= 0) return 0.0;
    dmodel m;
    dmodel_init(&m, h);
    return hist_sse(&m, &p) / h->count;
}

/* ---- ACIQ ---- */

double q_aciq_alpha(int gauss, double steps) {
    /* MSE(t) per unit b^2 (or sigma^2) = clip(t) + t^2 / (3 N^2) (rounding
     * noise Delta^2/12 with Delta = 2t/N). Laplace: clip = 2 e^-t, so
     * dMSE/dt = 0 <=> t e^t = 3 N^2. Gauss: clip = (1+t^2) erfc(t/sqrt2) -
     * sqrt(2/pi) t e^(-t^2/2), derivative 2t erfc(t/sqrt2) - 2 sqrt(2/pi)
     * e^(-t^2/2). Both derivatives are negative at 0 and positive for large
     * t; bisection. */
    double lo = 1e-9, hi = 60.0, k = 2.0 / (3.0 * steps * steps);
    for (int it = 0; it < 200; it++) {
        double t = 0.5 * (lo + hi), d;
        if (gauss)
            d = 2.0 * t * erfc(t / sqrt(2.0)) - 2.0 * sqrt(2.0 / PI) * exp(-0.5 * t * t) + k * t;
        else
            d = -2.0 * exp(-t) + k * t;
        if (d > 0)
            hi = t;
        else
            lo = t;
    }
    return 0.5 * (lo + hi);
}

/* ACIQ range. The paper's model is a symmetric clip [mu - alpha, mu + alpha]
 * cut into N steps; cleave's quantizers give N as follows:
 *   signed restricted [-a, a]: 2^b - 2 steps (two-sided data centred on
 *     mu: a = |mu| + alpha; one-sided data uses the positive half, 2^(b-1) - 1
 *     steps over [0, a], the same model with N = 2^b - 2);
 *   unsigned, two-sided data: 2^b - 1 steps over [mu - alpha, mu + alpha];
 *   unsigned, one-sided data (min >= 0, e.g. ReLU): 2^b - 1 steps over
 *     [0, alpha], which is the symmetric model with N = 2 (2^b - 1) (the
 *     authors' "positive" table is the next bit width for the same reason).
 * Scale: two-sided Laplace b = E|x - mu| (histogram), Gauss sigma = std
 * (exact). One-sided data is modelled as a mass at 0 plus a half-Laplace
 * (exponential) or half-normal, whose scale follows from Σx and Σx² alone,
 * whatever the mass at 0: exponential b = E[x^2]/(2 E[x]); half-normal
 * sigma = sqrt(pi/2) E[x^2]/E[x]. */
static void aciq_range(const q_hist *h, int gauss, int bits, int symmetric, double *lo,
                       double *hi) {
    double n = h->count, mu = h->sum / n;
    double var = fmax(h->sumsq / n - mu * mu, 0.0);
    int pos = h->min >= 0.0f, neg = h->max <= 0.0f;
    double amax = fmax(fabs((double)h->min), fabs((double)h->max));
    if (pos || neg) {
        double m1 = fabs(h->sum) / n, m2 = h->sumsq / n;
        double scale = m1 > 0 ? (gauss ? sqrt(PI / 2.0) * m2 / m1 : m2 / (2.0 * m1)) : 0.0;
        double steps = symmetric ? ldexp(1.0, bits) - 2.0 : 2.0 * (ldexp(1.0, bits) - 1.0);
        double a = fmin(q_aciq_alpha(gauss, steps) * scale, amax);
        if (symmetric)
            *lo = -a, *hi = a;
        else if (pos)
            *lo = h->min, *hi = fmax(a, h->min);
        else
            *lo = fmin(-a, h->max), *hi = h->max;
        return;
    }
    dmodel dm;
    dmodel_init(&dm, h);
    double scale = gauss ? sqrt(var) : mean_abs_dev(&dm, mu);
    if (symmetric) {
        double a = fmin(fabs(mu) + q_aciq_alpha(gauss, ldexp(1.0, bits) - 2.0) * scale, amax);
        *lo = -a, *hi = a;
    } else {
        double alpha = q_aciq_alpha(gauss, ldexp(1.0, bits) - 1.0) * scale;
        *lo = fmax(mu - alpha, h->min);
        *hi = fmin(mu + alpha, h->max);
    }
}

/* ---- MSE search ---- */

/* objective: expected squared error of range [lo, hi] */
typedef double (*range_cost)(const void *u, float lo, float hi, int bits, int symmetric);

typedef struct search {
    range_cost f;
    const void *u;
    int bits, symmetric;
    double min, max;
    int which;     /* 0: symmetric a; 1: both sides scaled by t; 2: hi with lo fixed; 3: lo with hi
                      fixed */
    double lo, hi; /* current pair (the fixed side for which 2/3) */
} search;

static void candidate(const search *s, double x, double *lo, double *hi) {
    switch (s->which) {
    case 0: *lo = -x, *hi = x; break;
    case 1: *lo = s->min * x, *hi = s->max * x; break;
    case 2: *lo = s->lo, *hi = x; break;
    default: *lo = -x, *hi = s->hi; break;
    }
}

static double cost(const search *s, double x) {
    double lo, hi;
    candidate(s, x, &lo, &hi);
    return s->f(s->u, (float)lo, (float)hi, s->bits, s->symmetric);
}

/* Minimise cost over x in (0, xmax]: a geometric grid from xmax * 2^-14 to
 * xmax (the error curve has many shallow local minima from the rounding
 * grid, so no bracketing method), then a linear grid between the best
 * point's neighbours, twice. Ties keep the larger x (less clipping). */
static double search_1d(const search *s, double xmax) {
    enum { G = 160, R = 48 };
    double ratio = pow(2.0, -14.0 / G), best_x = xmax, best = cost(s, xmax);
    double x = xmax;
    for (int i = 1; i <= G; i++) {
        x *= ratio;
        double c = cost(s, x);
        if (c < best) best = c, best_x = x;
    }
    double lo = best_x * ratio, hi = fmin(best_x / ratio, xmax);
    for (int pass = 0; pass < 2; pass++) {
        double step = (hi - lo) / R;
        for (int i = 0; i <= R; i++) {
            double xi = lo + step * i;
            double c = cost(s, xi);
            if (c < best || (c == best && xi > best_x)) best = c, best_x = xi;
        }
        lo = fmax(best_x - step, lo);
        hi = fmin(best_x + step, hi);
    }
    return best_x;
}

static void mse_range(range_cost f, const void *u, double mn, double mx, int bits, int symmetric,
                      double *lo, double *hi) {
    search s = {.f = f, .u = u, .bits = bits, .symmetric = symmetric, .min = mn, .max = mx};
    if (symmetric) {
        s.which = 0;
        double a = search_1d(&s, fmax(fabs(mn), fabs(mx)));
        *lo = -a, *hi = a;
        return;
    }
    if (mn >= 0) { /* one-sided: clip only the top */
        s.which = 2, s.lo = mn;
        *lo = mn, *hi = search_1d(&s, mx);
        if (*hi < mn) *hi = mn;
        return;
    }
    if (mx <= 0) {
        s.which = 3, s.hi = mx;
        *lo = -search_1d(&s, -mn), *hi = mx;
        if (*lo > mx) *lo = mx;
        return;
    }
    /* two-sided: common shrink factor, then coordinate descent on each side */
    s.which = 1;
    double t = search_1d(&s, 1.0);
    s.lo = mn * t, s.hi = mx * t;
    for (int round = 0; round < 3; round++) {
        s.which = 2;
        s.hi = search_1d(&s, mx);
        s.which = 3;
        s.lo = -search_1d(&s, -mn);
    }
    *lo = s.lo, *hi = s.hi;
}

static double hist_cost(const void *u, float lo, float hi, int bits, int symmetric) {
    return q_hist_mse((const q_hist *)u, lo, hi, bits, symmetric);
}

/* ---- ranges ---- */

static cleave_status check_method(cleave_ctx *ctx, q_range_method m, int bits, double param) {
    if (bits < Q_BITS_MIN || bits > Q_BITS_MAX)
        return cv_fail(ctx, CLEAVE_E_INVALID, "clipping range: bits = %d, must be in %d..%d", bits,
                       Q_BITS_MIN, Q_BITS_MAX);
    if ((int)m < 0 || (int)m >= N_METHODS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "clipping range: unknown method %d", (int)m);
    if (m == Q_RANGE_PERCENTILE && !(param > 50.0 && param <= 100.0))
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "clipping range: percentile %g, must be in (50, 100] (e.g. 99.99)", param);
    return CLEAVE_OK;
}

cleave_status q_hist_range(cleave_ctx *ctx, const q_hist *h, q_range_method m, int bits,
                           int symmetric, double param, float *lo, float *hi) {
    CV_TRY(check_method(ctx, m, bits, param));
    if (!h->bins || !(h->count > 0))
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "clipping range: empty histogram (no calibration data seen)");
    double mn = h->min, mx = h->max, amax = fmax(fabs(mn), fabs(mx)), l = mn, u = mx;
    if (mn == mx || m == Q_RANGE_MINMAX) {
        if (symmetric) l = -amax, u = amax;
    } else if (m == Q_RANGE_PERCENTILE) {
        double p = param / 100.0;
        dmodel dm;
        dmodel_init(&dm, h);
        if (symmetric) {
            double a = solve_mass(&dm, 1, p * h->count, 0.0, amax);
            l = -a, u = a;
        } else {
            /* one-sided data keeps its near-zero end */
            if (mn < 0) l = solve_mass(&dm, 0, (1.0 - p) * h->count, mn, mx);
            if (mx > 0) u = solve_mass(&dm, 0, p * h->count, mn, mx);
            if (mn >= 0) l = mn;
            if (mx <= 0) u = mx;
        }
    } else if (m == Q_RANGE_MSE) {
        mse_range(hist_cost, h, mn, mx, bits, symmetric, &l, &u);
    } else {
        aciq_range(h, m == Q_RANGE_ACIQ_GAUSS, bits, symmetric, &l, &u);
    }
    /* never wider than observed */
    if (symmetric) {
        double a = fmin(fmax(fabs(l), fabs(u)), amax);
        l = -a, u = a;
    } else {
        l = fmin(fmax(l, mn), mx);
        u = fmin(fmax(u, l), mx);
    }
    *lo = (float)l;
    *hi = (float)u;
    return CLEAVE_OK;
}

/* ---- direct range of an array ---- */

#define EXACT_MSE_MAX_N 2048

typedef struct array_ref {
    const float *x;
    size_t n;
} array_ref;

/* exact mean squared fake-quantization error of the values */
static double array_cost(const void *u, float lo, float hi, int bits, int symmetric) {
    const array_ref *a = u;
    q_params p;
    if (q_params_from_range(NULL, lo, hi, bits, symmetric, &p)) return NAN;
    float buf[256];
    double sse = 0.0;
    for (size_t i = 0; i < a->n; i += 256) {
        size_t m = a->n - i < 256 ? a->n - i : 256;
        q_fake_quant(a->x + i, m, &p, buf);
        for (size_t j = 0; j < m; j++) {
            double d = (double)a->x[i + j] - buf[j];
            sse += d * d;
        }
    }
    return sse / (double)a->n;
}

cleave_status q_range_of(cleave_ctx *ctx, const float *x, size_t n, q_range_method m, int bits,
                         int symmetric, double param, float *lo, float *hi) {
    CV_TRY(check_method(ctx, m, bits, param));
    if (n == 0) return cv_fail(ctx, CLEAVE_E_INVALID, "clipping range: no values");
    float mn = x[0], mx = x[0];
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return cv_fail(ctx, CLEAVE_E_INVALID, "clipping range: value %zu of %zu is %s", i, n,
                           isnan(x[i]) ? "NaN" : "infinite");
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    if (m == Q_RANGE_MINMAX || mn == mx) {
        float a = fmaxf(fabsf(mn), fabsf(mx));
        *lo = symmetric ? -a : mn;
        *hi = symmetric ? a : mx;
        return CLEAVE_OK;
    }
    if (m == Q_RANGE_MSE && n <= EXACT_MSE_MAX_N) {
        array_ref a = {x, n};
        double l, u;
        mse_range(array_cost, &a, mn, mx, bits, symmetric, &l, &u);
        *lo = (float)l;
        *hi = (float)u;
        return CLEAVE_OK;
    }
    q_hist h;
    CV_TRY(q_hist_init(ctx, &h, Q_HIST_DEFAULT_BINS));
    cleave_status s = q_hist_add(ctx, &h, x, n);
    if (!s) s = q_hist_range(ctx, &h, m, bits, symmetric, param, lo, hi);
    q_hist_free(&h);
    return s;
}
