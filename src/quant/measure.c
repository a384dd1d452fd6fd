/* quant measure: run a graph over a set of inputs in batches (one plan per
 * batch size, at most two: full batches and the remainder) for calibration,
 * output collection, distortion and the per-layer distortion tables. */
#include <math.h>
#include <string.h>

#include "quant/measure.h"

/* Called per batch with the plan's outputs and how many samples are real. */
typedef cleave_status (*batch_fn)(void *user, const rt_plan *p, int first, int count);

static int graph_input(const ir_graph *g) {
    int id = -1, n = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (!g->values[g->inputs[i]].is_initializer) {
            id = g->inputs[i];
            n++;
        }
    return n == 1 ? id : -1;
}

static cleave_status run_batches(cleave_ctx *ctx, const ir_graph *g, const int *outs, int n_outs,
                                 const quant_data *d, batch_fn fn, void *user) {
    const char *src = g->source_path ? g->source_path : "model";
    int in_id = graph_input(g);
    if (in_id < 0)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED,
                       "%s: calibration and evaluation need a model with exactly one input", src);
    const cv_tensor *x = d->x;
    if (x->dtype != CV_F32 || x->ndim < 1 || x->dims[0] < 1 || d->batch < 1)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: calibration data must be a float [N, ...] tensor",
                       src);
    int N = (int)x->dims[0];
    size_t per = (size_t)(cv_numel(x) / N);
    rt_plan *p = NULL;
    int p_batch = 0;
    cleave_status s = CLEAVE_OK;
    for (int first = 0; first < N && !s; first += d->batch) {
        int b = N - first < d->batch ? N - first : d->batch;
        cv_tensor in = *x;
        in.dims[0] = b;
        in.data = (float *)x->data + per * (size_t)first;
        if (b != p_batch) {
            rt_plan_destroy(p);
            p = NULL;
            rt_options opt = {0};
            if ((s = rt_plan_create(ctx, g, &in_id, 1, outs, n_outs, &in, &opt, &p))) break;
            p_batch = b;
        }
        if ((s = rt_plan_run(p, &in))) break;
        s = fn(user, p, first, b);
        if (d->progress) d->progress(d->user, first + b, N);
    }
    rt_plan_destroy(p);
    return s;
}

/* ---- calibration ---- */

typedef struct calib_job {
    cleave_ctx *ctx;
    const quant_stats *st;
    int *hist_of; /* per plan output: histogram index */
} calib_job;

static cleave_status calib_batch(void *user, const rt_plan *p, int first, int count) {
    calib_job *j = user;
    for (int k = 0; k < rt_plan_n_outputs(p); k++) {
        const cv_tensor *t = rt_plan_output(p, k);
        CV_TRY(q_hist_add(j->ctx, &j->st->hist[j->hist_of[k]], t->data, (size_t)cv_numel(t)));
    }
    return CLEAVE_OK;
}

cleave_status quant_calibrate(cleave_ctx *ctx, const ir_graph *g, const quant_layer *l, int n,
                              const quant_data *d, quant_stats *st) {
    int *outs = cv_malloc(sizeof(int) * ((size_t)n + 1));
    int *hist_of = cv_malloc(sizeof(int) * ((size_t)n + 1));
    if (!outs || !hist_of) {
        cv_free(outs);
        cv_free(hist_of);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "calibration: out of memory");
    }
    int n_outs = 0, input_hist = -1;
    for (int k = 0; k < n; k++) {
        if (l[k].act < 0) continue;
        int h = quant_stats_find(st, g->values[l[k].act].name);
        if (h < 0) continue;
        if (l[k].node < 0) {
            input_hist = h; /* a graph input: histogram the data directly */
            continue;
        }
        outs[n_outs] = l[k].act;
        hist_of[n_outs++] = h;
    }
    cleave_status s = CLEAVE_OK;
    if (input_hist >= 0) s = q_hist_add(ctx, &st->hist[input_hist], d->x->data, (size_t)cv_numel(d->x));
    calib_job j = {ctx, st, hist_of};
    if (!s && n_outs) s = run_batches(ctx, g, outs, n_outs, d, calib_batch, &j);
    if (!s) st->images += (int)d->x->dims[0];
    cv_free(outs);
    cv_free(hist_of);
    return s;
}

/* ---- outputs ---- */

void quant_outputs_free(quant_outputs *o) {
    for (int k = 0; k < QUANT_MAX_OUTPUTS; k++) cv_free(o->out[k]);
    memset(o, 0, sizeof *o);
}

typedef struct collect_job {
    cleave_ctx *ctx;
    quant_outputs *o;
} collect_job;

static cleave_status collect_batch(void *user, const rt_plan *p, int first, int count) {
    collect_job *j = user;
    quant_outputs *o = j->o;
    for (int k = 0; k < o->n_out; k++) {
        const cv_tensor *t = rt_plan_output(p, k);
        if (t->dtype != CV_F32)
            return cv_fail(j->ctx, CLEAVE_E_UNSUPPORTED, "output %d is %s, not float", k,
                           cv_dtype_name(t->dtype));
        int64_t per = cv_numel(t) / count;
        if (!o->out[k]) {
            o->per_sample[k] = per;
            o->out[k] = cv_malloc(sizeof(float) * (size_t)(per * o->n) + 1);
            if (!o->out[k]) return cv_fail(j->ctx, CLEAVE_E_NOMEM, "outputs: out of memory");
        }
        if (per != o->per_sample[k] || t->ndim < 1 || t->dims[0] != count)
            return cv_fail(j->ctx, CLEAVE_E_UNSUPPORTED,
                           "output %d: its first dimension is not the batch", k);
        memcpy(o->out[k] + per * first, t->data, sizeof(float) * (size_t)(per * count));
    }
    return CLEAVE_OK;
}

cleave_status quant_collect_outputs(cleave_ctx *ctx, const ir_graph *g, const quant_data *d,
                                    quant_outputs *o) {
    memset(o, 0, sizeof *o);
    if (g->n_outputs > QUANT_MAX_OUTPUTS)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "model has %d outputs (at most %d supported here)",
                       g->n_outputs, QUANT_MAX_OUTPUTS);
    o->n_out = g->n_outputs;
    o->n = (int)d->x->dims[0];
    collect_job j = {ctx, o};
    cleave_status s = run_batches(ctx, g, g->outputs, g->n_outputs, d, collect_batch, &j);
    if (s) quant_outputs_free(o);
    return s;
}

int64_t quant_argmax(const float *x, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

quant_distortion quant_compare_outputs(const quant_outputs *r, const quant_outputs *q) {
    double se = 0, cnt = 0, flips = 0, pairs = 0;
    for (int k = 0; k < r->n_out && k < q->n_out; k++) {
        int64_t per = r->per_sample[k];
        for (int i = 0; i < r->n && i < q->n; i++) {
            const float *a = r->out[k] + per * i, *b = q->out[k] + per * i;
            for (int64_t e = 0; e < per; e++) {
                double dlt = (double)a[e] - (double)b[e];
                se += dlt * dlt;
            }
            cnt += (double)per;
            flips += quant_argmax(a, per) != quant_argmax(b, per);
            pairs += 1;
        }
    }
    quant_distortion dd = {cnt > 0 ? se / cnt : 0, pairs > 0 ? flips / pairs : 0};
    return dd;
}

cleave_status quant_measure(cleave_ctx *ctx, const ir_graph *g, const quant_layer *l, int n,
                            const int *wbits, const int *abits, const quant_config *c,
                            const quant_stats *st, const quant_data *d, const quant_outputs *ref,
                            quant_distortion *out) {
    ir_graph *q = NULL;
    CV_TRY(ir_graph_clone(ctx, g, &q));
    quant_apply_info info;
    quant_outputs o;
    cleave_status s = quant_apply(ctx, q, l, n, wbits, abits, c, st, &info);
    if (!s) s = quant_collect_outputs(ctx, q, d, &o);
    if (!s) {
        *out = quant_compare_outputs(ref, &o);
        quant_outputs_free(&o);
    }
    ir_graph_destroy(q);
    return s;
}

/* ---- distortion tables ---- */

void quant_table_free(quant_table *t) {
    cv_free(t->w);
    cv_free(t->a);
    memset(t, 0, sizeof *t);
}

cleave_status quant_table_build(cleave_ctx *ctx, const ir_graph *g, const quant_layer *l, int n,
                                const quant_config *c, const quant_stats *st, const quant_data *d,
                                const quant_outputs *ref, const int *bits, int n_bits,
                                quant_table *t) {
    memset(t, 0, sizeof *t);
    if (n_bits < 1 || n_bits > 8)
        return cv_fail(ctx, CLEAVE_E_INVALID, "distortion tables: 1..8 bit widths, got %d", n_bits);
    t->n_layers = n;
    t->n_bits = n_bits;
    memcpy(t->bits, bits, sizeof(int) * (size_t)n_bits);
    t->w = cv_malloc(sizeof(quant_distortion) * ((size_t)n * (size_t)n_bits + 1));
    t->a = cv_malloc(sizeof(quant_distortion) * ((size_t)n * (size_t)n_bits + 1));
    int *wb = cv_malloc(sizeof(int) * ((size_t)n + 1)), *ab = cv_malloc(sizeof(int) * ((size_t)n + 1));
    cleave_status s = CLEAVE_OK;
    if (!t->w || !t->a || !wb || !ab) {
        s = cv_fail(ctx, CLEAVE_E_NOMEM, "distortion tables: out of memory");
        goto done;
    }
    int total = 0, done = 0;
    for (int k = 0; k < n; k++) total += n_bits * ((l[k].weight >= 0) + (l[k].act >= 0));
    quant_data inner = *d;
    inner.progress = NULL;
    for (int k = 0; k < n && !s; k++) {
        for (int j = 0; j < n_bits && !s; j++) {
            for (int kind = 0; kind < 2 && !s; kind++) {
                quant_distortion *e = kind ? &t->a[k * n_bits + j] : &t->w[k * n_bits + j];
                e->mse = e->flip = NAN;
                if ((kind ? l[k].act : l[k].weight) < 0) continue;
                for (int i = 0; i < n; i++) wb[i] = ab[i] = QUANT_FLOAT;
                (kind ? ab : wb)[k] = bits[j];
                s = quant_measure(ctx, g, l, n, wb, ab, c, st, &inner, ref, e);
                if (d->progress) d->progress(d->user, ++done, total);
            }
        }
    }
done:
    cv_free(wb);
    cv_free(ab);
    if (s) quant_table_free(t);
    return s;
}

static json_t *entries_json(const quant_distortion *e, int nb) {
    if (isnan(e[0].mse)) return json_null();
    json_t *a = json_array();
    for (int j = 0; j < nb; j++) {
        json_t *p = json_array();
        json_array_append_new(p, json_real(e[j].mse));
        json_array_append_new(p, json_real(e[j].flip));
        json_array_append_new(a, p);
    }
    return a;
}

json_t *quant_table_json(const quant_table *t, const quant_layer *l) {
    json_t *root = json_object();
    json_t *bits = json_array();
    for (int j = 0; j < t->n_bits; j++) json_array_append_new(bits, json_integer(t->bits[j]));
    json_object_set_new(root, "bits", bits);
    json_object_set_new(root, "entry", json_string("[output mse, top-1 flip rate]"));
    json_t *layers = json_array();
    for (int k = 0; k < t->n_layers; k++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(l[k].name));
        json_object_set_new(o, "w", entries_json(&t->w[k * t->n_bits], t->n_bits));
        json_object_set_new(o, "a", entries_json(&t->a[k * t->n_bits], t->n_bits));
        json_array_append_new(layers, o);
    }
    json_object_set_new(root, "layers", layers);
    return root;
}

static int entries_parse(json_t *arr, int n_bits, quant_distortion *out) {
    if (json_is_null(arr) || !arr) {
        for (int j = 0; j < n_bits; j++) out[j].mse = out[j].flip = NAN;
        return 1;
    }
    if (!json_is_array(arr) || (int)json_array_size(arr) != n_bits) return 0;
    for (int j = 0; j < n_bits; j++) {
        json_t *e = json_array_get(arr, (size_t)j);
        if (json_is_null(e)) {
            out[j].mse = out[j].flip = NAN;
            continue;
        }
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_number(json_array_get(e, 0)) ||
            !json_is_number(json_array_get(e, 1)))
            return 0;
        out[j].mse = json_number_value(json_array_get(e, 0));
        out[j].flip = json_number_value(json_array_get(e, 1));
        if (!(out[j].mse >= 0) || !(out[j].flip >= 0)) return 0;
    }
    return 1;
}

cleave_status quant_table_parse(cleave_ctx *ctx, const char *path, json_t *o, const quant_layer *l,
                                int n, quant_table *t) {
    memset(t, 0, sizeof *t);
    json_t *bits = json_object_get(o, "bits"), *layers = json_object_get(o, "layers");
    if (!json_is_array(bits) || json_array_size(bits) < 1 || json_array_size(bits) > 8 ||
        !json_is_array(layers))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: distortion: needs \"bits\" (1..8 widths) and \"layers\"", path);
    t->n_bits = (int)json_array_size(bits);
    for (int j = 0; j < t->n_bits; j++) {
        json_t *b = json_array_get(bits, (size_t)j);
        t->bits[j] = json_is_integer(b) ? (int)json_integer_value(b) : 0;
        if (t->bits[j] < 1 || t->bits[j] > 8)
            return cv_fail(ctx, CLEAVE_E_PARSE, "%s: distortion.bits[%d]: must be 1..8", path, j);
    }
    t->n_layers = n;
    t->w = cv_calloc((size_t)(n * t->n_bits + 1), sizeof *t->w);
    t->a = cv_calloc((size_t)(n * t->n_bits + 1), sizeof *t->a);
    if (!t->w || !t->a) {
        quant_table_free(t);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    }
    int *seen = cv_calloc((size_t)n + 1, sizeof *seen);
    if (!seen) {
        quant_table_free(t);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    }
    cleave_status st = CLEAVE_OK;
    for (size_t i = 0; i < json_array_size(layers) && !st; i++) {
        json_t *e = json_array_get(layers, i);
        json_t *nm = json_object_get(e, "name");
        const char *name = json_is_string(nm) ? json_string_value(nm) : NULL;
        int k = name ? quant_layer_index(l, n, name) : -1;
        if (k < 0)
            st = cv_fail(ctx, CLEAVE_E_INVALID, "%s: distortion table has layer '%s' that the model "
                         "lacks (statistics of another model?)", path, name ? name : "?");
        else if (!entries_parse(json_object_get(e, "w"), t->n_bits, &t->w[k * t->n_bits]) ||
                 !entries_parse(json_object_get(e, "a"), t->n_bits, &t->a[k * t->n_bits]))
            st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: distortion: layer '%s': entries must be "
                         "[mse, flip] pairs (>= 0) or null, one per bit width", path, name);
        else
            seen[k] = 1;
    }
    for (int k = 0; k < n && !st; k++)
        if (!seen[k])
            st = cv_fail(ctx, CLEAVE_E_INVALID, "%s: distortion table lacks layer '%s' of the model",
                         path, l[k].name);
    cv_free(seen);
    if (st) quant_table_free(t);
    return st;
}
