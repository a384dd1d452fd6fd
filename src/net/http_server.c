/* net/http_server: libmicrohttpd glue. Each connection gets a request state
 * (body buffer bounded by max_body) on the first callback; the body arrives
 * in pieces; the handler runs once the request is complete. Thread per
 * connection: handlers block freely (the link sink sleeps, a model server
 * runs inference) and edge clients are few, so one thread each is cheap. */
#define _GNU_SOURCE
#include "net/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#define NET_HTTP_CONN_MEMORY (128 << 10)

struct net_http_server {
    cleave_ctx *ctx;
    net_http_server_opts o;
    uint32_t bind_s_addr; /* network order; INADDR_ANY when no bind_addr */
    char tcp_cc[16];      /* "" = the system's congestion control */
    struct MHD_Daemon *d;
    int port;
    int n_handlers;
    struct {
        char prefix[128];
        net_http_handler_fn fn;
        void *user;
    } h[NET_HTTP_MAX_HANDLERS];
};

/* Per-request state, owned by libmicrohttpd's connection (con_cls). */
typedef struct req_state {
    uint8_t *body;
    size_t len, cap;
    int too_large;
    double t_headers, t_body;
} req_state;

const char *net_http_request_header(const net_http_request *r, const char *name) {
    return MHD_lookup_connection_value((struct MHD_Connection *)r->impl_, MHD_HEADER_KIND, name);
}

const char *net_http_request_query(const net_http_request *r, const char *key) {
    return MHD_lookup_connection_value((struct MHD_Connection *)r->impl_, MHD_GET_ARGUMENT_KIND,
                                       key);
}

int net_http_response_set_body(net_http_response *r, const void *data, size_t len) {
    uint8_t *b = cv_malloc(len ? len : 1);
    if (!b) {
        r->status = 500;
        return -1;
    }
    if (len) memcpy(b, data, len);
    cv_free(r->body);
    r->body = b;
    r->body_len = len;
    return 0;
}

int net_http_response_printf(net_http_response *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    char *b = cv_malloc((size_t)n + 1);
    if (!b) {
        r->status = 500;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cv_free(r->body);
    r->body = (uint8_t *)b;
    r->body_len = (size_t)n;
    return 0;
}

int net_http_response_add_header(net_http_response *r, const char *name, const char *value) {
    if (r->n_headers >= NET_HTTP_MAX_RESP_HEADERS || strlen(name) >= sizeof r->header_name[0] ||
        strlen(value) >= sizeof r->header_value[0])
        return -1;
    strcpy(r->header_name[r->n_headers], name);
    strcpy(r->header_value[r->n_headers], value);
    r->n_headers++;
    return 0;
}

static void free_body(void *p) { cv_free(p); }

/* Queue resp on c (takes the body); MHD_NO when libmicrohttpd refuses. */
static enum MHD_Result send_response(struct MHD_Connection *c, net_http_response *r) {
    struct MHD_Response *m;
    if (r->body && r->body_len) {
        m = MHD_create_response_from_buffer_with_free_callback(r->body_len, r->body, free_body);
        if (!m) cv_free(r->body);
    } else {
        cv_free(r->body);
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    r->body = NULL;
    if (!m) return MHD_NO;
    MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type[0] ? r->content_type : "application/json");
    for (int i = 0; i < r->n_headers; i++)
        MHD_add_response_header(m, r->header_name[i], r->header_value[i]);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, m);
    MHD_destroy_response(m);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *msg) {
    net_http_response r = {.status = status};
    net_http_response_printf(&r, "{\"error\": \"%s\"}", msg);
    r.status = status;
    return send_response(c, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    net_http_server *s = cls;
    req_state *st = *con_cls;
    if (!st) { /* headers parsed, no body read yet */
        st = cv_calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->t_headers = cv_now_ms();
        *con_cls = st;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *e;
            errno = 0;
            unsigned long long n = strtoull(cl, &e, 10);
            if (errno || *e || e == cl || n > s->o.max_body) {
                st->too_large = 1;
                /* Up to 4x the cap the body is read and dropped, then 413:
                 * answering first and closing would reset the connection
                 * under a client still sending, which then may never see
                 * the 413. Beyond that, refuse at once and close. */
                if (n / 4 < s->o.max_body && !errno && !*e && e != cl) return MHD_YES;
                return send_error(c, 413, "request body larger than the server's limit");
            }
            if (n) {
                st->body = cv_malloc((size_t)n);
                if (!st->body) return send_error(c, 500, "out of memory");
                st->cap = (size_t)n;
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large) return MHD_YES;
        if (n > s->o.max_body - st->len) { /* chunked body past the cap: drop the rest */
            st->too_large = 1;
            cv_free(st->body);
            st->body = NULL;
            st->len = st->cap = 0;
            return MHD_YES;
        }
        if (st->len + n > st->cap) {
            size_t cap = st->cap ? st->cap : 65536;
            while (cap < st->len + n) cap = cap > s->o.max_body / 2 ? s->o.max_body : cap * 2;
            uint8_t *b = cv_realloc(st->body, cap);
            if (!b) return MHD_NO;
            st->body = b;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }
    st->t_body = cv_now_ms();
    if (st->too_large) return send_error(c, 413, "request body larger than the server's limit");
    int best = -1;
    size_t best_len = 0;
    for (int i = 0; i < s->n_handlers; i++) {
        size_t pl = strlen(s->h[i].prefix);
        if (!strncmp(url, s->h[i].prefix, pl) && (best < 0 || pl > best_len)) best = i, best_len = pl;
    }
    if (best < 0) return send_error(c, 404, "no handler for this path");
    net_http_request rq = {.method = method, .path = url, .body = st->body, .body_len = st->len,
                           .t_headers_ms = st->t_headers, .t_body_ms = st->t_body, .impl_ = c};
    net_http_response rs = {.status = 200};
    s->h[best].fn(s->h[best].user, &rq, &rs);
    if (rs.status < 100 || rs.status > 599) rs.status = 500;
    return send_response(c, &rs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    req_state *st = *con_cls;
    if (st) {
        cv_free(st->body);
        cv_free(st);
        *con_cls = NULL;
    }
}

cleave_status net_http_server_create(cleave_ctx *ctx, const net_http_server_opts *opts,
                                     net_http_server **out) {
    *out = NULL;
    net_http_server_opts o = opts ? *opts : (net_http_server_opts){0};
    if (o.port < 0 || o.port > 65535)
        return cv_fail(ctx, CLEAVE_E_INVALID, "http server: port %d out of range 0..65535", o.port);
    if (!o.max_body) o.max_body = NET_HTTP_DEFAULT_MAX_BODY;
    if (o.max_connections <= 0) o.max_connections = 64;
    if (o.timeout_s <= 0) o.timeout_s = 60;
    net_http_server *s = cv_calloc(1, sizeof *s);
    if (!s) return cv_fail(ctx, CLEAVE_E_NOMEM, "http server: out of memory");
    s->ctx = ctx;
    s->o = o;
    s->o.bind_addr = NULL; /* not kept: the caller's string may not outlive us */
    s->o.tcp_cc = NULL;
    if (o.tcp_cc) {
        if (strlen(o.tcp_cc) >= sizeof s->tcp_cc) {
            cv_free(s);
            return cv_fail(ctx, CLEAVE_E_INVALID, "http server: TCP congestion control name '%s' too long", o.tcp_cc);
        }
        strcpy(s->tcp_cc, o.tcp_cc);
    }
    s->bind_s_addr = htonl(INADDR_ANY);
    if (o.bind_addr) {
        struct in_addr a;
        if (inet_pton(AF_INET, o.bind_addr, &a) != 1) {
            cv_free(s);
            return cv_fail(ctx, CLEAVE_E_INVALID, "http server: bind address '%s' is not IPv4",
                           o.bind_addr);
        }
        s->bind_s_addr = a.s_addr;
    }
    *out = s;
    return CLEAVE_OK;
}

cleave_status net_http_server_add_handler(net_http_server *s, const char *prefix,
                                          net_http_handler_fn fn, void *user) {
    if (s->d) return cv_fail(s->ctx, CLEAVE_E_INVALID, "http server: handler '%s' added after start", prefix);
    if (s->n_handlers >= NET_HTTP_MAX_HANDLERS)
        return cv_fail(s->ctx, CLEAVE_E_LIMIT, "http server: more than %d handlers", NET_HTTP_MAX_HANDLERS);
    if (!prefix || prefix[0] != '/' || strlen(prefix) >= sizeof s->h[0].prefix || !fn)
        return cv_fail(s->ctx, CLEAVE_E_INVALID, "http server: bad handler prefix '%s'",
                       prefix ? prefix : "(null)");
    strcpy(s->h[s->n_handlers].prefix, prefix);
    s->h[s->n_handlers].fn = fn;
    s->h[s->n_handlers].user = user;
    s->n_handlers++;
    return CLEAVE_OK;
}

cleave_status net_http_server_start(net_http_server *s) {
    if (s->d) return CLEAVE_OK;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->o.port);
    sa.sin_addr.s_addr = s->bind_s_addr;
    s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                            (uint16_t)s->o.port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout_s,
                            /* per-connection memory: with the default 32 KiB
                             * libmicrohttpd reads a body 16 KiB at a time (37
                             * recv calls and copies for resnet18's 600 KB
                             * input); 128 KiB lets it read the 64 KiB loopback
                             * delivers at once (that body is read in 0.16 ms
                             * instead of 0.27, headers to last byte). Touched
                             * only by connections that receive large bodies. */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)NET_HTTP_CONN_MEMORY,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_END);
    if (!s->d) {
        char ip[INET_ADDRSTRLEN] = "0.0.0.0";
        inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
        return cv_fail(s->ctx, CLEAVE_E_IO, "http server: cannot listen on %s:%d (in use or not permitted)",
                       ip, s->o.port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->o.port;
    if (s->tcp_cc[0]) {
        /* accepted sockets inherit a congestion control set on the listener */
        const union MHD_DaemonInfo *lf = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
        if (!lf || setsockopt(lf->listen_fd, IPPROTO_TCP, TCP_CONGESTION, s->tcp_cc, (socklen_t)strlen(s->tcp_cc))) {
            int e = errno;
            MHD_stop_daemon(s->d);
            s->d = NULL;
            return cv_fail(s->ctx, CLEAVE_E_IO, "http server: TCP congestion control '%s': %s", s->tcp_cc,
                           lf ? strerror(e) : "no listening socket");
        }
    }
    return CLEAVE_OK;
}

int net_http_server_port(const net_http_server *s) { return s ? s->port : 0; }

void net_http_server_destroy(net_http_server *s) {
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d);
    cv_free(s);
}

void net_http_linktest_handler(void *user, const net_http_request *req, net_http_response *resp) {
    double t0 = cv_now_ms();
    const char *d = net_http_request_query(req, "delay_ms");
    double delay = d ? strtod(d, NULL) : 0;
    if (!(delay >= 0 && delay <= 10000)) {
        resp->status = 400;
        net_http_response_printf(resp, "{\"error\": \"delay_ms must be in 0..10000\"}");
        return;
    }
    cv_sleep_ms(delay);
    net_http_response_printf(resp, "{\"bytes\": %zu, \"recv_ms\": %.3f, \"server_ms\": %.3f}",
                             req->body_len, req->t_body_ms - req->t_headers_ms, cv_now_ms() - t0);
}
