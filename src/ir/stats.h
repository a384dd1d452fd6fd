/* ir stats: per-node cost figures from concrete shapes: multiply-accumulates,
 * bytes of constant parameters read, bytes of outputs written. */
#ifndef CLEAVE_IR_STATS_H
#define CLEAVE_IR_STATS_H

#include "ir/graph.h"

typedef struct ir_node_stats {
    int64_t macs;        /* multiply-accumulates (conv, gemm, matmul); 0 elsewhere */
    int64_t flops;       /* elementwise / reduction work estimate (1 per output elem, min) */
    int64_t param_bytes; /* constant inputs (weights, biases) */
    int64_t out_bytes;   /* all outputs */
} ir_node_stats;

/* in[k]/out[k] give shapes (NULL for omitted); constants are recognised by
 * the graph (initializers). */
void ir_node_stats_compute(const ir_graph *g, const ir_node *n, const cv_tensor *const *in,
                           const cv_tensor *const *out, ir_node_stats *s);

#endif
