/* plan/planner: the search. For every candidate cut of the model's DAG it
 * prices the edge part (int8 kernels), the transfer of the crossing
 * tensors at their bit widths and the cloud part (fp32), allocates weight
 * bits by the Lagrangian sweep under the edge memory budget and the
 * accuracy bound, and keeps the Pareto front of (latency, predicted drop,
 * edge memory). The baselines are priced by the same model in the same
 * run, so every comparison is like for like. */
#ifndef CLEAVE_PLAN_PLANNER_H
#define CLEAVE_PLAN_PLANNER_H

#include "cost/link.h"
#include "cost/predict.h"
#include "ops/fast.h"
#include "plan/dag.h"
#include "quant/measure.h"

#define PLAN_MAX_BITS 4

/* Everything the planner reads. Per-node times are precomputed by the
 * caller (from any predictor): edge fp32, edge int8 and cloud fp32. */
typedef struct plan_problem {
    const plan_dag *dag;
    const cost_features *feat;   /* per DAG node (fp32 graph) */
    const double *edge_fp32_ms, *edge_int8_ms, *cloud_ms; /* per node */
    const quant_layer *layers;   /* quantization points of the graph */
    int n_layers;
    const int *node_layer;       /* per DAG node: layer holding its weight, or -1 */
    const int *tensor_layer;     /* per DAG tensor: layer quantizing it, or -1 */
    const quant_table *table;    /* distortion per layer and bit width */
    double kappa;                /* top-1 flip ~ kappa * sqrt(output MSE) */
    cost_link link;
    double mem_budget;           /* bytes on the edge for weights + activations */
    double max_drop;             /* predicted accuracy drop bound, percentage points */
    int bits[PLAN_MAX_BITS];     /* candidate widths (subset of the table's) */
    int n_bits;
    int input_bits;              /* width of the raw input when sent (8 for an image) */
    double edge_request_ms;      /* per request that sends anything: the v2 codec on the */
    double cloud_request_ms;     /* edge (encode, parse the answer) and on the cloud */
    long cut_cap;                /* most cuts to enumerate before falling back to prefixes */
    double kernel_scratch;       /* bytes the edge's integer kernels use while one runs (the
                                  * reference conv's tile per thread), added to every int8 edge */
    int act_widths;              /* 1: the edge activations that are not sent take widths from
                                  * bits[] too (held packed: plan_act_packable) when memory is
                                  * short; 0: they stay at 8 bits */
} plan_problem;

typedef enum plan_method {
    PLAN_AUTO_SPLIT = 0, PLAN_CLOUD_ONLY, PLAN_EDGE_FP32, PLAN_EDGE_U8, PLAN_EDGE_U4,
    PLAN_NEUROSURGEON, PLAN_DADS, PLAN_QDMP, PLAN_METHOD_N
} plan_method;
const char *plan_method_name(plan_method m);

typedef struct plan_solution {
    plan_method method;
    uint8_t *edge;            /* per DAG node: 1 = on the edge */
    int n_edge;               /* nodes on the edge */
    int n_cross;
    int *cross;               /* crossing tensors (DAG ids) */
    int *cross_bits;          /* their widths (32 = float) */
    int *wbits, *abits;       /* per quant layer: 2..8, or 32 (float / on the cloud) */
    double edge_ms, transfer_ms, cloud_ms, total_ms;
    double codec_ms;          /* edge + cloud request codec (0 when nothing is sent) */
    double tx_bytes;          /* payload sent */
    double weight_bytes, act_bytes, mem_bytes; /* edge memory: packed weights + activation peak */
    double widen_bytes; /* + the engine's widening buffer (plan_widen_bytes) */
    double scratch_bytes; /* + the kernels' working memory (plan_problem.kernel_scratch) */
    double distortion;        /* predicted output MSE (sum of the table entries) */
    double pred_drop;         /* predicted top-1 change, percentage points */
    int feasible;             /* within memory and accuracy */
    char why[160];            /* why not feasible */
    int recommended;
} plan_solution;

typedef struct plan_result {
    plan_solution *sol;       /* auto-split Pareto front first (by latency), then baselines */
    int n_sol, n_front;
    long cuts_total;          /* cuts enumerated (-1: over the cap, prefixes used) */
    int cuts_kept;            /* after dropping infeasible and dominated ones */
    int cuts_prefix_fallback;
    double plan_ms;           /* search time */
    char infeasible[256];     /* "" or why no auto-split solution exists (tightest constraint) */
} plan_result;

cleave_status plan_search(cleave_ctx *ctx, const plan_problem *pb, plan_result *out);
void plan_result_free(plan_result *r);

/* Edge memory of a cut at the given weight bits (weights packed; per-channel
 * scales; biases 32-bit) and activation peak (liveness over the edge nodes,
 * 1 byte per element for int8 tensors, 4 for float). */
double plan_act_peak_bytes(const plan_problem *pb, const uint8_t *edge, int int8);
/* The same with activation widths per quant layer (abits; NULL = 8): a
 * tensor below 8 bits takes its packed size where the edge engine holds it
 * packed (plan_act_packable), one byte per code elsewhere. */
double plan_act_peak_bytes_at(const plan_problem *pb, const uint8_t *edge, int int8, const int *abits);
/* Whether the edge engine (runtime/pack.c, reference kernels) holds
 * quantized tensor t packed below 8 bits for cut edge[]: made on the edge
 * (or the input) and read only by edge ops that stream packed codes (not a
 * Gemm / MatMul; a conv when 2-D; an Add at equal shapes), not sent and
 * not a graph output. The plan's edge memory is the reference engine's
 * (an edge device without oneDNN; `--ref` on x86), where this holds: with
 * a fast backend's blocked layouts every activation stays one byte a code. */
int plan_act_packable(const plan_problem *pb, const uint8_t *edge, int t);
/* The liveness walk plan_act_peak_bytes_at makes: the peak, and in
 * *peak_step (if not NULL) the edge node where it is first reached (-1:
 * the quantize step before the first node). */
double plan_act_walk(const plan_problem *pb, const uint8_t *edge, int int8, const int *abits, int *peak_step);
/* Whether tensor t is alive at step s of that walk (s = -1: the quantize
 * step): made at or before s and read by an edge node at s or later, or
 * kept (sent, a graph output). */
int plan_act_alive_at(const plan_dag *d, const uint8_t *edge, int t, int s);
/* The engine holds weights of at most PLAN_WIDEN_MAX_BITS bits packed and
 * widens one layer (or an output-channel chunk of at most
 * FAST_QCONV_WIDEN_CAP bytes) into scratch while it runs: the largest such
 * buffer of the edge layers at widths wbits (NULL: as if every edge layer
 * were packed), in bytes. */
#define PLAN_WIDEN_MAX_BITS FAST_QCONV_PACK_MAX_BITS
double plan_widen_bytes(const plan_problem *pb, const uint8_t *edge, const int *wbits);

/* node_layer / tensor_layer for a DAG made from g (plan_dag_from_plan). */
void plan_map_layers(const ir_graph *g, const plan_dag *d, const quant_layer *l, int n,
                     int *node_layer, int *tensor_layer);

/* kappa from a table's entries: least squares of flip = kappa * sqrt(mse). */
double plan_fit_kappa(const quant_table *t);

#endif
