/* quant graph: post-training quantization of a canonical graph (BN folded,
 * activations fused). A "layer" is one quantization point: a node with its
 * constant weight (Conv, ConvTranspose, Gemm, MatMul) and/or its float
 * output activation, or a graph input. A configuration gives each layer a
 * weight and an activation bit width (2..8, or 32 = keep float); applying it
 * rewrites the graph into standard ONNX QDQ form, which is both cleave's
 * accuracy simulation and the exported quantized model:
 *   weight:     int8 initializer (values in the b-bit range) -> DequantizeLinear
 *               (per output channel, symmetric)
 *   activation: [Clip to the b-bit range when b < 8] -> QuantizeLinear (uint8)
 *               -> DequantizeLinear, every consumer rewired to the result. */
#ifndef CLEAVE_QUANT_QGRAPH_H
#define CLEAVE_QUANT_QGRAPH_H

#include <jansson.h>

#include "base/base.h"
#include "ir/graph.h"
#include "quant/quant.h"
#include "runtime/runtime.h"

#define QUANT_FLOAT 32 /* bit width meaning "not quantized" */

typedef struct quant_layer {
    const char *name; /* node name (or its output's name when unnamed); input name */
    int node;         /* node index in the graph, -1 for a graph input */
    int weight;       /* value id of the constant weight, -1 if none */
    int w_axis;       /* output-channel axis of the weight */
    int act;          /* value id of the quantized activation, -1 if none */
    int64_t w_numel;  /* weight elements (0 if none) */
    int64_t a_numel;  /* activation elements per sample (0 if none) */
} quant_layer;

/* Quantization points of a bound, canonical graph, in topological order.
 * Activations: graph inputs and every float node output that is not a graph
 * output, a view (Reshape, Flatten, ...) or a shape computation. p is a plan
 * compiled from g (any batch) that tells each value's dtype. *out: cv_free. */
cleave_status quant_layers_find(cleave_ctx *ctx, const ir_graph *g, const rt_plan *p,
                                quant_layer **out, int *n);
int quant_layer_index(const quant_layer *l, int n, const char *name);

/* ---- configuration (JSON file, format in docs/quantization.md) ---- */
typedef struct quant_override {
    char *name;
    int w, a; /* 0 = not given (use the default) */
} quant_override;

typedef struct quant_config {
    int w_bits, a_bits, input_bits; /* defaults */
    q_range_method w_method, a_method;
    double a_param; /* percentile for Q_RANGE_PERCENTILE */
    quant_override *over;
    int n_over;
    char *source; /* file name, for messages */
} quant_config;

/* Uniform configuration: all weights w bits, all activations a bits. */
void quant_config_uniform(quant_config *c, int w, int a);
cleave_status quant_config_load(cleave_ctx *ctx, const char *path, quant_config *c);
cleave_status quant_config_save(cleave_ctx *ctx, const char *path, const quant_config *c);
void quant_config_free(quant_config *c);
/* Per-layer bits (arrays of n); fails on an override naming no layer, or
 * bits outside 2..8 and not 32. Layers without a weight get w = 32. */
cleave_status quant_config_resolve(cleave_ctx *ctx, const quant_config *c, const quant_layer *l,
                                   int n, int *wbits, int *abits);

/* ---- calibration statistics: one histogram per activation ---- */
typedef struct quant_stats {
    int n;
    char **names; /* activation value names */
    q_hist *hist;
    int images;   /* how many calibration inputs were seen */
    char *model;  /* model file the statistics belong to (informative) */
    char *model_sha256;
} quant_stats;

cleave_status quant_stats_create(cleave_ctx *ctx, const ir_graph *g, const quant_layer *l, int n,
                                 int nbins, quant_stats *st);
void quant_stats_free(quant_stats *st);
int quant_stats_find(const quant_stats *st, const char *name);
cleave_status quant_stats_save(cleave_ctx *ctx, const char *path, const quant_stats *st);
cleave_status quant_stats_load(cleave_ctx *ctx, const char *path, quant_stats *st);
/* The same as a JSON object (a file may carry more keys: layers, tables). */
json_t *quant_stats_json(const quant_stats *st);
cleave_status quant_stats_parse(cleave_ctx *ctx, const char *path, json_t *root, quant_stats *st);

/* ---- rewriting ---- */
typedef struct quant_apply_info {
    int64_t weights_float_bytes; /* bytes of the quantized layers' float weights */
    int64_t weights_packed_bytes; /* the same weights packed at their bits + scales */
    int n_weights, n_acts;        /* quantization points inserted */
} quant_apply_info;

/* Rewrite g (bound, canonical, with l found on it) into QDQ form with the
 * given per-layer bits and the activation ranges from st (an activation
 * with bits < 32 and no statistics is an error naming it). Ops are bound
 * again on return. */
cleave_status quant_apply(cleave_ctx *ctx, ir_graph *g, const quant_layer *l, int n,
                          const int *wbits, const int *abits, const quant_config *c,
                          const quant_stats *st, quant_apply_info *info);

/* Run a QDQ graph on integers where it can (ir_pass_lower_qdq: QLinearConv,
 * QLinearAdd, integer MaxPool), as the edge device does and as ONNX
 * Runtime does with the exported file; the rest stays simulated in float. */
cleave_status quant_lower_int8(cleave_ctx *ctx, ir_graph *g, int *count);

#endif
