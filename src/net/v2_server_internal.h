/* net/v2_server (private): the server's state and the functions that
 * v2_server.c (lifetime, worker pool, replies, routing), v2_server_models.c
 * (hosted models, metadata, /metrics) and v2_server_infer.c (the infer path)
 * share. Not part of the public API (net/v2_server.h); names carry a
 * v2_server__ prefix. */
#ifndef CLEAVE_NET_V2_SERVER_INTERNAL_H
#define CLEAVE_NET_V2_SERVER_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http_server.h"
#include "net/v2.h"
#include "net/v2_server.h"
#include "runtime/runtime.h"

#define V2_MAX_MODELS 32
#define V2_MAX_WORKERS 64
#define V2_N_BUCKETS 14

/* Upper bounds of the request-duration histogram, in seconds (defined in
 * v2_server_models.c). */
extern const double v2_server__bucket_le[V2_N_BUCKETS];

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

/* v2_server.c: replies */
void v2_server__reply_error(net_http_response *r, int status, const char *msg);
/* o (stolen) as the JSON body; 500 when o is NULL */
void v2_server__reply_json(net_http_response *r, int status, json_t *o);

/* v2_server.c: the worker pool. A free worker's index (-1 with *why when
 * draining or the queue is full); *wait_ms is the time spent queued. */
int v2_server__acquire_worker(v2_server *s, double *wait_ms, const char **why);
void v2_server__release_worker(v2_server *s, int w);

/* v2_server_models.c */
v2_model *v2_server__find_model(v2_server *s, const char *name, size_t len);
void v2_server__model_metadata(v2_model *m, net_http_response *r);
void v2_server__metrics(v2_server *s, net_http_response *r);

/* v2_server_infer.c: POST /v2/models/{m}/infer */
void v2_server__infer(v2_server *s, v2_model *m, const net_http_request *rq, net_http_response *rs);

#endif
