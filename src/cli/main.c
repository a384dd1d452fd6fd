/* cleave: command-line entry point; one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_quant.h"

int cmd_split(int argc, char **argv); /* cmd_split.c */

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} k_cmds[] = {
    {"inspect", cmd_inspect, "show nodes, shapes, MACs, parameters and memory of a model"},
    {"run", cmd_run, "run a model on tensors; with --plan: the edge client of a split"},
    {"bench", cmd_bench, "time a model against ONNX Runtime in the same run"},
    {"calibrate", cmd_calibrate, "activation statistics and per-layer distortion tables"},
    {"eval", cmd_eval, "top-1 accuracy (per exit), fp32 and quantized, and SQNR"},
    {"quantize", cmd_quantize, "write a mixed-precision QDQ ONNX model"},
    {"profile", cmd_profile, "per-node latency profile, device calibration, predictor validation"},
    {"emulate", cmd_emulate, "run a command on an emulated slower device (cgroup CPU quota)"},
    {"plan", cmd_plan, "where to cut a model and with which bits: Pareto front and baselines"},
    {"split", cmd_split, "write a plan's solution as edge.onnx + cloud.onnx + manifest.json"},
#ifndef CLEAVE_NO_NET
    {"link", cmd_link, "link model: predicted vs measured HTTP transfer times"},
    {"serve", cmd_serve, "KServe v2 model server: runs a model from whatever tensors a request carries"},
#endif
};

static void usage(FILE *f) {
    fprintf(f, "usage: cleave <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", k_cmds[i].name, k_cmds[i].help);
    fprintf(f, "\n`cleave <command> --help` describes each command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
        if (!strcmp(argv[1], k_cmds[i].name)) return k_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "cleave: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
