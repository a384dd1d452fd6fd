/* net/v2_server_infer: the infer path of the model server. A request's
 * tensors are decoded and checked against the model (names, datatypes,
 * shapes); the outputs computable from them alone are run by a sub-plan
 * from the worker's cache (compiled on a miss), and the reply carries the
 * server's timings; the model's counters are updated at the end. */
#define _GNU_SOURCE
#include "net/v2_server.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "net/http_server.h"
#include "net/v2.h"
#include "ir/extract.h"
#include "net/v2_server_internal.h"
#include "runtime/runtime.h"

/* ------------------------------------------------------------- inference */

typedef struct infer_times {
    double decode_ms, queue_ms, compile_ms, compute_ms, encode_ms;
    int compiled;
} infer_times;

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

void v2_server__infer(v2_server *s, v2_model *m, const net_http_request *rq, net_http_response *rs) {
    double t0 = cv_now_ms();
    infer_times tm = {0};
    cleave_ctx *pctx; /* for decoding: per request */
    if (cleave_ctx_create(&pctx)) {
        v2_server__reply_error(rs, 500, "out of memory");
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
            v2_server__reply_error(rs, 415, msg);
            goto out;
        }
        if (e != NET_ENC_IDENTITY) {
            cleave_status st = net_decompress(pctx, (net_encoding)e, body, blen, s->o.max_decoded, &dec);
            if (st) {
                snprintf(msg, sizeof msg, "%s body: %s", net_encoding_name((net_encoding)e), cleave_ctx_error(pctx));
                v2_server__reply_error(rs, st == CLEAVE_E_LIMIT ? 413 : 400, msg);
                goto out;
            }
            body = dec.data, blen = dec.len;
        }
    }
    if (net_v2_request_parse(pctx, body, blen, net_http_request_header(rq, "Inference-Header-Content-Length"),
                             &req)) {
        v2_server__reply_error(rs, 400, cleave_ctx_error(pctx));
        goto out;
    }
    have_req = 1;
    for (int k = 0; k < req.n_inputs; k++) {
        const net_v2_tensor *t = &req.inputs[k];
        int v = ir_graph_find_value(g, t->name);
        if (v < 0 || g->values[v].is_initializer) {
            snprintf(msg, sizeof msg, "model %s has no tensor named '%s'%s", m->name, t->name,
                     v >= 0 ? " that can be given (it is a weight)" : "");
            v2_server__reply_error(rs, 400, msg);
            goto out;
        }
        if (g->values[v].producer < 0 && !g->values[v].is_input) {
            snprintf(msg, sizeof msg,
                     "tensor '%s' is not in model %s's optimised graph (folded into a fused node); send that "
                     "node's output instead", t->name, m->name);
            v2_server__reply_error(rs, 400, msg);
            goto out;
        }
        for (int j = 0; j < k; j++)
            if (ids[j] == v) {
                snprintf(msg, sizeof msg, "input '%s' given twice", t->name);
                v2_server__reply_error(rs, 400, msg);
                goto out;
            }
        if (net_v2_tensor_decode(pctx, t, &in[k])) {
            v2_server__reply_error(rs, 400, cleave_ctx_error(pctx));
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
            v2_server__reply_error(rs, 400, msg);
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
            v2_server__reply_error(rs, 400, msg);
            goto out;
        }
    }
    avail = ir_graph_computable(g, ids, n_in);
    if (!avail) {
        v2_server__reply_error(rs, 500, "out of memory");
        goto out;
    }
    if (req.n_outputs) {
        for (int k = 0; k < req.n_outputs; k++) {
            int v = ir_graph_find_value(g, req.outputs[k].name);
            if (v < 0) {
                snprintf(msg, sizeof msg, "model %s has no output named '%s'", m->name, req.outputs[k].name);
                v2_server__reply_error(rs, 400, msg);
                goto out;
            }
            if (!avail[v]) {
                snprintf(msg, sizeof msg, "output '%s' of model %s cannot be computed from the given tensors",
                         req.outputs[k].name, m->name);
                v2_server__reply_error(rs, 400, msg);
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
            v2_server__reply_error(rs, 400, msg);
            goto out;
        }
    }
    tm.decode_ms = cv_now_ms() - t0;
    const char *why = NULL;
    w = v2_server__acquire_worker(s, &tm.queue_ms, &why);
    if (w < 0) {
        net_http_response_add_header(rs, "Retry-After", "1");
        v2_server__reply_error(rs, 503, why);
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
        v2_server__reply_error(rs, status_of(st), msg);
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
    v2_server__release_worker(s, w); /* outputs copied into the body */
    w = -1;
    if (st) {
        net_buf_free(&ob);
        v2_server__reply_error(rs, 500, cleave_ctx_error(pctx));
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
    if (w >= 0) v2_server__release_worker(s, w);
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
    while (b < V2_N_BUCKETS && dur > v2_server__bucket_le[b]) b++;
    c->bucket[b]++;
    c->dur_sum += dur;
    if (rs->status == 200) c->compute_sum += tm.compute_ms / 1e3, c->compute_n++;
    c->bytes_in += rq->body_len;
    c->bytes_out += rs->body_len;
    pthread_mutex_unlock(&s->mu);
}
