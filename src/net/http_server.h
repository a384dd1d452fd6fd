/* net/http_server: a small HTTP server object on libmicrohttpd. Handlers
 * are registered by path prefix (longest wins); a request reaches its
 * handler with the whole body in memory, bounded by max_body (413 beyond:
 * a body up to 4x the cap is read and dropped first so the client sees the
 * answer; a larger Content-Length is refused at once). One thread per
 * connection, so a handler may block (sleep, run a model) without stalling
 * other clients. Also the link-test sink used by `cleave link`. */
#ifndef CLEAVE_NET_HTTP_SERVER_H
#define CLEAVE_NET_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define NET_HTTP_MAX_HANDLERS 32
#define NET_HTTP_MAX_RESP_HEADERS 8
#define NET_HTTP_DEFAULT_MAX_BODY ((size_t)64 << 20)

typedef struct net_http_server net_http_server;

/* What a handler sees. Valid only during the handler call. */
typedef struct net_http_request {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* URL path (no query string) */
    const uint8_t *body;  /* whole body (NULL when empty); not NUL-terminated */
    size_t body_len;
    double t_headers_ms;  /* cv_now_ms() when the request headers were parsed */
    double t_body_ms;     /* cv_now_ms() when the last body byte was read */
    void *impl_;          /* the libmicrohttpd connection */
} net_http_request;

/* Request header / query argument by name (case-insensitive for headers);
 * NULL when absent. */
const char *net_http_request_header(const net_http_request *r, const char *name);
const char *net_http_request_query(const net_http_request *r, const char *key);

/* What a handler fills. status defaults to 200, content type to
 * application/json, body to empty. */
typedef struct net_http_response {
    int status;
    char content_type[64];
    uint8_t *body; /* cv_malloc'd; the server frees it */
    size_t body_len;
    int n_headers;
    char header_name[NET_HTTP_MAX_RESP_HEADERS][64];
    char header_value[NET_HTTP_MAX_RESP_HEADERS][256];
} net_http_response;

/* Replace the body with a copy of data / a formatted string. 0 on success,
 * -1 when out of memory (the status is then set to 500). */
int net_http_response_set_body(net_http_response *r, const void *data, size_t len);
int net_http_response_printf(net_http_response *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Add a header; -1 when the table is full or a field is too long. */
int net_http_response_add_header(net_http_response *r, const char *name, const char *value);

/* Called from connection threads, possibly concurrently: use no shared
 * cleave_ctx inside; report failures through resp->status and body. */
typedef void (*net_http_handler_fn)(void *user, const net_http_request *req,
                                    net_http_response *resp);

typedef struct net_http_server_opts {
    const char *bind_addr; /* IPv4 address to listen on; NULL = all */
    int port;              /* 0 = ephemeral (see net_http_server_port) */
    size_t max_body;       /* 0 = NET_HTTP_DEFAULT_MAX_BODY */
    int max_connections;   /* 0 = 64 */
    int timeout_s;         /* idle connection timeout; 0 = 60 */
    const char *tcp_cc;    /* TCP congestion control of the accepted connections
                            * (set on the listening socket); NULL = the system's */
} net_http_server_opts;

/* Create (not yet listening). ctx receives errors of create/add/start and
 * must outlive the server. */
cleave_status net_http_server_create(cleave_ctx *ctx, const net_http_server_opts *opts,
                                     net_http_server **out);
/* Route requests whose path starts with prefix to fn. Before start only. */
cleave_status net_http_server_add_handler(net_http_server *s, const char *prefix,
                                          net_http_handler_fn fn, void *user);
/* Bind, listen and start serving in background threads. */
cleave_status net_http_server_start(net_http_server *s);
/* The port actually bound (after start); 0 before. */
int net_http_server_port(const net_http_server *s);
/* Stop (waits for connection threads) and free. NULL is fine. */
void net_http_server_destroy(net_http_server *s);

/* Link-test sink: consumes the body, sleeps the query argument delay_ms
 * (0..10000; emulates the server's half of an RTT) and replies
 * {"bytes": N, "recv_ms": body read time, "server_ms": time in handler}. */
void net_http_linktest_handler(void *user, const net_http_request *req, net_http_response *resp);

#endif
