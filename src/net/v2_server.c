/* net/v2_server: the model server. A request names tensors of the model's
 * canonical graph (graph inputs, or any intermediate tensor a cut sends);
 * the outputs computable from them alone are computed by a sub-plan
 * compiled for that set of inputs and shapes (cached per worker), so the
 * server needs no per-cut deployment. */
#define _GNU_SOURCE
#include "net/v2_server.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/http_server.h"
#include "net/v2.h"
#include "onnx/onnx.h"
#include "runtime/optimize.h"
#include "runtime/runtime.h"

#define V2_MAX_MODELS 32
#define V2_MAX_WORKERS 64
#define V2_N_BUCKETS 14

static const double bucket_le[V2_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,  0.5,    1,     2.5,  5,    10,  30};

/* Per-model counters, guarded by the server's mutex. */
typedef struct v2_counters {
    uint64_t req_ok, req_4xx, req_5xx;
    uint64_t bucket[V2_N_BUCKETS + 1]; /* last = +Inf */
    double dur_sum;
    double compute_sum;
    uint64_t compute_n;
    uint64_t bytes_in, bytes_out;
} v2_counters;

typedef struct v2_model {
    char name[128], version[32];
    char *path;
    ir_graph *g;          /* canonical graph (read-only after load) */
    cv_tensor *ref;       /* per value: shape at the declared input shape (ndim -1 = unknown) */
    pthread_mutex_t mu;   /* compiles on g */
    v2_counters c;
} v2_model;

typedef struct v2_cached {
    char *key;
    rt_plan *p;
    uint64_t used;
} v2_cached;

typedef struct v2_worker {
    cleave_ctx *ctx;
    int busy;
    v2_cached *cache;
    uint64_t tick;
} v2_worker;

struct v2_server {
    cleave_ctx *ctx;
    v2_server_opts o;
    char bind[64];
    net_http_server *http;
    int n_models;
    v2_model models[V2_MAX_MODELS];
    v2_worker workers[V2_MAX_WORKERS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int waiting, running, draining;
    uint64_t rejected_busy, other_req;
    double t_start;
};

/* ---------------------------------------------------------------- models */

static void model_ref_shapes(v2_server *s, v2_model *m) {
    /* Shapes of every value at the declared input shapes (unknown dims = 1),
     * used to check the shape of an intermediate tensor a request sends. */
    ir_graph *g = m->g;
    m->ref = cv_calloc((size_t)g->n_values, sizeof *m->ref);
    if (!m->ref) return;
    for (int v = 0; v < g->n_values; v++) m->ref[v].ndim = -1;
    int ids[16], n = 0;
    cv_tensor in[16];
    for (int i = 0; i < g->n_inputs && n < 16; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->is_initializer) continue;
        if (v->ndim < 0) return;
        in[n] = (cv_tensor){.dtype = v->dtype, .ndim = v->ndim};
        for (int d = 0; d < v->ndim; d++) in[n].dims[d] = v->dims[d] > 0 ? v->dims[d] : 1;
        ids[n++] = g->inputs[i];
    }
    cleave_ctx *c;
    if (cleave_ctx_create(&c)) return;
    cleave_ctx_set_fast(c, 0);
    rt_plan *p = NULL;
    if (!rt_plan_create(c, g, ids, n, NULL, 0, in, NULL, &p)) {
        for (int v = 0; v < g->n_values; v++) {
            const cv_tensor *t = rt_plan_value(p, v);
            if (t) m->ref[v] = (cv_tensor){.dtype = t->dtype, .ndim = t->ndim};
            if (t) memcpy(m->ref[v].dims, t->dims, sizeof t->dims);
        }
    }
    rt_plan_destroy(p);
    cleave_ctx_destroy(c);
    (void)s;
}

cleave_status v2_server_add_model(v2_server *s, const char *name, const char *version,
                                  const char *path) {
    if (s->n_models >= V2_MAX_MODELS)
        return cv_fail(s->ctx, CLEAVE_E_LIMIT, "serve: more than %d models", V2_MAX_MODELS);
    if (!name[0] || strlen(name) >= sizeof s->models[0].name || strchr(name, '/'))
        return cv_fail(s->ctx, CLEAVE_E_INVALID, "serve: bad model name '%s'", name);
    if (!version) version = "1";
    if (strlen(version) >= sizeof s->models[0].version || strchr(version, '/'))
        return cv_fail(s->ctx, CLEAVE_E_INVALID, "serve: bad version '%s' of model %s", version, name);
    for (int i = 0; i < s->n_models; i++)
        if (!strcmp(s->models[i].name, name))
            return cv_fail(s->ctx, CLEAVE_E_INVALID, "serve: model name '%s' given twice (%s and %s)", name,
                           s->models[i].path, path);
    v2_model *m = &s->models[s->n_models];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->version, sizeof m->version, "%s", version);
    m->path = cv_strdup(path);
    if (!m->path) return cv_fail(s->ctx, CLEAVE_E_NOMEM, "serve: out of memory");
    cleave_status st = onnx_load_file(s->ctx, path, &m->g);
    if (!st) st = rt_graph_optimize(s->ctx, m->g, NULL);
    if (st) {
        ir_graph_destroy(m->g);
        cv_free(m->path);
        return st;
    }
    pthread_mutex_init(&m->mu, NULL);
    model_ref_shapes(s, m);
    s->n_models++;
    return CLEAVE_OK;
}

cleave_status v2_server_add_repository(v2_server *s, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return cv_fail(s->ctx, CLEAVE_E_IO, "serve: model repository %s: %s", dir, strerror(errno));
    struct dirent *e;
    char *names[V2_MAX_MODELS + 1];
    int n = 0;
    cleave_status st = CLEAVE_OK;
    while ((e = readdir(d)) && !st) {
        if (e->d_name[0] == '.') continue;
        if (n >= V2_MAX_MODELS) {
            st = cv_fail(s->ctx, CLEAVE_E_LIMIT, "serve: %s holds more than %d models", dir, V2_MAX_MODELS);
            break;
        }
        names[n] = cv_strdup(e->d_name);
        if (!names[n]) st = cv_fail(s->ctx, CLEAVE_E_NOMEM, "serve: out of memory");
        else n++;
    }
    closedir(d);
    /* sorted, so the order (and metadata listings) are deterministic */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1], names[j - 1] = t;
        }
    int added = 0;
    for (int i = 0; i < n && !st; i++) {
        char mdir[4096];
        snprintf(mdir, sizeof mdir, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(mdir, &sb) || !S_ISDIR(sb.st_mode)) continue;
        DIR *vd = opendir(mdir);
        if (!vd) continue;
        long best = -1;
        while ((e = readdir(vd))) {
            char *end;
            long v = strtol(e->d_name, &end, 10);
            if (end == e->d_name || *end || v < 0) continue;
            char f[4200];
            snprintf(f, sizeof f, "%s/%s/model.onnx", mdir, e->d_name);
            if (!stat(f, &sb) && v > best) best = v;
        }
        closedir(vd);
        if (best < 0) {
            st = cv_fail(s->ctx, CLEAVE_E_INVALID,
                         "serve: %s has no <version>/model.onnx (Triton layout: %s/<model>/<version>/model.onnx)",
                         mdir, dir);
            break;
        }
        char f[4200], ver[32];
        snprintf(ver, sizeof ver, "%ld", best);
        snprintf(f, sizeof f, "%s/%ld/model.onnx", mdir, best);
        st = v2_server_add_model(s, names[i], ver, f);
        added++;
    }
    for (int i = 0; i < n; i++) cv_free(names[i]);
    if (!st && !added) st = cv_fail(s->ctx, CLEAVE_E_INVALID, "serve: model repository %s holds no model", dir);
    return st;
}

int v2_server_n_models(const v2_server *s) { return s->n_models; }

static v2_model *find_model(v2_server *s, const char *name, size_t len) {
    for (int i = 0; i < s->n_models; i++)
        if (strlen(s->models[i].name) == len && !strncmp(s->models[i].name, name, len)) return &s->models[i];
    return NULL;
}

/* --------------------------------------------------------------- replies */

static void reply_error(net_http_response *r, int status, const char *msg) {
    size_t len;
    char *b = net_v2_error_json(msg, &len);
    r->status = status;
    cv_free(r->body);
    r->body = (uint8_t *)b;
    r->body_len = b ? len : 0;
    snprintf(r->content_type, sizeof r->content_type, "application/json");
}

static void reply_json(net_http_response *r, int status, json_t *o) {
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!t) {
        reply_error(r, 500, "out of memory");
        return;
    }
    r->status = status;
    net_http_response_set_body(r, t, strlen(t));
    free(t);
}

static json_t *tensor_meta(const ir_value *v, const cv_tensor *ref) {
    json_t *shape = json_array();
    int nd = v->ndim >= 0 ? v->ndim : (ref && ref->ndim >= 0 ? ref->ndim : 0);
    for (int d = 0; d < nd; d++) {
        int64_t x = v->ndim >= 0 ? v->dims[d] : ref->dims[d];
        json_array_append_new(shape, json_integer(x > 0 ? x : -1));
    }
    const char *dt = net_v2_dtype_name(v->dtype ? v->dtype : (ref ? ref->dtype : CV_UNDEF));
    return json_pack("{s:s,s:s,s:o}", "name", v->name, "datatype", dt ? dt : "FP32", "shape", shape);
}

static void model_metadata(v2_model *m, net_http_response *r) {
    const ir_graph *g = m->g;
    json_t *ins = json_array(), *outs = json_array();
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (!v->is_initializer) json_array_append_new(ins, tensor_meta(v, m->ref ? &m->ref[g->inputs[i]] : NULL));
    }
    for (int i = 0; i < g->n_outputs; i++)
        json_array_append_new(outs, tensor_meta(&g->values[g->outputs[i]], m->ref ? &m->ref[g->outputs[i]] : NULL));
    json_t *vers = json_array();
    json_array_append_new(vers, json_string(m->version));
    reply_json(r, 200, json_pack("{s:s,s:o,s:s,s:o,s:o}", "name", m->name, "versions", vers, "platform",
                                 "cleave_onnx", "inputs", ins, "outputs", outs));
}

/* ------------------------------------------------------------- inference */

typedef struct infer_times {
    double decode_ms, queue_ms, compile_ms, compute_ms, encode_ms;
    int compiled;
} infer_times;

static int acquire_worker(v2_server *s, double *wait_ms, const char **why) {
    double t0 = cv_now_ms();
    pthread_mutex_lock(&s->mu);
    int w = -1;
    if (s->draining) {
        *why = "server is shutting down";
    } else {
        for (int i = 0; i < s->o.workers && w < 0; i++)
            if (!s->workers[i].busy) w = i;
        if (w < 0 && s->waiting >= s->o.queue) {
            *why = "server busy: every worker is running and the queue is full";
            s->rejected_busy++;
        } else {
            s->waiting++;
            while (w < 0) {
                for (int i = 0; i < s->o.workers && w < 0; i++)
                    if (!s->workers[i].busy) w = i;
                if (w < 0) pthread_cond_wait(&s->cv, &s->mu);
            }
            s->waiting--;
            s->workers[w].busy = 1;
            s->running++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    *wait_ms = cv_now_ms() - t0;
    return w;
}

static void release_worker(v2_server *s, int w) {
    pthread_mutex_lock(&s->mu);
    s->workers[w].busy = 0;
    s->running--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The compiled sub-plan for this model, inputs (ids + dtypes/shapes) and
 * outputs, from the worker's cache or compiled now. */
static cleave_status get_plan(v2_server *s, v2_worker *wk, v2_model *m, const int *ids, const cv_tensor *in,
                              int n_in, const int *outs, int n_out, rt_plan **out, infer_times *tm) {
    char key[4096];
    size_t o = (size_t)snprintf(key, sizeof key, "%s", m->name);
    for (int k = 0; k < n_in && o < sizeof key; k++) {
        o += (size_t)snprintf(key + o, sizeof key - o, "|%d:%d", ids[k], in[k].dtype);
        for (int d = 0; d < in[k].ndim && o < sizeof key; d++)
            o += (size_t)snprintf(key + o, sizeof key - o, "x%lld", (long long)in[k].dims[d]);
    }
    for (int k = 0; k < n_out && o < sizeof key; k++) o += (size_t)snprintf(key + o, sizeof key - o, ">%d", outs[k]);
    if (o >= sizeof key) return cv_fail(wk->ctx, CLEAVE_E_LIMIT, "request has too many tensors for the plan cache key");
    int n_cache = s->o.plan_cache, lru = 0;
    for (int i = 0; i < n_cache; i++) {
        v2_cached *c = &wk->cache[i];
        if (c->key && !strcmp(c->key, key)) {
            c->used = ++wk->tick;
            *out = c->p;
            return CLEAVE_OK;
        }
        if (!c->key || (wk->cache[lru].key && c->used < wk->cache[lru].used)) lru = i;
    }
    double t0 = cv_now_ms();
    rt_plan *p = NULL;
    pthread_mutex_lock(&m->mu);
    cleave_status st = rt_plan_create(wk->ctx, m->g, ids, n_in, outs, n_out, in, NULL, &p);
    pthread_mutex_unlock(&m->mu);
    tm->compile_ms = cv_now_ms() - t0;
    tm->compiled = 1;
    if (st) return st;
    v2_cached *c = &wk->cache[lru];
    rt_plan_destroy(c->p);
    cv_free(c->key);
    c->key = cv_strdup(key);
    c->p = p;
    c->used = ++wk->tick;
    if (!c->key) {
        rt_plan_destroy(p);
        c->p = NULL;
        return cv_fail(wk->ctx, CLEAVE_E_NOMEM, "out of memory");
    }
    *out = p;
    return CLEAVE_OK;
}

/* Which values are computable from the given ones (and initializers):
 * forward over the topologically ordered nodes. */
static uint8_t *computable(const ir_graph *g, const int *given, int n) {
    uint8_t *a = cv_calloc((size_t)g->n_values, 1);
    if (!a) return NULL;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_initializer) a[v] = 1;
    for (int k = 0; k < n; k++) a[given[k]] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        int ok = 1;
        for (int j = 0; j < nd->n_in && ok; j++)
            if (nd->in[j] >= 0 && !a[nd->in[j]]) ok = 0;
        if (ok)
            for (int j = 0; j < nd->n_out; j++)
                if (nd->out[j] >= 0) a[nd->out[j]] = 1;
    }
    return a;
}

/* Status for an error from the engine or the parser: the client's fault
 * (400) unless it is ours. */
static int status_of(cleave_status st) {
    switch (st) {
    case CLEAVE_E_NOMEM:
    case CLEAVE_E_INTERNAL:
    case CLEAVE_E_IO: return 500;
    case CLEAVE_E_LIMIT: return 413;
    default: return 400;
    }
}

static void infer(v2_server *s, v2_model *m, const net_http_request *rq, net_http_response *rs) {
    double t0 = cv_now_ms();
    infer_times tm = {0};
    cleave_ctx *pctx; /* for decoding: per request */
    if (cleave_ctx_create(&pctx)) {
        reply_error(rs, 500, "out of memory");
        return;
    }
    net_buf dec = {0};
    net_v2_request req;
    memset(&req, 0, sizeof req);
    int have_req = 0;
    cv_tensor in[NET_V2_MAX_TENSORS];
    memset(in, 0, sizeof in);
    int n_in = 0, ids[NET_V2_MAX_TENSORS], outs[NET_V2_MAX_TENSORS], n_out = 0, w = -1;
    uint8_t *avail = NULL;
    char msg[1024];
    const uint8_t *body = rq->body;
    size_t blen = rq->body_len;
    const char *ce = net_http_request_header(rq, "Content-Encoding");
    const ir_graph *g = m->g;
    if (ce && *ce) {
        int e = net_encoding_parse(ce);
        if (e < 0) {
            snprintf(msg, sizeof msg, "unsupported Content-Encoding '%s' (gzip, deflate, zstd or identity)", ce);
            reply_error(rs, 415, msg);
            goto out;
        }
        if (e != NET_ENC_IDENTITY) {
            cleave_status st = net_decompress(pctx, (net_encoding)e, body, blen, s->o.max_decoded, &dec);
            if (st) {
                snprintf(msg, sizeof msg, "%s body: %s", net_encoding_name((net_encoding)e), cleave_ctx_error(pctx));
                reply_error(rs, st == CLEAVE_E_LIMIT ? 413 : 400, msg);
                goto out;
            }
            body = dec.data, blen = dec.len;
        }
    }
    if (net_v2_request_parse(pctx, body, blen, net_http_request_header(rq, "Inference-Header-Content-Length"),
                             &req)) {
        reply_error(rs, 400, cleave_ctx_error(pctx));
        goto out;
    }
    have_req = 1;
    for (int k = 0; k < req.n_inputs; k++) {
        const net_v2_tensor *t = &req.inputs[k];
        int v = ir_graph_find_value(g, t->name);
        if (v < 0 || g->values[v].is_initializer) {
            snprintf(msg, sizeof msg, "model %s has no tensor named '%s'%s", m->name, t->name,
                     v >= 0 ? " that can be given (it is a weight)" : "");
            reply_error(rs, 400, msg);
            goto out;
        }
        if (g->values[v].producer < 0 && !g->values[v].is_input) {
            snprintf(msg, sizeof msg,
                     "tensor '%s' is not in model %s's optimised graph (folded into a fused node); send that "
                     "node's output instead", t->name, m->name);
            reply_error(rs, 400, msg);
            goto out;
        }
        for (int j = 0; j < k; j++)
            if (ids[j] == v) {
                snprintf(msg, sizeof msg, "input '%s' given twice", t->name);
                reply_error(rs, 400, msg);
                goto out;
            }
        if (net_v2_tensor_decode(pctx, t, &in[k])) {
            reply_error(rs, 400, cleave_ctx_error(pctx));
            goto out;
        }
        ids[k] = v;
        n_in = k + 1;
        const ir_value *iv = &g->values[v];
        const cv_tensor *ref = m->ref ? &m->ref[v] : NULL;
        cv_dtype want = iv->dtype ? iv->dtype : (ref && ref->ndim >= 0 ? ref->dtype : CV_UNDEF);
        if (want && want != in[k].dtype) {
            snprintf(msg, sizeof msg, "input '%s': datatype %s%s, model %s expects %s", t->name,
                     net_v2_dtype_name(t->dtype) ? net_v2_dtype_name(t->dtype) : "?",
                     t->quant_bits ? " (dequantized to FP32)" : "", m->name,
                     net_v2_dtype_name(want) ? net_v2_dtype_name(want) : cv_dtype_name(want));
            reply_error(rs, 400, msg);
            goto out;
        }
        /* shape: the declared one for graph inputs, the reference one for
         * intermediate tensors; the leading (batch) dimension is free */
        int rnd = iv->ndim >= 0 && iv->is_input ? iv->ndim : (ref ? ref->ndim : -1);
        int bad = rnd >= 0 && rnd != in[k].ndim;
        for (int d = 1; d < rnd && !bad; d++) {
            int64_t e = iv->ndim >= 0 && iv->is_input ? iv->dims[d] : ref->dims[d];
            if (e > 0 && e != in[k].dims[d]) bad = 1;
        }
        if (bad) {
            char a[128], b[128];
            int64_t ed[CV_MAX_DIMS];
            for (int d = 0; d < rnd; d++) ed[d] = iv->ndim >= 0 && iv->is_input ? iv->dims[d] : ref->dims[d];
            snprintf(msg, sizeof msg, "input '%s': shape [%s], model %s expects [%s] (any batch)", t->name,
                     cv_shape_str(in[k].ndim, in[k].dims, a, sizeof a), m->name, cv_shape_str(rnd, ed, b, sizeof b));
            reply_error(rs, 400, msg);
            goto out;
        }
    }
    avail = computable(g, ids, n_in);
    if (!avail) {
        reply_error(rs, 500, "out of memory");
        goto out;
    }
    if (req.n_outputs) {
        for (int k = 0; k < req.n_outputs; k++) {
            int v = ir_graph_find_value(g, req.outputs[k].name);
            if (v < 0) {
                snprintf(msg, sizeof msg, "model %s has no output named '%s'", m->name, req.outputs[k].name);
                reply_error(rs, 400, msg);
                goto out;
            }
            if (!avail[v]) {
                snprintf(msg, sizeof msg, "output '%s' of model %s cannot be computed from the given tensors",
                         req.outputs[k].name, m->name);
                reply_error(rs, 400, msg);
                goto out;
            }
            outs[n_out++] = v;
        }
    } else {
        for (int k = 0; k < g->n_outputs && n_out < NET_V2_MAX_TENSORS; k++) {
            int v = g->outputs[k], given = 0;
            for (int j = 0; j < n_in; j++) given |= ids[j] == v;
            if (avail[v] && !given) outs[n_out++] = v;
        }
        if (!n_out) {
            snprintf(msg, sizeof msg, "the given tensors determine no output of model %s", m->name);
            reply_error(rs, 400, msg);
            goto out;
        }
    }
    tm.decode_ms = cv_now_ms() - t0;
    const char *why = NULL;
    w = acquire_worker(s, &tm.queue_ms, &why);
    if (w < 0) {
        net_http_response_add_header(rs, "Retry-After", "1");
        reply_error(rs, 503, why);
        goto out;
    }
    v2_worker *wk = &s->workers[w];
    cleave_ctx_clear_error(wk->ctx);
    rt_plan *p = NULL;
    cleave_status st = get_plan(s, wk, m, ids, in, n_in, outs, n_out, &p, &tm);
    double tc = cv_now_ms();
    if (!st) st = rt_plan_run(p, in);
    tm.compute_ms = cv_now_ms() - tc;
    if (st) {
        snprintf(msg, sizeof msg, "model %s: %s", m->name, cleave_ctx_error(wk->ctx));
        reply_error(rs, status_of(st), msg);
        goto out;
    }
    double te = cv_now_ms();
    const char *names[NET_V2_MAX_TENSORS];
    int bin[NET_V2_MAX_TENSORS];
    cv_tensor ot[NET_V2_MAX_TENSORS];
    for (int k = 0; k < n_out; k++) {
        ot[k] = *rt_plan_output(p, k);
        names[k] = g->values[outs[k]].name;
        bin[k] = req.n_outputs ? req.outputs[k].binary : req.binary_output_default;
    }
    json_t *params = json_pack("{s:f,s:f,s:f,s:f,s:b}", "server_compute_ms", tm.compute_ms, "server_decode_ms",
                               tm.decode_ms, "server_queue_ms", tm.queue_ms, "server_compile_ms", tm.compile_ms,
                               "plan_compiled", tm.compiled);
    net_buf ob = {0};
    size_t hl = 0;
    st = net_v2_response_encode(pctx, m->name, m->version, req.id[0] ? req.id : NULL, ot, names, bin, n_out, params,
                                &ob, &hl);
    json_decref(params);
    release_worker(s, w); /* outputs copied into the body */
    w = -1;
    if (st) {
        net_buf_free(&ob);
        reply_error(rs, 500, cleave_ctx_error(pctx));
        goto out;
    }
    cv_free(rs->body);
    rs->body = ob.data; /* the http server frees it with cv_free */
    rs->body_len = ob.len;
    rs->status = 200;
    if (hl) {
        char h[32];
        snprintf(h, sizeof h, "%zu", hl);
        net_http_response_add_header(rs, "Inference-Header-Content-Length", h);
        snprintf(rs->content_type, sizeof rs->content_type, "application/octet-stream");
    }
    char sm[64];
    snprintf(sm, sizeof sm, "%.3f", tm.compute_ms);
    net_http_response_add_header(rs, "X-Cleave-Compute-Ms", sm);
    tm.encode_ms = cv_now_ms() - te;
out:
    if (w >= 0) release_worker(s, w);
    cv_free(avail);
    for (int k = 0; k < n_in; k++) cv_aligned_free(in[k].data);
    if (have_req) net_v2_request_free(&req);
    net_buf_free(&dec);
    cleave_ctx_destroy(pctx);
    double dur = (cv_now_ms() - rq->t_headers_ms) / 1e3;
    pthread_mutex_lock(&s->mu);
    v2_counters *c = &m->c;
    if (rs->status < 400) c->req_ok++;
    else if (rs->status < 500) c->req_4xx++;
    else c->req_5xx++;
    int b = 0;
    while (b < V2_N_BUCKETS && dur > bucket_le[b]) b++;
    c->bucket[b]++;
    c->dur_sum += dur;
    if (rs->status == 200) c->compute_sum += tm.compute_ms / 1e3, c->compute_n++;
    c->bytes_in += rq->body_len;
    c->bytes_out += rs->body_len;
    pthread_mutex_unlock(&s->mu);
}

/* -------------------------------------------------------------- routing */

static void metrics(v2_server *s, net_http_response *r) {
    net_buf b = {0};
    char line[512];
#define EMIT(...)                                                  \
    do {                                                           \
        int n_ = snprintf(line, sizeof line, __VA_ARGS__);         \
        if (n_ > 0) net_buf_append(s->ctx, &b, line, (size_t)n_);  \
    } while (0)
    pthread_mutex_lock(&s->mu);
    EMIT("# HELP cleave_requests_total Inference requests by model and status class.\n"
         "# TYPE cleave_requests_total counter\n");
    for (int i = 0; i < s->n_models; i++) {
        const v2_counters *c = &s->models[i].c;
        EMIT("cleave_requests_total{model=\"%s\",code=\"2xx\"} %llu\n", s->models[i].name, (unsigned long long)c->req_ok);
        EMIT("cleave_requests_total{model=\"%s\",code=\"4xx\"} %llu\n", s->models[i].name, (unsigned long long)c->req_4xx);
        EMIT("cleave_requests_total{model=\"%s\",code=\"5xx\"} %llu\n", s->models[i].name, (unsigned long long)c->req_5xx);
    }
    EMIT("# HELP cleave_request_duration_seconds Time from request headers to reply.\n"
         "# TYPE cleave_request_duration_seconds histogram\n");
    for (int i = 0; i < s->n_models; i++) {
        const v2_counters *c = &s->models[i].c;
        uint64_t cum = 0;
        for (int k = 0; k <= V2_N_BUCKETS; k++) {
            cum += c->bucket[k];
            if (k < V2_N_BUCKETS)
                EMIT("cleave_request_duration_seconds_bucket{model=\"%s\",le=\"%g\"} %llu\n", s->models[i].name,
                     bucket_le[k], (unsigned long long)cum);
            else
                EMIT("cleave_request_duration_seconds_bucket{model=\"%s\",le=\"+Inf\"} %llu\n", s->models[i].name,
                     (unsigned long long)cum);
        }
        EMIT("cleave_request_duration_seconds_sum{model=\"%s\"} %.6f\n", s->models[i].name, c->dur_sum);
        EMIT("cleave_request_duration_seconds_count{model=\"%s\"} %llu\n", s->models[i].name, (unsigned long long)cum);
    }
    EMIT("# HELP cleave_compute_seconds Engine time of successful inferences.\n"
         "# TYPE cleave_compute_seconds summary\n");
    for (int i = 0; i < s->n_models; i++) {
        const v2_counters *c = &s->models[i].c;
        EMIT("cleave_compute_seconds_sum{model=\"%s\"} %.6f\n", s->models[i].name, c->compute_sum);
        EMIT("cleave_compute_seconds_count{model=\"%s\"} %llu\n", s->models[i].name, (unsigned long long)c->compute_n);
    }
    EMIT("# HELP cleave_request_bytes_total Request body bytes received (as sent, before decompression).\n"
         "# TYPE cleave_request_bytes_total counter\n");
    for (int i = 0; i < s->n_models; i++)
        EMIT("cleave_request_bytes_total{model=\"%s\"} %llu\n", s->models[i].name,
             (unsigned long long)s->models[i].c.bytes_in);
    EMIT("# HELP cleave_response_bytes_total Response body bytes sent.\n"
         "# TYPE cleave_response_bytes_total counter\n");
    for (int i = 0; i < s->n_models; i++)
        EMIT("cleave_response_bytes_total{model=\"%s\"} %llu\n", s->models[i].name,
             (unsigned long long)s->models[i].c.bytes_out);
    EMIT("# HELP cleave_rejected_busy_total Requests refused with 503 because the queue was full.\n"
         "# TYPE cleave_rejected_busy_total counter\ncleave_rejected_busy_total %llu\n",
         (unsigned long long)s->rejected_busy);
    EMIT("# HELP cleave_inflight Inferences running now.\n# TYPE cleave_inflight gauge\ncleave_inflight %d\n",
         s->running);
    EMIT("# HELP cleave_queue_waiting Requests waiting for a worker.\n# TYPE cleave_queue_waiting gauge\n"
         "cleave_queue_waiting %d\n", s->waiting);
    EMIT("# HELP cleave_workers Inference workers.\n# TYPE cleave_workers gauge\ncleave_workers %d\n", s->o.workers);
    EMIT("# HELP cleave_uptime_seconds Time since start.\n# TYPE cleave_uptime_seconds gauge\n"
         "cleave_uptime_seconds %.3f\n", (cv_now_ms() - s->t_start) / 1e3);
    pthread_mutex_unlock(&s->mu);
#undef EMIT
    r->status = 200;
    snprintf(r->content_type, sizeof r->content_type, "text/plain; version=0.0.4");
    cv_free(r->body);
    r->body = b.data;
    r->body_len = b.len;
}

static int is_get(const net_http_request *rq) { return !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD"); }

static void method_not_allowed(net_http_response *rs, const char *allow) {
    net_http_response_add_header(rs, "Allow", allow);
    reply_error(rs, 405, !strcmp(allow, "POST") ? "method not allowed here: use POST" : "method not allowed here: use GET");
}

static void route(void *user, const net_http_request *rq, net_http_response *rs) {
    v2_server *s = user;
    const char *p = rq->path;
    if (!strcmp(p, "/metrics")) {
        if (!is_get(rq)) return method_not_allowed(rs, "GET");
        return metrics(s, rs);
    }
    if (!strcmp(p, "/v2/health/live")) {
        if (!is_get(rq)) return method_not_allowed(rs, "GET");
        return reply_json(rs, 200, json_pack("{s:b}", "live", 1));
    }
    if (!strcmp(p, "/v2/health/ready")) {
        if (!is_get(rq)) return method_not_allowed(rs, "GET");
        pthread_mutex_lock(&s->mu);
        int ready = !s->draining && s->n_models > 0;
        pthread_mutex_unlock(&s->mu);
        return reply_json(rs, ready ? 200 : 503, json_pack("{s:b}", "ready", ready));
    }
    if (!strcmp(p, "/v2") || !strcmp(p, "/v2/")) {
        if (!is_get(rq)) return method_not_allowed(rs, "GET");
        json_t *ext = json_array();
        json_array_append_new(ext, json_string("binary_tensor_data"));
        return reply_json(rs, 200, json_pack("{s:s,s:s,s:o}", "name", "cleave", "version", "0.1", "extensions", ext));
    }
    if (!strncmp(p, "/v2/models/", 11)) {
        const char *name = p + 11, *rest = strchr(name, '/');
        size_t nl = rest ? (size_t)(rest - name) : strlen(name);
        v2_model *m = find_model(s, name, nl);
        char msg[512];
        if (!m) {
            snprintf(msg, sizeof msg, "unknown model '%.*s'", (int)(nl < 200 ? nl : 200), name);
            return reply_error(rs, 404, msg);
        }
        if (!rest) rest = "";
        if (!strncmp(rest, "/versions/", 10)) {
            const char *v = rest + 10, *vr = strchr(v, '/');
            size_t vl = vr ? (size_t)(vr - v) : strlen(v);
            if (vl != strlen(m->version) || strncmp(v, m->version, vl)) {
                snprintf(msg, sizeof msg, "model %s has no version '%.*s' (hosted: %s)", m->name,
                         (int)(vl < 64 ? vl : 64), v, m->version);
                return reply_error(rs, 404, msg);
            }
            rest = vr ? vr : "";
        }
        if (!*rest || !strcmp(rest, "/")) {
            if (!is_get(rq)) return method_not_allowed(rs, "GET");
            return model_metadata(m, rs);
        }
        if (!strcmp(rest, "/ready")) {
            if (!is_get(rq)) return method_not_allowed(rs, "GET");
            pthread_mutex_lock(&s->mu);
            int ready = !s->draining;
            pthread_mutex_unlock(&s->mu);
            return reply_json(rs, ready ? 200 : 503, json_pack("{s:s,s:b}", "name", m->name, "ready", ready));
        }
        if (!strcmp(rest, "/infer")) {
            if (strcmp(rq->method, "POST")) return method_not_allowed(rs, "POST");
            return infer(s, m, rq, rs);
        }
    }
    reply_error(rs, 404, "no such endpoint (KServe v2: /v2/health/live, /v2/health/ready, /v2/models/{m}[/ready|/infer], /metrics)");
}

/* ------------------------------------------------------------- lifetime */

cleave_status v2_server_create(cleave_ctx *ctx, const v2_server_opts *opts, v2_server **out) {
    *out = NULL;
    v2_server_opts o = opts ? *opts : (v2_server_opts){0};
    if (o.workers <= 0) o.workers = 2;
    if (o.workers > V2_MAX_WORKERS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "serve: at most %d workers", V2_MAX_WORKERS);
    if (o.threads <= 0) o.threads = 1;
    if (o.queue == 0) o.queue = 64;
    if (o.queue < 0) o.queue = 0;
    if (!o.max_body) o.max_body = (size_t)64 << 20;
    if (!o.max_decoded) o.max_decoded = o.max_body * 4;
    if (o.max_connections <= 0) o.max_connections = 256;
    if (o.plan_cache <= 0) o.plan_cache = 16;
    v2_server *s = cv_calloc(1, sizeof *s);
    if (!s) return cv_fail(ctx, CLEAVE_E_NOMEM, "serve: out of memory");
    s->ctx = ctx;
    s->o = o;
    if (o.bind_addr) snprintf(s->bind, sizeof s->bind, "%s", o.bind_addr);
    s->o.bind_addr = o.bind_addr ? s->bind : NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (int i = 0; i < o.workers; i++) {
        v2_worker *w = &s->workers[i];
        w->cache = cv_calloc((size_t)o.plan_cache, sizeof *w->cache);
        if (!w->cache || cleave_ctx_create(&w->ctx)) {
            v2_server_destroy(s);
            return cv_fail(ctx, CLEAVE_E_NOMEM, "serve: out of memory");
        }
        cleave_ctx_set_threads(w->ctx, o.threads);
        cleave_ctx_set_fast(w->ctx, !o.reference);
    }
    *out = s;
    return CLEAVE_OK;
}

cleave_status v2_server_start(v2_server *s) {
    if (!s->n_models) return cv_fail(s->ctx, CLEAVE_E_INVALID, "serve: no model to serve");
    net_http_server_opts ho = {.bind_addr = s->o.bind_addr, .port = s->o.port, .max_body = s->o.max_body,
                               .max_connections = s->o.max_connections};
    CV_TRY(net_http_server_create(s->ctx, &ho, &s->http));
    cleave_status st = net_http_server_add_handler(s->http, "/v2", route, s);
    if (!st) st = net_http_server_add_handler(s->http, "/metrics", route, s);
    /* probe sink for the edge client's bandwidth estimate (docs/serve.md) */
    if (!st) st = net_http_server_add_handler(s->http, "/cleave/linktest", net_http_linktest_handler, NULL);
    s->t_start = cv_now_ms();
    if (!st) st = net_http_server_start(s->http);
    if (st) {
        net_http_server_destroy(s->http);
        s->http = NULL;
    }
    return st;
}

int v2_server_port(const v2_server *s) { return s->http ? net_http_server_port(s->http) : 0; }

int v2_server_drain(v2_server *s, double timeout_ms) {
    double t_end = cv_now_ms() + timeout_ms;
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    pthread_cond_broadcast(&s->cv);
    int left = s->running + s->waiting;
    pthread_mutex_unlock(&s->mu);
    while (left > 0 && cv_now_ms() < t_end) {
        cv_sleep_ms(2);
        pthread_mutex_lock(&s->mu);
        left = s->running + s->waiting;
        pthread_mutex_unlock(&s->mu);
    }
    return left;
}

void v2_server_destroy(v2_server *s) {
    if (!s) return;
    net_http_server_destroy(s->http); /* waits for connection threads */
    for (int i = 0; i < V2_MAX_WORKERS; i++) {
        v2_worker *w = &s->workers[i];
        if (w->cache)
            for (int k = 0; k < s->o.plan_cache; k++) {
                rt_plan_destroy(w->cache[k].p);
                cv_free(w->cache[k].key);
            }
        cv_free(w->cache);
        cleave_ctx_destroy(w->ctx);
    }
    for (int i = 0; i < s->n_models; i++) {
        ir_graph_destroy(s->models[i].g);
        cv_free(s->models[i].ref);
        cv_free(s->models[i].path);
        pthread_mutex_destroy(&s->models[i].mu);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    cv_free(s);
}
