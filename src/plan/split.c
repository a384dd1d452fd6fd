/* plan split: a solution of plan.json made concrete. plan_file reads the
 * plan back against the model's quantization layers; plan_split_build
 * checks the solution's cut on the canonical graph (edge nodes closed under
 * predecessors, the listed crossing tensors exactly those of the cut, each
 * sent at its layer's width), applies its bits in QDQ form and finds, per
 * crossing tensor, the value that travels (the QuantizeLinear's uint8 codes,
 * or the float tensor); plan_split_export cuts the QDQ graph at those
 * values into edge.onnx and cloud.onnx and writes manifest.json. */
#include "plan/split.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir/extract.h"
#include "onnx/onnx.h"
#include "quant/quant.h"

#define PLAN_FILE_MAX_BYTES ((size_t)64 << 20)
#define PLAN_FILE_MAX_ITEMS 1000000 /* solutions, names per solution */

/* ---- plan.json ---- */

/* "path[: where][: field]: why" */
static cleave_status perr(cleave_ctx *ctx, const char *path, const char *where, const char *field,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static cleave_status perr(cleave_ctx *ctx, const char *path, const char *where, const char *field,
                          const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return cv_fail(ctx, CLEAVE_E_INVALID, "%s%s%s%s%s: %s", path, where ? ": " : "", where ? where : "",
                   field ? ": " : "", field ? field : "", why);
}

/* A number or null/absent (NAN); 0 for another type. */
static int get_num(const json_t *o, const char *key, double *out) {
    const json_t *v = json_object_get(o, key);
    *out = NAN;
    if (!v || json_is_null(v)) return 1;
    if (!json_is_number(v)) return 0;
    *out = json_number_value(v);
    return 1;
}

/* A width: 2..8, or 32 / "float" (kept float). */
static int get_bits(const json_t *v, int *out) {
    if (json_is_string(v) && !strcmp(json_string_value(v), "float")) {
        *out = QUANT_FLOAT;
        return 1;
    }
    if (!json_is_integer(v)) return 0;
    json_int_t b = json_integer_value(v);
    if (b != QUANT_FLOAT && (b < Q_BITS_MIN || b > Q_BITS_MAX)) return 0;
    *out = (int)b;
    return 1;
}

static cleave_status parse_layers(cleave_ctx *ctx, const char *path, const char *where, const json_t *o,
                                  const quant_layer *l, int n, plan_file_solution *s) {
    if (o && !json_is_object(o)) return perr(ctx, path, where, "layers", "not an object");
    const char *name;
    const json_t *e;
    json_object_foreach((json_t *)o, name, e) {
        char field[400];
        snprintf(field, sizeof field, "layers['%.300s']", name);
        int k = quant_layer_index(l, n, name);
        if (k < 0) return perr(ctx, path, where, field, "not a quantization layer of the model");
        if (!json_is_object(e)) return perr(ctx, path, where, field, "expected {\"w\": bits, \"a\": bits}");
        const char *key;
        const json_t *b;
        json_object_foreach((json_t *)e, key, b) {
            int w = !strcmp(key, "w"), a = !strcmp(key, "a"), bits;
            if (!w && !a) return perr(ctx, path, where, field, "unknown key '%s' (expected w, a)", key);
            if (!get_bits(b, &bits))
                return perr(ctx, path, where, field, "%s: not a bit width (2..8, 32 or \"float\")", key);
            if (w && l[k].weight < 0) return perr(ctx, path, where, field, "the layer has no weight");
            if (a && l[k].act < 0) return perr(ctx, path, where, field, "the layer has no quantized activation");
            (w ? s->wbits : s->abits)[k] = bits;
        }
    }
    return CLEAVE_OK;
}

static cleave_status parse_crossing(cleave_ctx *ctx, const char *path, const char *where, const json_t *a,
                                    plan_file_solution *s) {
    if (!json_is_array(a)) return perr(ctx, path, where, "crossing", "missing or not an array");
    size_t nc = json_array_size(a);
    if (nc > PLAN_FILE_MAX_ITEMS) return perr(ctx, path, where, "crossing", "%zu entries: too many", nc);
    s->cross = cv_calloc(nc + 1, sizeof(char *));
    s->cross_bits = cv_calloc(nc + 1, sizeof(int));
    s->cross_elems = cv_calloc(nc + 1, sizeof(int64_t));
    if (!s->cross || !s->cross_bits || !s->cross_elems) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    for (size_t c = 0; c < nc; c++) {
        const json_t *x = json_array_get(a, c);
        char field[64];
        snprintf(field, sizeof field, "crossing[%zu]", c);
        const json_t *t = json_object_get(x, "tensor"), *e = json_object_get(x, "elements");
        if (!json_is_object(x) || !json_is_string(t))
            return perr(ctx, path, where, field, "expected {\"tensor\": name, \"elements\": n, \"bits\": b}");
        if (!get_bits(json_object_get(x, "bits"), &s->cross_bits[c]))
            return perr(ctx, path, where, field, "bits: not a width (2..8 or 32)");
        if (e && (!json_is_integer(e) || json_integer_value(e) < 0))
            return perr(ctx, path, where, field, "elements: not a count");
        s->cross_elems[c] = e ? json_integer_value(e) : -1;
        if (!(s->cross[c] = cv_strdup(json_string_value(t)))) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
        for (size_t d = 0; d < c; d++)
            if (!strcmp(s->cross[d], s->cross[c])) return perr(ctx, path, where, field, "'%s' listed twice", s->cross[c]);
        s->n_cross = (int)c + 1;
    }
    return CLEAVE_OK;
}

static cleave_status parse_solution(cleave_ctx *ctx, const char *path, size_t idx, const json_t *o,
                                    const quant_layer *l, int n, plan_file_solution *s) {
    char where[64];
    snprintf(where, sizeof where, "solutions[%zu]", idx);
    if (!json_is_object(o)) return perr(ctx, path, where, NULL, "not an object");
    s->json = o;
    const json_t *id = json_object_get(o, "id");
    if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > 1 << 30)
        return perr(ctx, path, where, "id", "missing or not a non-negative integer");
    s->id = (int)json_integer_value(id);
    snprintf(where, sizeof where, "solution %d", s->id);
    const json_t *m = json_object_get(o, "method");
    if (!json_is_string(m) || strlen(json_string_value(m)) >= sizeof s->method)
        return perr(ctx, path, where, "method", "missing or not a method name");
    snprintf(s->method, sizeof s->method, "%s", json_string_value(m));
    const char *flags[2] = {"recommended", "feasible"};
    for (int f = 0; f < 2; f++) {
        const json_t *b = json_object_get(o, flags[f]);
        if (b && !json_is_boolean(b)) return perr(ctx, path, where, flags[f], "not true/false");
        *(f ? &s->feasible : &s->recommended) = b ? json_is_true(b) : 0;
    }
    const json_t *e = json_object_get(o, "edge");
    if (!json_is_array(e)) return perr(ctx, path, where, "edge", "missing or not an array of node names");
    size_t ne = json_array_size(e);
    if (ne > PLAN_FILE_MAX_ITEMS) return perr(ctx, path, where, "edge", "%zu nodes: too many", ne);
    if (!(s->edge = cv_calloc(ne + 1, sizeof(char *)))) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < ne; i++) {
        const json_t *x = json_array_get(e, i);
        if (!json_is_string(x)) return perr(ctx, path, where, "edge", "entry %zu is not a node name", i);
        if (!(s->edge[i] = cv_strdup(json_string_value(x)))) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
        s->n_edge = (int)i + 1;
    }
    CV_TRY(parse_crossing(ctx, path, where, json_object_get(o, "crossing"), s));
    s->wbits = cv_malloc(sizeof(int) * (size_t)(n + 1));
    s->abits = cv_malloc(sizeof(int) * (size_t)(n + 1));
    if (!s->wbits || !s->abits) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    for (int k = 0; k < n; k++) s->wbits[k] = s->abits[k] = QUANT_FLOAT;
    CV_TRY(parse_layers(ctx, path, where, json_object_get(o, "layers"), l, n, s));
    const json_t *p = json_object_get(o, "predicted");
    if (p && !json_is_object(p)) return perr(ctx, path, where, "predicted", "not an object");
    const char *keys[7] = {"edge_ms", "transfer_ms", "cloud_ms", "total_ms", "sent_bytes", "edge_memory_bytes",
                           "accuracy_drop_pt"};
    double *dst[7] = {&s->edge_ms, &s->transfer_ms, &s->cloud_ms, &s->total_ms, &s->sent_bytes,
                      &s->edge_memory_bytes, &s->drop_pt};
    for (int k = 0; k < 7; k++)
        if (!get_num(p, keys[k], dst[k])) return perr(ctx, path, where, "predicted", "%s: not a number", keys[k]);
    if (!get_num(p, "codec_ms", &s->codec_ms)) return perr(ctx, path, where, "predicted", "codec_ms: not a number");
    if (isnan(s->codec_ms)) s->codec_ms = 0;
    return CLEAVE_OK;
}

static cleave_status get_str(cleave_ctx *ctx, const char *path, const json_t *root, const char *key, int need,
                             char **out) {
    const json_t *v = json_object_get(root, key);
    if (!v && !need) return CLEAVE_OK;
    if (!json_is_string(v)) return perr(ctx, path, NULL, key, need ? "missing or not a string" : "not a string");
    *out = cv_strdup(json_string_value(v));
    return *out ? CLEAVE_OK : cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
}

static cleave_status parse_plan(cleave_ctx *ctx, const char *path, const quant_layer *l, int n, plan_file *pf) {
    const json_t *root = pf->root, *f = json_object_get(root, "format"), *v = json_object_get(root, "version");
    if (!json_is_object(root) || !json_is_string(f) || strcmp(json_string_value(f), "cleave-plan"))
        return perr(ctx, path, NULL, "format", "not a plan (expected \"cleave-plan\", from cleave plan -o)");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return perr(ctx, path, NULL, "version", "not 1 (the version this cleave reads)");
    CV_TRY(get_str(ctx, path, root, "model", 1, &pf->model));
    CV_TRY(get_str(ctx, path, root, "model_sha256", 1, &pf->model_sha256));
    CV_TRY(get_str(ctx, path, root, "statistics_file", 0, &pf->stats_file));
    const json_t *lk = json_object_get(root, "link");
    if (lk && !json_is_object(lk)) return perr(ctx, path, NULL, "link", "not an object");
    if (!get_num(lk, "mbit_s", &pf->mbit_s) || !get_num(lk, "rtt_ms", &pf->rtt_ms) ||
        !get_num(lk, "overhead_ms", &pf->overhead_ms) || !get_num(lk, "burst_bytes", &pf->burst_bytes))
        return perr(ctx, path, NULL, "link", "mbit_s, rtt_ms, overhead_ms and burst_bytes must be numbers");
    const json_t *sol = json_object_get(root, "solutions");
    if (!json_is_array(sol)) return perr(ctx, path, NULL, "solutions", "missing or not an array");
    size_t ns = json_array_size(sol);
    if (ns > PLAN_FILE_MAX_ITEMS) return perr(ctx, path, NULL, "solutions", "%zu: too many", ns);
    if (!(pf->sol = cv_calloc(ns + 1, sizeof *pf->sol))) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    pf->n_layers = n;
    for (size_t i = 0; i < ns; i++) {
        pf->n_sol = (int)i + 1; /* so a failure frees what this one holds */
        CV_TRY(parse_solution(ctx, path, i, json_array_get(sol, i), l, n, &pf->sol[i]));
        for (size_t j = 0; j < i; j++)
            if (pf->sol[j].id == pf->sol[i].id)
                return perr(ctx, path, NULL, "solutions", "two solutions have id %d", pf->sol[i].id);
    }
    return CLEAVE_OK;
}

cleave_status plan_file_load(cleave_ctx *ctx, const char *path, const quant_layer *l, int n, plan_file *pf) {
    memset(pf, 0, sizeof *pf);
    uint8_t *buf = NULL;
    size_t len = 0;
    CV_TRY(cv_read_file(ctx, path, PLAN_FILE_MAX_BYTES, &buf, &len));
    json_error_t e;
    pf->root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &e);
    cv_free(buf);
    if (!pf->root) return cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d: %s", path, e.line, e.text);
    cleave_status s = (pf->path = cv_strdup(path)) ? parse_plan(ctx, path, l, n, pf)
                                                   : cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    if (s) plan_file_free(pf);
    return s;
}

void plan_file_free(plan_file *pf) {
    for (int i = 0; i < pf->n_sol; i++) {
        plan_file_solution *s = &pf->sol[i];
        for (int k = 0; s->edge && k < s->n_edge; k++) cv_free(s->edge[k]);
        for (int k = 0; s->cross && k < s->n_cross; k++) cv_free(s->cross[k]);
        cv_free(s->edge), cv_free(s->cross), cv_free(s->cross_bits), cv_free(s->cross_elems);
        cv_free(s->wbits), cv_free(s->abits);
    }
    cv_free(pf->sol);
    cv_free(pf->path), cv_free(pf->model), cv_free(pf->model_sha256), cv_free(pf->stats_file);
    json_decref(pf->root);
    memset(pf, 0, sizeof *pf);
}

int plan_file_recommended(const plan_file *pf) {
    for (int i = 0; i < pf->n_sol; i++)
        if (pf->sol[i].recommended) return i;
    return -1;
}

int plan_file_find(const plan_file *pf, int id) {
    for (int i = 0; i < pf->n_sol; i++)
        if (pf->sol[i].id == id) return i;
    return -1;
}

int plan_file_find_method(const plan_file *pf, const char *method) {
    for (int i = 0; i < pf->n_sol; i++)
        if (!strcmp(pf->sol[i].method, method)) return i;
    return -1;
}

/* ---- the solution applied to the model ---- */

static const char *model_name(const ir_graph *g) { return g->source_path ? g->source_path : "model"; }

/* Nodes named in s->edge, one each (names must be unique). */
static cleave_status edge_set(cleave_ctx *ctx, const ir_graph *g, const plan_file_solution *s, uint8_t *edge) {
    for (int e = 0; e < s->n_edge; e++) {
        int hit = -1, count = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (!g->nodes[i].dead && g->nodes[i].name && !strcmp(g->nodes[i].name, s->edge[e])) hit = i, count++;
        if (count != 1)
            return cv_fail(ctx, CLEAVE_E_INVALID, "solution %d: edge node '%s' %s of %s", s->id, s->edge[e],
                           count ? "names several nodes (node names must be unique to split)" : "is not a node",
                           model_name(g));
        edge[hit] = 1;
    }
    return CLEAVE_OK;
}

/* The edge part is closed under predecessors and the plan's crossing list
 * is exactly the set of tensors made on the edge (or graph inputs) that a
 * cloud node reads; cross_v gets their value ids. */
static cleave_status check_cut(cleave_ctx *ctx, const ir_graph *g, const plan_file_solution *s, const uint8_t *edge,
                               int *cross_v) {
    uint8_t *listed = cv_calloc((size_t)g->n_values + 1, 1);
    if (!listed) return cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
    cleave_status st = CLEAVE_OK;
    for (int c = 0; c < s->n_cross && !st; c++) {
        cross_v[c] = ir_graph_find_value(g, s->cross[c]);
        if (cross_v[c] < 0 || g->values[cross_v[c]].data)
            st = cv_fail(ctx, CLEAVE_E_INVALID, "solution %d: crossing tensor '%s' is not an activation of %s", s->id,
                         s->cross[c], model_name(g));
        else listed[cross_v[c]] = 1;
    }
    char b[300];
    for (int i = 0; i < g->n_nodes && !st; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; !n->dead && edge[i] && k < n->n_in && !st; k++) {
            int v = n->in[k], p = v >= 0 ? g->values[v].producer : -1;
            if (p >= 0 && !edge[p])
                st = cv_fail(ctx, CLEAVE_E_INVALID, "solution %d: edge %s reads '%s' made on the cloud by '%s' "
                             "(the edge part must hold every predecessor)", s->id, ir_node_label(n, b, sizeof b),
                             g->values[v].name, g->nodes[p].name);
        }
    }
    for (int i = 0; i < g->n_nodes && !st; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; !n->dead && !edge[i] && k < n->n_in && !st; k++) {
            int v = n->in[k];
            if (v < 0 || g->values[v].data) continue;
            int p = g->values[v].producer, from_edge = p >= 0 ? edge[p] : g->values[v].is_input;
            if (from_edge && !listed[v])
                st = cv_fail(ctx, CLEAVE_E_INVALID, "solution %d: '%s' crosses the cut (cloud %s reads it) but "
                             "is not in crossing", s->id, g->values[v].name, ir_node_label(n, b, sizeof b));
        }
    }
    for (int c = 0; c < s->n_cross && !st; c++) {
        int v = cross_v[c], p = g->values[v].producer, read_on_cloud = 0;
        for (int i = 0; i < g->n_nodes; i++)
            for (int k = 0; !g->nodes[i].dead && !edge[i] && k < g->nodes[i].n_in; k++) read_on_cloud |= g->nodes[i].in[k] == v;
        if ((p >= 0 && !edge[p]) || !read_on_cloud)
            st = cv_fail(ctx, CLEAVE_E_INVALID, "solution %d: crossing tensor '%s' does not cross the cut (%s)", s->id,
                         s->cross[c], p >= 0 && !edge[p] ? "it is made on the cloud" : "no cloud node reads it");
    }
    cv_free(listed);
    return st;
}

/* The only live node reading v, else -1. */
static int sole_reader(const ir_graph *g, int v) {
    int who = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; !g->nodes[i].dead && k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == v) {
                if (who >= 0 && who != i) return -1;
                who = i;
            }
    return who;
}

static int is_op(const ir_node *n, const char *t) { return !n->domain[0] && !strcmp(n->op_type, t); }

/* After quant_apply, T's only reader is its quantizer: [Clip ->] QuantizeLinear;
 * the codes are the QuantizeLinear's output. */
static cleave_status find_codes(cleave_ctx *ctx, const ir_graph *g, int t, int *codes, float *scale, int32_t *zp) {
    int r = sole_reader(g, t);
    if (r >= 0 && is_op(&g->nodes[r], "Clip")) r = sole_reader(g, g->nodes[r].out[0]);
    const ir_node *q = r >= 0 ? &g->nodes[r] : NULL;
    if (!q || !is_op(q, "QuantizeLinear") || q->n_in < 3 || q->in[1] < 0 || q->in[2] < 0)
        return cv_fail(ctx, CLEAVE_E_INTERNAL, "split: '%s' has no quantizer after quantization", g->values[t].name);
    const ir_value *sv = &g->values[q->in[1]], *zv = &g->values[q->in[2]];
    if (!sv->data || sv->dtype != CV_F32 || !zv->data || zv->dtype != CV_U8)
        return cv_fail(ctx, CLEAVE_E_INTERNAL, "split: the quantizer of '%s' has no constant scale", g->values[t].name);
    *codes = q->out[0];
    *scale = *(const float *)sv->data;
    *zp = *(const uint8_t *)zv->data;
    return CLEAVE_OK;
}

/* Each crossing tensor goes at its layer's activation width. */
static cleave_status check_bits(cleave_ctx *ctx, const quant_layer *l, int n, const plan_file_solution *s,
                                const int *cross_v) {
    for (int c = 0; c < s->n_cross; c++) {
        int k = -1, b = s->cross_bits[c];
        for (int j = 0; j < n; j++)
            if (l[j].act == cross_v[c]) k = j;
        if (b < QUANT_FLOAT && k < 0)
            return cv_fail(ctx, CLEAVE_E_INVALID, "solution %d: crossing tensor '%s' at %d bits is not a "
                           "quantization point (only those can be sent below 32 bits)", s->id, s->cross[c], b);
        if (k >= 0 && s->abits[k] != b)
            return cv_fail(ctx, CLEAVE_E_INVALID, "solution %d: crossing tensor '%s' is sent at %d bits but layer "
                           "'%s' quantizes it at %d", s->id, s->cross[c], b, l[k].name, s->abits[k]);
    }
    return CLEAVE_OK;
}

/* dtype and batch-1 shape of every travelling value: the input specs come
 * from the graph inputs (unknown dimensions taken as 1). */
static cleave_status travel_info(cleave_ctx *ctx, const ir_graph *g, plan_split *sp) {
    int n_in = 0, n_out = 0;
    int *ins = cv_malloc(sizeof(int) * (size_t)(g->n_inputs + 1)), *outs = cv_malloc(sizeof(int) * (size_t)(sp->n_cross + 1));
    cv_tensor *spec = cv_calloc((size_t)g->n_inputs + 1, sizeof *spec);
    cleave_status st = ins && outs && spec ? CLEAVE_OK : cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
    for (int i = 0; !st && i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->is_initializer) continue;
        cv_tensor *t = &spec[n_in];
        t->dtype = v->dtype;
        t->ndim = v->ndim < 0 ? 0 : v->ndim;
        for (int d = 0; d < t->ndim; d++) t->dims[d] = v->dims[d] < 0 ? 1 : v->dims[d];
        ins[n_in++] = g->inputs[i];
    }
    for (int c = 0; !st && c < sp->n_cross; c++) {
        int from_input = -1;
        for (int i = 0; i < n_in; i++)
            if (ins[i] == sp->codes[c]) from_input = i;
        if (from_input >= 0) sp->info[c] = spec[from_input];
        else outs[n_out++] = sp->codes[c];
    }
    rt_plan *p = NULL;
    if (!st && n_out) st = rt_plan_create(ctx, g, ins, n_in, outs, n_out, spec, NULL, &p);
    for (int c = 0; !st && c < sp->n_cross; c++) {
        const cv_tensor *t = p ? rt_plan_value(p, sp->codes[c]) : NULL;
        if (t) sp->info[c] = *t;
        sp->info[c].data = NULL;
    }
    rt_plan_destroy(p);
    cv_free(ins), cv_free(outs), cv_free(spec);
    return st;
}

static cleave_status split_alloc(cleave_ctx *ctx, const ir_graph *g, int nc, plan_split *sp) {
    size_t n = (size_t)nc + 1, no = (size_t)g->n_outputs + 1;
    sp->names = cv_calloc(n, sizeof(char *));
    sp->codes = cv_calloc(n, sizeof(int));
    sp->bits = cv_calloc(n, sizeof(int));
    sp->scale = cv_calloc(n, sizeof(float));
    sp->zero_point = cv_calloc(n, sizeof(int32_t));
    sp->info = cv_calloc(n, sizeof(cv_tensor));
    sp->edge_out = cv_calloc(no, sizeof(int));
    sp->cloud_out = cv_calloc(no, sizeof(int));
    if (!sp->names || !sp->codes || !sp->bits || !sp->scale || !sp->zero_point || !sp->info || !sp->edge_out ||
        !sp->cloud_out)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
    return CLEAVE_OK;
}

static cleave_status build(cleave_ctx *ctx, const ir_graph *canon, const quant_layer *l, int n, const quant_stats *st,
                           const plan_file_solution *s, int lower, uint8_t *edge, int *cross_v, plan_split *sp) {
    CV_TRY(edge_set(ctx, canon, s, edge));
    CV_TRY(check_cut(ctx, canon, s, edge, cross_v));
    CV_TRY(check_bits(ctx, l, n, s, cross_v));
    CV_TRY(split_alloc(ctx, canon, s->n_cross, sp));
    for (int k = 0; k < canon->n_outputs; k++) {
        int v = canon->outputs[k], p = canon->values[v].producer;
        if (p < 0 || edge[p]) sp->edge_out[sp->n_edge_out++] = v;
        else sp->cloud_out[sp->n_cloud_out++] = v;
    }
    /* activation ranges and clipping as cleave plan --measure applies them */
    quant_config cfg;
    quant_config_uniform(&cfg, 8, 8);
    quant_apply_info info;
    CV_TRY(ir_graph_clone(ctx, canon, &sp->g));
    CV_TRY(quant_apply(ctx, sp->g, l, n, s->wbits, s->abits, &cfg, st, &info));
    sp->n_cross = s->n_cross;
    for (int c = 0; c < s->n_cross; c++) {
        if (!(sp->names[c] = cv_strdup(s->cross[c]))) return cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
        sp->bits[c] = s->cross_bits[c];
        sp->codes[c] = cross_v[c]; /* clones keep value ids */
        sp->scale[c] = 1;
        if (sp->bits[c] < QUANT_FLOAT)
            CV_TRY(find_codes(ctx, sp->g, cross_v[c], &sp->codes[c], &sp->scale[c], &sp->zero_point[c]));
    }
    if (lower) {
        /* the integer kernels write their requantized output into the
         * QuantizeLinear's output value, so the codes keep their id */
        int count = 0;
        CV_TRY(quant_lower_int8(ctx, sp->g, &count));
        sp->lowered = 1;
        for (int c = 0; c < sp->n_cross; c++) {
            const ir_value *v = &sp->g->values[sp->codes[c]];
            if (v->producer < 0 && !v->is_input)
                return cv_fail(ctx, CLEAVE_E_INTERNAL, "split: lowering lost '%s'", v->name);
        }
    }
    /* uint8 codes, whatever the lowering left in the value's own record */
    return travel_info(ctx, sp->g, sp);
}

cleave_status plan_split_build(cleave_ctx *ctx, const ir_graph *canon, const quant_layer *l, int n,
                               const quant_stats *st, const plan_file_solution *s, int lower, plan_split *out) {
    memset(out, 0, sizeof *out);
    uint8_t *edge = cv_calloc((size_t)canon->n_nodes + 1, 1);
    int *cross_v = cv_calloc((size_t)s->n_cross + 1, sizeof(int));
    cleave_status r = edge && cross_v ? build(ctx, canon, l, n, st, s, lower, edge, cross_v, out)
                                      : cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
    cv_free(edge);
    cv_free(cross_v);
    if (r) plan_split_free(out);
    return r;
}

void plan_split_free(plan_split *sp) {
    ir_graph_destroy(sp->g);
    for (int c = 0; sp->names && c < sp->n_cross; c++) cv_free(sp->names[c]);
    cv_free(sp->names), cv_free(sp->codes), cv_free(sp->bits), cv_free(sp->scale), cv_free(sp->zero_point);
    cv_free(sp->info), cv_free(sp->edge_out), cv_free(sp->cloud_out);
    memset(sp, 0, sizeof *sp);
}

/* ---- edge.onnx, cloud.onnx, manifest.json ---- */

/* A travelling value's type in a part: the batch dimension follows the
 * model input's (symbolic there, symbolic here). */
static void set_type(ir_graph *h, int v, const cv_tensor *t, const ir_value *in0) {
    ir_value *x = &h->values[v];
    x->dtype = t->dtype;
    x->ndim = t->ndim;
    for (int d = 0; d < CV_MAX_DIMS; d++) {
        x->dims[d] = d < t->ndim ? t->dims[d] : 0;
        x->dim_param[d] = NULL;
    }
    if (in0 && in0->ndim > 0 && in0->dims[0] < 0 && t->ndim > 0) {
        x->dims[0] = -1;
        x->dim_param[0] = in0->dim_param[0];
    }
    x->has_info = 1;
}

static int add_unique(int *list, int n, int v) {
    for (int i = 0; i < n; i++)
        if (list[i] == v) return n;
    list[n] = v;
    return n + 1;
}

/* The head: graph inputs -> travelling values + edge outputs. A travelling
 * value that is a graph input itself (the raw input sent as float) goes out
 * through an Identity, since an ONNX output cannot also be an input;
 * edge_name[c] gets the output's name. */
static cleave_status edge_part(cleave_ctx *ctx, const plan_split *sp, const ir_value *in0, const char **edge_name,
                               ir_graph **out) {
    const ir_graph *g = sp->g;
    int *ins = cv_malloc(sizeof(int) * (size_t)(g->n_inputs + 1));
    int *outs = cv_malloc(sizeof(int) * (size_t)(sp->n_cross + sp->n_edge_out + 1));
    if (!ins || !outs) {
        cv_free(ins), cv_free(outs);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
    }
    int n_in = 0, n_out = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (!g->values[g->inputs[i]].is_initializer) ins[n_in++] = g->inputs[i];
    for (int c = 0; c < sp->n_cross; c++) n_out = add_unique(outs, n_out, sp->codes[c]);
    for (int k = 0; k < sp->n_edge_out; k++) n_out = add_unique(outs, n_out, sp->edge_out[k]);
    cleave_status st = ir_graph_extract(ctx, g, ins, n_in, outs, n_out, out);
    cv_free(ins), cv_free(outs);
    CV_TRY(st);
    ir_graph *h = *out;
    for (int c = 0; c < sp->n_cross; c++) {
        int v = ir_graph_find_value(h, g->values[sp->codes[c]].name);
        set_type(h, v, &sp->info[c], in0);
        edge_name[c] = h->values[v].name;
        if (!h->values[v].is_input) continue;
        char hint[300];
        snprintf(hint, sizeof hint, "%.250s_sent", h->values[v].name);
        int w = ir_graph_new_value(h, hint);
        if (w < 0 || ir_graph_add_node(h, hint, "Identity", "", &v, 1, &w, 1) < 0)
            return cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
        set_type(h, w, &sp->info[c], in0);
        h->values[w].is_output = 1;
        h->values[v].is_output = 0;
        for (int k = 0; k < h->n_outputs; k++)
            if (h->outputs[k] == v) h->outputs[k] = w;
        edge_name[c] = h->values[w].name;
    }
    return ir_graph_link(ctx, h);
}

/* The tail: travelling values -> cloud outputs. */
static cleave_status cloud_part(cleave_ctx *ctx, const plan_split *sp, const ir_value *in0, ir_graph **out) {
    int *ins = cv_malloc(sizeof(int) * (size_t)(sp->n_cross + 1)), n_in = 0;
    if (!ins) return cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
    for (int c = 0; c < sp->n_cross; c++) n_in = add_unique(ins, n_in, sp->codes[c]);
    cleave_status st = ir_graph_extract(ctx, sp->g, ins, n_in, sp->cloud_out, sp->n_cloud_out, out);
    cv_free(ins);
    CV_TRY(st);
    for (int c = 0; c < sp->n_cross; c++)
        set_type(*out, ir_graph_find_value(*out, sp->g->values[sp->codes[c]].name), &sp->info[c], in0);
    return CLEAVE_OK;
}

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *names_json(const ir_graph *g, const int *ids, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_string(g->values[ids[i]].name));
    return a;
}

static json_t *manifest(const plan_split *sp, const plan_file *pf, const plan_file_solution *s,
                        const char *const *edge_name) {
    json_t *m = json_object();
    json_object_set_new(m, "format", json_string("cleave-split"));
    json_object_set_new(m, "version", json_integer(1));
    json_object_set_new(m, "model", json_string(pf->model));
    json_object_set_new(m, "model_sha256", json_string(pf->model_sha256));
    json_object_set_new(m, "plan", json_string(pf->path));
    json_object_set_new(m, "solution", json_pack("{s:i,s:s,s:b,s:b}", "id", s->id, "method", s->method,
                                                 "recommended", s->recommended, "feasible", s->feasible));
    json_object_set_new(m, "link", json_pack("{s:o,s:o,s:o}", "mbit_s", num_or_null(pf->mbit_s), "rtt_ms",
                                             num_or_null(pf->rtt_ms), "overhead_ms", num_or_null(pf->overhead_ms)));
    json_object_set_new(m, "files", json_pack("{s:s,s:o,s:s}", "edge", "edge.onnx", "cloud",
                                              sp->n_cloud_out ? json_string("cloud.onnx") : json_null(), "whole",
                                              "whole.onnx"));
    json_t *cr = json_array();
    for (int c = 0; c < sp->n_cross; c++) {
        const cv_tensor *t = &sp->info[c];
        int64_t elems = cv_numel(t);
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->dims[d]));
        int q = sp->bits[c] < QUANT_FLOAT;
        json_t *x = json_object();
        json_object_set_new(x, "tensor", json_string(sp->names[c]));
        json_object_set_new(x, "edge_output", json_string(edge_name[c]));
        json_object_set_new(x, "cloud_input", json_string(sp->g->values[sp->codes[c]].name));
        json_object_set_new(x, "dtype", json_string(cv_dtype_name(t->dtype)));
        json_object_set_new(x, "shape", shape);
        json_object_set_new(x, "elements", json_integer(elems));
        json_object_set_new(x, "bits", json_integer(sp->bits[c]));
        json_object_set_new(x, "scale", q ? json_real(sp->scale[c]) : json_null());
        json_object_set_new(x, "zero_point", q ? json_integer(sp->zero_point[c]) : json_null());
        json_object_set_new(x, "packed_bytes",
                            json_integer(q ? (json_int_t)q_packed_bytes((size_t)elems, sp->bits[c])
                                           : (json_int_t)(elems * (int64_t)cv_dtype_size(t->dtype))));
        json_array_append_new(cr, x);
    }
    json_object_set_new(m, "crossing", cr);
    json_object_set_new(m, "edge_outputs", names_json(sp->g, sp->edge_out, sp->n_edge_out));
    json_object_set_new(m, "cloud_outputs", names_json(sp->g, sp->cloud_out, sp->n_cloud_out));
    const json_t *pred = s->json ? json_object_get(s->json, "predicted") : NULL;
    json_object_set_new(m, "predicted", pred ? json_deep_copy(pred) : json_object());
    return m;
}

cleave_status plan_split_export(cleave_ctx *ctx, const plan_split *sp, const plan_file *pf,
                                const plan_file_solution *s, const char *dir) {
    if (sp->lowered)
        return cv_fail(ctx, CLEAVE_E_INVALID, "split: export needs the QDQ form (plan_split_build with lower = 0)");
    const ir_graph *g = sp->g;
    const ir_value *in0 = NULL;
    for (int i = 0; i < g->n_inputs && !in0; i++)
        if (!g->values[g->inputs[i]].is_initializer) in0 = &g->values[g->inputs[i]];
    char path[4096];
    const char **edge_name = cv_calloc((size_t)sp->n_cross + 1, sizeof(char *));
    if (!edge_name) return cv_fail(ctx, CLEAVE_E_NOMEM, "split: out of memory");
    ir_graph *eg = NULL, *cg = NULL;
    json_t *m = NULL;
    cleave_status st;
    snprintf(path, sizeof path, "%s/whole.onnx", dir);
    if ((st = onnx_save_file(ctx, g, path))) goto done;
    if ((st = edge_part(ctx, sp, in0, edge_name, &eg))) goto done;
    snprintf(path, sizeof path, "%s/edge.onnx", dir);
    if ((st = onnx_save_file(ctx, eg, path))) goto done;
    if (sp->n_cloud_out) {
        if ((st = cloud_part(ctx, sp, in0, &cg))) goto done;
        snprintf(path, sizeof path, "%s/cloud.onnx", dir);
        if ((st = onnx_save_file(ctx, cg, path))) goto done;
    }
    m = manifest(sp, pf, s, edge_name);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (!m || json_dump_file(m, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)))
        st = cv_fail(ctx, CLEAVE_E_IO, "%s: cannot write", path);
done:
    json_decref(m);
    ir_graph_destroy(eg);
    ir_graph_destroy(cg);
    cv_free(edge_name);
    return st;
}
