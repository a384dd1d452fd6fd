/* plan/bitalloc: Lagrangian rate-distortion bit allocation (Shoham-Gersho,
 * as Auto-Split uses it; ../shared/PAPERS.md section 1). Each layer has a
 * few options (bit widths), each with a rate (bytes) and a distortion;
 * for a multiplier lambda every layer independently minimises
 * D + lambda * R. Sweeping lambda from 0 upward visits the allocations on
 * the lower convex hull of total (R, D): one layer steps down its own hull
 * at each breakpoint. The planner takes, for a rate budget, the hull point
 * with the least distortion that fits. */
#ifndef CLEAVE_PLAN_BITALLOC_H
#define CLEAVE_PLAN_BITALLOC_H

#include "base/base.h"

#define PLAN_BA_MAX_OPTS 8

typedef struct plan_ba_layer {
    int n_opt;
    double rate[PLAN_BA_MAX_OPTS]; /* e.g. packed weight bytes at each width */
    double dist[PLAN_BA_MAX_OPTS]; /* distortion it adds (>= 0, finite) */
} plan_ba_layer;

/* The sweep: n_steps + 1 points; point 0 is lambda = 0 (least distortion),
 * each step moves one layer to a cheaper option. Rates never increase and
 * distortions never decrease along the sweep. */
typedef struct plan_ba_sweep {
    int n_layers, n_points;
    double *rate, *dist, *lambda; /* per point */
    int *step_layer, *step_opt;   /* per step k (point k+1): which layer moved, to which option */
    int *start;                   /* option of each layer at point 0 */
} plan_ba_sweep;

cleave_status plan_ba_sweep_run(cleave_ctx *ctx, const plan_ba_layer *l, int n, plan_ba_sweep *out);
void plan_ba_sweep_free(plan_ba_sweep *s);
/* The options of every layer at point k (choice[n_layers]). */
void plan_ba_sweep_choice(const plan_ba_sweep *s, int k, int *choice);
/* The least-distortion point with rate <= budget (-1 if none fits). */
int plan_ba_sweep_best(const plan_ba_sweep *s, double budget);

/* Spend what a hull point leaves of the budget: repeatedly apply the
 * upgrade (one layer to a costlier option) with the most distortion saved
 * per byte that still fits. choice[] is updated; returns the distortion. */
double plan_ba_fill(const plan_ba_layer *l, int n, int *choice, double budget);

#endif
