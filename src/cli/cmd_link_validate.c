/* cleave link validate: as root, two network namespaces joined by a veth
 * pair, the edge side shaped with tbf, the link-test sink in one and the
 * measurements from the other, at each rate: table + the 15% bar.
 * docs/link.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_link.h"
#include "net/http_client.h"
#include "net/http_server.h"

/* Run argv[0] (absolute path) and wait; exit code, or -1. Output dropped
 * when quiet. Waits through EINTR so no child is left behind. */
static int run(int quiet, const char *const *argv) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *find_tool(const char *name, char *buf, size_t n) {
    static const char *dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(buf, n, "%s/%s", dirs[i], name);
        if (access(buf, X_OK) == 0) return buf;
    }
    return NULL;
}

typedef struct netns_pair {
    char ip[128], tc[128], self[4096];
    char ns_s[32], ns_c[32], veth_s[16], veth_c[16];
    int ns_s_made, ns_c_made, veth_made;
    int orig_fd; /* our original network namespace */
    const char *cc; /* TCP congestion control in the client namespace */
    pid_t server;
} netns_pair;

static int setns_named(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "/var/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = setns(fd, CLONE_NEWNET);
    close(fd);
    return r;
}

static void teardown(netns_pair *p) {
    if (p->orig_fd >= 0) {
        if (setns(p->orig_fd, CLONE_NEWNET))
            fprintf(stderr, "cleave link validate: cannot return to the original network namespace\n");
        close(p->orig_fd);
        p->orig_fd = -1;
    }
    if (p->server > 0) {
        kill(p->server, SIGTERM);
        int st;
        for (int i = 0; i < 50; i++) { /* 5 s, then SIGKILL */
            pid_t w = waitpid(p->server, &st, WNOHANG);
            if (w == p->server || (w < 0 && errno != EINTR)) break;
            usleep(100000);
            if (i == 49) {
                kill(p->server, SIGKILL);
                while (waitpid(p->server, &st, 0) < 0 && errno == EINTR) {
                }
            }
        }
        p->server = 0;
    }
    /* Deleting a namespace destroys the veth end inside it and its peer. */
    if (p->ns_c_made) run(1, (const char *[]){p->ip, "netns", "del", p->ns_c, NULL});
    if (p->ns_s_made) run(1, (const char *[]){p->ip, "netns", "del", p->ns_s, NULL});
    if (p->veth_made) run(1, (const char *[]){p->ip, "link", "del", p->veth_s, NULL});
    p->ns_c_made = p->ns_s_made = p->veth_made = 0;
}

/* 0 ok; otherwise a message is printed. */
static int setup(netns_pair *p) {
    const char *ip = p->ip;
    if (run(0, (const char *[]){ip, "netns", "add", p->ns_s, NULL})) return -1;
    p->ns_s_made = 1;
    if (run(0, (const char *[]){ip, "netns", "add", p->ns_c, NULL})) return -1;
    p->ns_c_made = 1;
    if (run(0, (const char *[]){ip, "link", "add", p->veth_s, "type", "veth", "peer", "name", p->veth_c, NULL}))
        return -1;
    p->veth_made = 1;
    if (run(0, (const char *[]){ip, "link", "set", p->veth_s, "netns", p->ns_s, NULL}) ||
        run(0, (const char *[]){ip, "link", "set", p->veth_c, "netns", p->ns_c, NULL}))
        return -1;
    p->veth_made = 0; /* now owned by the namespaces */
    if (run(0, (const char *[]){ip, "-n", p->ns_s, "addr", "add", LINK_SERVER_IP "/24", "dev", p->veth_s, NULL}) ||
        run(0, (const char *[]){ip, "-n", p->ns_c, "addr", "add", LINK_CLIENT_IP "/24", "dev", p->veth_c, NULL}) ||
        run(0, (const char *[]){ip, "-n", p->ns_s, "link", "set", p->veth_s, "up", NULL}) ||
        run(0, (const char *[]){ip, "-n", p->ns_c, "link", "set", p->veth_c, "up", NULL}) ||
        run(0, (const char *[]){ip, "-n", p->ns_s, "link", "set", "lo", "up", NULL}) ||
        run(0, (const char *[]){ip, "-n", p->ns_c, "link", "set", "lo", "up", NULL}))
        return -1;
    char port[16];
    snprintf(port, sizeof port, "%d", LINK_PORT);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execl(ip, "ip", "netns", "exec", p->ns_s, p->self, "link", "serve", "--port", port, "--bind",
              LINK_SERVER_IP, "--quiet", (char *)NULL);
        _exit(127);
    }
    p->server = pid;
    p->orig_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (p->orig_fd < 0 || setns_named(p->ns_c)) {
        fprintf(stderr, "cleave link validate: cannot enter network namespace %s: %s\n", p->ns_c,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* tbf on the edge side's egress (edge -> cloud is the direction measured).
 * burst: the larger of two full frames and 1 ms at the rate (what the
 * kernel timer granularity needs); the model is told this burst. limit:
 * 2 s of queue so nothing is dropped (TCP small queues keep it short). */
static int shape(netns_pair *p, double mbit, double *burst) {
    double b = mbit * 1e6 / 8 / 1000;
    if (b < 2 * COST_LINK_FRAME_BYTES) b = 2 * COST_LINK_FRAME_BYTES;
    double lim = mbit * 1e6 / 8 * 2;
    if (lim < 256e3) lim = 256e3;
    char rate[32], bs[32], ls[32];
    snprintf(rate, sizeof rate, "%gmbit", mbit);
    snprintf(bs, sizeof bs, "%.0f", b);
    snprintf(ls, sizeof ls, "%.0f", lim);
    *burst = b;
    /* we are inside the client namespace: tc acts on it */
    return run(0, (const char *[]){p->tc, "qdisc", "replace", "dev", p->veth_c, "root", "tbf", "rate",
                                   rate, "burst", bs, "limit", ls, NULL});
}

int link_validate(int argc, char **argv) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    double rates[LINK_MAX_RATES] = {1, 3, 10, 20}, sizes[LINK_MAX_SIZES] = {10e3, 100e3, 1e6, 5e6};
    int nr = 4, n = 4, json = 0, repeat = 0, skip_ok = 0, tol_i = 15, rc = 2, first = 1;
    double rtt = 20;
    uint8_t *payload = NULL;
    net_http_client *c = NULL;
    netns_pair p;
    memset(&p, 0, sizeof p);
    p.orig_fd = -1;
    p.cc = "cubic";
    link_row rows[LINK_MAX_SIZES];
    const cli_int_opt ints[] = {{"--repeat", 1, 63, &repeat}, {"--tolerance", 1, 100, &tol_i}, {0}};
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
        if (!strcmp(a, "--rates") && v) {
            if (!link_parse_rates(ctx, v, rates, &nr)) goto out;
            i++;
        } else if (!strcmp(a, "--bytes") && v) {
            if (!link_parse_sizes(v, sizes, &n)) goto out;
            i++;
        } else if (!strcmp(a, "--rtt") && v) {
            char spec[64];
            snprintf(spec, sizeof spec, "1mbit,%s", v);
            cost_link l;
            if (cost_link_parse(ctx, spec, &l)) {
                fprintf(stderr, "cleave link validate: --rtt '%s': expected a time like 20ms\n", v);
                goto out;
            }
            rtt = l.rtt_ms;
            i++;
        } else if (!strcmp(a, "--cc") && v) {
            if (strlen(v) > 15 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(v)) {
                fprintf(stderr, "cleave link validate: --cc '%s': expected a name like cubic\n", v);
                goto out;
            }
            p.cc = v;
            i++;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--skip-ok")) skip_ok = 1;
        else {
            cli_bad_option("link validate", a);
            goto out;
        }
    }
    const char *why = NULL;
    if (geteuid() != 0) why = "needs root (network namespaces, veth, tc)";
    else if (!find_tool("ip", p.ip, sizeof p.ip)) why = "needs `ip` (iproute2)";
    else if (!find_tool("tc", p.tc, sizeof p.tc)) why = "needs `tc` (iproute2)";
    ssize_t sl = readlink("/proc/self/exe", p.self, sizeof p.self - 1);
    if (!why && (sl <= 0 || sl >= (ssize_t)sizeof p.self - 1)) why = "cannot find its own executable";
    if (why) {
        fprintf(stderr, "cleave link validate: skipped: %s\n", why);
        rc = skip_ok ? 77 : 3;
        goto out;
    }
    p.self[sl] = 0;
    int pid = (int)getpid();
    snprintf(p.ns_s, sizeof p.ns_s, "cleave-lk%d-s", pid);
    snprintf(p.ns_c, sizeof p.ns_c, "cleave-lk%d-c", pid);
    snprintf(p.veth_s, sizeof p.veth_s, "clk%ds", pid % 10000000);
    snprintf(p.veth_c, sizeof p.veth_c, "clk%dc", pid % 10000000);
    if (!(payload = link_payload_create("validate", sizes, n))) {
        rc = 1;
        goto out;
    }
    if (link_install_signals()) {
        rc = 1;
        goto out;
    }
    if (setup(&p)) {
        fprintf(stderr, "cleave link validate: skipped: cannot set up namespaces %s/%s with a veth "
                "pair (see the message above)\n", p.ns_s, p.ns_c);
        rc = skip_ok ? 77 : 3;
        goto out;
    }
    /* the congestion control is set on the client's socket (a namespace's
     * default may only be one of the host's allowed ones) */
    net_http_client_opts co = {.rtt_ms = rtt, .abort_flag = &link_g_stop, .tcp_cc = p.cc};
    if (net_http_client_create(ctx, &co, &c)) goto err;
    char url[64];
    snprintf(url, sizeof url, "http://%s:%d", LINK_SERVER_IP, LINK_PORT);
    /* wait for the server (up to 5 s) */
    for (int i = 0;; i++) {
        net_http_result r;
        cleave_ctx_clear_error(ctx);
        char probe[96];
        snprintf(probe, sizeof probe, "%s/linktest", url);
        cleave_status s = net_http_client_get(c, probe, &r);
        net_http_result_free(&r);
        if (!s) break;
        if (i == 50 || link_g_stop) goto err;
        usleep(100000);
    }
    if (!json) {
        printf("link validate: veth between namespaces %s and %s, tbf on the edge side, TCP %s;\n"
               "RTT %g ms added by the client (half before sending, half after the reply);\n"
               "tolerance %d%% (sizes 10K..5M at <= 10 Mbit/s)\n", p.ns_c, p.ns_s, p.cc, rtt, tol_i);
        link_table_header();
    } else {
        printf("{\"rtt_ms\": %g, \"tolerance_pct\": %d, \"tcp_cc\": \"%s\", \"rows\": [", rtt, tol_i, p.cc);
    }
    int fails = 0;
    double eff[LINK_MAX_RATES];
    for (int k = 0; k < nr && !link_g_stop; k++) {
        double burst;
        if (shape(&p, rates[k], &burst)) {
            cv_fail(ctx, CLEAVE_E_IO, "tc qdisc replace dev %s root tbf rate %gmbit failed", p.veth_c,
                    rates[k]);
            goto err;
        }
        /* a fresh connection per rate: no congestion state carried over */
        net_http_client_destroy(c);
        c = NULL;
        if (net_http_client_create(ctx, &co, &c)) goto err;
        cost_link l = cost_link_make(rates[k], rtt);
        l.burst_bytes = burst;
        l.init_cwnd = 0; /* the RTT is added by the application: TCP's own RTT stays
                            sub-millisecond, so its window never limits (docs/link.md) */
        if (link_measure_sizes(ctx, c, url, &l, sizes, n, repeat, 0, payload, rows, json)) goto err;
        for (int j = 0; j < n; j++)
            if (rows[j].mbit_s <= 10 && rows[j].bytes >= 1e4 && rows[j].bytes <= 5e6 &&
                fabs(rows[j].err_pct) > tol_i)
                fails++;
        eff[k] = link_fitted_efficiency(rows, n);
        if (json) link_print_json_rows(rows, n, tol_i, &first);
    }
    if (link_g_stop) {
        fprintf(stderr, "cleave link validate: interrupted (signal %d); cleaning up\n", (int)link_g_stop);
        rc = 130;
        goto out;
    }
    if (json) {
        printf("\n], \"fitted_efficiency\": {");
        for (int k = 0; k < nr; k++) printf("%s\"%g\": %.4f", k ? ", " : "", rates[k], eff[k]);
        printf("}, \"model_efficiency\": %.4f, \"failures\": %d, \"pass\": %s}\n",
               COST_LINK_EFFICIENCY, fails, fails ? "false" : "true");
    } else {
        printf("payload efficiency fitted from sizes >= 100K (model %.4f):", COST_LINK_EFFICIENCY);
        for (int k = 0; k < nr; k++)
            if (eff[k] > 0) printf(" %g Mbit/s %.4f", rates[k], eff[k]);
        printf("\n%s: %d size(s) outside %d%%\n", fails ? "FAIL" : "PASS", fails, tol_i);
    }
    rc = fails ? 1 : 0;
    goto out;
err:
    rc = link_g_stop ? 130 : cli_error(ctx);
out:
    net_http_client_destroy(c);
    teardown(&p);
    cv_free(payload);
    cleave_ctx_destroy(ctx);
    return rc;
}
