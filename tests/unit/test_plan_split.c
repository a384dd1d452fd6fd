/* plan split: plan.json read back (good files and bad ones, whose errors
 * must name the file, the solution and the field), ir_graph_extract on a
 * hand-built graph, and solutions applied to the trained Fashion-MNIST CNN:
 * the travelling codes found in QDQ form and after lowering to integer
 * kernels, bad cuts refused, and edge.onnx then cloud.onnx computing what
 * whole.onnx computes. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ir/extract.h"
#include "onnx/onnx.h"
#include "ops/op.h"
#include "plan/split.h"
#include "quant/measure.h"
#include "runtime/optimize.h"

#define MODEL CLEAVE_SOURCE_DIR "/models/fmnist-cnn.onnx"

static cleave_ctx *ctx;
static char tmpdir[] = "/tmp/cleave-test-split-XXXXXX";

static const char *write_plan(const char *text) {
    static char path[128];
    snprintf(path, sizeof path, "%s/plan.json", tmpdir);
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
    return path;
}

/* ---- ir_graph_extract ---- */

static int val(ir_graph *g, const char *name, int input) {
    int v = ir_graph_intern_value(g, name);
    g->values[v].dtype = CV_F32;
    g->values[v].ndim = 1;
    g->values[v].dims[0] = 4;
    if (input) g->values[v].is_input = 1, g->inputs[g->n_inputs++] = v;
    return v;
}

static int count_constants(const ir_graph *g) {
    int n = 0;
    for (int v = 0; v < g->n_values; v++) n += g->values[v].data != NULL;
    return n;
}

static void test_extract(void) {
    /* x -> Relu -> a;  (a, w) -> Add -> b;  (a, b) -> Mul -> c;  x -> Sigmoid -> d;
     * u is a constant nobody on the way to c reads */
    ir_graph *g;
    ir_graph_create(&g);
    g->opsets = cv_calloc(1, sizeof(ir_opset));
    g->opsets[0].domain = "";
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    g->inputs = cv_malloc(sizeof(int) * 4);
    g->outputs = cv_malloc(sizeof(int) * 4);
    int x = val(g, "x", 1), a = val(g, "a", 0), b = val(g, "b", 0), c = val(g, "c", 0), d = val(g, "d", 0);
    float wv[4] = {1, 2, 3, 4};
    int64_t four = 4;
    int w = ir_graph_intern_value(g, "w"), u = ir_graph_intern_value(g, "u");
    CHECK(ir_value_set_data(ctx, g, w, CV_F32, 1, &four, wv) == CLEAVE_OK);
    CHECK(ir_value_set_data(ctx, g, u, CV_F32, 1, &four, wv) == CLEAVE_OK);
    g->values[w].is_initializer = g->values[u].is_initializer = 1;
    int in2[2];
    ir_graph_add_node(g, "relu", "Relu", "", &x, 1, &a, 1);
    in2[0] = a, in2[1] = w;
    ir_graph_add_node(g, "add", "Add", "", in2, 2, &b, 1);
    in2[0] = a, in2[1] = b;
    ir_graph_add_node(g, "mul", "Mul", "", in2, 2, &c, 1);
    in2[0] = x, in2[1] = u;
    ir_graph_add_node(g, "sig", "Add", "", in2, 2, &d, 1);
    g->values[c].is_output = g->values[d].is_output = 1;
    g->outputs[g->n_outputs++] = c;
    g->outputs[g->n_outputs++] = d;
    CHECK(ir_graph_toposort(ctx, g) == CLEAVE_OK && op_bind_graph(ctx, g) == CLEAVE_OK);

    ir_graph *h = NULL;
    /* the head of c: three nodes, only w */
    CHECK(ir_graph_extract(ctx, g, &x, 1, &c, 1, &h) == CLEAVE_OK);
    if (h) {
        CHECK(h->n_nodes == 3 && h->n_inputs == 1 && h->n_outputs == 1);
        CHECK(!strcmp(h->values[h->inputs[0]].name, "x") && !strcmp(h->values[h->outputs[0]].name, "c"));
        CHECK(count_constants(h) == 1 && ir_graph_find_value(h, "w") >= 0 && ir_graph_find_value(h, "u") < 0);
        CHECK(ir_graph_find_value(h, "d") < 0);
        /* it runs: c = relu(x) * (relu(x) + w) */
        float xv[4] = {-1, 0.5f, 2, -3}, want[4];
        for (int i = 0; i < 4; i++) {
            float r = xv[i] > 0 ? xv[i] : 0;
            want[i] = r * (r + wv[i]);
        }
        cv_tensor in = {.dtype = CV_F32, .ndim = 1, .dims = {4}, .data = xv};
        rt_plan *p = NULL;
        CHECK(op_bind_graph(ctx, h) == CLEAVE_OK && rt_plan_create(ctx, h, NULL, 0, NULL, 0, &in, NULL, &p) == CLEAVE_OK);
        if (p && rt_plan_run(p, &in) == CLEAVE_OK) {
            const float *y = rt_plan_output(p, 0)->data;
            for (int i = 0; i < 4; i++) CHECK_NEAR(y[i], want[i], 0, 0);
        }
        rt_plan_destroy(p);
        /* a round trip through ONNX keeps exactly that */
        char path[128];
        snprintf(path, sizeof path, "%s/head.onnx", tmpdir);
        ir_graph *back = NULL;
        CHECK(onnx_save_file(ctx, h, path) == CLEAVE_OK && onnx_load_file(ctx, path, &back) == CLEAVE_OK);
        if (back) CHECK(back->n_nodes == 3 && count_constants(back) == 1 && back->n_inputs == 1);
        ir_graph_destroy(back);
        ir_graph_destroy(h);
        h = NULL;
    }
    /* the tail from an inner value: Add and Mul, x gone */
    CHECK(ir_graph_extract(ctx, g, &a, 1, &c, 1, &h) == CLEAVE_OK);
    if (h) CHECK(h->n_nodes == 2 && ir_graph_find_value(h, "x") < 0 && h->values[h->inputs[0]].producer < 0);
    ir_graph_destroy(h);
    /* several inputs; one of them is also the output */
    int ab[2] = {b, a}, ac[2] = {c, a};
    CHECK(ir_graph_extract(ctx, g, ab, 2, ac, 2, &h) == CLEAVE_OK);
    if (h) CHECK(h->n_nodes == 1 && h->n_inputs == 2 && h->n_outputs == 2);
    ir_graph_destroy(h);
    /* d needs x, which is not given: the error names x and the node reading it */
    CHECK(ir_graph_extract(ctx, g, &a, 1, &d, 1, &h) != CLEAVE_OK && h == NULL);
    CHECK(strstr(cleave_ctx_error(ctx), "'x'") && strstr(cleave_ctx_error(ctx), "sig"));
    cleave_ctx_clear_error(ctx);
    int twice[2] = {c, c};
    CHECK(ir_graph_extract(ctx, g, &x, 1, twice, 2, &h) != CLEAVE_OK && strstr(cleave_ctx_error(ctx), "twice"));
    cleave_ctx_clear_error(ctx);
    ir_graph_destroy(g);
}

/* ---- plan.json ---- */

/* The value node `name` writes. */
static const char *out_of(const ir_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name)) return g->values[g->nodes[i].out[0]].name;
    return "?";
}

#define HEAD "{\"format\": \"cleave-plan\", \"version\": 1, \"model\": \"m.onnx\", \"model_sha256\": \"ab\", "
#define SOL(id, edge, cross, layers)                                                                       \
    "{\"id\": " #id ", \"method\": \"auto-split\", \"recommended\": false, \"feasible\": true, "          \
    "\"edge\": [" edge "], \"crossing\": [" cross "], \"layers\": {" layers "}}"

/* Good: four solutions over the CNN's layers. */
static char *good_plan(const ir_graph *g) {
    static char buf[6144];
    snprintf(buf, sizeof buf,
             HEAD "\"statistics_file\": \"stats.json\", \"link\": {\"mbit_s\": 3, \"rtt_ms\": 20, \"overhead_ms\": 0.2},"
                  "\"solutions\": ["
                  "{\"id\": 0, \"method\": \"auto-split\", \"recommended\": true, \"feasible\": true,"
                  " \"edge\": [\"/conv1/Conv\", \"/MaxPool\", \"/conv2/Conv\"],"
                  " \"crossing\": [{\"tensor\": \"%s\", \"elements\": 6272, \"bits\": 4}],"
                  " \"layers\": {\"input\": {\"a\": 8}, \"/conv1/Conv\": {\"w\": 8, \"a\": 8}, \"/MaxPool\": {\"a\": 8},"
                  " \"/conv2/Conv\": {\"w\": 6, \"a\": 4}},"
                  " \"predicted\": {\"total_ms\": 12.5, \"accuracy_drop_pt\": 0.25, \"edge_ms\": null}},"
                  "{\"id\": 1, \"method\": \"cloud-only\", \"edge\": [],"
                  " \"crossing\": [{\"tensor\": \"input\", \"elements\": 784, \"bits\": 8}], \"layers\": {\"input\": {\"a\": 8}}},"
                  "{\"id\": 2, \"method\": \"edge-fp32\", \"edge\": [\"/conv1/Conv\", \"/MaxPool\", \"/conv2/Conv\","
                  " \"/MaxPool_1\", \"/conv3/Conv\", \"/MaxPool_2\", \"/Flatten\", \"/fc/Gemm\"], \"crossing\": [],"
                  " \"layers\": {}},"
                  "{\"id\": 7, \"method\": \"auto-split\", \"edge\": [\"/conv1/Conv\", \"/MaxPool\"],"
                  " \"crossing\": [{\"tensor\": \"%s\", \"elements\": 3136, \"bits\": 8}],"
                  " \"layers\": {\"input\": {\"a\": 8}, \"/conv1/Conv\": {\"w\": 4, \"a\": 8}, \"/MaxPool\": {\"a\": 8}}},"
                  "{\"id\": 8, \"method\": \"qdmp (min-cut u8)\", \"edge\": [\"/conv1/Conv\"],"
                  " \"crossing\": [{\"tensor\": \"%s\", \"elements\": 12544, \"bits\": 8}],"
                  " \"layers\": {\"input\": {\"a\": 8}, \"/conv1/Conv\": {\"w\": 8, \"a\": 8}}}"
                  "]}",
             out_of(g, "/conv2/Conv"), out_of(g, "/MaxPool"), out_of(g, "/conv1/Conv"));
    return buf;
}

static void test_plan_file(const ir_graph *g, const quant_layer *l, int n) {
    plan_file pf;
    const char *path = write_plan(good_plan(g));
    CHECK(plan_file_load(ctx, path, l, n, &pf) == CLEAVE_OK);
    if (!pf.sol) {
        fprintf(stderr, "  %s\n", cleave_ctx_error(ctx));
        return;
    }
    CHECK(pf.n_sol == 5 && pf.n_layers == n && plan_file_recommended(&pf) == 0);
    CHECK(plan_file_find(&pf, 7) == 3 && plan_file_find(&pf, 5) < 0);
    CHECK(plan_file_find_method(&pf, "cloud-only") == 1 && plan_file_find_method(&pf, "dads") < 0);
    CHECK(!strcmp(pf.model, "m.onnx") && !strcmp(pf.model_sha256, "ab") && !strcmp(pf.stats_file, "stats.json"));
    CHECK(pf.mbit_s == 3 && pf.rtt_ms == 20 && pf.overhead_ms == 0.2);
    const plan_file_solution *s = &pf.sol[0];
    int c2 = quant_layer_index(l, n, "/conv2/Conv"), fc = quant_layer_index(l, n, "/fc/Gemm");
    CHECK(s->n_edge == 3 && !strcmp(s->edge[2], "/conv2/Conv"));
    CHECK(s->n_cross == 1 && s->cross_bits[0] == 4 && s->cross_elems[0] == 6272);
    CHECK(c2 >= 0 && s->wbits[c2] == 6 && s->abits[c2] == 4 && s->wbits[fc] == QUANT_FLOAT && s->abits[0] == 8);
    CHECK(s->total_ms == 12.5 && s->drop_pt == 0.25 && isnan(s->edge_ms) && isnan(s->cloud_ms));
    CHECK(pf.sol[2].n_cross == 0 && pf.sol[2].n_edge == 8 && !pf.sol[1].recommended);
    plan_file_free(&pf);

    /* bad files: the message names the file and what is wrong */
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"format\": \"cleave-quant-stats\", \"version\": 1}", "format"},
        {"{\"format\": \"cleave-plan\", \"version\": 2}", "version"},
        {HEAD "\"link\": 3, \"solutions\": []}", "link"},
        {HEAD "\"solutions\": {}}", "solutions"},
        {HEAD "\"solutions\": [" SOL(0, "", "", "\"/nope\": {\"w\": 4}") "]}", "solution 0: layers['/nope']: not a quantization layer"},
        {HEAD "\"solutions\": [" SOL(3, "", "", "\"/conv1/Conv\": {\"w\": 9}") "]}", "solution 3: layers['/conv1/Conv']: w: not a bit width"},
        {HEAD "\"solutions\": [" SOL(0, "", "", "\"/conv1/Conv\": {\"a\": 1}") "]}", "a: not a bit width"},
        {HEAD "\"solutions\": [" SOL(0, "", "", "\"/conv1/Conv\": {\"x\": 4}") "]}", "unknown key 'x'"},
        {HEAD "\"solutions\": [" SOL(0, "", "", "\"/MaxPool\": {\"w\": 4}") "]}", "has no weight"},
        {HEAD "\"solutions\": [" SOL(0, "", "", "\"/fc/Gemm\": {\"a\": 4}") "]}", "no quantized activation"},
        {HEAD "\"solutions\": [" SOL(4, "", "{\"tensor\": \"input\", \"bits\": 12}", "") "]}", "solution 4: crossing[0]: bits"},
        {HEAD "\"solutions\": [" SOL(0, "", "{\"bits\": 8}", "") "]}", "crossing[0]"},
        {HEAD "\"solutions\": [" SOL(0, "3", "", "") "]}", "solution 0: edge"},
        {HEAD "\"solutions\": [" SOL(0, "", "", "") ", " SOL(0, "", "", "") "]}", "two solutions have id 0"},
        {HEAD "\"solutions\": [{\"method\": \"dads\"}]}", "solutions[0]: id"},
        {HEAD "\"solutions\": [", "plan.json:1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = write_plan(bad[i].text);
        cleave_status st = plan_file_load(ctx, path, l, n, &pf);
        const char *e = cleave_ctx_error(ctx);
        CHECK(st != CLEAVE_OK && pf.sol == NULL && pf.root == NULL);
        CHECK(strstr(e, bad[i].needle) && strstr(e, "plan.json"));
        if (!strstr(e, bad[i].needle)) fprintf(stderr, "  case %zu: message: %s\n", i, e);
        cleave_ctx_clear_error(ctx);
    }
}

/* ---- solutions applied to the model ---- */

/* Run g from its input to the values outs[0..n) (uint8 codes) on x. */
static int run_codes(const ir_graph *g, const int *outs, int n, const cv_tensor *x, uint8_t **codes, int64_t *len) {
    rt_plan *p = NULL;
    if (rt_plan_create(ctx, g, NULL, 0, outs, n, x, NULL, &p) || rt_plan_run(p, x)) {
        rt_plan_destroy(p);
        return 0;
    }
    const cv_tensor *t = rt_plan_output(p, 0);
    *len = cv_numel(t);
    *codes = t->dtype == CV_U8 ? cv_malloc((size_t)*len) : NULL;
    if (*codes) memcpy(*codes, t->data, (size_t)*len);
    rt_plan_destroy(p);
    return *codes != NULL;
}

static void test_build(const ir_graph *g, const quant_layer *l, int n, const quant_stats *st, const cv_tensor *x) {
    plan_file pf;
    if (plan_file_load(ctx, write_plan(good_plan(g)), l, n, &pf)) return;
    int out_v = g->outputs[0];
    for (int k = 0; k < pf.n_sol; k++) {
        const plan_file_solution *s = &pf.sol[k];
        plan_split q, lo;
        CHECK(plan_split_build(ctx, g, l, n, st, s, 0, &q) == CLEAVE_OK);
        CHECK(plan_split_build(ctx, g, l, n, st, s, 1, &lo) == CLEAVE_OK);
        if (!q.g || !lo.g) {
            fprintf(stderr, "  solution %d: %s\n", s->id, cleave_ctx_error(ctx));
            cleave_ctx_clear_error(ctx);
            continue;
        }
        CHECK(q.n_cross == s->n_cross && lo.n_cross == s->n_cross && !q.lowered && lo.lowered);
        CHECK(q.n_edge_out + q.n_cloud_out == 1);
        if (s->n_cross) CHECK(q.n_cloud_out == 1 && q.cloud_out[0] == out_v && !q.n_edge_out);
        else CHECK(q.n_edge_out == 1 && q.edge_out[0] == out_v);
        for (int c = 0; c < q.n_cross; c++) {
            const ir_value *cv = &q.g->values[q.codes[c]], *lv = &lo.g->values[lo.codes[c]];
            const char *prod = q.g->nodes[cv->producer].op_type, *lprod = lo.g->nodes[lv->producer].op_type;
            CHECK(!strcmp(q.names[c], s->cross[c]) && q.bits[c] == s->cross_bits[c]);
            CHECK(!strcmp(prod, "QuantizeLinear") && !strcmp(cv->name, lv->name));
            CHECK(q.info[c].dtype == CV_U8 && lo.info[c].dtype == CV_U8 && cv_numel(&q.info[c]) == s->cross_elems[c]);
            CHECK(q.scale[c] > 0 && q.scale[c] == lo.scale[c] && q.zero_point[c] == lo.zero_point[c]);
            CHECK(q.zero_point[c] >= 0 && q.zero_point[c] < (1 << q.bits[c]));
            /* after lowering an integer kernel writes the codes where it can:
             * the 8-bit pool after an 8-bit conv, an 8-bit conv; the 4-bit conv
             * too, clamping its codes to 2^4 - 1 as it writes them (the clip
             * moved onto the codes, ir_pass_qdq_clip_codes, then fused into
             * it, ir_pass_fuse_code_clips) */
            if (s->id == 7) CHECK(!strcmp(lprod, "MaxPool"));
            if (s->id == 8) CHECK(!strcmp(lprod, "QLinearConv"));
            if (s->id == 0) {
                const ir_node *cn = &lo.g->nodes[lv->producer];
                CHECK(!strcmp(lprod, "QLinearConv") && cn->act.kind == IR_ACT_CLIP && cn->act.beta == 15.0f);
            }
            /* both forms send the same codes (integer rounding may move a tie) */
            uint8_t *a = NULL, *b = NULL;
            int64_t na = 0, nb = 0;
            CHECK(run_codes(q.g, &q.codes[c], 1, x, &a, &na) && run_codes(lo.g, &lo.codes[c], 1, x, &b, &nb));
            if (a && b && na == nb) {
                int maxd = 0, over = 0;
                for (int64_t i = 0; i < na; i++) {
                    int d = abs((int)a[i] - (int)b[i]);
                    maxd = d > maxd ? d : maxd;
                    over |= a[i] >= (1 << q.bits[c]);
                }
                CHECK(maxd <= 1 && !over);
            }
            cv_free(a), cv_free(b);
        }
        /* export: edge then cloud computes what the whole QDQ model computes */
        if (s->id == 0 || s->id == 1) {
            CHECK(plan_split_export(ctx, &lo, &pf, s, tmpdir) != CLEAVE_OK); /* lowered: refused */
            cleave_ctx_clear_error(ctx);
            CHECK(plan_split_export(ctx, &q, &pf, s, tmpdir) == CLEAVE_OK);
            char pe[160], pc[160], pw[160];
            snprintf(pe, sizeof pe, "%s/edge.onnx", tmpdir);
            snprintf(pc, sizeof pc, "%s/cloud.onnx", tmpdir);
            snprintf(pw, sizeof pw, "%s/whole.onnx", tmpdir);
            ir_graph *e = NULL, *cl = NULL, *w = NULL;
            CHECK(onnx_load_file(ctx, pe, &e) == CLEAVE_OK && onnx_load_file(ctx, pc, &cl) == CLEAVE_OK &&
                  onnx_load_file(ctx, pw, &w) == CLEAVE_OK);
            rt_plan *pe_ = NULL, *pc_ = NULL, *pw_ = NULL;
            if (e && cl && w && !op_bind_graph(ctx, e) && !op_bind_graph(ctx, cl) && !op_bind_graph(ctx, w)) {
                CHECK(e->n_outputs == 1 && cl->n_inputs == 1 && e->values[e->outputs[0]].dtype == CV_U8);
                CHECK(!strcmp(e->values[e->outputs[0]].name, cl->values[cl->inputs[0]].name));
                CHECK(rt_plan_create(ctx, e, NULL, 0, NULL, 0, x, NULL, &pe_) == CLEAVE_OK && rt_plan_run(pe_, x) == CLEAVE_OK);
                CHECK(rt_plan_create(ctx, w, NULL, 0, NULL, 0, x, NULL, &pw_) == CLEAVE_OK && rt_plan_run(pw_, x) == CLEAVE_OK);
                const cv_tensor *codes = pe_ ? rt_plan_output(pe_, 0) : NULL;
                CHECK(codes && rt_plan_create(ctx, cl, NULL, 0, NULL, 0, codes, NULL, &pc_) == CLEAVE_OK &&
                      rt_plan_run(pc_, codes) == CLEAVE_OK);
                if (pc_ && pw_) {
                    const cv_tensor *y = rt_plan_output(pc_, 0), *yw = rt_plan_output(pw_, 0);
                    double md = 0;
                    for (int64_t i = 0; i < cv_numel(yw); i++) {
                        double d = fabs(((const float *)y->data)[i] - ((const float *)yw->data)[i]);
                        md = d > md ? d : md;
                    }
                    CHECK(cv_numel(y) == cv_numel(yw) && md == 0);
                }
            }
            rt_plan_destroy(pe_), rt_plan_destroy(pc_), rt_plan_destroy(pw_);
            ir_graph_destroy(e), ir_graph_destroy(cl), ir_graph_destroy(w);
            cleave_ctx_clear_error(ctx);
        }
        plan_split_free(&q);
        plan_split_free(&lo);
    }
    plan_file_free(&pf);

    /* cuts that do not hold together */
    char buf[4096], c2[300], mp[300], both[700];
    snprintf(c2, sizeof c2, "{\"tensor\": \"%s\", \"bits\": 32}", out_of(g, "/conv2/Conv"));
    snprintf(mp, sizeof mp, "{\"tensor\": \"%s\", \"bits\": 32}", out_of(g, "/MaxPool"));
    snprintf(both, sizeof both, "%s, %s", c2, mp);
    static const char *conv12 = "\"/conv1/Conv\", \"/MaxPool\", \"/conv2/Conv\"";
    const struct {
        const char *edge, *cross, *layers, *needle;
    } bad[] = {
        {conv12, both, "", "crossing tensor '/MaxPool_output_0' does not cross the cut (no cloud node reads it)"},
        {conv12, mp, "", "'/Relu_1_output_0' crosses the cut (cloud node '/MaxPool_1' (MaxPool) reads it) but is not in crossing"},
        {"\"/conv2/Conv\"", c2, "", "made on the cloud by '/MaxPool'"},
        {"\"/conv1/Conv\", \"/nope\"", mp, "", "edge node '/nope' is not a node"},
        {conv12, c2, "\"/conv2/Conv\": {\"a\": 8}", "sent at 32 bits but layer '/conv2/Conv' quantizes it at 8"},
        {"", "{\"tensor\": \"input\", \"bits\": 4}", "\"input\": {\"a\": 8}", "sent at 4 bits but layer 'input'"},
        {"", "{\"tensor\": \"nothing\", \"bits\": 8}", "", "'nothing' is not an activation"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf,
                 HEAD "\"solutions\": [{\"id\": 5, \"method\": \"auto-split\", \"edge\": [%s], \"crossing\": "
                      "[%s], \"layers\": {%s}}]}",
                 bad[i].edge, bad[i].cross, bad[i].layers);
        plan_split q;
        CHECK(plan_file_load(ctx, write_plan(buf), l, n, &pf) == CLEAVE_OK);
        if (!pf.sol) continue;
        CHECK(plan_split_build(ctx, g, l, n, st, &pf.sol[0], 0, &q) != CLEAVE_OK && q.g == NULL);
        const char *e = cleave_ctx_error(ctx);
        CHECK(strstr(e, bad[i].needle) && strstr(e, "solution 5"));
        if (!strstr(e, bad[i].needle)) fprintf(stderr, "  cut %zu: message: %s\n", i, e);
        cleave_ctx_clear_error(ctx);
        plan_file_free(&pf);
    }
}

int main(void) {
    cleave_ctx_create(&ctx);
    if (!mkdtemp(tmpdir)) {
        printf("test_plan_split: skipped: no temporary folder\n");
        return 77;
    }
    test_extract();

    ir_graph *g = NULL;
    CHECK(onnx_load_file(ctx, MODEL, &g) == CLEAVE_OK && rt_graph_optimize(ctx, g, NULL) == CLEAVE_OK);
    cv_tensor spec = {CV_F32, 4, {1, 1, 28, 28}, NULL, 0, 0};
    rt_plan *p = NULL;
    quant_layer *l = NULL;
    int n = 0;
    CHECK(g && rt_plan_create(ctx, g, NULL, 0, NULL, 0, &spec, NULL, &p) == CLEAVE_OK &&
          quant_layers_find(ctx, g, p, &l, &n) == CLEAVE_OK);
    rt_plan_destroy(p);
    if (l) {
        test_plan_file(g, l, n);
        /* statistics from a few seeded pseudo-images in [-0.8, 2] (the
         * normalized Fashion-MNIST range) */
        enum { N = 16 };
        static float xs[N * 784];
        uint32_t r = 12345;
        for (int i = 0; i < N * 784; i++) {
            r = r * 1664525u + 1013904223u;
            xs[i] = -0.8f + 2.8f * (float)(r >> 8) / 16777216.0f;
        }
        cv_tensor xt = {CV_F32, 4, {N, 1, 28, 28}, xs, 0, 0}, x1 = {CV_F32, 4, {1, 1, 28, 28}, xs, 0, 0};
        quant_stats st;
        memset(&st, 0, sizeof st);
        quant_data qd = {&xt, 8, NULL, NULL};
        CHECK(quant_stats_create(ctx, g, l, n, Q_HIST_DEFAULT_BINS, &st) == CLEAVE_OK &&
              quant_calibrate(ctx, g, l, n, &qd, &st) == CLEAVE_OK);
        test_build(g, l, n, &st, &x1);
        quant_stats_free(&st);
    }
    cv_free(l);
    ir_graph_destroy(g);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    cleave_ctx_destroy(ctx);
    return check_summary("test_plan_split");
}
