/* cost/regress: the per-(dtype, op class) linear latency model. Samples are
 * stored as device-normalised regressor rows (cost_regress_regressors), so
 * samples from several devices mix in one fit; the fit is non-negative
 * least squares (cost/lsq.c) with relative-error weights by default, and
 * cells with too few samples fall back to pooled fits, then roofline. */
#include "cost/regress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cost/lsq.h"

#define REG_DEFAULT_MIN_SAMPLES 16
#define REG_MIN_BASE 6 /* samples for a fit of the three base regressors */
#define REG_ALWAYS ((1u << COST_REG_OVERHEAD) | (1u << COST_REG_COMPUTE) | (1u << COST_REG_MEMORY))

typedef struct reg_sample {
    double x[COST_REG_N];
    double t; /* measured ms */
    unsigned char dt, cls;
} reg_sample;

typedef struct reg_cell {
    double coef[COST_REG_N];
    cost_regress_source src;
    cost_regress_stats st;
} reg_cell;

struct cost_regress {
    cost_regress_opts opt;
    reg_sample *s;
    int n, cap;
    reg_cell cell[COST_DT_N][COST_OP_N];
};

static const char *const reg_names[COST_REG_N] = {
#define COST_REG_NAME_(id, name) name,
    COST_REGRESSORS(COST_REG_NAME_)
#undef COST_REG_NAME_
};

const char *cost_regressor_name(cost_regressor k) {
    return (unsigned)k < COST_REG_N ? reg_names[k] : "?";
}

const char *cost_regress_source_name(cost_regress_source s) {
    static const char *const n[] = {"roofline", "fit", "class-pooled", "pooled", "fit-base"};
    return (unsigned)s < 5 ? n[s] : "?";
}

static void cell_roofline(reg_cell *c) {
    memset(c, 0, sizeof *c);
    c->coef[COST_REG_OVERHEAD] = c->coef[COST_REG_COMPUTE] = c->coef[COST_REG_MEMORY] = 1.0;
    c->src = COST_REGRESS_SRC_ROOFLINE;
}

static void cells_roofline(cost_regress *r) {
    for (int d = 0; d < COST_DT_N; d++)
        for (int c = 0; c < COST_OP_N; c++) cell_roofline(&r->cell[d][c]);
}

cleave_status cost_regress_create(cleave_ctx *ctx, const cost_regress_opts *opts,
                                  cost_regress **out) {
    if (!out) return cv_fail(ctx, CLEAVE_E_INVALID, "regress create: NULL out");
    *out = NULL;
    cost_regress_opts o = opts ? *opts : (cost_regress_opts){0};
    if ((unsigned)o.weighting > COST_REGRESS_W_ABSOLUTE)
        return cv_fail(ctx, CLEAVE_E_INVALID, "regress create: unknown weighting %d", o.weighting);
    if (o.min_samples < 0 || o.min_samples > COST_REGRESS_MAX_SAMPLES)
        return cv_fail(ctx, CLEAVE_E_INVALID, "regress create: min_samples %d out of range",
                       o.min_samples);
    if (!o.min_samples) o.min_samples = REG_DEFAULT_MIN_SAMPLES;
    if (o.min_samples < COST_REG_N) o.min_samples = COST_REG_N; /* >= unknowns */
    if (!o.mask) o.mask = (1u << COST_REG_N) - 1;
    o.mask = (o.mask | REG_ALWAYS) & ((1u << COST_REG_N) - 1);
    cost_regress *r = cv_calloc(1, sizeof *r);
    if (!r) return cv_fail(ctx, CLEAVE_E_NOMEM, "regress create: out of memory");
    r->opt = o;
    cells_roofline(r);
    *out = r;
    return CLEAVE_OK;
}

void cost_regress_destroy(cost_regress *r) {
    if (!r) return;
    cv_free(r->s);
    cv_free(r);
}

int cost_regress_n_samples(const cost_regress *r) { return r ? r->n : 0; }

void cost_regress_clear_samples(cost_regress *r) {
    if (r) r->n = 0;
}

static int finite_nonneg(double v) { return isfinite(v) && v >= 0; }

static const char *const view_ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                                       NULL};
static const char *const transc_ops[] = {"Sigmoid", "Tanh", "Exp", "Log", "Erf", "Gelu",
                                         "Softmax", "LogSoftmax", "Softplus", "Elu", "Selu",
                                         "Mish", "Pow", NULL};

static int is_op(const char *t, const char *const *list) {
    for (; t && *list; list++)
        if (!strcmp(t, *list)) return 1;
    return 0;
}

int cost_regress_regressors(const cost_features *f, const cost_device *dev, int threads,
                            double x[COST_REG_N]) {
    for (int k = 0; k < COST_REG_N; k++) x[k] = 0;
    if (!f || !dev || (unsigned)f->dtype >= COST_DT_N || (unsigned)f->cls >= COST_OP_N) return -1;
    if (!finite_nonneg(f->macs) || !finite_nonneg(f->flops) || !finite_nonneg(f->in_bytes) ||
        !finite_nonneg(f->out_bytes) || !finite_nonneg(f->param_bytes) ||
        !finite_nonneg(f->out_elems))
        return -1;
    int cores = dev->cores;
    if (cores < 1) return -1;
    int th = threads <= 0 || threads > cores ? cores : threads;
    /* the device's terms on th threads, as the roofline takes them */
    double gops = cost_device_gops(dev, f->dtype, f->cls, th), bw = cost_device_bw_gbs(dev, th),
           ov_us = cost_device_overhead_us(dev, th);
    if (!(isfinite(gops) && gops > 0) || !(isfinite(bw) && bw > 0) || !finite_nonneg(ov_us)) return -1;
    double ops = f->macs > 0 ? 2.0 * f->macs : f->flops;
    int view = is_op(f->op_type, view_ops);
    if (view) ops = 0;
    double ov = ov_us / 1000.0;
    double comp = ops / (gops * 1e6);                                          /* ms */
    /* a view (Reshape, Flatten, ...) moves no bytes: only the fixed cost */
    double mem = view ? 0.0
                      : (f->in_bytes + f->out_bytes + f->param_bytes) / (bw * 1e6);
    x[COST_REG_OVERHEAD] = ov;
    x[COST_REG_COMPUTE] = comp;
    x[COST_REG_MEMORY] = mem;
    if (f->stride > 1) x[COST_REG_COMPUTE_STRIDED] = comp;
    int64_t ch = f->cin < f->cout ? f->cin : f->cout;
    /* kernels vectorise over channels: few channels waste vector lanes */
    if (ch > 0) x[COST_REG_COMPUTE_NARROW] = comp * 16.0 / (double)(ch > 16 ? ch : 16);
    /* small tensors do not reach streaming bandwidth */
    x[COST_REG_MEMORY_SMALL] = mem / (1.0 + f->out_elems / 16384.0);
    /* exp/erf/tanh cost several arithmetic ops per element, more than the
     * 1 flop counted; their own coefficient learns how many */
    if (is_op(f->op_type, transc_ops)) x[COST_REG_COMPUTE_TRANSC] = comp;
    /* the part of the arithmetic that threads did not shorten: small
     * nodes do not scale with threads */
    x[COST_REG_COMPUTE_SERIAL] = comp * (cost_device_speedup(dev, f->dtype, f->cls, th) - 1.0);
    return 0;
}

static const char *dev_problem(const cost_device *d) {
    if (!d) return "NULL device";
    if (d->cores < 1) return "cores must be >= 1";
    if (!(isfinite(d->mem_bw_gbs) && d->mem_bw_gbs > 0)) return "mem_bw_gbs must be > 0";
    if (!(isfinite(d->op_overhead_us) && d->op_overhead_us > 0))
        return "op_overhead_us must be > 0 (it normalises the per-node fixed cost)";
    return NULL;
}

cleave_status cost_regress_add(cleave_ctx *ctx, cost_regress *r, const cost_features *f,
                               const double *ms, int n, const cost_device *dev, int threads) {
    if (!r || (n > 0 && (!f || !ms)))
        return cv_fail(ctx, CLEAVE_E_INVALID, "regress add: NULL argument");
    if (n < 0) return cv_fail(ctx, CLEAVE_E_INVALID, "regress add: n = %d", n);
    const char *why = dev_problem(dev);
    if (why)
        return cv_fail(ctx, CLEAVE_E_INVALID, "regress add: device '%s': %s", dev ? dev->name : "",
                       why);
    if (n > COST_REGRESS_MAX_SAMPLES - r->n)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "regress add: more than %d samples",
                       COST_REGRESS_MAX_SAMPLES);
    for (int k = 0; k < n; k++) {
        double x[COST_REG_N];
        const char *nm = f[k].name ? f[k].name : "";
        if (!(isfinite(ms[k]) && ms[k] > 0))
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "regress add: sample %d (node '%s'): measured %g ms: must be > 0", k, nm,
                           ms[k]);
        if (cost_regress_regressors(&f[k], dev, threads, x))
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "regress add: sample %d (node '%s'): bad features (dtype %d, class %d, "
                           "negative or non-finite sizes) or device '%s' has no throughput for "
                           "them",
                           k, nm, (int)f[k].dtype, (int)f[k].cls, dev->name);
    }
    if (r->n + n > r->cap) {
        int cap = r->cap ? r->cap : 256;
        while (cap < r->n + n) cap = cap > COST_REGRESS_MAX_SAMPLES / 2 ? COST_REGRESS_MAX_SAMPLES
                                                                        : cap * 2;
        reg_sample *s = cv_realloc(r->s, (size_t)cap * sizeof *s);
        if (!s) return cv_fail(ctx, CLEAVE_E_NOMEM, "regress add: out of memory (%d samples)", cap);
        r->s = s;
        r->cap = cap;
    }
    for (int k = 0; k < n; k++) {
        reg_sample *s = &r->s[r->n++];
        cost_regress_regressors(&f[k], dev, threads, s->x);
        s->t = ms[k];
        s->dt = (unsigned char)f[k].dtype;
        s->cls = (unsigned char)f[k].cls;
    }
    return CLEAVE_OK;
}

static int matches(const reg_sample *s, int dt, int cls) {
    return (dt < 0 || s->dt == dt) && (cls < 0 || s->cls == cls);
}

static double predict(const double *coef, const double *x) {
    double p = 0;
    for (int k = 0; k < COST_REG_N; k++) p += coef[k] * x[k];
    return p;
}

/* Fit the samples matching (dt, cls) (-1 = any) on the regressors in mask
 * into coef; *count = their number. Leaves coef alone when fewer than min. */
static cleave_status fit_group(cleave_ctx *ctx, const cost_regress *r, int dt, int cls,
                               unsigned mask, int min, double coef[COST_REG_N], int *count) {
    int m = 0, cols[COST_REG_N], nc = 0;
    for (int i = 0; i < r->n; i++) m += matches(&r->s[i], dt, cls);
    *count = m;
    if (m < min) return CLEAVE_OK;
    for (int k = 0; k < COST_REG_N; k++)
        if (mask & (1u << k)) cols[nc++] = k;
    double *a = cv_malloc((size_t)m * (size_t)nc * sizeof(double));
    double *b = cv_malloc((size_t)m * sizeof(double)), *w = cv_malloc((size_t)m * sizeof(double));
    cleave_status st = CLEAVE_OK;
    if (!a || !b || !w) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "regress fit: out of memory (%d samples)", m);
        goto done;
    }
    int i = 0;
    for (int k = 0; k < r->n; k++) {
        const reg_sample *s = &r->s[k];
        if (!matches(s, dt, cls)) continue;
        for (int j = 0; j < nc; j++) a[(size_t)i * (size_t)nc + (size_t)j] = s->x[cols[j]];
        b[i] = s->t;
        w[i] = r->opt.weighting == COST_REGRESS_W_RELATIVE ? 1.0 / (s->t * s->t)
               : r->opt.weighting == COST_REGRESS_W_SQRT   ? 1.0 / s->t
                                                           : 1.0;
        i++;
    }
    double c[COST_REG_N];
    st = cost_nnls(ctx, a, b, w, m, nc, c, NULL);
    if (st) goto done;
    for (int k = 0; k < COST_REG_N; k++) coef[k] = 0;
    for (int j = 0; j < nc; j++) coef[cols[j]] = c[j];
done:
    cv_free(a);
    cv_free(b);
    cv_free(w);
    return st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Relative-error statistics of coef over the samples of (dt, cls). */
static void cell_stats(const cost_regress *r, int dt, int cls, const double *coef, double *scratch,
                       cost_regress_stats *st) {
    int m = 0;
    double ss = 0, mx = 0;
    for (int i = 0; i < r->n; i++) {
        const reg_sample *s = &r->s[i];
        if (!matches(s, dt, cls)) continue;
        double e = fabs(predict(coef, s->x) - s->t) / s->t;
        ss += e * e;
        if (e > mx) mx = e;
        scratch[m++] = e;
    }
    memset(st, 0, sizeof *st);
    st->n = m;
    if (!m) return;
    qsort(scratch, (size_t)m, sizeof(double), cmp_double);
    st->rel_rms = sqrt(ss / m);
    st->rel_median_abs = m % 2 ? scratch[m / 2] : 0.5 * (scratch[m / 2 - 1] + scratch[m / 2]);
    st->rel_max_abs = mx;
}

cleave_status cost_regress_fit(cleave_ctx *ctx, cost_regress *r) {
    if (!r) return cv_fail(ctx, CLEAVE_E_INVALID, "regress fit: NULL model");
    reg_cell cells[COST_DT_N][COST_OP_N];
    double pooled[COST_REG_N], cls_coef[COST_OP_N][COST_REG_N];
    int n_pooled, n_cls[COST_OP_N];
    int min = r->opt.min_samples;
    CV_TRY(fit_group(ctx, r, -1, -1, r->opt.mask, min, pooled, &n_pooled));
    for (int c = 0; c < COST_OP_N; c++)
        CV_TRY(fit_group(ctx, r, -1, c, r->opt.mask, min, cls_coef[c], &n_cls[c]));
    double *scratch = cv_malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof(double));
    if (!scratch) return cv_fail(ctx, CLEAVE_E_NOMEM, "regress fit: out of memory");
    for (int d = 0; d < COST_DT_N; d++)
        for (int c = 0; c < COST_OP_N; c++) {
            reg_cell *cell = &cells[d][c];
            cell_roofline(cell);
            int cnt;
            cleave_status st = fit_group(ctx, r, d, c, r->opt.mask, min, cell->coef, &cnt);
            /* too few for all regressors: the three base ones on the
             * cell's own samples beat borrowing another class's fit */
            if (!st && cnt < min && cnt >= REG_MIN_BASE)
                st = fit_group(ctx, r, d, c, REG_ALWAYS, REG_MIN_BASE, cell->coef, &cnt);
            if (st) {
                cv_free(scratch);
                return st;
            }
            if (cnt >= min) cell->src = COST_REGRESS_SRC_FIT;
            else if (cnt >= REG_MIN_BASE) cell->src = COST_REGRESS_SRC_FIT_BASE;
            else if (n_cls[c] >= min) {
                memcpy(cell->coef, cls_coef[c], sizeof cell->coef);
                cell->src = COST_REGRESS_SRC_CLASS;
            } else if (n_pooled >= min) {
                memcpy(cell->coef, pooled, sizeof cell->coef);
                cell->src = COST_REGRESS_SRC_POOLED;
            }
            cell_stats(r, d, c, cell->coef, scratch, &cell->st);
        }
    cv_free(scratch);
    memcpy(r->cell, cells, sizeof cells);
    return CLEAVE_OK;
}

double cost_regress_node_ms(const cost_regress *r, const cost_features *f, const cost_device *dev,
                            int threads) {
    double x[COST_REG_N];
    if (!r || cost_regress_regressors(f, dev, threads, x)) return NAN;
    return predict(r->cell[f->dtype][f->cls].coef, x);
}

void cost_regress_cell(const cost_regress *r, cost_dtype dt, cost_op_class c,
                       double coef[COST_REG_N], cost_regress_source *src, cost_regress_stats *st) {
    reg_cell rl;
    cell_roofline(&rl);
    const reg_cell *cell = r && (unsigned)dt < COST_DT_N && (unsigned)c < COST_OP_N
                               ? &r->cell[dt][c]
                               : &rl;
    if (coef) memcpy(coef, cell->coef, sizeof cell->coef);
    if (src) *src = cell->src;
    if (st) *st = cell->st;
}

static const char *weighting_name(cost_regress_weighting w) {
    return w == COST_REGRESS_W_SQRT ? "sqrt" : w == COST_REGRESS_W_ABSOLUTE ? "absolute" : "relative";
}

void cost_regress_describe(const cost_regress *r, FILE *out) {
    if (!r || !out) return;
    fprintf(out, "regression model: %d samples, weighting %s, min %d samples per cell\n", r->n,
            weighting_name(r->opt.weighting), r->opt.min_samples);
    fprintf(out, "coefficients multiply:");
    for (int k = 0; k < COST_REG_N; k++) fprintf(out, " [%d] %s", k, reg_names[k]);
    fprintf(out, "\n%-5s %-8s %-12s %6s %8s %8s %8s  coefficients\n", "dtype", "class", "source",
            "n", "rel_rms", "rel_med", "rel_max");
    for (int d = 0; d < COST_DT_N; d++)
        for (int c = 0; c < COST_OP_N; c++) {
            const reg_cell *cell = &r->cell[d][c];
            fprintf(out, "%-5s %-8s %-12s %6d %8.3f %8.3f %8.3f ", cost_dtype_name((cost_dtype)d),
                    cost_op_class_name((cost_op_class)c), cost_regress_source_name(cell->src),
                    cell->st.n, cell->st.rel_rms, cell->st.rel_median_abs, cell->st.rel_max_abs);
            for (int k = 0; k < COST_REG_N; k++) fprintf(out, " %.4g", cell->coef[k]);
            fprintf(out, "\n");
        }
}

/* ---- "cleave-regress" v1 JSON ---- */

cleave_status cost_regress_save(cleave_ctx *ctx, const cost_regress *r, const char *path) {
    if (!r || !path) return cv_fail(ctx, CLEAVE_E_INVALID, "regress save: NULL argument");
    json_t *root = json_object(), *names = json_array(), *cells = json_array();
    if (!root || !names || !cells) {
        json_decref(root);
        json_decref(names);
        json_decref(cells);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "regress save: out of memory");
    }
    json_object_set_new(root, "format", json_string("cleave-regress"));
    json_object_set_new(root, "version", json_integer(COST_REGRESS_VERSION));
    json_object_set_new(root, "weighting", json_string(weighting_name(r->opt.weighting)));
    json_object_set_new(root, "min_samples", json_integer(r->opt.min_samples));
    json_object_set_new(root, "n_samples", json_integer(r->n));
    for (int k = 0; k < COST_REG_N; k++) json_array_append_new(names, json_string(reg_names[k]));
    json_object_set_new(root, "regressors", names);
    for (int d = 0; d < COST_DT_N; d++)
        for (int c = 0; c < COST_OP_N; c++) {
            const reg_cell *cell = &r->cell[d][c];
            json_t *o = json_object(), *co = json_array();
            for (int k = 0; k < COST_REG_N; k++) json_array_append_new(co, json_real(cell->coef[k]));
            json_object_set_new(o, "dtype", json_string(cost_dtype_name((cost_dtype)d)));
            json_object_set_new(o, "class", json_string(cost_op_class_name((cost_op_class)c)));
            json_object_set_new(o, "source", json_string(cost_regress_source_name(cell->src)));
            json_object_set_new(o, "n", json_integer(cell->st.n));
            json_object_set_new(o, "rel_rms", json_real(cell->st.rel_rms));
            json_object_set_new(o, "rel_median_abs", json_real(cell->st.rel_median_abs));
            json_object_set_new(o, "rel_max_abs", json_real(cell->st.rel_max_abs));
            json_object_set_new(o, "coef", co);
            json_array_append_new(cells, o);
        }
    json_object_set_new(root, "cells", cells);
    char *txt = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!txt) return cv_fail(ctx, CLEAVE_E_NOMEM, "regress save: %s: out of memory", path);
    cleave_status st = cv_write_file(ctx, path, txt, strlen(txt));
    free(txt);
    return st;
}

static int name_index(const char *s, const char *(*name)(int), int n) {
    for (int k = 0; s && k < n; k++)
        if (!strcmp(s, name(k))) return k;
    return -1;
}
static const char *dt_name_i(int k) { return cost_dtype_name((cost_dtype)k); }
static const char *cls_name_i(int k) { return cost_op_class_name((cost_op_class)k); }
static const char *src_name_i(int k) { return cost_regress_source_name((cost_regress_source)k); }

static double num_or(const json_t *o, const char *key, double dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* One cell object into cells[][] (marks seen[][]). */
static cleave_status load_cell(cleave_ctx *ctx, const char *path, int i, const json_t *o,
                               reg_cell cells[COST_DT_N][COST_OP_N],
                               unsigned char seen[COST_DT_N][COST_OP_N]) {
    if (!json_is_object(o))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: cells[%d]: not an object", path, i);
    int d = name_index(json_string_value(json_object_get(o, "dtype")), dt_name_i, COST_DT_N);
    int c = name_index(json_string_value(json_object_get(o, "class")), cls_name_i, COST_OP_N);
    int s = name_index(json_string_value(json_object_get(o, "source")), src_name_i, 5);
    if (d < 0 || c < 0 || s < 0)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: cells[%d]: dtype, class or source missing or "
                       "unknown", path, i);
    if (seen[d][c])
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: cells[%d]: second cell for %s/%s", path, i,
                       cost_dtype_name((cost_dtype)d), cost_op_class_name((cost_op_class)c));
    const json_t *co = json_object_get(o, "coef");
    if (!json_is_array(co) || json_array_size(co) != COST_REG_N)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: cells[%d].coef: need an array of %d numbers",
                       path, i, COST_REG_N);
    reg_cell *cell = &cells[d][c];
    for (int k = 0; k < COST_REG_N; k++) {
        const json_t *v = json_array_get(co, (size_t)k);
        double x = json_is_number(v) ? json_number_value(v) : -1;
        /* coefficients multiply device terms: beyond 1e6 is nonsense */
        if (!(isfinite(x) && x >= 0 && x <= 1e6))
            return cv_fail(ctx, CLEAVE_E_PARSE, "%s: cells[%d].coef[%d] (%s): must be a number in "
                           "0..1e6", path, i, k, reg_names[k]);
        cell->coef[k] = x;
    }
    double n = num_or(o, "n", 0);
    if (!(n >= 0 && n <= COST_REGRESS_MAX_SAMPLES))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: cells[%d].n: out of range", path, i);
    cell->src = (cost_regress_source)s;
    cell->st.n = (int)n;
    cell->st.rel_rms = num_or(o, "rel_rms", 0);
    cell->st.rel_median_abs = num_or(o, "rel_median_abs", 0);
    cell->st.rel_max_abs = num_or(o, "rel_max_abs", 0);
    seen[d][c] = 1;
    return CLEAVE_OK;
}

static cleave_status load_root(cleave_ctx *ctx, const char *path, const json_t *root,
                               reg_cell cells[COST_DT_N][COST_OP_N]) {
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, "cleave-regress"))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: format: expected \"cleave-regress\"", path);
    const json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != COST_REGRESS_VERSION)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: version: only %d is supported", path,
                       COST_REGRESS_VERSION);
    const json_t *names = json_object_get(root, "regressors");
    if (!json_is_array(names) || json_array_size(names) != COST_REG_N)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: regressors: need the %d of this build",
                       path, COST_REG_N);
    for (int k = 0; k < COST_REG_N; k++) {
        const char *nm = json_string_value(json_array_get(names, (size_t)k));
        if (!nm || strcmp(nm, reg_names[k]))
            return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: regressors[%d]: '%s', this build has "
                           "'%s'", path, k, nm ? nm : "(not a string)", reg_names[k]);
    }
    const json_t *arr = json_object_get(root, "cells");
    if (!json_is_array(arr) || json_array_size(arr) > COST_DT_N * COST_OP_N)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: cells: need an array of at most %d cells", path,
                       COST_DT_N * COST_OP_N);
    unsigned char seen[COST_DT_N][COST_OP_N] = {{0}};
    for (int d = 0; d < COST_DT_N; d++)
        for (int c = 0; c < COST_OP_N; c++) cell_roofline(&cells[d][c]); /* unlisted cells */
    for (size_t i = 0; i < json_array_size(arr); i++)
        CV_TRY(load_cell(ctx, path, (int)i, json_array_get(arr, i), cells, seen));
    return CLEAVE_OK;
}

cleave_status cost_regress_load(cleave_ctx *ctx, cost_regress *r, const char *path) {
    if (!r || !path) return cv_fail(ctx, CLEAVE_E_INVALID, "regress load: NULL argument");
    uint8_t *data;
    size_t len;
    CV_TRY(cv_read_file(ctx, path, COST_REGRESS_MAX_FILE, &data, &len));
    json_error_t je;
    json_t *root = json_loadb((const char *)data, len, 0, &je);
    cv_free(data);
    if (!root)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    reg_cell cells[COST_DT_N][COST_OP_N];
    cleave_status st = json_is_object(root)
                           ? load_root(ctx, path, root, cells)
                           : cv_fail(ctx, CLEAVE_E_PARSE, "%s: not a JSON object", path);
    json_decref(root);
    if (!st) memcpy(r->cell, cells, sizeof cells);
    return st;
}
