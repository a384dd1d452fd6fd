/* cli cost: what `profile` and its --validate share: load a model for a
 * compute dtype (int8: quantized uniformly and lowered to integer kernels)
 * and measure its profile. */
#ifndef CLEAVE_CLI_COST_H
#define CLEAVE_CLI_COST_H

#include "cli/cli.h"
#include "cost/device.h"
#include "cost/profile.h"

/* Default rounds of a measurement (cost_profile_measure_n): a machine whose
 * speed drifts over a minute then affects the whole-model and per-node
 * blocks (and a validation's reference and truth) alike. */
#define CLI_PROF_ROUNDS 5

typedef struct cli_prof_opts {
    cost_dtype dtype;
    int warmup, repeat;
    const char *input;     /* tensor file or NULL (seeded random input) */
    const cli_shapes *shapes;
    const char *calib;     /* int8: calibration data spec (default "random") */
    int quiet;             /* no progress bar */
    double min_block_ms;   /* see cost_profile_measure (default: 6000 when emulated) */
    double gap_ms;         /* idle ms before each run (see cost_profile_measure) */
    int rounds;            /* timed runs in this many rounds (0: CLI_PROF_ROUNDS) */
    int request;           /* also time a request's v2 codec after each run
                            * (cost_profile.request_ms; needs the net module) */
} cli_prof_opts;

/* Load `path` (fp32 models become uniform 8-bit QDQ, lowered, when
 * o->dtype is int8), measure and fill model, model_sha256 and emulation
 * (from $CLEAVE_EMULATION). */
cleave_status cli_profile_model(cleave_ctx *ctx, const char *path, const cli_prof_opts *o,
                                cost_profile *out);

/* n_prof profiles of one model measured interleaved in `rounds` rounds
 * (cost_profile_measure_n; 0: o->rounds); cli_profile_model is n_prof = 1. */
cleave_status cli_profile_model_n(cleave_ctx *ctx, const char *path, const cli_prof_opts *o, int n_prof,
                                  int rounds, cost_profile *out);

/* The measurement options profile and --validate share (--threads,
 * --warmup, --repeat, --rounds, --dtype, --gap-ms) at argv[*i]: 1 when taken (*i moved past its
 * value), 0 when not one of them, -1 after printing why the value is bad. */
int cli_prof_parse_opt(int argc, char **argv, int *i, int *threads, cli_prof_opts *o);

int cmd_profile_validate(int argc, char **argv);

#endif
