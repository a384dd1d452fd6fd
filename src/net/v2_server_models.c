/* net/v2_server_models: the models a server hosts: loading one ONNX file
 * (optimised, with the reference shape of every value) or every model of a
 * Triton-layout repository, lookup by name, the model metadata reply, and
 * the per-model counters exported as Prometheus text on /metrics. */
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
#include "net/v2_server_internal.h"
#include "onnx/onnx.h"
#include "runtime/optimize.h"
#include "runtime/runtime.h"

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

v2_model *v2_server__find_model(v2_server *s, const char *name, size_t len) {
    for (int i = 0; i < s->n_models; i++)
        if (strlen(s->models[i].name) == len && !strncmp(s->models[i].name, name, len)) return &s->models[i];
    return NULL;
}

/* -------------------------------------------------------------- metadata */

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

void v2_server__model_metadata(v2_model *m, net_http_response *r) {
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
    v2_server__reply_json(r, 200, json_pack("{s:s,s:o,s:s,s:o,s:o}", "name", m->name, "versions", vers, "platform",
                                            "cleave_onnx", "inputs", ins, "outputs", outs));
}

/* --------------------------------------------------------------- metrics */

const double v2_server__bucket_le[V2_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,    1,     2.5,  5,    10,  30};

void v2_server__metrics(v2_server *s, net_http_response *r) {
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
                     v2_server__bucket_le[k], (unsigned long long)cum);
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
