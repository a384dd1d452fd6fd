/* quant stats: calibration statistics of a model's activations, one
 * histogram (q_hist) per quantization point, saved as JSON so that ranges
 * for any bit width and clipping method can be derived later without
 * running the model again. Format in docs/quantization.md. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "quant/qgraph.h"

#define STATS_FORMAT "cleave-quant-stats"
#define STATS_VERSION 1
#define STATS_MAX_BINS (1 << 16)

void quant_stats_free(quant_stats *st) {
    for (int i = 0; i < st->n; i++) {
        cv_free(st->names[i]);
        q_hist_free(&st->hist[i]);
    }
    cv_free(st->names);
    cv_free(st->hist);
    cv_free(st->model);
    cv_free(st->model_sha256);
    memset(st, 0, sizeof *st);
}

static cleave_status alloc_stats(cleave_ctx *ctx, int n, quant_stats *st) {
    memset(st, 0, sizeof *st);
    st->names = cv_calloc((size_t)n + 1, sizeof(char *));
    st->hist = cv_calloc((size_t)n + 1, sizeof(q_hist));
    if (!st->names || !st->hist) {
        quant_stats_free(st);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "calibration statistics: out of memory");
    }
    return CLEAVE_OK;
}

cleave_status quant_stats_create(cleave_ctx *ctx, const ir_graph *g, const quant_layer *l, int n,
                                 int nbins, quant_stats *st) {
    int n_act = 0;
    for (int k = 0; k < n; k++) n_act += l[k].act >= 0;
    CV_TRY(alloc_stats(ctx, n_act, st));
    for (int k = 0; k < n; k++) {
        if (l[k].act < 0) continue;
        int i = st->n;
        st->names[i] = cv_strdup(g->values[l[k].act].name);
        if (!st->names[i]) {
            quant_stats_free(st);
            return cv_fail(ctx, CLEAVE_E_NOMEM, "calibration statistics: out of memory");
        }
        st->n++;
        cleave_status s = q_hist_init(ctx, &st->hist[i], nbins);
        if (s) {
            quant_stats_free(st);
            return s;
        }
    }
    return CLEAVE_OK;
}

int quant_stats_find(const quant_stats *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->names[i], name)) return i;
    return -1;
}

json_t *quant_stats_json(const quant_stats *st) {
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(STATS_FORMAT));
    json_object_set_new(root, "version", json_integer(STATS_VERSION));
    if (st->model) json_object_set_new(root, "model", json_string(st->model));
    if (st->model_sha256) json_object_set_new(root, "model_sha256", json_string(st->model_sha256));
    json_object_set_new(root, "images", json_integer(st->images));
    json_t *arr = json_array();
    for (int i = 0; i < st->n; i++) {
        const q_hist *h = &st->hist[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(st->names[i]));
        json_object_set_new(o, "min", json_real(h->min));
        json_object_set_new(o, "max", json_real(h->max));
        json_object_set_new(o, "count", json_real(h->count));
        json_object_set_new(o, "sum", json_real(h->sum));
        json_object_set_new(o, "sumsq", json_real(h->sumsq));
        json_object_set_new(o, "lo", json_real(h->lo));
        json_object_set_new(o, "hi", json_real(h->hi));
        json_t *b = json_array();
        for (int k = 0; k < h->nbins; k++) json_array_append_new(b, json_real(h->bins[k]));
        json_object_set_new(o, "bins", b);
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "tensors", arr);
    return root;
}

cleave_status quant_stats_save(cleave_ctx *ctx, const char *path, const quant_stats *st) {
    json_t *root = quant_stats_json(st);
    int rc = json_dump_file(root, path, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return rc ? cv_fail(ctx, CLEAVE_E_IO, "%s: cannot write", path) : CLEAVE_OK;
}

static int num(json_t *o, const char *k, double *out) {
    json_t *j = json_object_get(o, k);
    if (!json_is_number(j)) return 0;
    *out = json_number_value(j);
    return isfinite(*out);
}

static cleave_status parse(cleave_ctx *ctx, const char *path, json_t *root, quant_stats *st) {
    json_t *f = json_object_get(root, "format");
    if (!json_is_string(f) || strcmp(json_string_value(f), STATS_FORMAT))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: not a calibration statistics file (\"format\" is "
                       "not \"%s\")", path, STATS_FORMAT);
    json_t *v = json_object_get(root, "version");
    if (!json_is_integer(v) || json_integer_value(v) != STATS_VERSION)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: unsupported version (this cleave reads %d)",
                       path, STATS_VERSION);
    json_t *arr = json_object_get(root, "tensors");
    if (!json_is_array(arr) || json_array_size(arr) > 1000000)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: \"tensors\" must be an array", path);
    CV_TRY(alloc_stats(ctx, (int)json_array_size(arr), st));
    json_t *m = json_object_get(root, "model");
    if (json_is_string(m)) st->model = cv_strdup(json_string_value(m));
    m = json_object_get(root, "model_sha256");
    if (json_is_string(m)) st->model_sha256 = cv_strdup(json_string_value(m));
    json_t *im = json_object_get(root, "images");
    st->images = json_is_integer(im) ? (int)json_integer_value(im) : 0;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        json_t *nm = json_object_get(o, "name"), *b = json_object_get(o, "bins");
        double mn, mx, cnt, sum, sumsq, lo, hi;
        if (!json_is_string(nm) || !json_is_array(b) || !num(o, "min", &mn) || !num(o, "max", &mx) ||
            !num(o, "count", &cnt) || !num(o, "sum", &sum) || !num(o, "sumsq", &sumsq) ||
            !num(o, "lo", &lo) || !num(o, "hi", &hi))
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "%s: tensors[%zu]: needs name, min, max, count, sum, sumsq, lo, hi "
                           "(finite numbers) and bins",
                           path, i);
        size_t nb = json_array_size(b);
        if (nb < 1 || nb > STATS_MAX_BINS || !(hi > lo) || mn > mx || cnt < 0)
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "%s: tensor '%s': inconsistent histogram (bins 1..%d, lo < hi, min <= max)",
                           path, json_string_value(nm), STATS_MAX_BINS);
        q_hist *h = &st->hist[st->n];
        st->names[st->n] = cv_strdup(json_string_value(nm));
        if (!st->names[st->n]) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
        st->n++;
        CV_TRY(q_hist_init(ctx, h, (int)nb));
        h->min = (float)mn;
        h->max = (float)mx;
        h->count = cnt;
        h->sum = sum;
        h->sumsq = sumsq;
        h->lo = lo;
        h->hi = hi;
        for (size_t k = 0; k < nb; k++) {
            double c = json_number_value(json_array_get(b, k));
            if (!json_is_number(json_array_get(b, k)) || !(c >= 0))
                return cv_fail(ctx, CLEAVE_E_INVALID, "%s: tensor '%s': bin %zu is not a count",
                               path, st->names[st->n - 1], k);
            h->bins[k] = c;
        }
    }
    return CLEAVE_OK;
}

cleave_status quant_stats_parse(cleave_ctx *ctx, const char *path, json_t *root, quant_stats *st) {
    memset(st, 0, sizeof *st);
    cleave_status s = json_is_object(root)
                          ? parse(ctx, path, root, st)
                          : cv_fail(ctx, CLEAVE_E_PARSE, "%s: expected a JSON object", path);
    if (s) quant_stats_free(st);
    return s;
}

cleave_status quant_stats_load(cleave_ctx *ctx, const char *path, quant_stats *st) {
    memset(st, 0, sizeof *st);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) return cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d: %s", path, err.line, err.text);
    cleave_status s = quant_stats_parse(ctx, path, root, st);
    json_decref(root);
    return s;
}
