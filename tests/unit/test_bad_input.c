/* Bad input never crashes and always explains itself: unreadable files,
 * truncated and bit-flipped models (fuzz sweep; run under ASan by
 * `make test-asan`), unknown ops, missing initializers, inconsistent
 * shapes, and wrong input shapes at run time. Each must return a non-OK
 * status with a message naming the file / node / tensor. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "onnx/onnx.h"
#include "ops/op.h"
#include "runtime/optimize.h"
#include "runtime/runtime.h"

#define MODEL CLEAVE_SOURCE_DIR "/models/fmnist-cnn.onnx"

static cleave_ctx *ctx;

static int msg_has(const char *s) {
    int ok = strstr(cleave_ctx_error(ctx), s) != NULL;
    if (!ok) fprintf(stderr, "  message '%s' lacks '%s'\n", cleave_ctx_error(ctx), s);
    cleave_ctx_clear_error(ctx);
    return ok;
}

/* A tiny graph: inputs X [1,4] (and more given by the case), built directly. */
static ir_graph *new_graph(void) {
    ir_graph *g;
    ir_graph_create(&g);
    g->opsets = cv_calloc(1, sizeof(ir_opset));
    g->opsets[0].domain = "";
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    g->inputs = cv_malloc(sizeof(int) * 8);
    g->outputs = cv_malloc(sizeof(int) * 8);
    return g;
}

static int add_io(ir_graph *g, const char *name, int is_in, int ndim, const int64_t *dims) {
    int v = ir_graph_intern_value(g, name);
    g->values[v].dtype = CV_F32;
    g->values[v].ndim = ndim;
    memcpy(g->values[v].dims, dims, sizeof(int64_t) * (size_t)ndim);
    if (is_in) g->values[v].is_input = 1, g->inputs[g->n_inputs++] = v;
    else g->values[v].is_output = 1, g->outputs[g->n_outputs++] = v;
    return v;
}

/* Save then load through the real file path; returns the loaded graph or NULL. */
static ir_graph *save_load(ir_graph *g, const char *file) {
    ir_graph *h = NULL;
    CHECK(onnx_save_file(ctx, g, file) == CLEAVE_OK);
    ir_graph_destroy(g);
    cleave_status st = onnx_load_file(ctx, file, &h);
    return st == CLEAVE_OK ? h : NULL;
}

static void case_unknown_op(void) {
    ir_graph *g = new_graph();
    int64_t d[2] = {1, 4};
    int x = add_io(g, "X", 1, 2, d), y = add_io(g, "Y", 0, 2, d);
    ir_graph_add_node(g, "mystery_node", "FooBar", "", &x, 1, &y, 1);
    ir_graph *h = save_load(g, "bad_unknown_op.onnx");
    CHECK(h != NULL);
    if (!h) return;
    CHECK(op_bind_graph(ctx, h) == CLEAVE_E_UNSUPPORTED);
    CHECK(msg_has("FooBar") && 1);
    ir_graph_destroy(h);
    /* the message also names the node and the file */
    g = new_graph();
    x = add_io(g, "X", 1, 2, d), y = add_io(g, "Y", 0, 2, d);
    ir_graph_add_node(g, "mystery_node", "FooBar", "", &x, 1, &y, 1);
    h = save_load(g, "bad_unknown_op.onnx");
    if (!h) return;
    op_bind_graph(ctx, h);
    CHECK(strstr(cleave_ctx_error(ctx), "mystery_node") && strstr(cleave_ctx_error(ctx), "bad_unknown_op.onnx"));
    cleave_ctx_clear_error(ctx);
    ir_graph_destroy(h);
}

static void case_missing_initializer(void) {
    ir_graph *g = new_graph();
    int64_t d[2] = {1, 4};
    int x = add_io(g, "X", 1, 2, d), y = add_io(g, "Y", 0, 2, d);
    int w = ir_graph_intern_value(g, "W_missing");
    int in[2] = {x, w};
    ir_graph_add_node(g, "add0", "Add", "", in, 2, &y, 1);
    ir_graph *h = save_load(g, "bad_missing_init.onnx");
    CHECK(h == NULL);
    CHECK(msg_has("W_missing"));
    ir_graph_destroy(h);
}

static void case_inconsistent_shapes(const char *op, int64_t a1, int64_t b0, int64_t b1) {
    ir_graph *g = new_graph();
    int64_t da[2] = {2, a1}, db[2] = {b0, b1}, dy[2] = {2, 2};
    int a = add_io(g, "A", 1, 2, da), b = add_io(g, "B", 1, 2, db), y = add_io(g, "Y", 0, 2, dy);
    int in[2] = {a, b};
    ir_graph_add_node(g, "bad_shapes_node", op, "", in, 2, &y, 1);
    ir_graph *h = save_load(g, "bad_shapes.onnx");
    CHECK(h != NULL);
    if (!h) return;
    CHECK(op_bind_graph(ctx, h) == CLEAVE_OK);
    cv_tensor spec[2] = {{.dtype = CV_F32, .ndim = 2, .dims = {2, a1}}, {.dtype = CV_F32, .ndim = 2, .dims = {b0, b1}}};
    rt_plan *p = NULL;
    CHECK(rt_plan_create(ctx, h, NULL, 0, NULL, 0, spec, NULL, &p) == CLEAVE_E_INVALID);
    CHECK(msg_has("bad_shapes_node"));
    rt_plan_destroy(p);
    ir_graph_destroy(h);
}

static void case_wrong_input_shape(void) {
    ir_graph *g = NULL;
    if (onnx_load_file(ctx, MODEL, &g) != CLEAVE_OK || rt_graph_optimize(ctx, g, NULL) != CLEAVE_OK) {
        cleave_ctx_clear_error(ctx);
        ir_graph_destroy(g);
        return;
    }
    /* declared 1x1x28x28 (dynamic batch): a 1x3x28x28 tensor must be refused at compile */
    cv_tensor bad = {.dtype = CV_F32, .ndim = 4, .dims = {1, 3, 28, 28}};
    rt_plan *p = NULL;
    CHECK(rt_plan_create(ctx, g, NULL, 0, NULL, 0, &bad, NULL, &p) == CLEAVE_E_INVALID);
    CHECK(msg_has("input"));
    cv_tensor badt = {.dtype = CV_I64, .ndim = 4, .dims = {1, 1, 28, 28}};
    CHECK(rt_plan_create(ctx, g, NULL, 0, NULL, 0, &badt, NULL, &p) == CLEAVE_E_INVALID);
    CHECK(msg_has("dtype"));
    /* compiled for 1x1x28x28, run with 2x1x28x28 */
    cv_tensor ok = {.dtype = CV_F32, .ndim = 4, .dims = {1, 1, 28, 28}};
    if (rt_plan_create(ctx, g, NULL, 0, NULL, 0, &ok, NULL, &p) == CLEAVE_OK) {
        static float buf[2 * 28 * 28];
        cv_tensor two = {.dtype = CV_F32, .ndim = 4, .dims = {2, 1, 28, 28}, .data = buf};
        CHECK(rt_plan_run(p, &two) == CLEAVE_E_INVALID);
        CHECK(msg_has("compiled for"));
        rt_plan_destroy(p);
    } else {
        cleave_ctx_clear_error(ctx);
    }
    ir_graph_destroy(g);
}

/* Load, and if that works, optimise, compile and run once: no crash. */
static int try_model(const uint8_t *buf, size_t len) {
    ir_graph *g = NULL;
    cleave_status st = onnx_load_bytes(ctx, buf, len, "fuzzed.onnx", &g);
    if (st == CLEAVE_OK) st = rt_graph_optimize(ctx, g, NULL);
    if (st == CLEAVE_OK) {
        cv_tensor spec = {.dtype = CV_F32, .ndim = 4, .dims = {1, 1, 28, 28}};
        static float x[28 * 28];
        spec.data = x;
        rt_plan *p = NULL;
        st = rt_plan_create(ctx, g, NULL, 0, NULL, 0, &spec, NULL, &p);
        if (st == CLEAVE_OK) st = rt_plan_run(p, &spec);
        rt_plan_destroy(p);
    }
    int has_msg = st == CLEAVE_OK || cleave_ctx_error(ctx)[0] != 0;
    cleave_ctx_clear_error(ctx);
    ir_graph_destroy(g);
    return has_msg;
}

static void case_fuzz(void) {
    uint8_t *buf;
    size_t len;
    if (cv_read_file(ctx, MODEL, 1 << 26, &buf, &len) != CLEAVE_OK) {
        cleave_ctx_clear_error(ctx);
        return;
    }
    int all_msg = 1, truncs = 0;
    /* Every prefix length up to 4 KB, then 64 points spread over the file. */
    for (size_t l = 0; l < len; l += l < 4096 ? 1 : len / 64 + 1, truncs++) {
        uint8_t *cut = cv_malloc(l + 1);
        memcpy(cut, buf, l);
        all_msg &= try_model(cut, l);
        cv_free(cut);
    }
    CHECK(all_msg);
    uint64_t s = 12345;
    all_msg = 1;
    for (int i = 0; i < 1500; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        size_t pos = (size_t)(s >> 33) % len;
        /* flip bits mostly in the structure (the first 2 KB), sometimes anywhere */
        if (i % 3) pos %= 2048 < len ? 2048 : len;
        uint8_t bit = (uint8_t)(1u << ((s >> 20) & 7));
        buf[pos] ^= bit;
        all_msg &= try_model(buf, len);
        buf[pos] ^= bit;
    }
    CHECK(all_msg);
    printf("fuzz: %d truncations and 1500 bit flips of %s handled\n", truncs, MODEL);
    cv_free(buf);
}

int main(void) {
    cleave_ctx_create(&ctx);
    ir_graph *g = NULL;
    CHECK(onnx_load_file(ctx, "/nonexistent/dir/model.onnx", &g) == CLEAVE_E_IO);
    CHECK(msg_has("/nonexistent/dir/model.onnx"));
    CHECK(onnx_load_file(ctx, "/", &g) != CLEAVE_OK);
    CHECK(msg_has("/"));
    cv_tensor t;
    CHECK(onnx_tensor_load_file(ctx, MODEL, &t, NULL) != CLEAVE_OK); /* a model is not a tensor */
    cleave_ctx_clear_error(ctx);
    case_unknown_op();
    case_missing_initializer();
    case_inconsistent_shapes("Add", 3, 2, 4);
    case_inconsistent_shapes("MatMul", 3, 4, 2);
    case_wrong_input_shape();
    case_fuzz();
    remove("bad_unknown_op.onnx");
    remove("bad_missing_init.onnx");
    remove("bad_shapes.onnx");
    cleave_ctx_destroy(ctx);
    return check_summary("bad input");
}
