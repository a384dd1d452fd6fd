/* net/http_client: libcurl easy-handle wrapper. One handle per client keeps
 * its connection alive between requests; "Expect:" is cleared so large
 * POSTs do not wait for "100 Continue" (an extra round trip). */
#define _GNU_SOURCE
#include "net/http_client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

struct net_http_client {
    cleave_ctx *ctx;
    net_http_client_opts o;
    char tcp_cc[16];
    int cc_errno; /* setsockopt(TCP_CONGESTION) failure of the last connect */
    CURL *h;
    struct curl_slist *hdr_post; /* for the current POST's content type */
    char errbuf[CURL_ERROR_SIZE];
    /* response being received */
    uint8_t *buf;
    size_t len, cap;
    int too_big;
    char infer_hlen[32]; /* Inference-Header-Content-Length of the response being received */
};

/* Response headers: keep Inference-Header-Content-Length (KServe v2
 * binary-data extension). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *user) {
    net_http_client *c = user;
    size_t n = size * nmemb;
    static const char k[] = "inference-header-content-length:";
    size_t kl = sizeof k - 1;
    if (n > kl && !strncasecmp(p, k, kl)) {
        size_t i = kl, o = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
        while (i < n && p[i] >= '0' && p[i] <= '9' && o + 1 < sizeof c->infer_hlen) c->infer_hlen[o++] = p[i++];
        c->infer_hlen[o] = 0;
    }
    return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *user) {
    net_http_client *c = user;
    size_t n = size * nmemb;
    if (n > c->o.max_response - c->len) {
        c->too_big = 1;
        return 0; /* makes libcurl fail with CURLE_WRITE_ERROR */
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n + 1) cap *= 2;
        uint8_t *b = cv_realloc(c->buf, cap);
        if (!b) return 0;
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    return n;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    net_http_client *c = user;
    return c->o.abort_flag && *c->o.abort_flag ? 1 : 0;
}

static int on_sockopt(void *user, curl_socket_t fd, curlsocktype purpose) {
    net_http_client *c = user;
    if (purpose != CURLSOCKTYPE_IPCXN || !c->tcp_cc[0]) return CURL_SOCKOPT_OK;
    if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, c->tcp_cc, (socklen_t)strlen(c->tcp_cc))) {
        c->cc_errno = errno;
        return CURL_SOCKOPT_ERROR;
    }
    return CURL_SOCKOPT_OK;
}

/* Sleep ms on the monotonic clock; returns the ms actually slept. Stops
 * early when the abort flag is raised. */
static double sleep_ms(const net_http_client *c, double ms) {
    if (ms <= 0) return 0;
    double t0 = cv_now_ms();
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long ns = (long long)end.tv_nsec + (long long)(ms * 1e6);
    end.tv_sec += (time_t)(ns / 1000000000LL);
    end.tv_nsec = (long)(ns % 1000000000LL);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR)
        if (c->o.abort_flag && *c->o.abort_flag) break;
    return cv_now_ms() - t0;
}

cleave_status net_http_client_create(cleave_ctx *ctx, const net_http_client_opts *opts,
                                     net_http_client **out) {
    *out = NULL;
    net_http_client_opts o = opts ? *opts : (net_http_client_opts){0};
    if (o.timeout_ms <= 0) o.timeout_ms = 300000;
    if (o.connect_timeout_ms <= 0) o.connect_timeout_ms = 5000;
    if (!o.max_response) o.max_response = (size_t)64 << 20;
    if (!(o.rtt_ms >= 0 && o.rtt_ms <= 60000))
        return cv_fail(ctx, CLEAVE_E_INVALID, "http client: emulated RTT %g ms out of 0..60000", o.rtt_ms);
    /* Reference-counted by libcurl; thread-safe since 7.84. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT))
        return cv_fail(ctx, CLEAVE_E_INTERNAL, "http client: curl_global_init failed");
    net_http_client *c = cv_calloc(1, sizeof *c);
    if (!c) {
        curl_global_cleanup();
        return cv_fail(ctx, CLEAVE_E_NOMEM, "http client: out of memory");
    }
    c->ctx = ctx;
    c->o = o;
    if (o.tcp_cc) {
        if (strlen(o.tcp_cc) >= sizeof c->tcp_cc) {
            net_http_client_destroy(c);
            return cv_fail(ctx, CLEAVE_E_INVALID, "http client: TCP congestion control name '%s' too long",
                           o.tcp_cc);
        }
        strcpy(c->tcp_cc, o.tcp_cc);
    }
    c->o.tcp_cc = NULL; /* the copy above is used */
    c->h = curl_easy_init();
    if (!c->h) {
        net_http_client_destroy(c);
        return cv_fail(ctx, CLEAVE_E_INTERNAL, "http client: curl_easy_init failed");
    }
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    *out = c;
    return CLEAVE_OK;
}

void net_http_client_set_rtt(net_http_client *c, double rtt_ms) {
    c->o.rtt_ms = rtt_ms >= 0 && rtt_ms <= 60000 ? rtt_ms : 0;
}

void net_http_client_set_timeout(net_http_client *c, long timeout_ms) {
    if (timeout_ms <= 0) timeout_ms = 300000;
    c->o.timeout_ms = timeout_ms;
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms);
}

static double info_ms(CURL *h, CURLINFO what) {
    curl_off_t us = 0;
    curl_easy_getinfo(h, what, &us);
    return (double)us / 1e3;
}

static cleave_status perform(net_http_client *c, const char *method, const char *url,
                             net_http_result *res) {
    c->len = 0;
    c->too_big = 0;
    c->infer_hlen[0] = 0;
    c->errbuf[0] = 0;
    double t0 = cv_now_ms();
    res->t.rtt_sleep_ms = sleep_ms(c, c->o.rtt_ms / 2); /* the request's trip out */
    CURLcode rc = curl_easy_perform(c->h);
    if (rc == CURLE_OK) res->t.rtt_sleep_ms += sleep_ms(c, c->o.rtt_ms / 2); /* the reply's trip back */
    res->t.total_ms = cv_now_ms() - t0;
    long early = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &early);
    /* A server refusing a body (413) may close while we still send: the
     * answer already read is the result, not the send failure. */
    if (rc == CURLE_SEND_ERROR && early >= 400) rc = CURLE_OK;
    if (rc != CURLE_OK) {
        if (c->too_big)
            return cv_fail(c->ctx, CLEAVE_E_LIMIT, "%s %s: response larger than %zu bytes", method,
                           url, c->o.max_response);
        if (c->cc_errno) {
            int e = c->cc_errno;
            c->cc_errno = 0;
            return cv_fail(c->ctx, CLEAVE_E_IO, "%s %s: cannot use TCP congestion control '%s': %s",
                           method, url, c->tcp_cc, strerror(e));
        }
        if (rc == CURLE_ABORTED_BY_CALLBACK)
            return cv_fail(c->ctx, CLEAVE_E_IO, "%s %s: interrupted", method, url);
        return cv_fail(c->ctx, CLEAVE_E_IO, "%s %s: %s", method, url,
                       c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    }
    CURL *h = c->h;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    res->t.curl_total_ms = info_ms(h, CURLINFO_TOTAL_TIME_T);
    res->t.connect_ms = info_ms(h, CURLINFO_CONNECT_TIME_T);
    res->t.pretransfer_ms = info_ms(h, CURLINFO_PRETRANSFER_TIME_T);
    res->t.starttransfer_ms = info_ms(h, CURLINFO_STARTTRANSFER_TIME_T);
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &res->t.request_header_bytes);
    curl_off_t up = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
    res->t.upload_bytes = (double)up;
    /* libcurl counts a small body sent with the headers in one write as
     * part of the request size: take it out again */
    if (up > 0 && res->t.request_header_bytes > (long)up) res->t.request_header_bytes -= (long)up;
    long nconn = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
    res->t.new_connection = nconn > 0;
    /* hand the buffer over, NUL-terminated */
    uint8_t *b = cv_malloc(c->len + 1);
    if (!b) return cv_fail(c->ctx, CLEAVE_E_NOMEM, "%s %s: out of memory", method, url);
    if (c->len) memcpy(b, c->buf, c->len);
    b[c->len] = 0;
    res->body = b;
    res->body_len = c->len;
    memcpy(res->infer_header_len, c->infer_hlen, sizeof res->infer_header_len);
    return CLEAVE_OK;
}

cleave_status net_http_client_post(net_http_client *c, const char *url, const char *content_type,
                                   const void *data, size_t len, net_http_result *res) {
    return net_http_client_post_h(c, url, content_type, NULL, 0, data, len, res);
}

cleave_status net_http_client_post_h(net_http_client *c, const char *url, const char *content_type,
                                     const char *const *headers, int n_headers, const void *data,
                                     size_t len, net_http_result *res) {
    memset(res, 0, sizeof *res);
    char ct[160];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/octet-stream");
    curl_slist_free_all(c->hdr_post);
    c->hdr_post = NULL;
    struct curl_slist *l = curl_slist_append(NULL, ct);
    l = l ? curl_slist_append(l, "Expect:") : NULL;
    for (int i = 0; i < n_headers && l; i++) {
        struct curl_slist *n = curl_slist_append(l, headers[i]);
        if (!n) curl_slist_free_all(l);
        l = n;
    }
    if (!l) return cv_fail(c->ctx, CLEAVE_E_NOMEM, "POST %s: out of memory", url);
    c->hdr_post = l;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_POST, 1L);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, len ? data : "");
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdr_post);
    return perform(c, "POST", url, res);
}

cleave_status net_http_client_get(net_http_client *c, const char *url, net_http_result *res) {
    memset(res, 0, sizeof *res);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
    return perform(c, "GET", url, res);
}

void net_http_result_free(net_http_result *r) {
    if (!r) return;
    cv_free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

void net_http_client_destroy(net_http_client *c) {
    if (!c) return;
    if (c->h) curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdr_post);
    cv_free(c->buf);
    cv_free(c);
    curl_global_cleanup();
}
