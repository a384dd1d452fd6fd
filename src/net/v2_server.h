/* net/v2_server: cleave's model server, speaking the KServe v2 / Open
 * Inference Protocol over HTTP (docs/serve.md, wire format docs/wire.md).
 * It hosts whole models (a Triton-layout repository or single files) and
 * runs, per request, the part of the model downstream of whatever tensors
 * the request carries, so one deployment serves every cut of every plan.
 * Requests run on a bounded pool of workers (each with its own engine
 * context and its own cache of compiled sub-plans); beyond the workers at
 * most `queue` requests wait, later ones get 503. Bodies over the limit get
 * 413, errors come back as {"error": "..."}; /metrics is Prometheus text. */
#ifndef CLEAVE_NET_V2_SERVER_H
#define CLEAVE_NET_V2_SERVER_H

#include <stddef.h>

#include "base/base.h"

typedef struct v2_server v2_server;

typedef struct v2_server_opts {
    const char *bind_addr;  /* IPv4 address; NULL = all */
    int port;               /* 0 = ephemeral */
    int workers;            /* inferences at once; 0 = 2 */
    int threads;            /* engine threads per inference; 0 = 1 */
    int queue;              /* requests that may wait for a worker; 0 = 64, -1 = none */
    size_t max_body;        /* request body as received; 0 = 64 MiB */
    size_t max_decoded;     /* body after decompression; 0 = 4 x max_body */
    int max_connections;    /* 0 = 256 */
    int reference;          /* 1 = reference kernels only */
    int plan_cache;         /* compiled sub-plans kept per worker; 0 = 16 */
    const char *tcp_cc;     /* TCP congestion control of connections; NULL = the system's */
} v2_server_opts;

cleave_status v2_server_create(cleave_ctx *ctx, const v2_server_opts *opts, v2_server **out);
/* Host the ONNX file at path as model name, version (NULL = "1"). */
cleave_status v2_server_add_model(v2_server *s, const char *name, const char *version,
                                  const char *path);
/* Host every model of a Triton-layout repository: dir/<model>/<version>/model.onnx
 * (the highest numeric version of each model; config.pbtxt is not read). */
cleave_status v2_server_add_repository(v2_server *s, const char *dir);
int v2_server_n_models(const v2_server *s);
cleave_status v2_server_start(v2_server *s);
int v2_server_port(const v2_server *s);
/* Stop accepting inferences (they get 503, /v2/health/ready says not
 * ready) and wait up to timeout_ms for those accepted to finish. Returns
 * how many were still running. */
int v2_server_drain(v2_server *s, double timeout_ms);
void v2_server_destroy(v2_server *s);

#endif
