/* cli quant: shared pieces of the quantization commands (calibrate, eval,
 * quantize): a model with its quantization points, data sources and a
 * progress bar. */
#ifndef CLEAVE_CLI_QUANT_H
#define CLEAVE_CLI_QUANT_H

#include "cli/cli.h"
#include "data/data.h"
#include "quant/measure.h"
#include "quant/qgraph.h"

int cmd_calibrate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

/* A model loaded into its canonical graph, its (single) input at batch 1
 * and its quantization points. */
typedef struct cli_qmodel {
    const char *path;
    ir_graph *g;
    cv_tensor in_spec;
    quant_layer *layers;
    int n_layers;
} cli_qmodel;
cleave_status cli_qmodel_load(cleave_ctx *ctx, const char *path, cli_qmodel *m);
void cli_qmodel_free(cli_qmodel *m);

/* --data: "fashion-mnist[:DIR]" (labelled; preprocessed for the model's
 * input size), "random" (seeded N(0,1) per index) or a .npy [N, ...]. */
enum { CLI_DATA_FMNIST, CLI_DATA_RANDOM, CLI_DATA_NPY };
typedef struct cli_dataset {
    int kind;
    int count;
    data_dataset *ds;
    cv_tensor npy;
    cv_tensor in_spec;
    int64_t per_sample;
    uint64_t seed_base; /* random: per-split seeds, so calibration and test differ */
    char desc[160];
} cli_dataset;
/* split: "train" or "test" (fashion-mnist only). */
cleave_status cli_dataset_open(cleave_ctx *ctx, const char *spec, const char *split,
                               const cv_tensor *in_spec, cli_dataset *d);
void cli_dataset_close(cli_dataset *d);
int cli_dataset_label(const cli_dataset *d, int i); /* -1 when unlabelled */
/* Inputs idx[0..n) into out ([n, ...] floats). */
cleave_status cli_dataset_fill(cleave_ctx *ctx, const cli_dataset *d, const int *idx, int n,
                               float *out);
/* The same into a new tensor (data: cv_aligned_free). */
cleave_status cli_dataset_tensor(cleave_ctx *ctx, const cli_dataset *d, const int *idx, int n,
                                 cv_tensor *out);
/* The calibration set: n inputs (fashion-mnist: a seeded subset of the
 * training split) as one tensor; desc says what was taken. */
cleave_status cli_calib_tensor(cleave_ctx *ctx, const char *spec, const cv_tensor *in_spec, int n,
                               uint64_t seed, cv_tensor *out, char *desc, size_t desc_len);

/* Progress bar on stderr when it is a terminal (label: const char *). */
void cli_progress(void *label, int done, int total);
/* "2,4,6,8" -> bits (each 2..8); returns the count or -1. */
int cli_parse_bits_list(const char *s, int *bits, int max);

/* "W,A" -> w, a; 1 when each is 2..8 or 32. */
int cli_parse_uniform(const char *s, int *w, int *a);
/* What eval and quantize share: the configuration from --bits FILE (or
 * --uniform W,A when bits is NULL) resolved into per-layer bits *wb / *ab
 * (cv_free them), and the statistics from --stats FILE or, without it, a
 * calibration on calib_n inputs of data (announced as "<who>: ..." unless
 * who is NULL). */
cleave_status cli_quant_setup(cleave_ctx *ctx, const cli_qmodel *m, const char *bits, int uw, int ua,
                              const char *stats_path, const char *data, int calib_n,
                              const char *who, quant_config *cfg, int **wb, int **ab,
                              quant_stats *st);

#endif
