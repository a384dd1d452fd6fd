/* cost/regress: per-op-class linear regression of node latency on
 * device-normalised regressors (docs/regression.md). Each regressor is a
 * time in ms on the device at hand (fixed cost, arithmetic at the device's
 * achieved rate, memory traffic at its bandwidth, and shape-dependent
 * variants of these), so the fitted coefficients are dimensionless
 * multipliers and one fit applies to any device description. Fitted per
 * (dtype, op class) by weighted non-negative least squares. */
#ifndef CLEAVE_COST_REGRESS_H
#define CLEAVE_COST_REGRESS_H

#include <stdio.h>

#include "cost/cost.h"
#include "cost/device.h"

#define COST_REGRESS_VERSION 1
#define COST_REGRESS_MAX_SAMPLES (1 << 22)
#define COST_REGRESS_MAX_FILE (4u << 20)

/* The regressors, in file order: X(id, name). */
#define COST_REGRESSORS(X)                                                                     \
    X(OVERHEAD, "overhead_ms")       /* cost_device_overhead_us / 1000 */                     \
    X(COMPUTE, "compute_ms")         /* 2 macs (or flops) at the achieved GOP/s */            \
    X(MEMORY, "memory_ms")           /* in + out + param bytes at cost_device_bw_gbs */       \
    X(COMPUTE_STRIDED, "compute_strided_ms") /* compute_ms when stride > 1 */                 \
    X(COMPUTE_NARROW, "compute_narrow_ms")   /* compute_ms * 16 / max(16, min(cin, cout)) */  \
    X(MEMORY_SMALL, "memory_small_ms")       /* memory_ms / (1 + out_elems / 2^14) */         \
    X(COMPUTE_TRANSC, "compute_transcendental_ms") /* compute_ms of exp-like ops */          \
    X(COMPUTE_SERIAL, "compute_serial_ms") /* compute_ms(1 thread) - compute_ms */

typedef enum cost_regressor {
#define COST_REG_ENUM_(id, name) COST_REG_##id,
    COST_REGRESSORS(COST_REG_ENUM_)
#undef COST_REG_ENUM_
    COST_REG_N
} cost_regressor;

typedef enum cost_regress_weighting {
    COST_REGRESS_W_RELATIVE = 0, /* minimise sum ((pred - t) / t)^2 (default) */
    COST_REGRESS_W_SQRT,         /* weights 1 / t: between relative and absolute */
    COST_REGRESS_W_ABSOLUTE      /* minimise sum (pred - t)^2 */
} cost_regress_weighting;

typedef struct cost_regress_opts {
    cost_regress_weighting weighting;
    /* Fewest samples a (dtype, class) cell needs for its own fit; with
     * 6..min-1 it fits only OVERHEAD, COMPUTE and MEMORY; fewer fall back
     * to the class pooled over dtypes, then to all samples pooled, then
     * to roofline coefficients. 0 = default (16). */
    int min_samples;
    /* Bit k set = regressor k used; 0 = default (all). OVERHEAD, COMPUTE
     * and MEMORY are always used. */
    unsigned mask;
} cost_regress_opts;

/* Where a cell's coefficients came from. */
typedef enum cost_regress_source {
    COST_REGRESS_SRC_ROOFLINE = 0, /* c = [1, 1, 1, 0, ...]: not fitted */
    COST_REGRESS_SRC_FIT,          /* this (dtype, class) alone */
    COST_REGRESS_SRC_CLASS,        /* this class, all dtypes */
    COST_REGRESS_SRC_POOLED,       /* all samples */
    COST_REGRESS_SRC_FIT_BASE      /* this cell alone, base regressors only (few samples) */
} cost_regress_source;

/* Fit statistics of one cell over its own samples, relative errors
 * (pred - t) / t. */
typedef struct cost_regress_stats {
    int n;
    double rel_rms, rel_median_abs, rel_max_abs;
} cost_regress_stats;

typedef struct cost_regress cost_regress;

/* opts may be NULL (defaults). */
cleave_status cost_regress_create(cleave_ctx *ctx, const cost_regress_opts *opts,
                                  cost_regress **out);
void cost_regress_destroy(cost_regress *r);

/* The regressors of one node on dev with `threads` threads (<= 0 = all
 * cores). Returns 0, or -1 (x zeroed) if dev or f is unusable. */
int cost_regress_regressors(const cost_features *f, const cost_device *dev, int threads,
                            double x[COST_REG_N]);

/* Accumulate n samples: node features f[k] measured at ms[k] (median ms,
 * > 0) on dev with threads. Validated as a whole first: on error nothing
 * is added. dev needs cores >= 1, peaks, efficiencies and bandwidth > 0 and
 * op_overhead_us > 0 (it normalises the per-node fixed cost). */
cleave_status cost_regress_add(cleave_ctx *ctx, cost_regress *r, const cost_features *f,
                               const double *ms, int n, const cost_device *dev, int threads);
int cost_regress_n_samples(const cost_regress *r);
void cost_regress_clear_samples(cost_regress *r);

/* Fit every (dtype, class) cell from the samples added so far (replacing
 * earlier or loaded coefficients). Fails only on bad state, never for lack
 * of samples (cells fall back). */
cleave_status cost_regress_fit(cleave_ctx *ctx, cost_regress *r);

/* Predicted ms of one node; NAN if f or dev is unusable. Unfitted models
 * predict roofline-sum times. */
double cost_regress_node_ms(const cost_regress *r, const cost_features *f, const cost_device *dev,
                            int threads);

/* Coefficients of a cell (COST_REG_N values), its source and stats. */
void cost_regress_cell(const cost_regress *r, cost_dtype dt, cost_op_class c,
                       double coef[COST_REG_N], cost_regress_source *src, cost_regress_stats *st);
const char *cost_regressor_name(cost_regressor k);
const char *cost_regress_source_name(cost_regress_source s);

/* "cleave-regress" v1 JSON (docs/regression.md). load replaces the
 * coefficients of r (samples are kept). */
cleave_status cost_regress_save(cleave_ctx *ctx, const cost_regress *r, const char *path);
cleave_status cost_regress_load(cleave_ctx *ctx, cost_regress *r, const char *path);

/* Readable table of cells, sources, sample counts, errors, coefficients. */
void cost_regress_describe(const cost_regress *r, FILE *out);

#endif
