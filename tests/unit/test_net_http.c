/* Unit tests of net/http_server and net/http_client on loopback (no
 * shaping): a 1 MB POST answered with JSON, 413 for a body over the cap,
 * 404 for an unknown path, the server still serving after errors,
 * kept-alive connections, response headers, server delay and the client's
 * emulated RTT. Skipped when the build has no net module. */
#include <string.h>

#include "check.h"

#ifdef CLEAVE_HAVE_NET
#include <jansson.h>

#include "net/http_client.h"
#include "net/http_server.h"

/* Echo handler: replies the request's X-Tag header and body length, and
 * sets a response header. */
static void echo(void *user, const net_http_request *req, net_http_response *resp) {
    int *calls = user;
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
    const char *tag = net_http_request_header(req, "X-Tag");
    net_http_response_add_header(resp, "X-Echo", tag ? tag : "none");
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain");
    net_http_response_printf(resp, "%s %s %zu", req->method, req->path, req->body_len);
}

static double json_num(const net_http_result *r, const char *key) {
    json_error_t e;
    json_t *j = json_loadb((const char *)r->body, r->body_len, 0, &e);
    double v = j ? json_number_value(json_object_get(j, key)) : -1;
    json_decref(j);
    return v;
}

int main(void) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    int calls = 0;
    net_http_server *s = NULL;
    net_http_server_opts so = {.bind_addr = "127.0.0.1", .port = 0, .max_body = 2 << 20};
    CHECK(net_http_server_create(ctx, &so, &s) == CLEAVE_OK);
    CHECK(net_http_server_add_handler(s, "/linktest", net_http_linktest_handler, NULL) == CLEAVE_OK);
    CHECK(net_http_server_add_handler(s, "/echo", echo, &calls) == CLEAVE_OK);
    CHECK(net_http_server_add_handler(s, "nope", echo, &calls) == CLEAVE_E_INVALID);
    cleave_ctx_clear_error(ctx);
    CHECK(net_http_server_port(s) == 0);
    CHECK(net_http_server_start(s) == CLEAVE_OK);
    int port = net_http_server_port(s);
    CHECK(port > 0);
    CHECK(net_http_server_add_handler(s, "/late", echo, &calls) == CLEAVE_E_INVALID);
    cleave_ctx_clear_error(ctx);

    net_http_client *c = NULL;
    CHECK(net_http_client_create(ctx, NULL, &c) == CLEAVE_OK);
    char url[128];
    size_t mb = 1 << 20;
    uint8_t *buf = cv_malloc(3 * mb);
    CHECK(buf != NULL);
    if (!s || !c || !buf) return check_summary("test_net_http");
    for (size_t i = 0; i < 3 * mb; i++) buf[i] = (uint8_t)(i * 2654435761u >> 24);

    /* 1 MB body -> JSON with the byte count */
    net_http_result r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/linktest", port);
    CHECK(net_http_client_post(c, url, NULL, buf, mb, &r) == CLEAVE_OK);
    CHECK(r.status == 200);
    CHECK_NEAR(json_num(&r, "bytes"), (double)mb, 0, 0);
    CHECK(json_num(&r, "server_ms") >= 0);
    CHECK(r.t.new_connection == 1);
    CHECK_NEAR(r.t.upload_bytes, (double)mb, 0, 0);
    CHECK(r.t.request_header_bytes > 50 && r.t.request_header_bytes < 300);
    CHECK(r.t.total_ms >= r.t.curl_total_ms * 0.99);
    net_http_result_free(&r);

    /* the same connection is reused */
    CHECK(net_http_client_post(c, url, NULL, buf, 1000, &r) == CLEAVE_OK);
    CHECK(r.status == 200 && r.t.new_connection == 0);
    CHECK_NEAR(json_num(&r, "bytes"), 1000, 0, 0);
    net_http_result_free(&r);

    /* over the 2 MB cap -> 413 (the body is read and dropped first) */
    cleave_status st413 = net_http_client_post(c, url, NULL, buf, 3 * mb, &r);
    CHECK(st413 == CLEAVE_OK);
    if (st413) fprintf(stderr, "  413 case: %s\n", cleave_ctx_error(ctx));
    CHECK(r.status == 413);
    net_http_result_free(&r);
    cleave_ctx_clear_error(ctx);

    /* a declared length far over the cap is refused before the body is read */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/linktest", port);
    {
        net_http_server *s2 = NULL;
        net_http_server_opts so2 = {.bind_addr = "127.0.0.1", .max_body = 1000};
        CHECK(net_http_server_create(ctx, &so2, &s2) == CLEAVE_OK);
        CHECK(net_http_server_add_handler(s2, "/linktest", net_http_linktest_handler, NULL) == CLEAVE_OK);
        CHECK(net_http_server_start(s2) == CLEAVE_OK);
        char url2[128];
        snprintf(url2, sizeof url2, "http://127.0.0.1:%d/linktest", net_http_server_port(s2));
        net_http_client *c3 = NULL;
        CHECK(net_http_client_create(ctx, NULL, &c3) == CLEAVE_OK);
        /* 3 MB against a 1000-byte cap: either the 413 or, if the reset
         * beats it, a transport error; never a 200 */
        cleave_status st = net_http_client_post(c3, url2, NULL, buf, 3 * mb, &r);
        CHECK(st == CLEAVE_E_IO || r.status == 413);
        net_http_result_free(&r);
        cleave_ctx_clear_error(ctx);
        CHECK(net_http_client_post(c3, url2, NULL, buf, 1000, &r) == CLEAVE_OK);
        CHECK(r.status == 200);
        net_http_result_free(&r);
        CHECK(net_http_client_post(c3, url2, NULL, buf, 1001, &r) == CLEAVE_OK);
        CHECK(r.status == 413);
        net_http_result_free(&r);
        net_http_client_destroy(c3);
        net_http_server_destroy(s2);
    }

    /* unknown path -> 404; GET works */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/nowhere", port);
    CHECK(net_http_client_get(c, url, &r) == CLEAVE_OK);
    CHECK(r.status == 404);
    CHECK(strstr((const char *)r.body, "error") != NULL);
    net_http_result_free(&r);

    /* still serving after the errors; handler sees path, method, body */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo/x", port);
    CHECK(net_http_client_post(c, url, "text/plain", "hello", 5, &r) == CLEAVE_OK);
    CHECK(r.status == 200);
    CHECK(r.body && !strcmp((const char *)r.body, "POST /echo/x 5"));
    net_http_result_free(&r);
    CHECK(calls == 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/linktest", port);
    CHECK(net_http_client_post(c, url, NULL, buf, mb, &r) == CLEAVE_OK);
    CHECK(r.status == 200);
    CHECK_NEAR(json_num(&r, "bytes"), (double)mb, 0, 0);
    net_http_result_free(&r);

    /* server-side delay */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/linktest?delay_ms=30", port);
    CHECK(net_http_client_post(c, url, NULL, buf, 100, &r) == CLEAVE_OK);
    CHECK(r.status == 200 && json_num(&r, "server_ms") >= 29.9 && r.t.total_ms >= 29.9);
    net_http_result_free(&r);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/linktest?delay_ms=-3", port);
    CHECK(net_http_client_post(c, url, NULL, buf, 100, &r) == CLEAVE_OK);
    CHECK(r.status == 400);
    net_http_result_free(&r);

    /* client-side emulated RTT: half before, half after */
    net_http_client_set_rtt(c, 40);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/linktest", port);
    CHECK(net_http_client_post(c, url, NULL, buf, 100, &r) == CLEAVE_OK);
    CHECK(r.status == 200 && r.t.rtt_sleep_ms >= 39.9 && r.t.total_ms >= 40);
    CHECK(r.t.total_ms < 40 + 200);
    net_http_result_free(&r);
    net_http_client_set_rtt(c, 0);

    /* nothing listening -> a transport error naming the URL */
    net_http_client_opts co = {.connect_timeout_ms = 2000};
    net_http_client *c2 = NULL;
    CHECK(net_http_client_create(ctx, &co, &c2) == CLEAVE_OK);
    CHECK(net_http_client_post(c2, "http://127.0.0.1:1/x", NULL, buf, 10, &r) == CLEAVE_E_IO);
    CHECK(strstr(cleave_ctx_error(ctx), "http://127.0.0.1:1/x") != NULL);
    cleave_ctx_clear_error(ctx);
    net_http_client_destroy(c2);

    /* a response over the client's cap */
    co.max_response = 10;
    CHECK(net_http_client_create(ctx, &co, &c2) == CLEAVE_OK);
    CHECK(net_http_client_post(c2, url, NULL, buf, 10, &r) == CLEAVE_E_LIMIT);
    cleave_ctx_clear_error(ctx);
    net_http_client_destroy(c2);

    net_http_client_destroy(c);
    net_http_server_destroy(s);
    cv_free(buf);
    cleave_ctx_destroy(ctx);
    return check_summary("test_net_http");
}

#else
int main(void) {
    printf("test_net_http: skipped (built without the net module)\n");
    return 77;
}
#endif
