/* cost/link: time to send one tensor from the edge to the cloud as one HTTP
 * request on a kept-alive connection. Pure arithmetic (no networking):
 *   t = overhead + RTT + max(0, wire - burst) * 8 / rate + slow_start
 *   wire = (payload + HTTP request header bytes) / payload_efficiency
 * Every term, constant and its measurement is in docs/link.md. */
#ifndef CLEAVE_COST_LINK_H
#define CLEAVE_COST_LINK_H

#include <stdint.h>

#include "base/base.h"

/* TCP payload per 1500-byte IP packet with timestamps (1500 - 20 IP - 32 TCP). */
#define COST_LINK_MSS 1448
/* Bytes the bottleneck serialises per full segment: 1500 + 14 Ethernet
 * header (what Linux tbf/htb account: qdisc_pkt_len of the frame). */
#define COST_LINK_FRAME_BYTES 1514
/* Default payload efficiency: 1448 / 1514 = 0.9564 (measured 0.95-0.96 by
 * `cleave link validate`, docs/link.md). */
#define COST_LINK_EFFICIENCY ((double)COST_LINK_MSS / COST_LINK_FRAME_BYTES)
/* Request line + headers of a POST by net/http_client (libcurl: Host,
 * Accept, Content-Type, Content-Length; CURLINFO_REQUEST_SIZE = 125-130). */
#define COST_LINK_HTTP_REQUEST_BYTES 130
/* Per-request processing (client + server, no RTT), measured on loopback
 * with 1 KB bodies: median 0.12-0.2 ms on this machine (docs/link.md). */
#define COST_LINK_OVERHEAD_MS 0.2
/* Linux initial congestion window (RFC 6928) and the one it restarts from
 * after an idle period longer than the RTO (tcp_slow_start_after_idle=1). */
#define COST_LINK_INIT_CWND 10

typedef struct cost_link {
    double mbit_s;             /* bottleneck rate, 10^6 bit/s of frames (> 0) */
    double rtt_ms;             /* round trip time (>= 0) */
    double overhead_ms;        /* fixed per-request processing (>= 0) */
    double payload_efficiency; /* TCP payload bytes / bytes on the wire, (0, 1] */
    double http_bytes;         /* request header bytes added to each payload */
    double burst_bytes;        /* bytes the shaper lets through at once (token
                                  bucket burst); 0 for a serialising link */
    int init_cwnd;             /* segments TCP restarts from after idle; 0 = the
                                  window is never the limit (no slow start term) */
} cost_link;

/* Defaults for the given rate and RTT (efficiency, header bytes, overhead,
 * burst 0, init_cwnd COST_LINK_INIT_CWND). */
cost_link cost_link_make(double mbit_s, double rtt_ms);

/* Parse "RATE[,RTT[,OVERHEAD]][,burst=BYTES]": RATE with unit bit|kbit|mbit|gbit (10^3
 * steps, e.g. "3mbit", "500kbit", "2.5mbit"), times with unit s|ms|us
 * ("20ms", "1ms"), burst the shaper's token bucket in bytes (a tbf
 * link; 0 = a serialising link). Other fields take the cost_link_make defaults. Errors
 * name the string: "link '3mbt,20ms': rate '3mbt': unknown unit 'mbt'". */
cleave_status cost_link_parse(cleave_ctx *ctx, const char *s, cost_link *out);
/* "3 Mbit/s, RTT 20 ms, overhead 0.2 ms" into buf. */
void cost_link_format(const cost_link *l, char *buf, size_t len);

/* Bytes on the wire for a request carrying payload_bytes of body. */
double cost_link_wire_bytes(const cost_link *l, double payload_bytes);
/* Extra ms of TCP slow start for `wire_bytes` after an idle restart:
 * rounds where the window is below the bandwidth-delay product leave the
 * link idle for (RTT - window serialisation time); Cardwell, Savage and
 * Anderson, "Modeling TCP latency", INFOCOM 2000, section 2.2. 0 when
 * init_cwnd = 0 or RTT = 0. */
double cost_link_slow_start_ms(const cost_link *l, double wire_bytes);
/* Predicted ms to send payload_bytes as one request and get a small reply. */
double cost_link_transfer_ms(const cost_link *l, double payload_bytes);

/* Packed size of numel values at bits (1..32) each: ceil(numel * bits / 8).
 * Returns -1 for bits out of range, numel < 0 or overflow. */
int64_t cost_tensor_bytes(int64_t numel, int bits);
/* Transfer time of a tensor of numel values at `bits`, through a codec that
 * turns raw bytes into codec_factor x raw (1 = raw; a measured zstd ratio
 * compressed/raw otherwise; must be in (0, 2]). -1 on bad arguments. */
double cost_link_tensor_ms(const cost_link *l, int64_t numel, int bits, double codec_factor);

#endif
