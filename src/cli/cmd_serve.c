/* cleave serve: the KServe v2 model server (src/net/v2_server.c). Runs
 * until SIGTERM or SIGINT, then drains: new requests get 503 while the
 * accepted ones finish. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cost/device.h"
#include "net/v2_server.h"

static void help(void) {
    printf("usage: cleave serve (--repo DIR | [NAME=]MODEL.onnx ...) [options]\n\n"
           "Serves models over the KServe v2 / Open Inference Protocol (HTTP, JSON and the\n"
           "binary-data extension; docs/serve.md). A request may carry the model's inputs or\n"
           "any intermediate tensors of its canonical graph (the tensors a cut sends): the\n"
           "server runs the part of the model downstream of them. Low-bit packed tensors\n"
           "and gzip/zstd bodies are decoded.\n\n"
           "options:\n"
           "  --repo DIR          Triton-layout repository: DIR/<model>/<version>/model.onnx\n"
           "  NAME=MODEL.onnx     a single model (default NAME: the file name without .onnx)\n"
           "  --port N            TCP port (default 8000; 0 = any free port)\n"
           "  --bind ADDR         IPv4 address to listen on (default all)\n"
           "  --workers N         inferences at once (default 2)\n"
           "  --threads N         engine threads per inference (default 1)\n"
           "  --cc NAME           TCP congestion control of the connections (e.g. cubic;\n"
           "                      default: the system's)\n"
           "  --queue N           requests that may wait for a worker before 503 (default 64)\n"
           "  --max-body SIZE     largest request body, e.g. 16MiB (default 64MiB; 413 beyond)\n"
           "  --port-file F       write the bound port to F once listening\n"
           "  --drain-timeout S   seconds to let accepted requests finish on SIGTERM (default 30)\n"
           "  --ref               reference C kernels only\n"
           "  -h, --help          this text\n\n"
           "endpoints: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/NAME[/versions/V],\n"
           "/v2/models/NAME/ready, /metrics (Prometheus); POST /v2/models/NAME/infer\n");
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

int cmd_serve(int argc, char **argv) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    v2_server_opts o = {.port = 8000};
    const char *repo = NULL, *port_file = NULL;
    const char *models[32];
    int n_models = 0, rc = 1, drain_s = 30;
    v2_server *s = NULL;
    const cli_int_opt ints[] = {{"--port", 0, 65535, &o.port},
                                {"--workers", 1, 64, &o.workers},
                                {"--threads", 1, 256, &o.threads},
                                {"--drain-timeout", 0, 3600, &drain_s},
                                {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            rc = 0;
            goto out;
        }
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) goto out;
        if (took) continue;
        if (!strcmp(a, "--repo") && v) repo = v, i++;
        else if (!strcmp(a, "--bind") && v) o.bind_addr = v, i++;
        else if (!strcmp(a, "--cc") && v) o.tcp_cc = v, i++;
        else if (!strcmp(a, "--queue")) {
            if (!cli_parse_int(a, v, 0, 100000, &o.queue)) goto out;
            if (!o.queue) o.queue = -1; /* --queue 0: none (0 in o: the default) */
            i++;
        } else if (!strcmp(a, "--max-body") && v) {
            double b;
            if (!cost_parse_bytes(v, &b) || b < 1024 || b > (double)((size_t)1 << 34)) {
                fprintf(stderr, "cleave serve: --max-body '%s': expected a size from 1KiB to 16GiB\n", v);
                goto out;
            }
            o.max_body = (size_t)b;
            i++;
        } else if (!strcmp(a, "--port-file") && v) port_file = v, i++;
        else if (!strcmp(a, "--ref")) o.reference = 1;
        else if (a[0] == '-') {
            cli_bad_option("serve", a);
            goto out;
        } else if (n_models < 32) models[n_models++] = a;
        else {
            fprintf(stderr, "cleave serve: at most 32 models on the command line (use --repo)\n");
            goto out;
        }
    }
    if (!repo && !n_models) {
        fprintf(stderr, "cleave serve: need --repo DIR or a model file (see --help)\n");
        goto out;
    }
    if (v2_server_create(ctx, &o, &s)) goto err;
    if (repo && v2_server_add_repository(s, repo)) goto err;
    for (int k = 0; k < n_models; k++) {
        const char *eq = strchr(models[k], '=');
        char name[128];
        const char *path = eq ? eq + 1 : models[k];
        if (eq) snprintf(name, sizeof name, "%.*s", (int)(eq - models[k]), models[k]);
        else cli_model_name(path, name, sizeof name);
        if (v2_server_add_model(s, name, NULL, path)) goto err;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (v2_server_start(s)) goto err;
    int port = v2_server_port(s);
    printf("cleave serve: %d model%s on http://%s:%d (workers %d, threads %d)\n", v2_server_n_models(s),
           v2_server_n_models(s) == 1 ? "" : "s", o.bind_addr ? o.bind_addr : "0.0.0.0", port,
           o.workers ? o.workers : 2, o.threads ? o.threads : 1);
    fflush(stdout);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f)) {
            fprintf(stderr, "cleave serve: cannot write %s\n", port_file);
            goto out;
        }
    }
    while (!g_stop) cv_sleep_ms(50);
    printf("cleave serve: %s: draining\n", g_stop == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    int left = v2_server_drain(s, drain_s * 1e3);
    if (left) fprintf(stderr, "cleave serve: %d request(s) still running after %d s; stopping anyway\n", left, drain_s);
    printf("cleave serve: stopped\n");
    rc = left ? 1 : 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    v2_server_destroy(s);
    cleave_ctx_destroy(ctx);
    return rc;
}
