/* cli utilities: model loading, shapes, tensor files, random inputs and the
 * ONNX Runtime reference runner (tools/ort_run.js under Node). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/npy.h"
#include "cli/cli.h"
#include "onnx/onnx.h"
#include "ops/op.h"

int cli_error(cleave_ctx *ctx) {
    fprintf(stderr, "cleave: %s\n", cleave_ctx_error(ctx)[0] ? cleave_ctx_error(ctx) : "failed");
    return 1;
}

int cli_parse_int(const char *opt, const char *val, int lo, int hi, int *out) {
    char *e;
    if (!val) {
        fprintf(stderr, "cleave: %s needs a value\n", opt);
        return 0;
    }
    errno = 0;
    long v = strtol(val, &e, 10);
    if (errno || *e || e == val || v < lo || v > hi) {
        fprintf(stderr, "cleave: %s: '%s' is not an integer in %d..%d\n", opt, val, lo, hi);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int cli_int_option(int argc, char **argv, int *i, const cli_int_opt *opts) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    for (const cli_int_opt *o = opts; o->name; o++) {
        if (strcmp(a, o->name)) continue;
        if (!cli_parse_int(a, v, o->lo, o->hi, o->out)) return -1;
        (*i)++;
        return 1;
    }
    return 0;
}

int cli_bad_option(const char *cmd, const char *a) {
    fprintf(stderr, "cleave %s: unknown option or missing value '%s' (see --help)\n", cmd, a);
    return 0;
}

int cli_positional(const char *cmd, const char *a, const char **pos) {
    if (a[0] == '-') return cli_bad_option(cmd, a);
    if (*pos) {
        fprintf(stderr, "cleave %s: unexpected argument '%s'\n", cmd, a);
        return 0;
    }
    *pos = a;
    return 1;
}

cleave_status cli_load_model(cleave_ctx *ctx, const char *path, int optimize, ir_graph **g,
                             rt_opt_stats *st) {
    CV_TRY(onnx_load_file(ctx, path, g));
    cleave_status s = optimize ? rt_graph_optimize(ctx, *g, st) : op_bind_graph(ctx, *g);
    if (s) {
        ir_graph_destroy(*g);
        *g = NULL;
    }
    return s;
}

cleave_status cli_parse_shape(cleave_ctx *ctx, const char *arg, cli_shapes *s) {
    if (s->n >= CLI_MAX_INPUTS) return cv_fail(ctx, CLEAVE_E_LIMIT, "too many --shape options");
    const char *eq = strrchr(arg, '=');
    const char *dims = eq ? eq + 1 : arg;
    int k = s->n;
    s->name[k] = NULL;
    if (eq) {
        char *nm = cv_malloc((size_t)(eq - arg) + 1);
        if (!nm) return CLEAVE_E_NOMEM;
        memcpy(nm, arg, (size_t)(eq - arg));
        nm[eq - arg] = 0;
        s->name[k] = nm; /* lives until exit */
    }
    int nd = 0;
    const char *p = dims;
    while (*p) {
        char *e;
        long long v = strtoll(p, &e, 10);
        if (e == p || v < 0 || nd >= CV_MAX_DIMS)
            return cv_fail(ctx, CLEAVE_E_INVALID, "--shape '%s': expected NAME=D1xD2x... with D >= 0",
                           arg);
        s->dims[k][nd++] = v;
        p = e;
        if (*p == 'x' || *p == 'X' || *p == ',') p++;
        else if (*p) return cv_fail(ctx, CLEAVE_E_INVALID, "--shape '%s': unexpected '%c'", arg, *p);
    }
    s->ndim[k] = nd;
    s->n++;
    return CLEAVE_OK;
}

cleave_status cli_input_specs(cleave_ctx *ctx, const ir_graph *g, const cli_shapes *s,
                              cv_tensor *specs, int *n) {
    int k = 0;
    const char *src = g->source_path ? g->source_path : "model";
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->is_initializer) continue;
        if (k >= CLI_MAX_INPUTS) return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: too many inputs", src);
        cv_tensor *t = &specs[k];
        memset(t, 0, sizeof *t);
        t->dtype = v->dtype == CV_UNDEF ? CV_F32 : v->dtype;
        int given = -1;
        for (int j = 0; j < (s ? s->n : 0); j++)
            if ((s->name[j] && !strcmp(s->name[j], v->name)) || (!s->name[j] && k == 0)) given = j;
        if (given >= 0) {
            t->ndim = s->ndim[given];
            memcpy(t->dims, s->dims[given], sizeof(int64_t) * (size_t)t->ndim);
        } else {
            if (v->ndim < 0)
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "%s: input '%s' has no declared shape; give one with --shape %s=...",
                               src, v->name, v->name);
            t->ndim = v->ndim;
            for (int d = 0; d < v->ndim; d++) {
                t->dims[d] = v->dims[d];
                if (t->dims[d] < 0) {
                    if (d == 0) t->dims[d] = s && s->batch > 0 ? s->batch : 1;
                    else
                        return cv_fail(ctx, CLEAVE_E_INVALID,
                                       "%s: input '%s' dimension %d is dynamic ('%s'); give the "
                                       "shape with --shape %s=...",
                                       src, v->name, d, v->dim_param[d] ? v->dim_param[d] : "?",
                                       v->name);
                }
            }
        }
        k++;
    }
    *n = k;
    return CLEAVE_OK;
}

cleave_status cli_read_tensor(cleave_ctx *ctx, const char *path, cv_tensor *t, char **name) {
    size_t l = strlen(path);
    if (name) *name = NULL;
    if (l > 4 && !strcmp(path + l - 4, ".npy")) return cv_npy_load(ctx, path, t);
    if (l > 3 && !strcmp(path + l - 3, ".pb")) return onnx_tensor_load_file(ctx, path, t, name);
    return cv_fail(ctx, CLEAVE_E_INVALID, "%s: unknown tensor file type (expected .npy or .pb)", path);
}

cleave_status cli_random_tensor(cleave_ctx *ctx, cv_tensor *t, uint64_t seed) {
    size_t bytes = cv_nbytes(t);
    t->data = cv_aligned_alloc(bytes);
    if (!t->data) return cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory for a random input");
    memset(t->data, 0, bytes);
    if (t->dtype != CV_F32) return CLEAVE_OK;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    float *f = t->data;
    int64_t n = cv_numel(t);
    for (int64_t i = 0; i < n; i += 2) {
        /* xorshift64* + Box-Muller */
        double u[2];
        for (int j = 0; j < 2; j++) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            u[j] = ((double)((x * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
        }
        double r = sqrt(-2.0 * log(u[0]));
        f[i] = (float)(r * cos(6.283185307179586 * u[1]));
        if (i + 1 < n) f[i + 1] = (float)(r * sin(6.283185307179586 * u[1]));
    }
    return CLEAVE_OK;
}

const char *cli_home(void) {
    static char home[PATH_MAX];
    const char *env = getenv("CLEAVE_HOME");
    if (env && env[0]) return env;
    if (home[0]) return home;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return ".";
    exe[n] = 0;
    /* <home>/<build dir>/cleave -> <home> */
    for (int up = 0; up < 2; up++) {
        char *sl = strrchr(exe, '/');
        if (!sl) return ".";
        *sl = 0;
    }
    snprintf(home, sizeof home, "%s", exe);
    return home;
}

static void shell_quote(char *dst, size_t n, const char *s) {
    size_t o = 0;
    if (o < n) dst[o++] = '\'';
    for (; *s && o + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(dst + o, "'\\''", 4);
            o += 4;
        } else {
            dst[o++] = *s;
        }
    }
    if (o < n) dst[o++] = '\'';
    dst[o < n ? o : n - 1] = 0;
}

static double json_num(const char *s, const char *key) {
    const char *p = strstr(s, key);
    if (!p) return -1;
    p = strchr(p, ':');
    return p ? atof(p + 1) : -1;
}

/* tools/ort_run.js, shell-quoted into q; 0, or -1 with why. */
static int ort_runner(char *q, size_t n, char *why, size_t why_len) {
    char runner[PATH_MAX + 32];
    snprintf(runner, sizeof runner, "%s/tools/ort_run.js", cli_home());
    if (access(runner, R_OK) != 0) {
        snprintf(why, why_len, "reference runner %s not found (set CLEAVE_HOME)", runner);
        return -1;
    }
    shell_quote(q, n, runner);
    return 0;
}

/* Run the runner's command line cmd, its output into out[0..n): where its
 * JSON result ({"model": ...) starts, or NULL with why (the first line). */
static char *ort_exec(const char *cmd, char *out, size_t n, char *why, size_t why_len) {
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(why, why_len, "cannot start node");
        return NULL;
    }
    size_t got = fread(out, 1, n - 1, p);
    out[got] = 0;
    int rc = pclose(p);
    char *line = strstr(out, "{\"model\"");
    if (rc != 0 || !line) {
        char *nl = strchr(out, '\n');
        if (nl) *nl = 0;
        snprintf(why, why_len, "ONNX Runtime failed: %s", out[0] ? out : "no output");
        return NULL;
    }
    return line;
}

int cli_ort_bench(const char *model, const char *input_npy, int threads, int warmup, int repeat,
                  double *median_ms, double *min_ms, char *why, size_t why_len) {
    char qr[2 * PATH_MAX], qm[2 * PATH_MAX], qi[2 * PATH_MAX];
    if (ort_runner(qr, sizeof qr, why, why_len)) return -1;
    shell_quote(qm, sizeof qm, model);
    shell_quote(qi, sizeof qi, input_npy);
    char cmd[8 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "node %s bench %s --input %s --threads %d --warmup %d --repeat %d 2>&1",
             qr, qm, qi, threads, warmup, repeat);
    char out[8192];
    char *line = ort_exec(cmd, out, sizeof out, why, why_len);
    if (!line) return -1;
    *median_ms = json_num(line, "\"median_ms\"");
    *min_ms = json_num(line, "\"min_ms\"");
    return *median_ms > 0 ? 0 : -1;
}

int cli_ort_run(const char *model, const char *input_npy, const char *outdir, int threads,
                char *json_out, size_t json_len, char *why, size_t why_len) {
    char qr[2 * PATH_MAX], qm[2 * PATH_MAX], qi[2 * PATH_MAX], qo[2 * PATH_MAX];
    if (ort_runner(qr, sizeof qr, why, why_len)) return -1;
    shell_quote(qm, sizeof qm, model);
    shell_quote(qi, sizeof qi, input_npy);
    shell_quote(qo, sizeof qo, outdir);
    char cmd[10 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "node %s run %s --input %s --outdir %s --threads %d 2>&1", qr, qm, qi,
             qo, threads);
    char out[16384];
    char *line = ort_exec(cmd, out, sizeof out, why, why_len);
    if (!line) return -1;
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    snprintf(json_out, json_len, "%s", line);
    return 0;
}

const char *cli_model_name(const char *path, char *buf, size_t n) {
    const char *b = strrchr(path, '/');
    snprintf(buf, n, "%s", b ? b + 1 : path);
    size_t l = strlen(buf);
    if (l > 5 && !strcmp(buf + l - 5, ".onnx")) buf[l - 5] = 0;
    return buf;
}

int cli_parse_num_list(const char *s, double *out, int max) {
    int n = 0;
    while (*s) {
        char *e;
        double v = strtod(s, &e);
        if (e == s || n >= max || (*e && *e != ',')) return -1;
        out[n++] = v;
        s = *e ? e + 1 : e;
    }
    return n;
}
