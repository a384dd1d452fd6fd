/* Unit tests of cost/link: link strings (good and bad, errors naming the
 * string), transfer times on hand-computed cases (framing, header bytes,
 * shaper burst, slow start after idle) and packed tensor sizes. */
#include <string.h>

#include "check.h"
#include "cost/link.h"

static void test_parse(cleave_ctx *ctx) {
    cost_link l;
    CHECK(cost_link_parse(ctx, "3mbit,20ms", &l) == CLEAVE_OK);
    CHECK_NEAR(l.mbit_s, 3, 0, 1e-12);
    CHECK_NEAR(l.rtt_ms, 20, 0, 1e-12);
    CHECK_NEAR(l.overhead_ms, COST_LINK_OVERHEAD_MS, 0, 1e-12);
    CHECK_NEAR(l.payload_efficiency, 1448.0 / 1514.0, 0, 1e-12);
    CHECK(l.init_cwnd == COST_LINK_INIT_CWND && l.burst_bytes == 0);
    CHECK(cost_link_parse(ctx, "500kbit", &l) == CLEAVE_OK);
    CHECK_NEAR(l.mbit_s, 0.5, 0, 1e-12);
    CHECK_NEAR(l.rtt_ms, 0, 0, 0);
    CHECK(cost_link_parse(ctx, "1gbit,500us,1ms", &l) == CLEAVE_OK);
    CHECK_NEAR(l.mbit_s, 1000, 0, 1e-12);
    CHECK_NEAR(l.rtt_ms, 0.5, 0, 1e-12);
    CHECK_NEAR(l.overhead_ms, 1, 0, 1e-12);
    CHECK(cost_link_parse(ctx, " 2.5Mbit , 1s ", &l) == CLEAVE_OK);
    CHECK_NEAR(l.mbit_s, 2.5, 0, 1e-12);
    CHECK_NEAR(l.rtt_ms, 1000, 0, 1e-12);
    CHECK(cost_link_parse(ctx, "64000bit,0ms", &l) == CLEAVE_OK);
    CHECK_NEAR(l.mbit_s, 0.064, 0, 1e-12);

    static const char *bad[] = {"", "3", "3mbt,20ms", "3mbit,20", "3mbit,20ms,1ms,5ms", "-1mbit",
                                "0mbit", "3mbit,", ",20ms", "fast", "3mbit,-5ms", "3mbit,20ms,x",
                                "nanmbit", "3mbit,20 fortnights"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cleave_ctx_clear_error(ctx);
        cleave_status s = cost_link_parse(ctx, bad[i], &l);
        CHECK(s == CLEAVE_E_INVALID);
        /* the message names the string */
        if (bad[i][0]) CHECK(strstr(cleave_ctx_error(ctx), bad[i]) != NULL);
        if (s == CLEAVE_OK || (bad[i][0] && !strstr(cleave_ctx_error(ctx), bad[i])))
            fprintf(stderr, "  bad link '%s' -> %d '%s'\n", bad[i], s, cleave_ctx_error(ctx));
    }
    char lng[300];
    memset(lng, '1', sizeof lng - 1);
    lng[sizeof lng - 1] = 0;
    cleave_ctx_clear_error(ctx);
    CHECK(cost_link_parse(ctx, lng, &l) == CLEAVE_E_INVALID);
    cleave_ctx_clear_error(ctx);
}

static void test_transfer(void) {
    /* bare link: 8 Mbit/s = 1000 bytes/ms, no framing, headers, overhead */
    cost_link l = cost_link_make(8, 20);
    l.payload_efficiency = 1, l.http_bytes = 0, l.overhead_ms = 0, l.init_cwnd = 0;
    CHECK_NEAR(cost_link_transfer_ms(&l, 1e6), 20 + 1000, 1e-9, 0);
    CHECK_NEAR(cost_link_transfer_ms(&l, 0), 20, 1e-9, 0);
    /* defaults at 3 Mbit/s, 20 ms: wire = (10000 + 130) * 1514 / 1448 */
    l = cost_link_make(3, 20);
    double wire = (10000.0 + COST_LINK_HTTP_REQUEST_BYTES) * 1514 / 1448;
    CHECK_NEAR(cost_link_wire_bytes(&l, 10000), wire, 1e-9, 0);
    CHECK_NEAR(cost_link_transfer_ms(&l, 10000), COST_LINK_OVERHEAD_MS + 20 + wire * 8 / 3000, 1e-9, 0);
    /* 3 Mbit/s x 20 ms = 7500 bytes < initial window (15140): no slow start */
    CHECK_NEAR(cost_link_slow_start_ms(&l, 5e6), 0, 0, 0);
    /* shaper burst: the first burst bytes leave at once */
    l = cost_link_make(1, 0);
    l.payload_efficiency = 1, l.http_bytes = 0, l.overhead_ms = 0, l.burst_bytes = 1000;
    CHECK_NEAR(cost_link_transfer_ms(&l, 3000), 16, 1e-9, 0);
    CHECK_NEAR(cost_link_transfer_ms(&l, 500), 0, 1e-12, 0);
    /* slow start, 20 Mbit/s (2500 bytes/ms), RTT 20 ms, BDP 50000 bytes:
     * window 15140 -> idle 20 - 6.056; window 30280 -> idle 20 - 12.112;
     * window 60560 >= BDP -> no more idle */
    l = cost_link_make(20, 20);
    CHECK_NEAR(cost_link_slow_start_ms(&l, 10000), 0, 1e-12, 0);
    CHECK_NEAR(cost_link_slow_start_ms(&l, 20000), 13.944, 1e-9, 0);
    CHECK_NEAR(cost_link_slow_start_ms(&l, 45420), 13.944, 1e-9, 0);
    CHECK_NEAR(cost_link_slow_start_ms(&l, 1e6), 13.944 + 7.888, 1e-9, 0);
    /* 10 Mbit/s: one short round only */
    l = cost_link_make(10, 20);
    CHECK_NEAR(cost_link_slow_start_ms(&l, 1e6), 20 - 15140.0 / 1250, 1e-9, 0);
    l.init_cwnd = 0;
    CHECK_NEAR(cost_link_slow_start_ms(&l, 1e6), 0, 0, 0);
    /* transfer = sum of the terms */
    l = cost_link_make(20, 20);
    double w = cost_link_wire_bytes(&l, 1e6);
    CHECK_NEAR(cost_link_transfer_ms(&l, 1e6),
               COST_LINK_OVERHEAD_MS + 20 + w * 8 / 20e3 + cost_link_slow_start_ms(&l, w), 1e-9, 0);
    /* time grows with bytes and falls with rate */
    CHECK(cost_link_transfer_ms(&l, 2e6) > cost_link_transfer_ms(&l, 1e6));
    cost_link slow = cost_link_make(1, 20);
    CHECK(cost_link_transfer_ms(&slow, 1e6) > cost_link_transfer_ms(&l, 1e6));
}

static void test_tensor(void) {
    for (int bits = 1; bits <= 8; bits++)
        for (int64_t n = 0; n <= 100; n++) CHECK(cost_tensor_bytes(n, bits) == (n * bits + 7) / 8);
    CHECK(cost_tensor_bytes(8, 1) == 1);
    CHECK(cost_tensor_bytes(9, 1) == 2);
    CHECK(cost_tensor_bytes(3, 3) == 2);
    CHECK(cost_tensor_bytes(7, 4) == 4);
    CHECK(cost_tensor_bytes(5, 16) == 10);
    CHECK(cost_tensor_bytes(5, 32) == 20);
    CHECK(cost_tensor_bytes(1, 0) == -1);
    CHECK(cost_tensor_bytes(1, 33) == -1);
    CHECK(cost_tensor_bytes(-1, 8) == -1);
    CHECK(cost_tensor_bytes(INT64_MAX / 4, 8) == -1);
    cost_link l = cost_link_make(3, 20);
    /* 1x64x28x28 at 4 bits = 25088 bytes; zstd to 60% */
    int64_t numel = 64 * 28 * 28;
    CHECK_NEAR(cost_link_tensor_ms(&l, numel, 4, 1), cost_link_transfer_ms(&l, 25088), 1e-9, 0);
    CHECK_NEAR(cost_link_tensor_ms(&l, numel, 4, 0.6), cost_link_transfer_ms(&l, ceil(25088 * 0.6)), 1e-9, 0);
    CHECK(cost_link_tensor_ms(&l, numel, 4, 0) < 0);
    CHECK(cost_link_tensor_ms(&l, numel, 0, 1) < 0);
}

int main(void) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    test_parse(ctx);
    test_transfer();
    test_tensor();
    cleave_ctx_destroy(ctx);
    return check_summary("test_cost_link");
}
