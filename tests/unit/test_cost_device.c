/* Device descriptions and the roofline predictor (src/cost/device.c,
 * roofline.c, calibrate.c): roofline times of hand-computed layers (a 3x3
 * conv 64->64 at 56x56, compute-bound; an elementwise Add, memory-bound;
 * thread capping), features of a compiled conv against the hand count, every
 * shipped device file (devices/ folder) loads, bad files are rejected with a message naming
 * the field, save -> load round-trips, and a quick calibration (small budget)
 * yields a valid device. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cost/device.h"
#include "ops/op.h"

static cleave_ctx *ctx;
static char tmp_path[256];

static cost_device hand_device(void) {
    cost_device d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "hand");
    snprintf(d.kind, sizeof d.kind, "edge");
    snprintf(d.description, sizeof d.description, "made up for the test");
    d.cores = 4;
    d.freq_ghz = 1.5;
    d.peak_gops[COST_DT_FP32] = 100;
    d.peak_gops[COST_DT_INT8] = 400;
    for (int t = 0; t < COST_DT_N; t++)
        for (int c = 0; c < COST_OP_N; c++) d.efficiency[t][c] = 0.25;
    d.efficiency[COST_DT_FP32][COST_OP_CONV] = 0.5;
    d.efficiency[COST_DT_INT8][COST_OP_CONV] = 0.75;
    d.mem_bw_gbs = 10;
    d.mem_bytes = 262144;
    d.op_overhead_us = 5;
    snprintf(d.sources, sizeof d.sources, "a; b");
    snprintf(d.calibrated, sizeof d.calibrated, "never");
    return d;
}

/* 3x3 conv 64->64 at 56x56, pad 1, fp32 with bias:
 * MACs = 56*56 * 64 * 64*3*3 = 115,605,504 -> 231,211,008 flops;
 * bytes = in 64*56*56*4 = 802,816 + out 802,816 + weights 64*64*9*4 =
 * 147,456 + bias 256 = 1,753,344. */
static cost_features hand_conv(void) {
    cost_features f;
    memset(&f, 0, sizeof f);
    f.cls = COST_OP_CONV;
    f.dtype = COST_DT_FP32;
    f.macs = 56.0 * 56 * 64 * 64 * 9;
    f.in_bytes = 802816, f.out_bytes = 802816, f.param_bytes = 147712;
    return f;
}

/* Add of two 1x64x56x56 fp32 tensors: 200,704 flops; bytes 3 * 802,816 =
 * 2,408,448. */
static cost_features hand_add(void) {
    cost_features e;
    memset(&e, 0, sizeof e);
    e.cls = COST_OP_ELTWISE;
    e.dtype = COST_DT_FP32;
    e.flops = 200704;
    e.in_bytes = 2 * 802816.0, e.out_bytes = 802816;
    return e;
}

static void test_roofline(void) {
    cost_device d = hand_device();
    /* hand_conv. One thread: 100 GFLOP/s * 0.5 = 50 -> 4.62422016 ms;
     * memory 1,753,344 B / 10 GB/s = 0.1753344 ms. */
    cost_features f = hand_conv();
    CHECK(f.macs == 115605504.0);
    CHECK_NEAR(cost_device_gops(&d, COST_DT_FP32, COST_OP_CONV, 1), 50.0, 1e-12, 0);
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 1), 4.62422016 + 0.005, 1e-9, 1e-12);
    /* two threads: twice the throughput; 8 threads are capped at 4 cores; 0 = all cores */
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 2), 2.31211008 + 0.005, 1e-9, 1e-12);
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 8), 1.15605504 + 0.005, 1e-9, 1e-12);
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 0), 1.15605504 + 0.005, 1e-9, 1e-12);
    /* int8: 400 GOP/s * 0.75 = 300 per core -> 0.77070336 ms */
    f.dtype = COST_DT_INT8;
    CHECK_NEAR(cost_device_gops(&d, COST_DT_INT8, COST_OP_CONV, 1), 300.0, 1e-12, 0);
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 1), 0.77070336 + 0.005, 1e-9, 1e-12);
    /* memory-bound: on 4 cores int8 needs 0.19267584 ms, memory 0.1753344 */
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 4), 0.19267584 + 0.005, 1e-9, 1e-12);
    d.mem_bw_gbs = 1;
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 4), 1.753344 + 0.005, 1e-9, 1e-12);
    d.mem_bw_gbs = 10;

    /* hand_add: 2,408,448 bytes -> 0.2408448 ms at 10 GB/s; compute
     * 200,704 / 25 GFLOP/s = 0.00802816 ms: memory-bound. */
    cost_features e = hand_add();
    CHECK_NEAR(cost_roofline_node_ms(&d, &e, 1), 0.2408448 + 0.005, 1e-9, 1e-12);
    /* a node with nothing to do costs the overhead */
    cost_features z;
    memset(&z, 0, sizeof z);
    z.cls = COST_OP_MOVE;
    CHECK_NEAR(cost_roofline_node_ms(&d, &z, 1), 0.005, 1e-12, 0);
}

/* Thread scaling from a "parallel" object, by hand. */
static void test_parallel(void) {
    cost_device d = hand_device();
    cost_features f = hand_conv();
    /* without the object: linear in cores, as before */
    CHECK_NEAR(cost_device_speedup(&d, COST_DT_FP32, COST_OP_CONV, 3), 3.0, 0, 0);
    CHECK_NEAR(cost_device_bw_gbs(&d, 1), 10.0, 0, 0);
    CHECK_NEAR(cost_device_overhead_us(&d, 4), 5.0, 0, 0);
    d.has_parallel = 1;
    for (int t = 0; t < COST_DT_N; t++)
        for (int c = 0; c < COST_OP_N; c++) d.par_eff[t][c] = 1.0;
    d.par_eff[COST_DT_FP32][COST_OP_CONV] = 0.5;
    d.mem_bw_1core_gbs = 4;
    d.par_overhead_us = 3;
    /* one thread: unchanged (4.62422016 ms of arithmetic, 5 us) */
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 1), 4.62422016 + 0.005, 1e-9, 1e-12);
    /* 4 threads: speedup 1 + 3 x 0.5 = 2.5 -> 1.849688064 ms; 5 + 3 us */
    CHECK_NEAR(cost_device_gops(&d, COST_DT_FP32, COST_OP_CONV, 4), 125.0, 1e-12, 0);
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 4), 1.849688064 + 0.008, 1e-9, 1e-12);
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 0), 1.849688064 + 0.008, 1e-9, 1e-12);
    /* 2 threads: speedup 1.5 -> 3.08281344 ms; 5 + 3 x 1/3 = 6 us */
    CHECK_NEAR(cost_roofline_node_ms(&d, &f, 2), 3.08281344 + 0.006, 1e-9, 1e-12);
    /* the Add of test_roofline (2,408,448 bytes) is memory-bound: one core
     * at 4 GB/s -> 0.602112 ms; 3 threads at 4 + 6 x 2/3 = 8 GB/s ->
     * 0.301056 ms, 5 + 3 x 2/3 = 7 us */
    cost_features e = hand_add();
    CHECK_NEAR(cost_device_bw_gbs(&d, 3), 8.0, 1e-12, 0);
    CHECK_NEAR(cost_roofline_node_ms(&d, &e, 1), 0.602112 + 0.005, 1e-9, 1e-12);
    CHECK_NEAR(cost_roofline_node_ms(&d, &e, 3), 0.301056 + 0.007, 1e-9, 1e-12);
    /* a one-core device has nothing to interpolate */
    d.cores = 1;
    CHECK_NEAR(cost_device_bw_gbs(&d, 1), 10.0, 0, 0);
    CHECK_NEAR(cost_device_overhead_us(&d, 1), 5.0, 0, 0);
}

/* The same conv compiled by the runtime: features equal the hand count. */
static void test_features_of_conv(void) {
    ir_graph *g;
    CHECK(ir_graph_create(&g) == CLEAVE_OK);
    g->opsets = cv_calloc(1, sizeof(ir_opset));
    g->opsets[0].domain = "";
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    g->inputs = cv_malloc(sizeof(int));
    g->outputs = cv_malloc(sizeof(int));
    int x = ir_graph_intern_value(g, "x"), w = ir_graph_intern_value(g, "w"),
        b = ir_graph_intern_value(g, "b"), y = ir_graph_intern_value(g, "y");
    int64_t xd[4] = {1, 64, 56, 56}, wd[4] = {64, 64, 3, 3}, bd[1] = {64};
    g->values[x].dtype = CV_F32, g->values[x].ndim = 4;
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->values[x].is_input = 1, g->inputs[g->n_inputs++] = x;
    float *wv = calloc(64 * 64 * 9, sizeof(float)), bv[64] = {0};
    CHECK(ir_value_set_data(ctx, g, w, CV_F32, 4, wd, wv) == CLEAVE_OK);
    CHECK(ir_value_set_data(ctx, g, b, CV_F32, 1, bd, bv) == CLEAVE_OK);
    free(wv);
    g->values[w].is_initializer = g->values[b].is_initializer = 1;
    g->values[y].is_output = 1, g->outputs[g->n_outputs++] = y;
    int in[3] = {x, w, b};
    int n = ir_graph_add_node(g, "conv", "Conv", "", in, 3, &y, 1);
    int64_t pads[4] = {1, 1, 1, 1}, ks[2] = {3, 3};
    ir_node_set_attr_ints(g, &g->nodes[n], "pads", pads, 4);
    ir_node_set_attr_ints(g, &g->nodes[n], "kernel_shape", ks, 2);
    CHECK(ir_graph_toposort(ctx, g) == CLEAVE_OK && op_bind_graph(ctx, g) == CLEAVE_OK);
    cv_tensor xt = {.dtype = CV_F32, .ndim = 4, .dims = {1, 64, 56, 56}};
    rt_plan *p = NULL;
    cleave_status st = rt_plan_create(ctx, g, NULL, 0, NULL, 0, &xt, NULL, &p);
    if (st) fprintf(stderr, "plan: %s\n", cleave_ctx_error(ctx));
    CHECK(st == CLEAVE_OK);
    cost_features *fs = NULL;
    int nf = 0;
    if (p) CHECK(cost_features_from_plan(ctx, g, p, &fs, &nf) == CLEAVE_OK);
    CHECK(nf == 1);
    if (nf == 1) {
        /* 3x3 stride 1, 116 M MACs: a conv the backend may run by Winograd */
        CHECK(fs[0].cls == COST_OP_WCONV && fs[0].dtype == COST_DT_FP32);
        CHECK(fs[0].macs == 115605504.0);
        CHECK(fs[0].in_bytes == 802816.0 && fs[0].out_bytes == 802816.0);
        CHECK(fs[0].param_bytes == 147712.0);
        cost_device d = hand_device();
        d.efficiency[COST_DT_FP32][COST_OP_WCONV] = 0.5; /* as its conv figure */
        CHECK_NEAR(cost_roofline_node_ms(&d, &fs[0], 1), 4.62922016, 1e-9, 1e-12);
        d.efficiency[COST_DT_FP32][COST_OP_WCONV] = 1.0; /* Winograd: twice as fast */
        CHECK_NEAR(cost_roofline_node_ms(&d, &fs[0], 1), 4.62922016 / 2 + 0.005 / 2, 1e-9, 1e-12);
    }
    cv_free(fs);
    rt_plan_destroy(p);
    ir_graph_destroy(g);
}

static void test_shipped(void) {
    static const char *const want[] = {"this-machine.json", "rpi4.json", "jetson-nano.json", "server.json",
                                       "mcu.json"};
    char dir[512], path[1024];
    snprintf(dir, sizeof dir, "%s/devices", CLEAVE_SOURCE_DIR);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, want[i]);
        CHECK(access(path, R_OK) == 0);
    }
    DIR *dp = opendir(dir);
    CHECK(dp != NULL);
    if (!dp) return;
    struct dirent *e;
    int loaded = 0;
    while ((e = readdir(dp))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        cost_device d;
        cleave_ctx_clear_error(ctx);
        cleave_status s = cost_device_load(ctx, path, &d);
        if (s) fprintf(stderr, "%s: %s\n", path, cleave_ctx_error(ctx));
        CHECK(s == CLEAVE_OK);
        if (s) continue;
        loaded++;
        CHECK(d.sources[0] != 0); /* every shipped figure says where it comes from */
        CHECK(cost_device_gops(&d, COST_DT_FP32, COST_OP_CONV, 1) > 0);
        printf("  %-18s %-5s %4d cores  fp32 %8.1f  int8 %8.1f GOP/s/core  conv %.2f  %8.2f GB/s  %.0f B  %.1f us\n",
               e->d_name, d.kind, d.cores, d.peak_gops[0], d.peak_gops[1], d.efficiency[0][0], d.mem_bw_gbs,
               d.mem_bytes, d.op_overhead_us);
    }
    closedir(dp);
    CHECK(loaded >= 5);
}

/* ---- bad files ---- */

static const char *k_base =
    "{\"format\":\"cleave-device\",\"version\":1,\"name\":\"t\",\"kind\":\"edge\",\"cores\":4,"
    "\"freq_ghz\":1.5,\"peak_gops\":{\"fp32\":12,\"int8\":24,\"int4\":24},"
    "\"efficiency\":{\"fp32\":{\"conv\":0.5,\"dwconv\":0.2},\"int8\":{\"conv\":0.4}},"
    "\"mem_bw_gbs\":4.5,\"mem_bytes\":\"256KiB\",\"op_overhead_us\":20,"
    "\"sources\":[\"one\",\"two\"],\"future_field\":{\"x\":1}}";

static void write_text(const char *text) {
    FILE *f = fopen(tmp_path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Base file with `path` (a.b.c) set to the JSON value `val` (NULL: removed). */
static void write_variant(const char *path, const char *val) {
    json_t *root = json_loads(k_base, 0, NULL), *o = root;
    char key[128];
    snprintf(key, sizeof key, "%s", path);
    char *dot, *k = key;
    while ((dot = strchr(k, '.'))) {
        *dot = 0;
        o = json_object_get(o, k);
        k = dot + 1;
    }
    if (val) json_object_set_new(o, k, json_loads(val, JSON_DECODE_ANY, NULL));
    else json_object_del(o, k);
    char *text = json_dumps(root, 0);
    write_text(text);
    free(text);
    json_decref(root);
}

/* Loading must fail and the message must name the field and the file. */
static void expect_bad(const char *field, const char *val, const char *needle) {
    write_variant(field, val);
    cost_device d;
    cleave_ctx_clear_error(ctx);
    cleave_status s = cost_device_load(ctx, tmp_path, &d);
    const char *msg = cleave_ctx_error(ctx);
    int ok = s != CLEAVE_OK && strstr(msg, needle) && strstr(msg, tmp_path);
    if (!ok) fprintf(stderr, "  %s = %s: status %d, message '%s'\n", field, val ? val : "(removed)", s, msg);
    CHECK(ok);
}

static void test_bad(void) {
    cost_device d;
    write_text(k_base);
    CHECK(cost_device_load(ctx, tmp_path, &d) == CLEAVE_OK);
    CHECK(d.mem_bytes == 262144.0);
    CHECK(!strcmp(d.sources, "one; two"));
    CHECK(d.efficiency[COST_DT_FP32][COST_OP_CONV] == 0.5);
    CHECK(d.efficiency[COST_DT_INT8][COST_OP_CONV] == 0.4);
    /* missing classes take the documented defaults */
    CHECK(d.efficiency[COST_DT_FP32][COST_OP_GEMM] == cost_device_default_efficiency(COST_OP_GEMM));
    CHECK(d.efficiency[COST_DT_INT8][COST_OP_DWCONV] == cost_device_default_efficiency(COST_OP_DWCONV));
    CHECK(d.calibrated[0] == 0);

    expect_bad("peak_gops", NULL, "peak_gops");
    expect_bad("peak_gops.int8", NULL, "peak_gops.int8");
    expect_bad("peak_gops.fp32", "-1", "peak_gops.fp32");
    expect_bad("peak_gops.fp32", "1e9", "peak_gops.fp32");
    expect_bad("peak_gops.fp32", "\"fast\"", "peak_gops.fp32");
    expect_bad("peak_gops", "[1,2]", "peak_gops");
    expect_bad("mem_bw_gbs", NULL, "mem_bw_gbs");
    expect_bad("mem_bw_gbs", "0", "mem_bw_gbs");
    expect_bad("mem_bytes", NULL, "mem_bytes");
    expect_bad("mem_bytes", "\"lots\"", "mem_bytes");
    expect_bad("mem_bytes", "\"4 parsecs\"", "mem_bytes");
    expect_bad("mem_bytes", "-5", "mem_bytes");
    expect_bad("op_overhead_us", NULL, "op_overhead_us");
    expect_bad("op_overhead_us", "-1", "op_overhead_us");
    expect_bad("cores", NULL, "cores");
    expect_bad("cores", "0", "cores");
    expect_bad("cores", "100000", "cores");
    expect_bad("cores", "2.5", "cores");
    expect_bad("cores", "\"four\"", "cores");
    expect_bad("efficiency.fp32.conv", "1.5", "efficiency.fp32.conv");
    expect_bad("efficiency.fp32.conv", "0", "efficiency.fp32.conv");
    expect_bad("efficiency.int8.move", "-0.1", "efficiency.int8.move");
    expect_bad("efficiency.int8", "3", "efficiency.int8");
    expect_bad("freq_ghz", "-2", "freq_ghz");
    expect_bad("format", NULL, "format");
    expect_bad("format", "\"onnx\"", "format");
    expect_bad("version", "2", "version");
    expect_bad("kind", "\"phone\"", "kind");
    expect_bad("name", NULL, "name");
    expect_bad("name", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", "name");
    expect_bad("sources", "[\"ok\", 3]", "sources[1]");
    expect_bad("calibrated", "7", "calibrated");
    expect_bad("parallel", "3", "parallel");
    expect_bad("parallel", "{\"efficiency\": {\"fp32\": {\"conv\": 1.5}}}", "parallel.efficiency.fp32.conv");
    expect_bad("parallel", "{\"efficiency\": {\"int8\": 2}}", "parallel.efficiency.int8");
    expect_bad("parallel", "{\"mem_bw_1core_gbs\": 1e4}", "parallel.mem_bw_1core_gbs");
    expect_bad("parallel", "{\"overhead_us\": -1}", "parallel.overhead_us");
    expect_bad("parallel", "{\"overhead_us\": \"x\"}", "parallel.overhead_us");

    /* not JSON at all, and JSON that is not an object */
    write_text("{\"format\": \"cleave-device\", ");
    cleave_ctx_clear_error(ctx);
    CHECK(cost_device_load(ctx, tmp_path, &d) == CLEAVE_E_PARSE);
    CHECK(strstr(cleave_ctx_error(ctx), tmp_path) != NULL);
    write_text("[1, 2, 3]");
    cleave_ctx_clear_error(ctx);
    CHECK(cost_device_load(ctx, tmp_path, &d) != CLEAVE_OK);
    /* a missing file */
    cleave_ctx_clear_error(ctx);
    CHECK(cost_device_load(ctx, "/nonexistent/dev.json", &d) != CLEAVE_OK);
    cleave_ctx_clear_error(ctx);

    /* sizes */
    double v = 0;
    CHECK(cost_parse_bytes("4MiB", &v) && v == 4194304.0);
    CHECK(cost_parse_bytes("1GiB", &v) && v == 1073741824.0);
    CHECK(cost_parse_bytes("1.5 KB", &v) && v == 1500.0);
    CHECK(cost_parse_bytes("65536", &v) && v == 65536.0);
    CHECK(!cost_parse_bytes("MiB", &v) && !cost_parse_bytes("-1KiB", &v) && !cost_parse_bytes("4 MiBs", &v));
}

static int same_device(const cost_device *a, const cost_device *b, double rtol) {
    int ok = !strcmp(a->name, b->name) && !strcmp(a->kind, b->kind) && !strcmp(a->description, b->description) &&
             a->cores == b->cores && !strcmp(a->sources, b->sources) && !strcmp(a->calibrated, b->calibrated);
    double x[4] = {a->freq_ghz, a->mem_bw_gbs, a->mem_bytes, a->op_overhead_us};
    double y[4] = {b->freq_ghz, b->mem_bw_gbs, b->mem_bytes, b->op_overhead_us};
    for (int i = 0; i < 4; i++) ok &= fabs(x[i] - y[i]) <= rtol * fabs(x[i]);
    ok &= a->winograd == b->winograd && a->has_parallel == b->has_parallel;
    ok &= fabs(a->mem_bw_1core_gbs - b->mem_bw_1core_gbs) <= rtol * a->mem_bw_1core_gbs;
    ok &= fabs(a->par_overhead_us - b->par_overhead_us) <= rtol * a->par_overhead_us;
    for (int t = 0; t < COST_DT_N; t++) {
        ok &= fabs(a->peak_gops[t] - b->peak_gops[t]) <= rtol * a->peak_gops[t];
        for (int c = 0; c < COST_OP_N; c++) {
            ok &= fabs(a->efficiency[t][c] - b->efficiency[t][c]) <= rtol * a->efficiency[t][c];
            if (a->has_parallel) ok &= fabs(a->par_eff[t][c] - b->par_eff[t][c]) <= rtol * a->par_eff[t][c];
        }
    }
    return ok;
}

static void test_roundtrip(void) {
    cost_device d = hand_device(), e;
    d.efficiency[COST_DT_FP32][COST_OP_DWCONV] = 0.123456;
    d.mem_bytes = 3.5 * 1048576;
    d.winograd = 1;
    d.efficiency[COST_DT_FP32][COST_OP_WCONV] = 1.25;
    d.efficiency[COST_DT_INT8][COST_OP_WCONV] = d.efficiency[COST_DT_INT8][COST_OP_CONV]; /* no int8 Winograd */
    CHECK(cost_device_save(ctx, tmp_path, &d) == CLEAVE_OK);
    CHECK(cost_device_load(ctx, tmp_path, &e) == CLEAVE_OK);
    CHECK(same_device(&d, &e, 0)); /* figures of 6 significant digits come back exactly */
    /* a device without Winograd: no wconv written, read back as its conv */
    d.winograd = 0;
    CHECK(cost_device_save(ctx, tmp_path, &d) == CLEAVE_OK);
    CHECK(cost_device_load(ctx, tmp_path, &e) == CLEAVE_OK);
    CHECK(!e.winograd && e.efficiency[COST_DT_FP32][COST_OP_WCONV] == d.efficiency[COST_DT_FP32][COST_OP_CONV]);
    CHECK(e.efficiency[COST_DT_INT8][COST_OP_WCONV] == d.efficiency[COST_DT_INT8][COST_OP_CONV]);
    /* thread scaling comes back too */
    d.winograd = 1;
    d.has_parallel = 1;
    for (int t = 0; t < COST_DT_N; t++)
        for (int c = 0; c < COST_OP_N; c++) d.par_eff[t][c] = 0.25 + 0.05 * c + 0.01 * t;
    d.mem_bw_1core_gbs = 3.25;
    d.par_overhead_us = 1.5;
    CHECK(cost_device_save(ctx, tmp_path, &d) == CLEAVE_OK);
    CHECK(cost_device_load(ctx, tmp_path, &e) == CLEAVE_OK);
    CHECK(same_device(&d, &e, 1e-12)); /* 0.25 + 0.05 c is not always exact in binary */
    d.has_parallel = 0;
    /* an invalid device is not written */
    d.cores = 0;
    cleave_ctx_clear_error(ctx);
    CHECK(cost_device_save(ctx, tmp_path, &d) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "cores") != NULL);
    cleave_ctx_clear_error(ctx);
}

static void test_calibrate_quick(void) {
    cost_device d, e;
    double t0 = cv_now_ms();
    cleave_status s = cost_device_calibrate_budget(ctx, 1, 0, 0.3, &d);
    if (s) fprintf(stderr, "calibrate: %s\n", cleave_ctx_error(ctx));
    CHECK(s == CLEAVE_OK);
    if (s) return;
    printf("  quick calibration: %.2f s, fp32 %.1f GFLOP/s, int8 %.1f GOP/s, conv eff %.2f, %.2f GB/s, %.2f us\n",
           (cv_now_ms() - t0) * 1e-3, d.peak_gops[0], d.peak_gops[1], d.efficiency[0][0], d.mem_bw_gbs,
           d.op_overhead_us);
    CHECK(cost_device_validate(ctx, "calibrated", &d) == CLEAVE_OK);
    for (int t = 0; t < COST_DT_N; t++) {
        CHECK(d.peak_gops[t] > 0);
        for (int c = 0; c < COST_OP_N; c++) CHECK(d.efficiency[t][c] > 0 && d.efficiency[t][c] <= COST_EFF_MAX(c));
    }
    CHECK(d.mem_bw_gbs > 0 && d.op_overhead_us >= 0 && d.cores == 1 && d.calibrated[0]);
    CHECK(!strcmp(d.kind, "host"));
    CHECK(cost_device_save(ctx, tmp_path, &d) == CLEAVE_OK);
    CHECK(cost_device_load(ctx, tmp_path, &e) == CLEAVE_OK);
    CHECK(same_device(&d, &e, 1e-5));
    CHECK(!d.has_parallel);
    /* two threads: the scaling of each class is measured too */
    s = cost_device_calibrate_budget(ctx, 2, 0, 0.3, &d);
    CHECK(s == CLEAVE_OK);
    if (s) return;
    CHECK(d.cores == 2 && d.has_parallel);
    CHECK(d.mem_bw_1core_gbs > 0 && d.mem_bw_1core_gbs <= d.mem_bw_gbs && d.par_overhead_us >= 0);
    for (int t = 0; t < COST_DT_N; t++)
        for (int c = 0; c < COST_OP_N; c++) CHECK(d.par_eff[t][c] >= 0 && d.par_eff[t][c] <= 1);
    printf("  2 threads: conv scales %.2f per extra core, %.2f -> %.2f GB/s, +%.2f us per node\n",
           d.par_eff[0][COST_OP_CONV], d.mem_bw_1core_gbs, d.mem_bw_gbs, d.par_overhead_us);
    CHECK(cost_device_save(ctx, tmp_path, &d) == CLEAVE_OK);
    CHECK(cost_device_load(ctx, tmp_path, &e) == CLEAVE_OK);
    CHECK(same_device(&d, &e, 1e-5));
}

int main(void) {
    cleave_ctx_create(&ctx);
    snprintf(tmp_path, sizeof tmp_path, "/tmp/cleave_test_device_%ld.json", (long)getpid());
    test_roofline();
    test_parallel();
    test_features_of_conv();
    test_shipped();
    test_bad();
    test_roundtrip();
    test_calibrate_quick();
    remove(tmp_path);
    cleave_ctx_destroy(ctx);
    return check_summary("cost_device");
}
