/* cleave link: the link model from the command line. predict (model only),
 * serve (the HTTP sink), measure (random payloads POSTed to a sink: predicted
 * vs measured) and validate (as root: two network namespaces joined by a
 * veth pair, the edge side shaped with tbf, serve in one, measure from the
 * other, table + the 15% bar: cmd_link_validate.c). Procedure and results:
 * docs/link.md. */
#define _GNU_SOURCE
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_link.h"
#include "cost/link.h"
#include "cost/profile.h"
#ifdef CLEAVE_HAVE_NET
#include "net/http_client.h"
#include "net/http_server.h"
#endif

volatile sig_atomic_t link_g_stop; /* set by SIGINT/SIGTERM/SIGHUP */

static void on_signal(int sig) { link_g_stop = sig; }

void link_help(void) {
    printf("usage: cleave link <predict|serve|measure|validate> [options]\n\n"
           "The link model: t = overhead + RTT + (payload + %d) / %.4f * 8 / rate [+ slow start],\n"
           "see docs/link.md.\n\n"
           "  predict  --link RATE,RTT[,OVERHEAD] [--bytes LIST] [--bits B --numel N] [--iw N] [--json]\n"
           "           model only: transfer time per payload size\n"
           "  serve    [--port N] [--bind IPV4] [--max-body BYTES] [--quiet]\n"
           "           the link-test sink (POST /linktest) until SIGINT/SIGTERM\n"
           "  measure  --url http://HOST:PORT --link RATE,RTT [--bytes LIST] [--repeat N]\n"
           "           [--burst BYTES] [--iw N] [--idle MS] [--cc NAME] [--json]\n"
           "           POST random payloads to URL/linktest on one kept-alive connection, the\n"
           "           RTT added by the client (half before sending, half after the reply);\n"
           "           per size: predicted ms, measured median ms, error %%. --burst: the\n"
           "           shaper's token-bucket burst; --iw 0: no slow-start term (RTT not seen by\n"
           "           TCP); --idle: ms of silence before each request. Prints the per-request\n"
           "           overhead the measurements imply (for --link RATE,RTT,OVERHEAD). --cc: TCP\n"
           "           congestion control of the connection (default: the system's)\n"
           "  validate [--rates 1,3,10,20] [--bytes 10K,100K,1M,5M] [--rtt 20ms] [--repeat N]\n"
           "           [--tolerance PCT] [--cc cubic] [--json] [--skip-ok]\n"
           "           as root: netns + veth + tbf at each rate, serve + measure; fails (exit 1)\n"
           "           when a size of 10K..5M at <= 10 Mbit/s is off by more than the tolerance\n"
           "           (default 15%%); without root or `ip`: exit 3 (77 with --skip-ok). --cc: TCP\n"
           "           congestion control of the edge namespace (default cubic, Linux's default)\n\n"
           "RATE: 500kbit, 3mbit, 1gbit; times: 20ms, 500us, 1s; sizes: 10K, 1.5M, 123\n"
           "(K = 1000, M = 10^6).\n",
           COST_LINK_HTTP_REQUEST_BYTES, COST_LINK_EFFICIENCY);
}

/* "10K,100K,1M,5M" -> byte counts (K = 10^3, M = 10^6, G = 10^9). */
int link_parse_sizes(const char *s, double *out, int *n) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *e;
        double v = strtod(p, &e);
        if (e == p) goto bad;
        if (*e == 'K' || *e == 'k') v *= 1e3, e++;
        else if (*e == 'M' || *e == 'm') v *= 1e6, e++;
        else if (*e == 'G' || *e == 'g') v *= 1e9, e++;
        if (*e == 'B' || *e == 'b') e++;
        if (!(v >= 0 && v <= LINK_MAX_PAYLOAD) || *n >= LINK_MAX_SIZES || (*e && *e != ',')) goto bad;
        out[(*n)++] = floor(v);
        p = *e ? e + 1 : e;
    }
    if (*n) return 1;
bad:
    fprintf(stderr, "cleave link: --bytes '%s': expected a list like 10K,100K,1M,5M (at most %d "
            "sizes, each <= 256M)\n", s, LINK_MAX_SIZES);
    return 0;
}

/* "1,3,10,20" (Mbit/s) or with units ("500kbit,2mbit"). */
int link_parse_rates(cleave_ctx *ctx, const char *s, double *out, int *n) {
    char buf[256];
    if (strlen(s) >= sizeof buf) goto bad;
    strcpy(buf, s);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *e;
        double v = strtod(t, &e);
        if (*e) {
            cost_link l;
            if (cost_link_parse(ctx, t, &l)) {
                fprintf(stderr, "cleave link: --rates: %s\n", cleave_ctx_error(ctx));
                return 0;
            }
            v = l.mbit_s;
        }
        if (!(v > 0 && v <= 1e4) || *n >= LINK_MAX_RATES) goto bad;
        out[(*n)++] = v;
    }
    if (*n) return 1;
bad:
    fprintf(stderr, "cleave link: --rates '%s': expected Mbit/s values like 1,3,10,20 (each in "
            "(0, 10000], at most %d)\n", s, LINK_MAX_RATES);
    return 0;
}

static const char *fmt_size(double b, char *buf, size_t n) {
    if (b >= 1e6 && fmod(b, 1e5) == 0) snprintf(buf, n, "%gM", b / 1e6);
    else if (b >= 1e3 && fmod(b, 100) == 0) snprintf(buf, n, "%gK", b / 1e3);
    else snprintf(buf, n, "%.0f", b);
    return buf;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int link_predict(int argc, char **argv) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    const char *link = NULL;
    double sizes[LINK_MAX_SIZES] = {10e3, 100e3, 1e6, 5e6};
    int n = 4, json = 0, iw = COST_LINK_INIT_CWND, bits = 0, rc = 2;
    long long numel = -1;
    const cli_int_opt ints[] = {{"--iw", 0, 1000, &iw}, {"--bits", 1, 32, &bits}, {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            link_help();
            rc = 0;
            goto out;
        }
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) goto out;
        if (took) continue;
        if (!strcmp(a, "--link") && v) link = v, i++;
        else if (!strcmp(a, "--bytes") && v) {
            if (!link_parse_sizes(v, sizes, &n)) goto out;
            i++;
        } else if (!strcmp(a, "--numel") && v) {
            char *e;
            numel = strtoll(v, &e, 10);
            if (*e || numel < 0 || numel > (1LL << 40)) {
                fprintf(stderr, "cleave link: --numel '%s': expected a count >= 0\n", v);
                goto out;
            }
            i++;
        } else if (!strcmp(a, "--json")) json = 1;
        else {
            cli_bad_option("link predict", a);
            goto out;
        }
    }
    if (!link) {
        fprintf(stderr, "cleave link predict: --link RATE,RTT is required (e.g. 3mbit,20ms)\n");
        goto out;
    }
    cost_link l;
    if (cost_link_parse(ctx, link, &l)) {
        rc = cli_error(ctx);
        goto out;
    }
    l.init_cwnd = iw;
    if ((bits > 0) != (numel >= 0)) {
        fprintf(stderr, "cleave link predict: --bits and --numel go together\n");
        goto out;
    }
    if (bits) sizes[0] = (double)cost_tensor_bytes(numel, bits), n = 1;
    char desc[160];
    cost_link_format(&l, desc, sizeof desc);
    if (json) printf("{\"link\": {\"mbit_s\": %g, \"rtt_ms\": %g, \"overhead_ms\": %g, "
                     "\"payload_efficiency\": %.6f, \"http_bytes\": %g, \"init_cwnd\": %d}, \"rows\": [",
                     l.mbit_s, l.rtt_ms, l.overhead_ms, l.payload_efficiency, l.http_bytes, l.init_cwnd);
    else printf("link %s, payload efficiency %.4f, init cwnd %d\n%10s %12s %12s %12s\n", desc,
                l.payload_efficiency, l.init_cwnd, "bytes", "wire bytes", "slow st. ms", "predicted ms");
    for (int k = 0; k < n; k++) {
        double w = cost_link_wire_bytes(&l, sizes[k]);
        double ss = cost_link_slow_start_ms(&l, w), t = cost_link_transfer_ms(&l, sizes[k]);
        if (json) printf("%s{\"bytes\": %.0f, \"wire_bytes\": %.0f, \"slow_start_ms\": %.3f, "
                         "\"predicted_ms\": %.3f}", k ? ", " : "", sizes[k], w, ss, t);
        else printf("%10.0f %12.0f %12.2f %12.2f\n", sizes[k], w, ss, t);
    }
    if (json) printf("]}\n");
    rc = 0;
out:
    cleave_ctx_destroy(ctx);
    return rc;
}

#ifdef CLEAVE_HAVE_NET

int link_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: waits and sleeps return EINTR */
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
           sigaction(SIGHUP, &sa, NULL);
}

static int link_serve(int argc, char **argv) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    net_http_server_opts o = {0};
    int quiet = 0, rc = 2, port = 0, maxmb = 0;
    net_http_server *s = NULL;
    const cli_int_opt ints[] = {{"--port", 0, 65535, &port},
                                {"--max-body-mb", 1, 4096, &maxmb},
                                {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            link_help();
            rc = 0;
            goto out;
        }
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) goto out;
        if (took) continue;
        if (!strcmp(a, "--bind") && v) o.bind_addr = v, i++;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else {
            cli_bad_option("link serve", a);
            goto out;
        }
    }
    o.port = port;
    o.max_body = maxmb ? (size_t)maxmb << 20 : (size_t)LINK_MAX_PAYLOAD + 4096;
    /* Block the stop signals in every thread (the server's threads inherit
     * the mask); sigsuspend below is the one place they are delivered. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    if (link_install_signals() || sigprocmask(SIG_BLOCK, &block, &old)) {
        fprintf(stderr, "cleave link serve: cannot install signal handlers\n");
        rc = 1;
        goto out;
    }
    if (net_http_server_create(ctx, &o, &s) ||
        net_http_server_add_handler(s, "/linktest", net_http_linktest_handler, NULL) ||
        net_http_server_start(s)) {
        rc = cli_error(ctx);
        goto out;
    }
    if (!quiet) {
        printf("cleave link serve: listening on %s:%d (POST /linktest[?delay_ms=D]); "
               "SIGINT/SIGTERM stops\n", o.bind_addr ? o.bind_addr : "0.0.0.0", net_http_server_port(s));
        fflush(stdout);
    }
    while (!link_g_stop) sigsuspend(&old);
    if (!quiet) printf("cleave link serve: stopped (signal %d)\n", (int)link_g_stop);
    rc = 0;
out:
    net_http_server_destroy(s);
    cleave_ctx_destroy(ctx);
    return rc;
}

/* Fill buf with incompressible bytes (xorshift64*). */
static void fill_random(uint8_t *buf, size_t n, uint64_t seed) {
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        buf[i] = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

uint8_t *link_payload_create(const char *sub, const double *sizes, int n) {
    double maxb = 1000; /* the warm-up request's 1 KB at least */
    for (int k = 0; k < n; k++) maxb = sizes[k] > maxb ? sizes[k] : maxb;
    uint8_t *payload = cv_malloc((size_t)maxb);
    if (!payload) {
        fprintf(stderr, "cleave link %s: out of memory for a %.0f-byte payload\n", sub, maxb);
        return NULL;
    }
    fill_random(payload, (size_t)maxb, 42);
    return payload;
}

/* Repeats so one size takes about 6 s (at least 1, at most 7; odd). */
static int auto_repeat(double predicted_ms) {
    int r = (int)(6000 / (predicted_ms > 1 ? predicted_ms : 1));
    if (r < 1) r = 1;
    if (r > 7) r = 7;
    return r | 1;
}

/* POST each size `repeat` times (0 = auto) to url/linktest on client c and
 * compare with the model l; idle_ms of silence before each request (to see
 * TCP's restart after idle). One 1 KB warm-up request first opens the
 * connection. Rows are printed as they complete unless json. */
cleave_status link_measure_sizes(cleave_ctx *ctx, net_http_client *c, const char *url,
                                   const cost_link *l, const double *sizes, int n, int repeat,
                                   int idle_ms, const uint8_t *payload, link_row *rows, int json) {
    char target[512];
    snprintf(target, sizeof target, "%s/linktest", url);
    net_http_result r;
    CV_TRY(net_http_client_post(c, target, NULL, payload, 1000, &r));
    net_http_result_free(&r);
    if (r.status != 200) return cv_fail(ctx, CLEAVE_E_IO, "POST %s: HTTP %ld", target, r.status);
    for (int k = 0; k < n; k++) {
        link_row *row = &rows[k];
        memset(row, 0, sizeof *row);
        row->mbit_s = l->mbit_s;
        row->bytes = sizes[k];
        row->predicted_ms = cost_link_transfer_ms(l, sizes[k]);
        row->repeat = repeat > 0 ? repeat : auto_repeat(row->predicted_ms);
        double t[64];
        int reps = row->repeat < 64 ? row->repeat : 64;
        row->repeat = reps;
        for (int i = 0; i < reps; i++) {
            cv_sleep_ms(idle_ms); /* connection idle before the request */
            CV_TRY(net_http_client_post(c, target, NULL, payload, (size_t)sizes[k], &r));
            int ok = r.status == 200 && strstr((const char *)r.body, "\"bytes\"");
            char want[48];
            snprintf(want, sizeof want, "\"bytes\": %.0f,", sizes[k]);
            ok = ok && strstr((const char *)r.body, want);
            net_http_result_free(&r);
            if (!ok)
                return cv_fail(ctx, CLEAVE_E_IO, "POST %s (%.0f bytes): HTTP %ld or wrong byte count",
                               target, sizes[k], r.status);
            t[i] = r.t.total_ms;
            row->header_bytes = r.t.request_header_bytes;
        }
        qsort(t, (size_t)reps, sizeof t[0], cmp_d);
        row->measured_ms = t[reps / 2];
        row->min_ms = t[0];
        row->err_pct = 100 * (row->predicted_ms - row->measured_ms) / row->measured_ms;
        if (!json) {
            char sb[32];
            printf("%8g %8s %6d %12.2f %12.2f %10.2f %+8.1f%%\n", row->mbit_s,
                   fmt_size(row->bytes, sb, sizeof sb), reps, row->predicted_ms, row->measured_ms,
                   row->min_ms, row->err_pct);
            fflush(stdout);
        }
    }
    return CLEAVE_OK;
}

void link_table_header(void) {
    printf("%8s %8s %6s %12s %12s %10s %9s\n", "Mbit/s", "size", "runs", "predicted ms",
           "measured ms", "min ms", "error");
}

/* Least-squares slope of measured ms over bytes (sizes >= 100 KB) turned
 * into a payload efficiency: eff = 8 / (rate * slope). 0 when too few. */
double link_fitted_efficiency(const link_row *rows, int n) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int m = 0;
    for (int k = 0; k < n; k++) {
        if (rows[k].bytes < 1e5) continue;
        double x = rows[k].bytes, y = rows[k].measured_ms;
        sx += x, sy += y, sxx += x * x, sxy += x * y, m++;
    }
    if (m < 2) return 0;
    double den = m * sxx - sx * sx;
    if (den <= 0) return 0;
    double slope = (m * sxy - sx * sy) / den; /* ms per byte */
    return slope > 0 ? 8 / (rows[0].mbit_s * 1e3 * slope) : 0;
}

void link_print_json_rows(const link_row *rows, int n, double tol, int *first) {
    for (int k = 0; k < n; k++) {
        const link_row *r = &rows[k];
        int in_bar = r->mbit_s <= 10 && r->bytes >= 1e4 && r->bytes <= 5e6;
        printf("%s\n  {\"mbit_s\": %g, \"bytes\": %.0f, \"repeat\": %d, \"predicted_ms\": %.3f, "
               "\"measured_ms\": %.3f, \"min_ms\": %.3f, \"error_pct\": %.2f, \"header_bytes\": %ld, "
               "\"in_bar\": %s, \"pass\": %s}",
               *first ? "" : ",", r->mbit_s, r->bytes, r->repeat, r->predicted_ms, r->measured_ms,
               r->min_ms, r->err_pct, r->header_bytes, in_bar ? "true" : "false",
               !in_bar || fabs(r->err_pct) <= tol ? "true" : "false");
        *first = 0;
    }
}

static int link_measure(int argc, char **argv) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    const char *url = NULL, *link = NULL, *cc = NULL;
    double sizes[LINK_MAX_SIZES] = {10e3, 100e3, 1e6, 5e6};
    int n = 4, json = 0, repeat = 0, iw = COST_LINK_INIT_CWND, burst = 0, idle = 0, rc = 2;
    uint8_t *payload = NULL;
    net_http_client *c = NULL;
    link_row rows[LINK_MAX_SIZES];
    const cli_int_opt ints[] = {{"--repeat", 1, 63, &repeat},
                                {"--iw", 0, 1000, &iw},
                                {"--burst", 0, 1 << 30, &burst},
                                {"--idle", 0, 60000, &idle},
                                {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            link_help();
            rc = 0;
            goto out;
        }
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) goto out;
        if (took) continue;
        if (!strcmp(a, "--url") && v) url = v, i++;
        else if (!strcmp(a, "--link") && v) link = v, i++;
        else if (!strcmp(a, "--bytes") && v) {
            if (!link_parse_sizes(v, sizes, &n)) goto out;
            i++;
        } else if (!strcmp(a, "--cc") && v) cc = v, i++;
        else if (!strcmp(a, "--json")) json = 1;
        else {
            cli_bad_option("link measure", a);
            goto out;
        }
    }
    if (!url || !link || strncmp(url, "http", 4) || strlen(url) > 400) {
        fprintf(stderr, "cleave link measure: --url http://HOST:PORT and --link RATE,RTT are required\n");
        goto out;
    }
    cost_link l;
    if (cost_link_parse(ctx, link, &l)) goto err;
    l.init_cwnd = iw;
    l.burst_bytes = burst;
    char base[512];
    snprintf(base, sizeof base, "%s", url);
    for (size_t k = strlen(base); k > 0 && base[k - 1] == '/'; k--) base[k - 1] = 0;
    if (!(payload = link_payload_create("measure", sizes, n))) {
        rc = 1;
        goto out;
    }
    link_install_signals();
    net_http_client_opts co = {.rtt_ms = l.rtt_ms, .abort_flag = &link_g_stop, .tcp_cc = cc};
    if (net_http_client_create(ctx, &co, &c)) goto err;
    if (!json) {
        char desc[160];
        cost_link_format(&l, desc, sizeof desc);
        printf("link %s; RTT emulated by the client; POST %s/linktest\n", desc, base);
        link_table_header();
    }
    if (link_measure_sizes(ctx, c, base, &l, sizes, n, repeat, idle, payload, rows, json)) goto err;
    /* the per-request overhead this link shows: what the measurements leave
     * once RTT and serialisation are taken off (median over the sizes) */
    double resid[LINK_MAX_SIZES];
    for (int k = 0; k < n; k++) resid[k] = rows[k].measured_ms - (rows[k].predicted_ms - l.overhead_ms);
    cost_stat rs;
    cost_stat_of(resid, n, &rs);
    double fitted = rs.median_ms > 0 ? rs.median_ms : 0;
    if (json) {
        int first = 1;
        printf("{\"url\": \"%s\", \"rtt_ms\": %g, \"fitted_overhead_ms\": %.3f, \"rows\": [", base, l.rtt_ms,
               fitted);
        link_print_json_rows(rows, n, 15, &first);
        printf("\n]}\n");
    } else {
        printf("overhead %.3f ms per request fitted (measured minus RTT and serialisation, median over the sizes;\n"
               "         the model used %g ms): plan with --link RATE,RTT,%.3fms\n", fitted, l.overhead_ms, fitted);
    }
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    net_http_client_destroy(c);
    cv_free(payload);
    cleave_ctx_destroy(ctx);
    return rc;
}

#else /* no net module in this build */

static int no_net(const char *what) {
    fprintf(stderr, "cleave link %s: this build has no HTTP transport (libmicrohttpd/libcurl)\n", what);
    return 3;
}
static int link_serve(int argc, char **argv) { return no_net("serve"); }
static int link_measure(int argc, char **argv) { return no_net("measure"); }
int link_validate(int argc, char **argv) { return no_net("validate"); }

#endif

int cmd_link(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        link_help();
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "predict")) return link_predict(argc - 1, argv + 1);
    if (!strcmp(sub, "serve")) return link_serve(argc - 1, argv + 1);
    if (!strcmp(sub, "measure")) return link_measure(argc - 1, argv + 1);
    if (!strcmp(sub, "validate")) return link_validate(argc - 1, argv + 1);
    fprintf(stderr, "cleave link: unknown subcommand '%s' (predict, serve, measure, validate)\n", sub);
    return 2;
}
