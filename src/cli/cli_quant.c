/* cli quant: what `calibrate`, `eval` and `quantize` share — a model loaded
 * into its canonical graph with its quantization points, data sources
 * (Fashion-MNIST with the models' preprocessing, a .npy tensor, or seeded
 * random inputs), and a progress bar on stderr. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/npy.h"
#include "cli/cli_quant.h"

cleave_status cli_qmodel_load(cleave_ctx *ctx, const char *path, cli_qmodel *m) {
    memset(m, 0, sizeof *m);
    m->path = path;
    CV_TRY(cli_load_model(ctx, path, 1, &m->g, NULL));
    int n_in = 0;
    cv_tensor specs[CLI_MAX_INPUTS];
    cleave_status s = cli_input_specs(ctx, m->g, NULL, specs, &n_in);
    if (!s && n_in != 1)
        s = cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: has %d inputs; quantization commands need one",
                    path, n_in);
    rt_plan *p = NULL;
    if (!s) {
        m->in_spec = specs[0];
        s = rt_plan_create(ctx, m->g, NULL, 0, NULL, 0, specs, NULL, &p);
    }
    if (!s) s = quant_layers_find(ctx, m->g, p, &m->layers, &m->n_layers);
    rt_plan_destroy(p);
    if (s) cli_qmodel_free(m);
    return s;
}

void cli_qmodel_free(cli_qmodel *m) {
    ir_graph_destroy(m->g);
    cv_free(m->layers);
    memset(m, 0, sizeof *m);
}

/* ---- data ---- */

cleave_status cli_dataset_open(cleave_ctx *ctx, const char *spec, const char *split,
                               const cv_tensor *in_spec, cli_dataset *d) {
    memset(d, 0, sizeof *d);
    d->in_spec = *in_spec;
    d->per_sample = cv_numel(in_spec) / (in_spec->dims[0] ? in_spec->dims[0] : 1);
    if (!strncmp(spec, "fashion-mnist", 13) && (spec[13] == 0 || spec[13] == ':')) {
        if (in_spec->ndim != 4 || in_spec->dims[1] != 1 || in_spec->dtype != CV_F32)
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "--data fashion-mnist: the model input must be float [N,1,H,W] (a "
                           "grey image)");
        d->kind = CLI_DATA_FMNIST;
        CV_TRY(data_dataset_create(ctx, spec[13] ? spec + 14 : NULL, split, &d->ds));
        d->count = data_dataset_count(d->ds);
        snprintf(d->desc, sizeof d->desc, "fashion-mnist %s", split);
        return CLEAVE_OK;
    }
    if (!strcmp(spec, "random")) {
        d->kind = CLI_DATA_RANDOM;
        d->count = 1 << 20;
        d->seed_base = !strcmp(split, "train") ? 1000003u : 2000003u;
        snprintf(d->desc, sizeof d->desc, "random N(0,1) inputs");
        return CLEAVE_OK;
    }
    size_t l = strlen(spec);
    if (l > 4 && !strcmp(spec + l - 4, ".npy")) {
        d->kind = CLI_DATA_NPY;
        CV_TRY(cv_npy_load(ctx, spec, &d->npy));
        int ok = d->npy.dtype == CV_F32 && d->npy.ndim == in_spec->ndim && d->npy.dims[0] >= 1;
        for (int k = 1; ok && k < in_spec->ndim; k++) ok = d->npy.dims[k] == in_spec->dims[k];
        if (!ok) {
            char a[128], b[128];
            cleave_status s = cv_fail(ctx, CLEAVE_E_INVALID,
                                      "%s: %s %s does not match the model input float %s (any N)",
                                      spec, cv_dtype_name(d->npy.dtype),
                                      cv_shape_str(d->npy.ndim, d->npy.dims, a, sizeof a),
                                      cv_shape_str(in_spec->ndim, in_spec->dims, b, sizeof b));
            cli_dataset_close(d);
            return s;
        }
        d->count = (int)d->npy.dims[0];
        snprintf(d->desc, sizeof d->desc, "%s", spec);
        return CLEAVE_OK;
    }
    return cv_fail(ctx, CLEAVE_E_INVALID,
                   "--data '%s': expected fashion-mnist[:DIR], random, or a .npy file", spec);
}

void cli_dataset_close(cli_dataset *d) {
    data_dataset_destroy(d->ds);
    cv_aligned_free(d->npy.data);
    memset(d, 0, sizeof *d);
}

int cli_dataset_label(const cli_dataset *d, int i) {
    return d->kind == CLI_DATA_FMNIST ? data_dataset_label(d->ds, i) : -1;
}

cleave_status cli_dataset_fill(cleave_ctx *ctx, const cli_dataset *d, const int *idx, int n,
                               float *out) {
    if (d->kind == CLI_DATA_FMNIST)
        return data_dataset_batch(ctx, d->ds, idx, n, (int)d->in_spec.dims[2],
                                  (int)d->in_spec.dims[3], DATA_FMNIST_MEAN, DATA_FMNIST_STD, out);
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)d->per_sample * (size_t)i;
        if (d->kind == CLI_DATA_NPY) {
            memcpy(o, (const float *)d->npy.data + (size_t)d->per_sample * (size_t)idx[i],
                   sizeof(float) * (size_t)d->per_sample);
        } else {
            cv_tensor t = d->in_spec;
            t.ndim = 1;
            t.dims[0] = d->per_sample;
            CV_TRY(cli_random_tensor(ctx, &t, d->seed_base + (uint64_t)idx[i]));
            memcpy(o, t.data, sizeof(float) * (size_t)d->per_sample);
            cv_aligned_free(t.data);
        }
    }
    return CLEAVE_OK;
}

cleave_status cli_dataset_tensor(cleave_ctx *ctx, const cli_dataset *d, const int *idx, int n,
                                 cv_tensor *out) {
    *out = d->in_spec;
    out->dims[0] = n;
    out->data = cv_aligned_alloc(sizeof(float) * (size_t)d->per_sample * (size_t)n + 64);
    if (!out->data) return cv_fail(ctx, CLEAVE_E_NOMEM, "%d inputs: out of memory", n);
    cleave_status s = cli_dataset_fill(ctx, d, idx, n, out->data);
    if (s) {
        cv_aligned_free(out->data);
        out->data = NULL;
    }
    return s;
}

cleave_status cli_calib_tensor(cleave_ctx *ctx, const char *spec, const cv_tensor *in_spec, int n,
                               uint64_t seed, cv_tensor *out, char *desc, size_t desc_len) {
    cli_dataset d;
    CV_TRY(cli_dataset_open(ctx, spec, "train", in_spec, &d));
    if (n > d.count) n = d.count;
    int *idx = cv_malloc(sizeof(int) * (size_t)n + 1);
    cleave_status s = idx ? CLEAVE_OK : cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
    if (!s) {
        if (d.kind == CLI_DATA_FMNIST) s = data_calib_indices(ctx, d.count, n, seed, idx);
        else
            for (int i = 0; i < n; i++) idx[i] = i;
    }
    if (!s) s = cli_dataset_tensor(ctx, &d, idx, n, out);
    if (!s && desc) {
        if (d.kind == CLI_DATA_FMNIST)
            snprintf(desc, desc_len, "%d training images of fashion-mnist (seed %llu)", n,
                     (unsigned long long)seed);
        else
            snprintf(desc, desc_len, "%d inputs of %s", n, d.desc);
    }
    cv_free(idx);
    cli_dataset_close(&d);
    return s;
}

/* ---- progress ---- */

void cli_progress(void *label, int done, int total) {
    static int tty = -1;
    if (tty < 0) tty = isatty(2);
    if (!tty || total <= 0) return;
    int w = 30, f = (int)((double)done / total * w);
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < f ? '=' : ' ';
    bar[w] = 0;
    fprintf(stderr, "\r%s [%s] %d/%d", label ? (const char *)label : "", bar, done, total);
    if (done >= total) fprintf(stderr, "\r%*s\r", w + 40 + (label ? (int)strlen(label) : 0), "");
    fflush(stderr);
}

int cli_parse_bits_list(const char *s, int *bits, int max) {
    int n = 0;
    while (*s) {
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s || v < 2 || v > 8 || n >= max) return -1;
        bits[n++] = (int)v;
        s = *e == ',' ? e + 1 : e;
        if (*e && *e != ',') return -1;
    }
    return n ? n : -1;
}

int cli_parse_uniform(const char *s, int *w, int *a) {
    char *e;
    long x = strtol(s, &e, 10);
    if (*e != ',') return 0;
    long y = strtol(e + 1, &e, 10);
    if (*e) return 0;
    *w = (int)x;
    *a = (int)y;
    return ((x >= 2 && x <= 8) || x == 32) && ((y >= 2 && y <= 8) || y == 32);
}

cleave_status cli_quant_setup(cleave_ctx *ctx, const cli_qmodel *m, const char *bits, int uw, int ua,
                              const char *stats_path, const char *data, int calib_n,
                              const char *who, quant_config *cfg, int **wb, int **ab,
                              quant_stats *st) {
    if (bits) CV_TRY(quant_config_load(ctx, bits, cfg));
    else quant_config_uniform(cfg, uw, ua);
    *wb = cv_malloc(sizeof(int) * (size_t)m->n_layers + 1);
    *ab = cv_malloc(sizeof(int) * (size_t)m->n_layers + 1);
    if (!*wb || !*ab) return cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
    CV_TRY(quant_config_resolve(ctx, cfg, m->layers, m->n_layers, *wb, *ab));
    if (stats_path) return quant_stats_load(ctx, stats_path, st);
    char desc[256];
    cv_tensor cx;
    CV_TRY(cli_calib_tensor(ctx, data, &m->in_spec, calib_n, 0, &cx, desc, sizeof desc));
    if (who) printf("%s: no --stats: calibrating on %s\n", who, desc);
    cleave_status s = quant_stats_create(ctx, m->g, m->layers, m->n_layers, Q_HIST_DEFAULT_BINS, st);
    quant_data qd = {&cx, 32, cli_progress, (void *)"calibrate"};
    if (!s) s = quant_calibrate(ctx, m->g, m->layers, m->n_layers, &qd, st);
    cv_aligned_free(cx.data);
    return s;
}
