/* plan split: a solution of plan.json made concrete on the model. The
 * planner's solution names its edge nodes, the tensors that cross the cut
 * with their widths, and per quantization layer the weight/activation
 * bits; here it is read back (plan_file), applied to the canonical graph
 * (plan_split_build: the edge layers in QDQ form, optionally lowered to the
 * integer kernels the edge runs) and written out as two ONNX files
 * (plan_split_export: edge.onnx = the quantized head whose outputs are the
 * codes that travel, cloud.onnx = the tail whose inputs are those codes,
 * and manifest.json). docs/split.md. */
#ifndef CLEAVE_PLAN_SPLIT_H
#define CLEAVE_PLAN_SPLIT_H

#include <jansson.h>

#include "base/base.h"
#include "ir/graph.h"
#include "quant/qgraph.h"

/* One solution as plan.json describes it. */
typedef struct plan_file_solution {
    int id;
    char method[32];
    int recommended, feasible;
    int n_edge;        /* edge nodes */
    char **edge;       /* their names */
    int n_cross;
    char **cross;      /* crossing tensors (canonical-graph value names) */
    int *cross_bits;   /* 1..8, or 32 = sent as float */
    int64_t *cross_elems;
    int *wbits, *abits; /* per quantization layer of the model (n_layers), QUANT_FLOAT = float */
    /* predicted */
    double edge_ms, transfer_ms, cloud_ms, total_ms, sent_bytes, edge_memory_bytes, drop_pt;
    double codec_ms; /* the v2 codec on both sides per request (0 in plans before it) */
    const json_t *json; /* this solution's object inside plan_file.root (borrowed) */
} plan_file_solution;

typedef struct plan_file {
    char *path;
    char *model, *model_sha256;
    char *stats_file;   /* "statistics_file" when the plan was made with --stats, else NULL */
    double mbit_s, rtt_ms, overhead_ms; /* the link the plan was made for (NaN when absent) */
    double burst_bytes;                 /* its shaper's burst (NaN when absent: 0) */
    int n_layers;
    int n_sol;
    plan_file_solution *sol;
    json_t *root;       /* the whole document (config_map, ...) */
} plan_file;

/* Read plan.json for the model whose quantization layers are l[0..n): the
 * format and version are checked, every layer name must be one of l and
 * every field the right type (errors name the file, solution and field). */
cleave_status plan_file_load(cleave_ctx *ctx, const char *path, const quant_layer *l, int n,
                             plan_file *pf);
void plan_file_free(plan_file *pf);
/* The recommended solution's index, or -1. */
int plan_file_recommended(const plan_file *pf);
/* Index of the solution with this id, or -1. */
int plan_file_find(const plan_file *pf, int id);
/* Index of the first solution of this method ("auto-split", "cloud-only",
 * ...: the fastest of the method, as plan.json lists each method's
 * solutions fastest first), or -1. */
int plan_file_find_method(const plan_file *pf, const char *method);

/* A solution applied to the model. */
typedef struct plan_split {
    ir_graph *g;       /* the whole model, edge layers quantized (QDQ, or lowered) */
    int n_cross;
    char **names;      /* crossing tensor names in the canonical graph (what the server is sent) */
    int *codes;        /* per crossing: value id in g of what travels: the uint8
                        * codes (QuantizeLinear output, or the integer kernel's
                        * output after lowering), or the float tensor (bits 32) */
    int *bits;         /* per crossing: 1..8 or 32 */
    float *scale;      /* per crossing: dequantization scale and zero point (codes) */
    int32_t *zero_point;
    int n_edge_out;    /* graph outputs the edge computes alone (early exits, edge-only) */
    int *edge_out;     /* their value ids in g */
    int n_cloud_out;   /* graph outputs that need the crossing tensors */
    int *cloud_out;
    cv_tensor *info;   /* per crossing: dtype (uint8, or float32 for bits 32) and
                        * shape at batch 1 of what travels; data NULL */
    int lowered;       /* built with lower = 1 */
} plan_split;

/* Apply solution s to a clone of the canonical graph canon (bound, with its
 * layers l and activation statistics st). lower = 1 also lowers the QDQ
 * edge to integer kernels (quant_lower_int8), as the edge client runs it;
 * the codes ids then point at the lowered graph's values. */
cleave_status plan_split_build(cleave_ctx *ctx, const ir_graph *canon, const quant_layer *l, int n,
                               const quant_stats *st, const plan_file_solution *s, int lower,
                               plan_split *out);
void plan_split_free(plan_split *sp);

/* Write dir/edge.onnx, dir/cloud.onnx and dir/manifest.json for a split
 * built with lower = 0 (plain ONNX QDQ that ONNX Runtime runs). */
cleave_status plan_split_export(cleave_ctx *ctx, const plan_split *sp, const plan_file *pf,
                                const plan_file_solution *s, const char *dir);

#endif
