/* cleave link: what cmd_link.c (predict, serve, measure) and
 * cmd_link_validate.c (namespaces, veth, tbf) share. Private to the CLI. */
#ifndef CLEAVE_CLI_CMD_LINK_H
#define CLEAVE_CLI_CMD_LINK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "cost/link.h"
#ifdef CLEAVE_HAVE_NET
#include "net/http_client.h"
#endif

#define LINK_MAX_SIZES 32
#define LINK_MAX_RATES 16
#define LINK_MAX_PAYLOAD 256e6 /* bytes; bounds --bytes */
#define LINK_PORT 8077
#define LINK_SERVER_IP "10.77.0.1"
#define LINK_CLIENT_IP "10.77.0.2"

/* One measured size. */
typedef struct link_row {
    double mbit_s, bytes, predicted_ms, measured_ms, min_ms, err_pct;
    int repeat;
    long header_bytes;
} link_row;

extern volatile sig_atomic_t link_g_stop; /* set by SIGINT/SIGTERM/SIGHUP */

void link_help(void);
/* "10K,1.5M,123" -> out[0..*n) (K = 1000, M = 10^6); 0 after printing why. */
int link_parse_sizes(const char *s, double *out, int *n);
/* "1,3,10,20" Mbit/s -> out[0..*n); 0 after an error in ctx. */
int link_parse_rates(cleave_ctx *ctx, const char *s, double *out, int *n);
/* Random (incompressible) bytes as many as the largest of sizes[0..n), at
 * least 1000 (cv_free it); NULL after "cleave link <sub>: out of memory". */
uint8_t *link_payload_create(const char *sub, const double *sizes, int n);
int link_install_signals(void);
void link_table_header(void);
double link_fitted_efficiency(const link_row *rows, int n);
void link_print_json_rows(const link_row *rows, int n, double tol, int *first);
#ifdef CLEAVE_HAVE_NET
cleave_status link_measure_sizes(cleave_ctx *ctx, net_http_client *c, const char *url, const cost_link *l,
                                 const double *sizes, int n, int repeat, int idle_ms, const uint8_t *payload,
                                 link_row *rows, int json);
#endif
int link_validate(int argc, char **argv);

#endif
