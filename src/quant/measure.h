/* quant measure: everything that runs a model over a set of inputs —
 * calibration (activation histograms), output collection, the distortion a
 * quantization configuration causes at the model's outputs (MSE against
 * fp32 and the share of top-1 decisions that change), and the per-layer
 * distortion tables the planner's bit allocation uses (Auto-Split, see
 * ../shared/PAPERS.md section 1). */
#ifndef CLEAVE_QUANT_MEASURE_H
#define CLEAVE_QUANT_MEASURE_H

#include "quant/qgraph.h"

/* A set of inputs for a single-input model: x is [N, ...] (dense, f32),
 * run in batches of `batch`. */
typedef struct quant_data {
    const cv_tensor *x;
    int batch;
    /* optional progress: called after each batch */
    void (*progress)(void *user, int done, int total);
    void *user;
} quant_data;

/* Histograms of every activation of l (stats from quant_stats_create). */
cleave_status quant_calibrate(cleave_ctx *ctx, const ir_graph *g, const quant_layer *l, int n,
                              const quant_data *d, quant_stats *st);

/* The model's outputs on d: out[k] gets N * per_sample[k] floats (cv_free
 * each); n_out = graph outputs (at most 16). */
#define QUANT_MAX_OUTPUTS 16
typedef struct quant_outputs {
    int n_out, n;
    int64_t per_sample[QUANT_MAX_OUTPUTS];
    float *out[QUANT_MAX_OUTPUTS];
} quant_outputs;
cleave_status quant_collect_outputs(cleave_ctx *ctx, const ir_graph *g, const quant_data *d,
                                    quant_outputs *o);
void quant_outputs_free(quant_outputs *o);

/* Distortion of outputs q against reference r: mean squared error over all
 * output elements (each output weighted by its size) and the share of
 * (sample, output) pairs whose argmax differs. */
typedef struct quant_distortion {
    double mse;
    double flip;
} quant_distortion;
/* Index of the first largest of x[0..n) (the top-1 class). */
int64_t quant_argmax(const float *x, int64_t n);

quant_distortion quant_compare_outputs(const quant_outputs *r, const quant_outputs *q);

/* Quantize a copy of g with per-layer bits and measure its distortion
 * against ref (fp32 outputs on the same data). */
cleave_status quant_measure(cleave_ctx *ctx, const ir_graph *g, const quant_layer *l, int n,
                            const int *wbits, const int *abits, const quant_config *c,
                            const quant_stats *st, const quant_data *d, const quant_outputs *ref,
                            quant_distortion *out);

/* Per-layer distortion tables: entry [k][j] is the distortion when only
 * layer k's weight (w) or only its activation (a) is quantized to bits[j],
 * everything else float. NaN where the layer has no such tensor. */
typedef struct quant_table {
    int n_layers, n_bits;
    int bits[8];
    quant_distortion *w, *a; /* [n_layers * n_bits] */
} quant_table;
cleave_status quant_table_build(cleave_ctx *ctx, const ir_graph *g, const quant_layer *l, int n,
                                const quant_config *c, const quant_stats *st, const quant_data *d,
                                const quant_outputs *ref, const int *bits, int n_bits,
                                quant_table *t);
void quant_table_free(quant_table *t);
/* {"bits": [...], "layers": [{"name", "w": [[mse, flip], ...] | null, "a": ...}]} */
json_t *quant_table_json(const quant_table *t, const quant_layer *l);
/* Read that object back for the layers l (matched by name: a layer the
 * file lacks, or a file layer l lacks, is an error naming it and path). */
cleave_status quant_table_parse(cleave_ctx *ctx, const char *path, json_t *o, const quant_layer *l,
                                int n, quant_table *t);

#endif
