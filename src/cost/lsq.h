/* cost/lsq: small dense least squares for the regression predictor.
 * Householder QR (Golub & Van Loan, "Matrix Computations", 4th ed., 5.3)
 * after scaling every column to unit norm, and Lawson-Hanson non-negative
 * least squares built on it (Lawson & Hanson, "Solving Least Squares
 * Problems", 1974, ch. 23). Sizes here are small (n <= COST_LSQ_MAX_N). */
#ifndef CLEAVE_COST_LSQ_H
#define CLEAVE_COST_LSQ_H

#include "base/base.h"

#define COST_LSQ_MAX_N 64        /* unknowns */
#define COST_LSQ_MAX_M 10000000  /* rows */

/* Minimise sum_i w_i * (A_i x - b_i)^2 over x in R^n.
 * A: m x n, row-major (A[i*n + j]); b: m; w: m weights >= 0 or NULL (all 1);
 * x: n, written on success. resid (may be NULL): the weighted residual
 * norm sqrt(sum_i w_i r_i^2). Needs m >= n >= 1 and finite input.
 * Rank deficiency (a column that is, to working precision, a combination
 * of the columns before it, or zero after weighting) returns
 * CLEAVE_E_INVALID naming the column; x is then left unchanged. */
cleave_status cost_lsq_solve(cleave_ctx *ctx, const double *A, const double *b, const double *w,
                             int m, int n, double *x, double *resid);

/* Same objective subject to x >= 0 (Lawson-Hanson active set). Any m >= 1
 * is accepted (m < n is fine: the passive set never exceeds the rank).
 * All-zero columns and columns dependent on the current passive set get
 * x_j = 0. CLEAVE_E_INTERNAL if the iteration cap (30 n) is reached. */
cleave_status cost_nnls(cleave_ctx *ctx, const double *A, const double *b, const double *w, int m,
                        int n, double *x, double *resid);

#endif
