/* runtime optimize: turn a loaded graph into the canonical graph (constants
 * folded, Identity/Dropout gone, BN folded, activations fused, dead nodes
 * removed). Outputs stay numerically equal up to float rounding. */
#ifndef CLEAVE_RUNTIME_OPTIMIZE_H
#define CLEAVE_RUNTIME_OPTIMIZE_H

#include "ir/graph.h"

typedef struct rt_opt_stats {
    int nodes_before, nodes_after;
    int folded, identity, bn_folded, act_fused, dead, qdq_lowered;
} rt_opt_stats;

/* Fold nodes whose inputs are all initializers (needs bound ops). */
cleave_status rt_fold_constants(cleave_ctx *ctx, ir_graph *g, int *count);
/* Bind ops and run the whole pipeline. */
cleave_status rt_graph_optimize(cleave_ctx *ctx, ir_graph *g, rt_opt_stats *stats);

#endif
