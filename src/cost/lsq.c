/* cost/lsq: Householder-QR least squares and Lawson-Hanson NNLS.
 * Rows are multiplied by sqrt(w_i) and columns scaled to unit norm first, so
 * the rank test compares like with like whatever the units of the
 * regressors (ms of overhead next to ms of arithmetic). Everything runs in
 * that scaled space; solutions are unscaled at the end. */
#include "cost/lsq.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* A unit column whose part orthogonal to the previous ones is shorter than
 * this is treated as dependent (condition number > 1e10). */
#define LSQ_RANK_TOL 1e-10

/* Weighted, column-scaled copy of the problem (column-major). */
typedef struct lsq_sys {
    int m, n;
    double *a;     /* m x n, column-major, unit columns (zero columns stay zero) */
    double *b;     /* m, weighted */
    double *scale; /* n, original column norms (0 = zero column) */
    double bnorm;
} lsq_sys;

static void sys_free(lsq_sys *s) {
    cv_free(s->a);
    cv_free(s->b);
    cv_free(s->scale);
}

static cleave_status sys_make(cleave_ctx *ctx, const char *who, const double *A, const double *b,
                              const double *w, int m, int n, lsq_sys *s) {
    memset(s, 0, sizeof *s);
    if (!A || !b) return cv_fail(ctx, CLEAVE_E_INVALID, "%s: NULL matrix or right-hand side", who);
    if (n < 1 || n > COST_LSQ_MAX_N)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %d unknowns (allowed 1..%d)", who, n,
                       COST_LSQ_MAX_N);
    if (m < 1 || m > COST_LSQ_MAX_M)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %d rows (allowed 1..%d)", who, m, COST_LSQ_MAX_M);
    size_t mn;
    if (!cv_mul_size((size_t)m, (size_t)n, &mn) || !cv_mul_size(mn, sizeof(double), &mn))
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %d x %d matrix too large", who, m, n);
    s->m = m;
    s->n = n;
    s->a = cv_malloc(mn);
    s->b = cv_malloc((size_t)m * sizeof(double));
    s->scale = cv_calloc((size_t)n, sizeof(double));
    if (!s->a || !s->b || !s->scale) {
        sys_free(s);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory for %d x %d", who, m, n);
    }
    for (int i = 0; i < m; i++) {
        double wi = w ? w[i] : 1.0;
        if (!isfinite(wi) || wi < 0 || !isfinite(b[i])) {
            sys_free(s);
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: row %d: weight %g / rhs %g not finite or "
                           "weight < 0", who, i, wi, b[i]);
        }
        double sw = sqrt(wi);
        s->b[i] = sw * b[i];
        for (int j = 0; j < n; j++) {
            double v = A[(size_t)i * (size_t)n + (size_t)j];
            if (!isfinite(v)) {
                sys_free(s);
                return cv_fail(ctx, CLEAVE_E_INVALID, "%s: A[%d][%d] = %g is not finite", who, i,
                               j, v);
            }
            s->a[(size_t)j * (size_t)m + (size_t)i] = sw * v;
        }
    }
    for (int j = 0; j < n; j++) {
        double *c = s->a + (size_t)j * (size_t)m, nn = 0;
        for (int i = 0; i < m; i++) nn += c[i] * c[i];
        nn = sqrt(nn);
        s->scale[j] = nn;
        if (nn > 0)
            for (int i = 0; i < m; i++) c[i] /= nn;
    }
    double bb = 0;
    for (int i = 0; i < m; i++) bb += s->b[i] * s->b[i];
    s->bnorm = sqrt(bb);
    return CLEAVE_OK;
}

/* Least squares on the columns cols[0..nc) of s by Householder QR.
 * q: m*nc scratch, c: m scratch, z: nc solution. Returns -1 on success or
 * the position k in cols of the first dependent column. */
static int qr_ls(const lsq_sys *s, const int *cols, int nc, double *q, double *c, double *diag,
                 double *z, double *resid) {
    int m = s->m;
    for (int k = 0; k < nc; k++)
        memcpy(q + (size_t)k * (size_t)m, s->a + (size_t)cols[k] * (size_t)m,
               (size_t)m * sizeof(double));
    memcpy(c, s->b, (size_t)m * sizeof(double));
    for (int k = 0; k < nc; k++) {
        if (k >= m) return k;
        double *v = q + (size_t)k * (size_t)m;
        double sig = 0;
        for (int i = k; i < m; i++) sig += v[i] * v[i];
        sig = sqrt(sig);
        /* columns are unit (or zero), so sig is the relative size of the
         * part of column k outside the span of columns 0..k-1 */
        if (!(sig > LSQ_RANK_TOL)) return k;
        double alpha = v[k] >= 0 ? -sig : sig; /* sign avoids cancellation in v[k] - alpha */
        v[k] -= alpha;
        double vtv = 2.0 * sig * (sig + fabs(v[k] + alpha)); /* ||x - alpha e1||^2 */
        diag[k] = alpha;
        for (int j = k + 1; j <= nc; j++) {
            double *y = j < nc ? q + (size_t)j * (size_t)m : c;
            double d = 0;
            for (int i = k; i < m; i++) d += v[i] * y[i];
            d *= 2.0 / vtv;
            for (int i = k; i < m; i++) y[i] -= d * v[i];
        }
    }
    for (int k = nc - 1; k >= 0; k--) {
        double acc = c[k];
        for (int j = k + 1; j < nc; j++) acc -= q[(size_t)j * (size_t)m + (size_t)k] * z[j];
        z[k] = acc / diag[k];
    }
    if (resid) {
        double r = 0;
        for (int i = nc; i < m; i++) r += c[i] * c[i];
        *resid = sqrt(r);
    }
    return -1;
}

typedef struct lsq_work {
    double *q, *c, *diag, *z, *r;
    int *cols;
} lsq_work;

static void work_free(lsq_work *w) {
    cv_free(w->q);
    cv_free(w->c);
    cv_free(w->diag);
    cv_free(w->z);
    cv_free(w->r);
    cv_free(w->cols);
    memset(w, 0, sizeof *w);
}

static cleave_status work_make(cleave_ctx *ctx, const char *who, const lsq_sys *s, lsq_work *w) {
    size_t m = (size_t)s->m, n = (size_t)s->n;
    w->q = cv_malloc(m * n * sizeof(double));
    w->c = cv_malloc(m * sizeof(double));
    w->r = cv_malloc(m * sizeof(double));
    w->diag = cv_malloc(n * sizeof(double));
    w->z = cv_malloc(n * sizeof(double));
    w->cols = cv_malloc(n * sizeof(int));
    if (!w->q || !w->c || !w->r || !w->diag || !w->z || !w->cols) {
        work_free(w);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", who);
    }
    return CLEAVE_OK;
}

cleave_status cost_lsq_solve(cleave_ctx *ctx, const double *A, const double *b, const double *w,
                             int m, int n, double *x, double *resid) {
    const char *who = "least squares";
    if (!x) return cv_fail(ctx, CLEAVE_E_INVALID, "%s: NULL solution", who);
    if (m < n)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %d rows < %d unknowns (underdetermined)", who,
                       m, n);
    lsq_sys s;
    CV_TRY(sys_make(ctx, who, A, b, w, m, n, &s));
    lsq_work wk = {0};
    cleave_status st = work_make(ctx, who, &s, &wk);
    if (st) {
        sys_free(&s);
        return st;
    }
    for (int j = 0; j < n; j++) wk.cols[j] = j;
    double rn = 0;
    int bad = qr_ls(&s, wk.cols, n, wk.q, wk.c, wk.diag, wk.z, &rn);
    if (bad >= 0) {
        st = cv_fail(ctx, CLEAVE_E_INVALID,
                     "%s: rank-deficient %d x %d matrix: column %d is zero or (to relative "
                     "precision %g) a linear combination of columns 0..%d",
                     who, m, n, bad, LSQ_RANK_TOL, bad - 1);
    } else {
        for (int j = 0; j < n; j++) x[j] = wk.z[j] / s.scale[j];
        if (resid) *resid = rn;
    }
    work_free(&wk);
    sys_free(&s);
    return st;
}

/* r = b - A x and the largest gradient component A_j^T r over columns that
 * may still enter (not passive, not excluded). */
static int nnls_pick(const lsq_sys *s, const double *x, const unsigned char *state, double *r,
                     double tol) {
    int m = s->m, best = -1;
    double gbest = tol;
    memcpy(r, s->b, (size_t)m * sizeof(double));
    for (int j = 0; j < s->n; j++) {
        if (x[j] == 0) continue;
        const double *a = s->a + (size_t)j * (size_t)m;
        for (int i = 0; i < m; i++) r[i] -= a[i] * x[j];
    }
    for (int j = 0; j < s->n; j++) {
        if (state[j]) continue;
        const double *a = s->a + (size_t)j * (size_t)m;
        double g = 0;
        for (int i = 0; i < m; i++) g += a[i] * r[i];
        if (g > gbest) {
            gbest = g;
            best = j;
        }
    }
    return best;
}

enum { NN_FREE = 0, NN_PASSIVE = 1, NN_EXCLUDED = 2 };

cleave_status cost_nnls(cleave_ctx *ctx, const double *A, const double *b, const double *w, int m,
                        int n, double *x, double *resid) {
    const char *who = "NNLS";
    if (!x) return cv_fail(ctx, CLEAVE_E_INVALID, "%s: NULL solution", who);
    lsq_sys s;
    CV_TRY(sys_make(ctx, who, A, b, w, m, n, &s));
    lsq_work wk = {0};
    cleave_status st = work_make(ctx, who, &s, &wk);
    double xs[COST_LSQ_MAX_N] = {0};
    unsigned char state[COST_LSQ_MAX_N] = {0};
    if (st) goto done;
    for (int j = 0; j < n; j++)
        if (s.scale[j] == 0) state[j] = NN_EXCLUDED;
    /* A gradient below this cannot lower the residual measurably. */
    double tol = 1e-10 * s.bnorm;
    int np = 0, iters = 0, cap = 30 * n + 10;
    for (;;) {
        int t = nnls_pick(&s, xs, state, wk.r, tol);
        if (t < 0) break;
        state[t] = NN_PASSIVE;
        wk.cols[np++] = t; /* newest last: a dependence shows up at t */
        int fresh = 1;
        for (;;) {
            if (++iters > cap) {
                st = cv_fail(ctx, CLEAVE_E_INTERNAL, "%s: no convergence in %d iterations (%d x %d)",
                             who, cap, m, n);
                goto done;
            }
            int bad = qr_ls(&s, wk.cols, np, wk.q, wk.c, wk.diag, wk.z, NULL);
            int drop = -1;
            if (bad >= 0) drop = bad;
            else if (fresh && wk.z[np - 1] <= 0) drop = np - 1; /* rounding: t cannot help */
            if (drop >= 0) {
                int j = wk.cols[drop];
                state[j] = NN_EXCLUDED;
                xs[j] = 0;
                memmove(wk.cols + drop, wk.cols + drop + 1, (size_t)(np - drop - 1) * sizeof(int));
                np--;
                break;
            }
            fresh = 0;
            int allpos = 1;
            double alpha = 1.0;
            int amin = -1;
            for (int k = 0; k < np; k++) {
                if (wk.z[k] > 0) continue;
                allpos = 0;
                double xj = xs[wk.cols[k]], a = xj / (xj - wk.z[k]);
                if (a < alpha || amin < 0) {
                    alpha = a;
                    amin = k;
                }
            }
            if (allpos) {
                for (int k = 0; k < np; k++) xs[wk.cols[k]] = wk.z[k];
                break;
            }
            /* step towards z until the first passive variable reaches 0 */
            for (int k = 0; k < np; k++) {
                int j = wk.cols[k];
                xs[j] += alpha * (wk.z[k] - xs[j]);
            }
            xs[wk.cols[amin]] = 0;
            int keep = 0;
            for (int k = 0; k < np; k++) {
                int j = wk.cols[k];
                if (xs[j] <= 0) {
                    xs[j] = 0;
                    state[j] = NN_FREE;
                } else {
                    wk.cols[keep++] = j;
                }
            }
            np = keep;
            if (np == 0) break;
        }
    }
    for (int j = 0; j < n; j++) x[j] = s.scale[j] > 0 ? xs[j] / s.scale[j] : 0.0;
    if (resid) {
        nnls_pick(&s, xs, state, wk.r, INFINITY);
        double rr = 0;
        for (int i = 0; i < m; i++) rr += wk.r[i] * wk.r[i];
        *resid = sqrt(rr);
    }
done:
    work_free(&wk);
    sys_free(&s);
    return st;
}
