/* cli: shared pieces of the `cleave` subcommands: argument helpers, model
 * loading through the canonical-graph pipeline, input files (.npy / .pb),
 * input shape resolution and the ONNX Runtime reference runner. */
#ifndef CLEAVE_CLI_H
#define CLEAVE_CLI_H

#include "base/base.h"
#include "base/tensor.h"
#include "ir/graph.h"
#include "ops/fast.h"
#include "runtime/optimize.h"
#include "runtime/runtime.h"

#define CLI_MAX_INPUTS 64

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_emulate(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_edge(int argc, char **argv);
int cmd_plan(int argc, char **argv);

/* Print "cleave: <error>" from the context and return exit code 1. */
int cli_error(cleave_ctx *ctx);
/* "0.1,0.5,1" -> values; the count, or -1 when an item is not a number,
 * something follows one, or there are more than max. */
int cli_parse_num_list(const char *s, double *out, int max);
/* A model's name from its file: "models/fmnist-resnet.onnx" -> "fmnist-resnet"
 * into buf (returned). */
const char *cli_model_name(const char *path, char *buf, size_t n);
/* Parse an int option value in lo..hi into *out: 1, or 0 after printing why
 * (missing value, not an integer, out of range). */
int cli_parse_int(const char *opt, const char *val, int lo, int hi, int *out);

/* An integer option of a command: its name, the range of its value and
 * where the value goes. A table of them ends with {0}. */
typedef struct cli_int_opt {
    const char *name;
    int lo, hi;
    int *out;
} cli_int_opt;
/* argv[*i] against the table opts: when it names one, its value argv[*i + 1]
 * goes through cli_parse_int and *i steps past it. 1 when taken, 0 when not
 * one of them, -1 after printing why the value is bad or missing. */
int cli_int_option(int argc, char **argv, int *i, const cli_int_opt *opts);
/* The last branch of an option loop, for an argument a that nothing took:
 * "cleave <cmd>: unknown option or missing value 'a' (see --help)"; 0. */
int cli_bad_option(const char *cmd, const char *a);
/* The same for a command that takes one positional argument: a that is not
 * an option goes into *pos when that is still NULL (1); otherwise the
 * message above or "cleave <cmd>: unexpected argument 'a'" (0). */
int cli_positional(const char *cmd, const char *a, const char **pos);

/* Load and (unless raw) optimize a model. */
cleave_status cli_load_model(cleave_ctx *ctx, const char *path, int optimize, ir_graph **g,
                             rt_opt_stats *st);

/* User-given shapes: "name=1x3x224x224" or "1x3x224x224" for the first input. */
typedef struct cli_shapes {
    int n;
    const char *name[CLI_MAX_INPUTS];
    int ndim[CLI_MAX_INPUTS];
    int64_t dims[CLI_MAX_INPUTS][CV_MAX_DIMS];
    int batch; /* value for unknown leading dims; default 1 */
} cli_shapes;
cleave_status cli_parse_shape(cleave_ctx *ctx, const char *arg, cli_shapes *s);
/* Concrete shapes/dtypes for the graph's runtime inputs (non-initializer). */
cleave_status cli_input_specs(cleave_ctx *ctx, const ir_graph *g, const cli_shapes *s,
                              cv_tensor *specs, int *n);

/* Read a tensor file: .npy or ONNX TensorProto .pb. data: cv_aligned_free. */
cleave_status cli_read_tensor(cleave_ctx *ctx, const char *path, cv_tensor *t, char **name);
/* Fill a float tensor with seeded N(0,1) values (other dtypes: zeros). */
cleave_status cli_random_tensor(cleave_ctx *ctx, cv_tensor *t, uint64_t seed);

/* Run `node tools/ort_run.js bench` on the model; returns 0 and the median
 * ms, or -1 with a reason in why. */
int cli_ort_bench(const char *model, const char *input_npy, int threads, int warmup, int repeat,
                  double *median_ms, double *min_ms, char *why, size_t why_len);
/* Run `node tools/ort_run.js run` (outputs as .npy into outdir); 0 and its
 * JSON line ({"model", "outputs": [{"name", "file", ...}]}) or -1 and why. */
int cli_ort_run(const char *model, const char *input_npy, const char *outdir, int threads,
                char *json_out, size_t json_len, char *why, size_t why_len);
/* Folder of the cleave source tree (for tools/), from CLEAVE_HOME or the
 * executable's location. */
const char *cli_home(void);

#endif
