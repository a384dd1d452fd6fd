/* net/v2_server: the model server. A request names tensors of the model's
 * canonical graph (graph inputs, or any intermediate tensor a cut sends);
 * the outputs computable from them alone are computed by a sub-plan
 * compiled for that set of inputs and shapes (cached per worker), so the
 * server needs no per-cut deployment. This file: the server object's
 * lifetime, its worker pool and queue, replies and routing; the hosted
 * models and /metrics: v2_server_models.c; the infer path:
 * v2_server_infer.c. */
#define _GNU_SOURCE
#include "net/v2_server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_server.h"
#include "net/v2.h"
#include "net/v2_server_internal.h"
#include "runtime/runtime.h"

/* --------------------------------------------------------------- replies */

void v2_server__reply_error(net_http_response *r, int status, const char *msg) {
    size_t len;
    char *b = net_v2_error_json(msg, &len);
    r->status = status;
    cv_free(r->body);
    r->body = (uint8_t *)b;
    r->body_len = b ? len : 0;
    snprintf(r->content_type, sizeof r->content_type, "application/json");
}

void v2_server__reply_json(net_http_response *r, int status, json_t *o) {
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!t) {
        v2_server__reply_error(r, 500, "out of memory");
        return;
    }
    r->status = status;
    net_http_response_set_body(r, t, strlen(t));
    free(t);
}

/* --------------------------------------------------------------- workers */

int v2_server__acquire_worker(v2_server *s, double *wait_ms, const char **why) {
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

void v2_server__release_worker(v2_server *s, int w) {
    pthread_mutex_lock(&s->mu);
    s->workers[w].busy = 0;
    s->running--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* -------------------------------------------------------------- routing */

static int is_get(const net_http_request *rq) { return !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD"); }

static void method_not_allowed(net_http_response *rs, const char *allow) {
    net_http_response_add_header(rs, "Allow", allow);
    v2_server__reply_error(rs, 405, !strcmp(allow, "POST") ? "method not allowed here: use POST" : "method not allowed here: use GET");
}

static void route(void *user, const net_http_request *rq, net_http_response *rs) {
    v2_server *s = user;
    const char *p = rq->path;
    if (!strcmp(p, "/metrics")) {
        if (!is_get(rq)) return method_not_allowed(rs, "GET");
        return v2_server__metrics(s, rs);
    }
    if (!strcmp(p, "/v2/health/live")) {
        if (!is_get(rq)) return method_not_allowed(rs, "GET");
        return v2_server__reply_json(rs, 200, json_pack("{s:b}", "live", 1));
    }
    if (!strcmp(p, "/v2/health/ready")) {
        if (!is_get(rq)) return method_not_allowed(rs, "GET");
        pthread_mutex_lock(&s->mu);
        int ready = !s->draining && s->n_models > 0;
        pthread_mutex_unlock(&s->mu);
        return v2_server__reply_json(rs, ready ? 200 : 503, json_pack("{s:b}", "ready", ready));
    }
    if (!strcmp(p, "/v2") || !strcmp(p, "/v2/")) {
        if (!is_get(rq)) return method_not_allowed(rs, "GET");
        json_t *ext = json_array();
        json_array_append_new(ext, json_string("binary_tensor_data"));
        return v2_server__reply_json(rs, 200, json_pack("{s:s,s:s,s:o}", "name", "cleave", "version", "0.1", "extensions", ext));
    }
    if (!strncmp(p, "/v2/models/", 11)) {
        const char *name = p + 11, *rest = strchr(name, '/');
        size_t nl = rest ? (size_t)(rest - name) : strlen(name);
        v2_model *m = v2_server__find_model(s, name, nl);
        char msg[512];
        if (!m) {
            snprintf(msg, sizeof msg, "unknown model '%.*s'", (int)(nl < 200 ? nl : 200), name);
            return v2_server__reply_error(rs, 404, msg);
        }
        if (!rest) rest = "";
        if (!strncmp(rest, "/versions/", 10)) {
            const char *v = rest + 10, *vr = strchr(v, '/');
            size_t vl = vr ? (size_t)(vr - v) : strlen(v);
            if (vl != strlen(m->version) || strncmp(v, m->version, vl)) {
                snprintf(msg, sizeof msg, "model %s has no version '%.*s' (hosted: %s)", m->name,
                         (int)(vl < 64 ? vl : 64), v, m->version);
                return v2_server__reply_error(rs, 404, msg);
            }
            rest = vr ? vr : "";
        }
        if (!*rest || !strcmp(rest, "/")) {
            if (!is_get(rq)) return method_not_allowed(rs, "GET");
            return v2_server__model_metadata(m, rs);
        }
        if (!strcmp(rest, "/ready")) {
            if (!is_get(rq)) return method_not_allowed(rs, "GET");
            pthread_mutex_lock(&s->mu);
            int ready = !s->draining;
            pthread_mutex_unlock(&s->mu);
            return v2_server__reply_json(rs, ready ? 200 : 503, json_pack("{s:s,s:b}", "name", m->name, "ready", ready));
        }
        if (!strcmp(rest, "/infer")) {
            if (strcmp(rq->method, "POST")) return method_not_allowed(rs, "POST");
            return v2_server__infer(s, m, rq, rs);
        }
    }
    v2_server__reply_error(rs, 404, "no such endpoint (KServe v2: /v2/health/live, /v2/health/ready, /v2/models/{m}[/ready|/infer], /metrics)");
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
                               .max_connections = s->o.max_connections, .tcp_cc = s->o.tcp_cc};
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
