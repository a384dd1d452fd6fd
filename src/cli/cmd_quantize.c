/* cleave quantize: write a model quantized with a bit configuration as a
 * standard QDQ ONNX model (int8 weight initializers holding b-bit values
 * with per-channel DequantizeLinear; activations through [Clip,]
 * QuantizeLinear, DequantizeLinear), which ONNX Runtime and cleave run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_quant.h"
#include "onnx/onnx.h"

static void help(void) {
    printf("usage: cleave quantize MODEL.onnx (--bits CONFIG.json | --uniform W,A)\n"
           "                      (--stats STATS.json | --data SPEC) -o OUT.onnx\n\n"
           "Writes the model's canonical graph (BatchNorm folded) quantized with the given\n"
           "bit widths as a QDQ ONNX model. Weights below 8 bits are stored as int8 holding\n"
           "b-bit values (the memory figure printed counts them packed); activations below\n"
           "8 bits are clipped to their b-bit grid before an 8-bit QuantizeLinear.\n\n"
           "options:\n"
           "  --bits FILE      bit configuration (docs/quantization.md)\n"
           "  --uniform W,A    all weights W bits, all activations A bits (2..8 or 32)\n"
           "  --stats FILE     calibration statistics from `cleave calibrate`\n"
           "  --data SPEC      calibrate first on this data (fashion-mnist[:DIR], random,\n"
           "                   FILE.npy) when there is no --stats\n"
           "  --calib-n N      calibration inputs with --data (default 512)\n"
           "  -o, --output F   the quantized model to write\n"
           "  --threads N      threads for calibration (default 1)\n"
           "  -h, --help       this text\n");
}

int cmd_quantize(int argc, char **argv) {
    fast_set_deterministic(1); /* accuracy figures: the same bits every run */
    const char *model = NULL, *bits = NULL, *stats_path = NULL, *data = NULL, *outp = NULL;
    int uw = 0, ua = 0, calib_n = 512, threads = 1, rc = 1;
    const cli_int_opt ints[] = {{"--calib-n", 1, 1 << 20, &calib_n},
                                {"--threads", 1, 1024, &threads},
                                {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return 0;
        }
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) return 2;
        if (took) continue;
        if (!strcmp(a, "--bits") && v) bits = v, i++;
        else if (!strcmp(a, "--stats") && v) stats_path = v, i++;
        else if (!strcmp(a, "--data") && v) data = v, i++;
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && v) outp = v, i++;
        else if (!strcmp(a, "--uniform") && v) {
            if (!cli_parse_uniform(v, &uw, &ua)) {
                fprintf(stderr, "cleave quantize: --uniform: expected W,A with each 2..8 or 32\n");
                return 2;
            }
            i++;
        } else if (!cli_positional("quantize", a, &model)) return 2;
    }
    if (!model || !outp || (!bits && !uw) || (bits && uw) || (!stats_path && !data)) {
        fprintf(stderr, "cleave quantize: needs MODEL.onnx, one of --bits/--uniform, --stats or "
                        "--data, and -o (see --help)\n");
        return 2;
    }
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    cleave_ctx_set_threads(ctx, threads);
    cli_qmodel m;
    memset(&m, 0, sizeof m);
    quant_config cfg;
    quant_config_uniform(&cfg, 8, 8);
    quant_stats st;
    memset(&st, 0, sizeof st);
    int *wb = NULL, *ab = NULL;
    quant_apply_info info;
    if (cli_qmodel_load(ctx, model, &m)) goto err;
    if (cli_quant_setup(ctx, &m, bits, uw, ua, stats_path, data, calib_n, "quantize", &cfg, &wb, &ab,
                        &st))
        goto err;
    if (quant_apply(ctx, m.g, m.layers, m.n_layers, wb, ab, &cfg, &st, &info)) goto err;
    if (onnx_save_file(ctx, m.g, outp)) goto err;
    printf("quantize: wrote %s: %d weights and %d activations quantized; those weights %.1f KB "
           "fp32 -> %.1f KB packed\n",
           outp, info.n_weights, info.n_acts, info.weights_float_bytes / 1024.0,
           info.weights_packed_bytes / 1024.0);
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    cv_free(wb);
    cv_free(ab);
    quant_stats_free(&st);
    quant_config_free(&cfg);
    cli_qmodel_free(&m);
    cleave_ctx_destroy(ctx);
    return rc;
}
