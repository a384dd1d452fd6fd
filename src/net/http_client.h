/* net/http_client: a libcurl client object holding one easy handle, so
 * consecutive requests to the same host reuse one kept-alive connection.
 * POST a buffer (never copied) or GET; status, body (bounded) and libcurl's
 * timing breakdown come back. Optional application-level RTT emulation
 * (links shaped with tbf have bandwidth but no delay here: no netem). */
#ifndef CLEAVE_NET_HTTP_CLIENT_H
#define CLEAVE_NET_HTTP_CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct net_http_client net_http_client;

typedef struct net_http_client_opts {
    /* Emulated round trip, ms. Each request sleeps rtt/2 before it is sent
     * (its bytes reach the server rtt/2 later, as over a link with one-way
     * delay rtt/2: the last byte arrives at rtt/2 + serialisation time) and
     * rtt/2 after the reply is read (the reply's trip back). One request on
     * a warm connection thus pays one RTT, as it would on a real path once
     * the TCP window covers the bandwidth-delay product (see docs/link.md
     * for what this does not emulate: slow start). */
    double rtt_ms;
    long timeout_ms;         /* whole request; 0 = 300000 */
    long connect_timeout_ms; /* 0 = 5000 */
    size_t max_response;     /* response body cap; 0 = 64 MB */
    /* Non-NULL: a transfer in progress (or an RTT sleep) stops with an
     * error soon after *abort_flag becomes non-zero (a signal handler's flag). */
    const volatile sig_atomic_t *abort_flag;
    /* TCP congestion control for the client's sockets ("cubic", "bbr");
     * NULL/"" = the system default. Names outside
     * net.ipv4.tcp_allowed_congestion_control need CAP_NET_ADMIN. */
    const char *tcp_cc;
} net_http_client_opts;

typedef struct net_http_timing {
    double total_ms;          /* wall time of the call, emulated RTT included */
    double rtt_sleep_ms;      /* emulated RTT actually slept */
    double curl_total_ms;     /* libcurl: start to end of transfer (CURLINFO_TOTAL_TIME_T) */
    double connect_ms;        /* libcurl: TCP connect done (0 on a reused connection) */
    double pretransfer_ms;    /* libcurl: about to send the request */
    double starttransfer_ms;  /* libcurl: first response byte */
    long request_header_bytes; /* request line + headers sent (CURLINFO_REQUEST_SIZE) */
    double upload_bytes;      /* body bytes sent */
    int new_connection;       /* 1 when this request had to connect */
} net_http_timing;

typedef struct net_http_result {
    long status;    /* HTTP status */
    uint8_t *body;  /* cv_malloc'd, NUL-terminated (not counted in body_len) */
    size_t body_len;
    /* the response's Inference-Header-Content-Length ("" when absent) */
    char infer_header_len[32];
    net_http_timing t;
} net_http_result;

/* ctx receives errors ("POST http://...: Couldn't connect to server"); the
 * client is single-threaded (one per thread). */
cleave_status net_http_client_create(cleave_ctx *ctx, const net_http_client_opts *opts,
                                     net_http_client **out);
void net_http_client_set_rtt(net_http_client *c, double rtt_ms);
/* Whole-request timeout for the following requests (0 = 300000 ms). */
void net_http_client_set_timeout(net_http_client *c, long timeout_ms);
/* POST len bytes of data (content_type NULL = application/octet-stream).
 * Any HTTP status is CLEAVE_OK (check res->status); transport failures,
 * timeouts, aborts and oversize responses are CLEAVE_E_IO / _LIMIT.
 * res is zeroed first; free it with net_http_result_free. */
cleave_status net_http_client_post(net_http_client *c, const char *url, const char *content_type,
                                   const void *data, size_t len, net_http_result *res);
/* The same with extra request headers ("Name: value" lines). */
cleave_status net_http_client_post_h(net_http_client *c, const char *url, const char *content_type,
                                     const char *const *headers, int n_headers, const void *data,
                                     size_t len, net_http_result *res);
cleave_status net_http_client_get(net_http_client *c, const char *url, net_http_result *res);
void net_http_result_free(net_http_result *r);
void net_http_client_destroy(net_http_client *c);

#endif
