/* Executor memory plan and sub-graph compile, on graphs built by hand with
 * closed-form answers: a chain needs two buffers, a residual diamond three;
 * a view aliases; a cut (compile from an inner tensor) runs only the tail;
 * outputs are checked against hand-computed values. */
#include <string.h>

#include "check.h"
#include "ops/op.h"
#include "runtime/runtime.h"

#define N 1000 /* floats per tensor: 4000 bytes, 4032 with 64-byte rounding */
#define SZ 4032

static cleave_ctx *ctx;

static ir_graph *graph(void) {
    ir_graph *g;
    ir_graph_create(&g);
    g->opsets = cv_calloc(1, sizeof(ir_opset));
    g->opsets[0].domain = "";
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    g->inputs = cv_malloc(sizeof(int) * 4);
    g->outputs = cv_malloc(sizeof(int) * 4);
    return g;
}

static int val(ir_graph *g, const char *name, int io) {
    int v = ir_graph_intern_value(g, name);
    g->values[v].dtype = CV_F32;
    g->values[v].ndim = 2;
    g->values[v].dims[0] = 1;
    g->values[v].dims[1] = N;
    if (io == 1) g->values[v].is_input = 1, g->inputs[g->n_inputs++] = v;
    if (io == 2) g->values[v].is_output = 1, g->outputs[g->n_outputs++] = v;
    return v;
}

static void node(ir_graph *g, const char *op, int a, int b, int y) {
    int in[2] = {a, b};
    ir_graph_add_node(g, op, op, "", in, b >= 0 ? 2 : 1, &y, 1);
}

int main(void) {
    cleave_ctx_create(&ctx);
    static float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i - N / 2);
    cv_tensor in = {.dtype = CV_F32, .ndim = 2, .dims = {1, N}, .data = x};

    /* chain: X -> Neg -> Relu -> Neg -> Relu -> Y : two buffers suffice */
    ir_graph *g = graph();
    int X = val(g, "X", 1), a = val(g, "a", 0), b = val(g, "b", 0), c = val(g, "c", 0),
        Y = val(g, "Y", 2);
    node(g, "Neg", X, -1, a);
    node(g, "Relu", a, -1, b);
    node(g, "Neg", b, -1, c);
    node(g, "Relu", c, -1, Y);
    CHECK(ir_graph_toposort(ctx, g) == CLEAVE_OK && op_bind_graph(ctx, g) == CLEAVE_OK);
    rt_plan *p = NULL;
    CHECK(rt_plan_create(ctx, g, NULL, 0, NULL, 0, &in, NULL, &p) == CLEAVE_OK);
    if (p) {
        CHECK(rt_plan_arena_bytes(p) == 2 * SZ);
        CHECK(rt_plan_peak_live_bytes(p) == 2 * SZ);
        CHECK(rt_plan_total_activation_bytes(p) == 5 * 4000);
        CHECK(rt_plan_run(p, &in) == CLEAVE_OK);
        const float *y = rt_plan_output(p, 0)->data;
        /* relu(-relu(-x)) = relu(min(x,0)) = 0 */
        int zero = 1;
        for (int i = 0; i < N; i++) zero &= y[i] == 0.0f;
        CHECK(zero);
        rt_plan_destroy(p);
        p = NULL;
    }
    /* a cut: compile from tensor b to Y only: Neg and Relu run, arena = 2 buffers */
    CHECK(rt_plan_create(ctx, g, &b, 1, NULL, 0, &in, NULL, &p) == CLEAVE_OK);
    if (p) {
        CHECK(rt_plan_n_steps(p) == 2);
        CHECK(rt_plan_run(p, &in) == CLEAVE_OK);
        const float *y = rt_plan_output(p, 0)->data;
        CHECK(y[0] == 500.0f && y[N - 1] == 0.0f); /* relu(-x): x[0] = -500, x[N-1] = 499 */
        rt_plan_destroy(p);
        p = NULL;
    }
    /* and from b to c: one Neg, output is -x */
    CHECK(rt_plan_create(ctx, g, &b, 1, &c, 1, &in, NULL, &p) == CLEAVE_OK);
    if (p) {
        CHECK(rt_plan_n_steps(p) == 1);
        CHECK(rt_plan_run(p, &in) == CLEAVE_OK);
        const float *y = rt_plan_output(p, 0)->data;
        CHECK(y[0] == 500.0f && y[N - 1] == -499.0f);
        rt_plan_destroy(p);
        p = NULL;
    }
    /* a tensor that cannot be computed from the given inputs is named */
    CHECK(rt_plan_create(ctx, g, &c, 1, &b, 1, &in, NULL, &p) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "'X'") != NULL);
    cleave_ctx_clear_error(ctx);
    ir_graph_destroy(g);

    /* residual diamond: a = Relu(X); b = Neg(a); Y = Add(a, b): a lives
     * across b, so three buffers are alive at the Add */
    g = graph();
    X = val(g, "X", 1), a = val(g, "a", 0), b = val(g, "b", 0), Y = val(g, "Y", 2);
    node(g, "Relu", X, -1, a);
    node(g, "Neg", a, -1, b);
    node(g, "Add", a, b, Y);
    CHECK(ir_graph_toposort(ctx, g) == CLEAVE_OK && op_bind_graph(ctx, g) == CLEAVE_OK);
    CHECK(rt_plan_create(ctx, g, NULL, 0, NULL, 0, &in, NULL, &p) == CLEAVE_OK);
    if (p) {
        CHECK(rt_plan_peak_live_bytes(p) == 3 * SZ);
        CHECK(rt_plan_arena_bytes(p) == 3 * SZ);
        CHECK(rt_plan_run(p, &in) == CLEAVE_OK);
        const float *y = rt_plan_output(p, 0)->data;
        int zero = 1;
        for (int i = 0; i < N; i++) zero &= y[i] == 0.0f;
        CHECK(zero);
        rt_plan_destroy(p);
    }
    ir_graph_destroy(g);
    cleave_ctx_destroy(ctx);
    return check_summary("plan");
}
