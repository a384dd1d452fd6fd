/* cost/profile: measured per-node latency of a compiled model on the
 * machine it runs on ("cleave-profile" v1 JSON, docs/profiling.md). Each
 * node keeps its features, so predictors can be fitted from profile files
 * alone; the model's SHA-256 ties a profile to the exact file. */
#ifndef CLEAVE_COST_PROFILE_H
#define CLEAVE_COST_PROFILE_H

#include "cost/cost.h"

#define COST_PROFILE_VERSION 1

typedef struct cost_stat {
    double median_ms, mean_ms, min_ms, p10_ms, p90_ms;
} cost_stat;

typedef struct cost_prof_node {
    cost_features f; /* name/op_type point into the profile's own strings */
    cost_stat t;
} cost_prof_node;

typedef struct cost_profile {
    char model_sha256[65];
    char *model;        /* path as given */
    char device[64];    /* label of where it was measured */
    char emulation[160];/* "" or the emulated device and slowdown (CLEAVE_EMULATION) */
    cost_dtype dtype;
    int threads, warmup, repeat;
    int rounds;         /* timed runs were taken in this many rounds, interleaved
                         * with other profiles' (cost_profile_measure_n); 1 = one block */
    double gap_ms;      /* idle time before each run (0 = back to back) */
    double request_ms;  /* median CPU ms of one request's KServe v2 codec right
                         * after a run (encode the input as 8-bit codes, parse
                         * an answer carrying the outputs); 0 = not measured */
    char input_shapes[256];
    cost_stat whole;    /* whole-model runs, without per-node timers */
    int n;
    cost_prof_node *nodes;
} cost_profile;

typedef void (*cost_progress_fn)(void *user, int done, int total);

/* Measure: compiles the graph twice (with and without per-node timers),
 * then per plan `warmup` untimed runs and `repeat` timed runs — more when
 * min_block_ms > 0, so that each plan's timed runs last about that long in
 * all (estimated from `warmup` runs of the first plan, after which every
 * plan gets one untimed run and the profile records warmup 1; needed under
 * a CPU quota, whose averages settle only over many periods). gap_ms > 0 sleeps that long before each
 * run, as a client serving one request at a time idles between them: the
 * run then starts with the caches, predictors and clock of an idle core,
 * as an edge device's head does after each transfer. The graph must be optimized; in[] are
 * the inputs. Fills everything but model/model_sha256/device. */
cleave_status cost_profile_measure(cleave_ctx *ctx, const ir_graph *g, const cv_tensor *in,
                                   int n_in, int warmup, int repeat, double min_block_ms,
                                   double gap_ms, cost_progress_fn progress, void *user,
                                   cost_profile *out);

/* Up to this many profiles of one graph measured together. */
#define COST_PROFILE_MAX_N 4

/* n_prof independent profiles of the same graph (each compiles its own two
 * plans), measured interleaved so that a machine whose speed drifts over
 * seconds or minutes (a shared VM) gives them the same conditions: the
 * `repeat` timed runs of each are split into `rounds` rounds, and a round
 * runs every profile's whole-model block, then every one's per-node block.
 * The first block of each plan starts with `warmup` untimed runs, later
 * ones (rounds > 1) with one. min_block_ms and gap_ms as in
 * cost_profile_measure (whose blocks are n_prof = rounds = 1). Fills
 * out[0..n_prof-1]. */
cleave_status cost_profile_measure_n(cleave_ctx *ctx, const ir_graph *g, const cv_tensor *in,
                                     int n_in, int n_prof, int rounds, int warmup, int repeat,
                                     double min_block_ms, double gap_ms, cost_progress_fn progress,
                                     void *user, cost_profile *out);

cleave_status cost_profile_save(cleave_ctx *ctx, const char *path, const cost_profile *p);
/* Load and validate; expect_sha256 (may be NULL) must match the profile's
 * model hash, else an error naming both files. */
cleave_status cost_profile_load(cleave_ctx *ctx, const char *path, const char *expect_sha256,
                                cost_profile *p);
void cost_profile_free(cost_profile *p);

/* The figure a profile stands for: the median, or the mean when it was
 * measured under emulation (a CPU quota slows the average of many short
 * runs, not each run). Node figures add up to the whole model's: the
 * median scaled for the gaps between nodes the timers miss, or under
 * emulation the node's share of the fastest runs (min, which missed the
 * quota's stalls) times the whole-model mean. `profile --validate` fits
 * its regressions on the same node figures. */
double cost_profile_whole_ms(const cost_profile *p);
double cost_profile_node_ms(const cost_profile *p, int i);

/* Sums of the node medians and means. */
double cost_profile_sum_median(const cost_profile *p);
double cost_profile_sum_mean(const cost_profile *p);
/* Index of the node with this name, -1 if none. */
int cost_profile_find(const cost_profile *p, const char *name);

/* Statistics of n samples (sorted in place). */
void cost_stat_of(double *ms, int n, cost_stat *s);

#endif
