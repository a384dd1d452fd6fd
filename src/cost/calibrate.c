/* cost/calibrate: fill a device description of this machine by timing the
 * engine itself. Each benchmark is a tiny ir_graph (a representative layer,
 * wrapped so it sees the activation layout it sees inside a model) compiled
 * by rt_plan and run with the per-step profile; the best time of the timed
 * step over a time budget counts. Peaks are the best GOP/s of large convs
 * and GEMMs on one core, efficiencies the throughput of representative
 * layers of each op class over that peak, bandwidth a STREAM-style triad /
 * copy, overhead the time per node of a chain of tiny nodes; all on one
 * thread, then (threads > 1) again on all threads for the thread scaling.
 * Method and caveats: docs/devices.md. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cost/device.h"
#include "ops/fast.h"
#include "ops/op.h"

#define CAL_MAX_IN 4
#define CAL_SEED 20240601u /* benchmark data: the same pseudo-random values in every pass */

typedef struct cal {
    cleave_ctx *ctx;
    int progress;
    int quick;           /* small shapes and buffers (budget under a second) */
    double bench_ms;     /* timing budget of one benchmark */
    double overhead_ns;  /* per-node cost, subtracted from step times */
    uint32_t seed;
    /* per dtype and class: summed ops and ns of the representative layers */
    double ops[COST_DT_N][COST_OP_N], ns[COST_DT_N][COST_OP_N];
    double peak[COST_DT_N]; /* best GOP/s of any probe */
} cal;

static float cal_rand(cal *c) {
    c->seed = c->seed * 1664525u + 1013904223u;
    return (float)(c->seed >> 8) / 8388608.0f - 1.0f; /* [-1, 1) */
}

/* ---- graph building ---- */

typedef struct gb {
    cal *c;
    ir_graph *g;
    cleave_status st;
    cv_tensor in[CAL_MAX_IN]; /* graph inputs with data, in order */
    int n_in;
} gb;

static void gb_fail(gb *b, cleave_status s) {
    if (!b->st) b->st = s;
}

static cleave_status gb_begin(gb *b, cal *c) {
    memset(b, 0, sizeof *b);
    b->c = c;
    if (ir_graph_create(&b->g)) return cv_fail(c->ctx, CLEAVE_E_NOMEM, "calibrate: out of memory");
    ir_graph *g = b->g;
    g->opsets = cv_calloc(2, sizeof(ir_opset));
    g->inputs = cv_malloc(sizeof(int) * CAL_MAX_IN);
    g->outputs = cv_malloc(sizeof(int) * 2);
    if (!g->opsets || !g->inputs || !g->outputs) {
        ir_graph_destroy(g);
        b->g = NULL;
        return cv_fail(c->ctx, CLEAVE_E_NOMEM, "calibrate: out of memory");
    }
    g->opsets[0].domain = "";
    g->opsets[0].version = 17;
    g->opsets[1].domain = "com.microsoft";
    g->opsets[1].version = 1;
    g->n_opsets = 2;
    g->source_path = "calibration graph";
    return CLEAVE_OK;
}

static void gb_end(gb *b) {
    for (int k = 0; k < b->n_in; k++) cv_aligned_free(b->in[k].data);
    ir_graph_destroy(b->g);
    b->g = NULL;
}

/* A fresh intermediate value. */
static int gb_val(gb *b) {
    int v = ir_graph_new_value(b->g, "v");
    if (v < 0) gb_fail(b, cv_fail(b->c->ctx, CLEAVE_E_NOMEM, "calibrate: out of memory"));
    return v;
}

/* A graph input (f32 in [-1, 1) or uint8) with data. */
static int gb_input(gb *b, cv_dtype dt, int ndim, const int64_t *dims) {
    int v = gb_val(b);
    if (v < 0 || b->n_in >= CAL_MAX_IN) return -1;
    cv_tensor *t = &b->in[b->n_in];
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    size_t n = (size_t)cv_numel(t);
    t->data = cv_aligned_alloc(n * cv_dtype_size(dt) + 64);
    if (!t->data) {
        gb_fail(b, cv_fail(b->c->ctx, CLEAVE_E_NOMEM, "calibrate: out of memory"));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        float r = cal_rand(b->c);
        if (dt == CV_U8) ((uint8_t *)t->data)[i] = (uint8_t)(128 + (int)(r * 100));
        else ((float *)t->data)[i] = r;
    }
    ir_value *val = &b->g->values[v];
    val->dtype = dt;
    val->ndim = ndim;
    for (int i = 0; i < ndim; i++) val->dims[i] = dims[i];
    val->is_input = 1;
    b->g->inputs[b->g->n_inputs++] = v;
    b->n_in++;
    return v;
}

/* A constant: f32 weights scaled by `scale`, int8 in [-64, 63] (exact on
 * every oneDNN int8 kernel), or a single value `fill` (scales, zero points). */
static int gb_const(gb *b, cv_dtype dt, int ndim, const int64_t *dims, float scale, int random, double fill) {
    int v = gb_val(b);
    if (v < 0) return -1;
    int64_t n = cv_shape_numel(ndim, dims);
    size_t es = cv_dtype_size(dt);
    void *buf = cv_malloc((size_t)(n ? n : 1) * es);
    if (!buf) {
        gb_fail(b, cv_fail(b->c->ctx, CLEAVE_E_NOMEM, "calibrate: out of memory"));
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        double x = random ? cal_rand(b->c) * scale : fill;
        if (dt == CV_F32) ((float *)buf)[i] = (float)x;
        else if (dt == CV_I8) ((int8_t *)buf)[i] = (int8_t)(random ? (int)(x * 63) : (int)x);
        else if (dt == CV_U8) ((uint8_t *)buf)[i] = (uint8_t)x;
        else if (dt == CV_I32) ((int32_t *)buf)[i] = (int32_t)x;
    }
    cleave_status s = ir_value_set_data(b->c->ctx, b->g, v, dt, ndim, dims, buf);
    cv_free(buf);
    if (s) {
        gb_fail(b, s);
        return -1;
    }
    b->g->values[v].is_initializer = 1;
    return v;
}

static int gb_scalar(gb *b, cv_dtype dt, double v) {
    int64_t one = 1;
    return gb_const(b, dt, 0, &one, 0, 0, v);
}

/* Append a node with one output (a fresh value unless out >= 0). */
static int gb_node(gb *b, const char *op, const char *domain, const int *in, int nin, int *out) {
    if (b->st) return -1;
    for (int k = 0; k < nin; k++)
        if (in[k] < 0) return -1;
    int y = *out >= 0 ? *out : gb_val(b);
    if (y < 0) return -1;
    int n = ir_graph_add_node(b->g, op, op, domain, in, nin, &y, 1);
    if (n < 0) {
        gb_fail(b, cv_fail(b->c->ctx, CLEAVE_E_NOMEM, "calibrate: out of memory"));
        return -1;
    }
    *out = y;
    return n;
}

static void gb_ints(gb *b, int node, const char *name, const int64_t *v, int n) {
    if (node >= 0 && !b->st) gb_fail(b, ir_node_set_attr_ints(b->g, &b->g->nodes[node], name, v, n));
}
static void gb_int(gb *b, int node, const char *name, int64_t v) {
    if (node >= 0 && !b->st) gb_fail(b, ir_node_set_attr_int(b->g, &b->g->nodes[node], name, v));
}

static void gb_output(gb *b, int v) {
    if (v < 0) return;
    b->g->values[v].is_output = 1;
    b->g->outputs[b->g->n_outputs++] = v;
}

/* f32 Conv x -> y: W [cout, cin/group, k, k] and a bias. */
static int gb_conv(gb *b, int x, int cin, int cout, int k, int stride, int group, int *y) {
    int64_t wd[4] = {cout, cin / group, k, k}, bd[1] = {cout};
    float ws = 1.0f / sqrtf((float)(cin / group * k * k));
    int in[3] = {x, gb_const(b, CV_F32, 4, wd, ws, 1, 0), gb_const(b, CV_F32, 1, bd, 0.1f, 1, 0)};
    int n = gb_node(b, "Conv", "", in, 3, y);
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, p = k / 2, pads[4] = {p, p, p, p};
    gb_ints(b, n, "kernel_shape", ks, 2);
    gb_ints(b, n, "strides", st, 2);
    gb_ints(b, n, "pads", pads, 4);
    gb_int(b, n, "group", group);
    return n;
}

/* A depthwise 1x1 conv: the cheapest producer / consumer that gives the
 * timed node the channel-blocked activations it gets inside a model. */
static int gb_wrap(gb *b, int x, int c, int *y) { return gb_conv(b, x, c, c, 1, 1, c, y); }

/* uint8 QLinearConv x -> y (scales 0.02 / 0.01 / 0.05, zero points 128 / 0 / 128). */
static int gb_qconv(gb *b, int x, int cin, int cout, int k, int stride, int group, int *y) {
    int64_t wd[4] = {cout, cin / group, k, k};
    int in[8] = {x,
                 gb_scalar(b, CV_F32, 0.02),
                 gb_scalar(b, CV_U8, 128),
                 gb_const(b, CV_I8, 4, wd, 1.0f, 1, 0),
                 gb_scalar(b, CV_F32, 0.01),
                 gb_scalar(b, CV_I8, 0),
                 gb_scalar(b, CV_F32, 0.05),
                 gb_scalar(b, CV_U8, 128)};
    int n = gb_node(b, "QLinearConv", "", in, 8, y);
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, p = k / 2, pads[4] = {p, p, p, p};
    gb_ints(b, n, "kernel_shape", ks, 2);
    gb_ints(b, n, "strides", st, 2);
    gb_ints(b, n, "pads", pads, 4);
    gb_int(b, n, "group", group);
    return n;
}

/* ---- timing ---- */

/* Compile the graph, run it until the budget is spent (at least 2 timed
 * runs after a warm-up) and return the best time of node `node`'s step
 * (node < 0: the whole run, wall clock, profile off) and its features. */
static cleave_status cal_time(cal *c, gb *b, int node, double *best_ns, cost_features *feat) {
    cleave_ctx *ctx = c->ctx;
    if (b->st) return b->st;
    ir_graph *g = b->g;
    CV_TRY(ir_graph_toposort(ctx, g));
    CV_TRY(op_bind_graph(ctx, g));
    rt_options opt = {0};
    opt.profile = node >= 0;
    rt_plan *p = NULL;
    CV_TRY(rt_plan_create(ctx, g, NULL, 0, NULL, 0, b->in, &opt, &p));
    cleave_status st = CLEAVE_OK;
    int step = -1;
    for (int s = 0; s < rt_plan_n_steps(p) && node >= 0; s++)
        if (rt_plan_step_node(p, s) == node) step = s;
    if (node >= 0 && step < 0) {
        st = cv_fail(ctx, CLEAVE_E_INTERNAL, "calibrate: the timed node was folded away");
        goto done;
    }
    if (feat) {
        memset(feat, 0, sizeof *feat);
        cost_features *fs = NULL;
        int nf = 0;
        st = cost_features_from_plan(ctx, g, p, &fs, &nf);
        if (st) goto done;
        if (step >= 0 && step < nf) *feat = fs[step];
        feat->name = feat->op_type = NULL; /* owned by the graph, which goes away */
        cv_free(fs);
    }
    st = rt_plan_run(p, b->in); /* warm-up: first-touch pages, caches, lazy init */
    double best = INFINITY, t_end = cv_now_ms() + c->bench_ms;
    for (int r = 0; !st && (r < 2 || (cv_now_ms() < t_end && r < 2000)); r++) {
        rt_plan_reset_profile(p);
        uint64_t t0 = cv_now_ns();
        st = rt_plan_run(p, b->in);
        double ns = node >= 0 ? (double)rt_plan_step_ns(p, step) : (double)(cv_now_ns() - t0);
        if (ns < best) best = ns;
    }
    *best_ns = best > 0 ? best : 1;
done:
    rt_plan_destroy(p);
    return st;
}

/* Time `node` of b, add it to (dtype, class) and to the peak when `probe`. */
static cleave_status cal_record(cal *c, gb *b, int node, const char *label, cost_dtype t,
                                cost_op_class cls, int probe) {
    double ns = 0;
    cost_features f;
    cleave_status st = node < 0 && !b->st ? cv_fail(c->ctx, CLEAVE_E_INTERNAL, "calibrate: %s: graph not built", label)
                                          : cal_time(c, b, node, &ns, &f);
    gb_end(b);
    if (st) return st;
    double ops = f.macs > 0 ? 2.0 * f.macs : f.flops;
    /* the roofline adds the per-node cost itself: leave it out of throughput */
    double work_ns = fmax(ns - c->overhead_ns, 0.5 * ns);
    double gops = ops / work_ns;
    c->ops[t][cls] += ops;
    c->ns[t][cls] += work_ns;
    if (probe && gops > c->peak[t]) c->peak[t] = gops;
    if (c->progress)
        fprintf(stderr, "calibrate: %-5s %-8s %-34s %9.4f ms %8.2f GOP/s %7.2f GB/s\n",
                cost_dtype_name(t), cost_op_class_name(cls), label, ns * 1e-6, ops / ns,
                (f.in_bytes + f.out_bytes + f.param_bytes) / ns);
    return CLEAVE_OK;
}

/* ---- the benchmarks ---- */

/* f32 conv (or depthwise when group == cin), between two wrappers. */
static cleave_status bench_conv(cal *c, int cin, int cout, int hw, int k, int stride, int group,
                                int probe) {
    gb b;
    CV_TRY(gb_begin(&b, c));
    int64_t xd[4] = {1, cin, hw, hw};
    int x = gb_input(&b, CV_F32, 4, xd), a = -1, y = -1, out = -1;
    gb_wrap(&b, x, cin, &a);
    int n = gb_conv(&b, a, cin, cout, k, stride, group, &y);
    gb_wrap(&b, y, cout, &out);
    gb_output(&b, out);
    char label[80];
    snprintf(label, sizeof label, "%s %dx%d/%d %d->%d @%d%s", group > 1 ? "dwconv" : "conv", k, k, stride,
             cin, cout, hw, probe == 2 ? " direct" : "");
    /* a 3x3 stride-1 conv the backend may run by Winograd: its own class,
     * and no peak probe (it can beat 2 x MACs / peak); probe 2: the same
     * conv forced direct (the caller turned Winograd off), class conv */
    const double macs = (double)cout * hw / stride * hw / stride * (double)(cin / group) * k * k;
    const int wconv = probe != 2 && group == 1 && k == 3 && stride == 1 && macs >= COST_WCONV_MIN_MACS;
    return cal_record(c, &b, n, label, COST_DT_FP32,
                      wconv ? COST_OP_WCONV : group > 1 ? COST_OP_DWCONV : COST_OP_CONV, probe && !wconv);
}

static cleave_status bench_matmul(cal *c, int m, int kd, int nd, int probe) {
    gb b;
    CV_TRY(gb_begin(&b, c));
    int64_t ad[2] = {m, kd}, bd[2] = {kd, nd};
    int in[2] = {gb_input(&b, CV_F32, 2, ad), gb_const(&b, CV_F32, 2, bd, 0.05f, 1, 0)}, y = -1;
    int n = gb_node(&b, "MatMul", "", in, 2, &y);
    gb_output(&b, y);
    char label[80];
    snprintf(label, sizeof label, "matmul %dx%dx%d", m, kd, nd);
    return cal_record(c, &b, n, label, COST_DT_FP32, COST_OP_GEMM, probe);
}

static cleave_status bench_qconv(cal *c, int cin, int cout, int hw, int k, int group, int probe) {
    gb b;
    CV_TRY(gb_begin(&b, c));
    int64_t xd[4] = {1, cin, hw, hw};
    int x = gb_input(&b, CV_U8, 4, xd), y = -1;
    int n = gb_qconv(&b, x, cin, cout, k, 1, group, &y);
    gb_output(&b, y);
    char label[80];
    snprintf(label, sizeof label, "q%s %dx%d %d->%d @%d", group > 1 ? "dwconv" : "conv", k, k, cin, cout, hw);
    return cal_record(c, &b, n, label, COST_DT_INT8, group > 1 ? COST_OP_DWCONV : COST_OP_CONV, probe);
}

static cleave_status bench_qmatmul(cal *c, int m, int kd, int nd, int probe) {
    gb b;
    CV_TRY(gb_begin(&b, c));
    int64_t ad[2] = {m, kd}, bd[2] = {kd, nd};
    int in[8] = {gb_input(&b, CV_U8, 2, ad),          gb_scalar(&b, CV_F32, 0.02),
                 gb_scalar(&b, CV_U8, 128),           gb_const(&b, CV_I8, 2, bd, 1.0f, 1, 0),
                 gb_scalar(&b, CV_F32, 0.01),         gb_scalar(&b, CV_I8, 0),
                 gb_scalar(&b, CV_F32, 0.5),          gb_scalar(&b, CV_U8, 128)};
    int y = -1, n = gb_node(&b, "QLinearMatMul", "", in, 8, &y);
    gb_output(&b, y);
    char label[80];
    snprintf(label, sizeof label, "qmatmul %dx%dx%d", m, kd, nd);
    return cal_record(c, &b, n, label, COST_DT_INT8, COST_OP_GEMM, probe);
}

/* Memory-bound f32 ops on resnet-sized activations, fed and read in the
 * blocked layout as in a model: kind 0 Add, 1 Sigmoid, 2 MaxPool 3x3/2,
 * 3 GlobalAveragePool, 4 Concat, 5 Transpose (plain), 6 Softmax. Global
 * pools are not timed: their flops count (one per output) says nothing of
 * the pixels they read, so their time belongs to the bandwidth roof. */
static cleave_status bench_mem_f32(cal *c, int kind, int ch, int hw) {
    static const char *const names[] = {"add",    "sigmoid",   "maxpool 3x3/2", "globalavgpool",
                                        "concat", "transpose", "softmax"};
    static const cost_op_class cls[] = {COST_OP_ELTWISE, COST_OP_ELTWISE, COST_OP_POOL, COST_OP_POOL,
                                        COST_OP_MOVE,    COST_OP_MOVE,    COST_OP_NORM};
    gb b;
    CV_TRY(gb_begin(&b, c));
    int64_t xd[4] = {1, ch, hw, hw};
    int n = -1, y = -1, out = -1;
    if (kind == 6) {
        int64_t sd[2] = {ch, hw};
        int x = gb_input(&b, CV_F32, 2, sd);
        n = gb_node(&b, "Softmax", "", &x, 1, &y);
        gb_int(&b, n, "axis", -1);
        gb_output(&b, y);
    } else if (kind == 5) {
        int x = gb_input(&b, CV_F32, 4, xd);
        n = gb_node(&b, "Transpose", "", &x, 1, &y);
        int64_t perm[4] = {0, 2, 3, 1};
        gb_ints(&b, n, "perm", perm, 4);
        gb_output(&b, y);
    } else {
        int x = gb_input(&b, CV_F32, 4, xd), a = -1, a2 = -1;
        gb_wrap(&b, x, ch, &a);
        int two[2];
        if (kind == 0 || kind == 4) {
            gb_wrap(&b, x, ch, &a2);
            two[0] = a, two[1] = a2;
        }
        int och = ch;
        switch (kind) {
        case 0: n = gb_node(&b, "Add", "", two, 2, &y); break;
        case 1: n = gb_node(&b, "Sigmoid", "", &a, 1, &y); break;
        case 2: {
            n = gb_node(&b, "MaxPool", "", &a, 1, &y);
            int64_t ks[2] = {3, 3}, st[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
            gb_ints(&b, n, "kernel_shape", ks, 2);
            gb_ints(&b, n, "strides", st, 2);
            gb_ints(&b, n, "pads", pads, 4);
            break;
        }
        case 3: n = gb_node(&b, "GlobalAveragePool", "", &a, 1, &y); break;
        default:
            n = gb_node(&b, "Concat", "", two, 2, &y);
            gb_int(&b, n, "axis", 1);
            och = 2 * ch;
        }
        gb_wrap(&b, y, och, &out);
        gb_output(&b, out);
    }
    char label[80];
    snprintf(label, sizeof label, "%s %dx%dx%d", names[kind], ch, hw, kind == 6 ? 1 : hw);
    return cal_record(c, &b, n, label, COST_DT_FP32, cls[kind], 0);
}

/* Memory-bound uint8 ops: kind 0 QLinearAdd, 1 MaxPool 3x3/2, 2 Concat. */
static cleave_status bench_mem_u8(cal *c, int kind, int ch, int hw) {
    static const char *const names[] = {"qlinearadd", "maxpool 3x3/2 u8", "concat u8"};
    static const cost_op_class cls[] = {COST_OP_ELTWISE, COST_OP_POOL, COST_OP_MOVE};
    gb b;
    CV_TRY(gb_begin(&b, c));
    int64_t xd[4] = {1, ch, hw, hw};
    int x = gb_input(&b, CV_U8, 4, xd), x2 = gb_input(&b, CV_U8, 4, xd), y = -1, n = -1;
    if (kind == 0) {
        int in[8] = {x,  gb_scalar(&b, CV_F32, 0.02), gb_scalar(&b, CV_U8, 128),
                     x2, gb_scalar(&b, CV_F32, 0.03), gb_scalar(&b, CV_U8, 120),
                     gb_scalar(&b, CV_F32, 0.05), gb_scalar(&b, CV_U8, 128)};
        n = gb_node(&b, "QLinearAdd", "com.microsoft", in, 8, &y);
    } else if (kind == 1) {
        n = gb_node(&b, "MaxPool", "", &x, 1, &y);
        int64_t ks[2] = {3, 3}, st[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
        gb_ints(&b, n, "kernel_shape", ks, 2);
        gb_ints(&b, n, "strides", st, 2);
        gb_ints(&b, n, "pads", pads, 4);
    } else {
        int two[2] = {x, x2};
        n = gb_node(&b, "Concat", "", two, 2, &y);
        gb_int(&b, n, "axis", 1);
    }
    gb_output(&b, y);
    char label[80];
    snprintf(label, sizeof label, "%s %dx%dx%d", names[kind], ch, hw, hw);
    return cal_record(c, &b, n, label, COST_DT_INT8, cls[kind], 0);
}

/* Per-node cost: chains of n tiny nodes, wall clock per node. Relu on 8
 * floats is the executor's own cost per step; 1x1 convs on 8 channels x 1
 * pixel add what the fast library costs per call (primitive execution,
 * argument binding) and are what the device file records, since most
 * nodes of the models we plan are convolutions. */
static cleave_status chain_ns(cal *c, int n_nodes, int conv, double *per_node) {
    gb b;
    CV_TRY(gb_begin(&b, c));
    int64_t xd[4] = {1, 8, 1, 1};
    int v = gb_input(&b, CV_F32, conv ? 4 : 2, xd);
    for (int i = 0; i < n_nodes && !b.st; i++) {
        int y = -1;
        if (conv) gb_conv(&b, v, 8, 8, 1, 1, 1, &y);
        else gb_node(&b, "Relu", "", &v, 1, &y);
        v = y;
    }
    gb_output(&b, v);
    double ns = 0;
    cleave_status st = cal_time(c, &b, -1, &ns, NULL);
    gb_end(&b);
    *per_node = ns / n_nodes;
    return st;
}

static cleave_status bench_overhead(cal *c, int n_nodes) {
    double relu = 0, conv = 0;
    CV_TRY(chain_ns(c, n_nodes, 0, &relu));
    CV_TRY(chain_ns(c, n_nodes, 1, &conv));
    c->overhead_ns = conv;
    if (c->progress)
        fprintf(stderr, "calibrate: per-node overhead: chains of %d nodes: Relu on 8 floats %.3f us, "
                        "Conv 1x1 8->8 on 1 pixel %.3f us per node\n",
                n_nodes, relu * 1e-3, conv * 1e-3);
    return CLEAVE_OK;
}

/* STREAM-style bandwidth on `threads` threads: the better of triad
 * (a = b + s*c: 3 arrays moved) and copy (2 arrays) over arrays far larger
 * than the caches; write-allocate traffic is not counted (STREAM's rule). */
static cleave_status bench_bandwidth(cal *c, int threads, double *gbs) {
    size_t n = (c->quick ? (size_t)4 : (size_t)24) << 20; /* floats per array: 16 / 96 MiB */
    float *a = cv_aligned_alloc(n * sizeof(float)), *bb = cv_aligned_alloc(n * sizeof(float)),
          *cc = cv_aligned_alloc(n * sizeof(float));
    if (!a || !bb || !cc) {
        cv_aligned_free(a);
        cv_aligned_free(bb);
        cv_aligned_free(cc);
        return cv_fail(c->ctx, CLEAVE_E_NOMEM, "calibrate: cannot allocate the bandwidth buffers");
    }
    long nn = (long)n;
    (void)threads;
    /* first touch on the threads that use the pages */
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (long i = 0; i < nn; i++) a[i] = 0.0f, bb[i] = 1.0f, cc[i] = 2.0f;
    double best_triad = INFINITY, best_copy = INFINITY, t_end = cv_now_ms() + 2 * c->bench_ms;
    for (int r = 0; r < 3 || (cv_now_ms() < t_end && r < 200); r++) {
        uint64_t t0 = cv_now_ns();
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (long i = 0; i < nn; i++) a[i] = bb[i] + 3.0f * cc[i];
        uint64_t t1 = cv_now_ns();
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (long i = 0; i < nn; i++) cc[i] = a[i];
        uint64_t t2 = cv_now_ns();
        if (r == 0) continue; /* warm-up */
        if ((double)(t1 - t0) < best_triad) best_triad = (double)(t1 - t0);
        if ((double)(t2 - t1) < best_copy) best_copy = (double)(t2 - t1);
    }
    double triad = 3.0 * (double)n * sizeof(float) / best_triad, copy = 2.0 * (double)n * sizeof(float) / best_copy;
    volatile float sink = a[n / 2] + cc[n / 3];
    (void)sink;
    cv_aligned_free(a);
    cv_aligned_free(bb);
    cv_aligned_free(cc);
    *gbs = fmax(triad, copy);
    if (c->progress)
        fprintf(stderr, "calibrate: memory bandwidth, %d thread(s), 3 x %zu MiB: triad %.2f GB/s, copy %.2f GB/s\n",
                threads, n * sizeof(float) >> 20, triad, copy);
    return CLEAVE_OK;
}

/* ---- machine facts ---- */

/* Value after "key\t: " of the first matching /proc/cpuinfo line. */
static int cpuinfo_field(const char *key, char *out, size_t cap) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    for (int i = 0; i < 4096 && !found && fgets(line, sizeof line, f); i++) {
        if (strncmp(line, key, strlen(key))) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        size_t n = strcspn(colon, "\n");
        if (n >= cap) n = cap - 1;
        memcpy(out, colon, n);
        out[n] = 0;
        found = 1;
    }
    fclose(f);
    return found;
}

static void machine_facts(cost_device *d) {
    char model[200] = "", mhz[64] = "";
    cpuinfo_field("model name", model, sizeof model);
    snprintf(d->description, sizeof d->description, "this machine: %s, measured by cleave micro-benchmarks",
             model[0] ? model : "unknown CPU");
    if (cpuinfo_field("cpu MHz", mhz, sizeof mhz)) {
        double f = atof(mhz) / 1000.0;
        if (f > 0 && f < 20) d->freq_ghz = round(f * 1000.0) / 1000.0;
    }
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    d->mem_bytes = pages > 0 && psz > 0 ? (double)pages * (double)psz : 1073741824.0;
}

/* ---- driver ---- */

static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

static double clamp_eff(double e, int cls) {
    const double mx = COST_EFF_MAX(cls);
    return !(e > 1e-4) ? 1e-4 : e > mx ? mx : e;
}

static cleave_status run_all(cal *c, int threads, cost_device *d) {
    int q = c->quick, hw56 = q ? 28 : 56, hw28 = q ? 14 : 28, hw14 = q ? 7 : 14, hw112 = q ? 56 : 112;
    CV_TRY(bench_overhead(c, q ? 32 : 128));
    /* fp32: peak probes (large GEMMs; resnet's 3x3 convs are their own class,
     * wconv, since Winograd can beat the multiply peak), then representative layers */
    CV_TRY(bench_matmul(c, q ? 128 : 256, q ? 512 : 1024, q ? 512 : 1024, 1));
    CV_TRY(bench_matmul(c, 64, 512, 512, 0));
    /* the multiply peak: resnet's 3x3 conv by direct convolution (a large
     * MatMul through cleave's own sgemm is far below it) */
    fast_set_winograd(0);
    cleave_status ds = bench_conv(c, 64, 64, hw56, 3, 1, 1, 2);
    fast_set_winograd(-1);
    CV_TRY(ds);
    CV_TRY(bench_conv(c, 64, 64, hw56, 3, 1, 1, 1));
    CV_TRY(bench_conv(c, 128, 128, hw28, 3, 1, 1, 1));
    CV_TRY(bench_conv(c, 256, 256, hw14, 3, 1, 1, 1));
    /* resnet's last stage: 16 tiles of 2x2 per channel pair, Winograd's
     * transformed weights stream from memory (its gain is smallest there) */
    CV_TRY(bench_conv(c, q ? 256 : 512, q ? 256 : 512, 7, 3, 1, 1, 1));
    CV_TRY(bench_conv(c, 64, 256, hw56, 1, 1, 1, 0));
    CV_TRY(bench_conv(c, 256, 64, hw56, 1, 1, 1, 0));
    CV_TRY(bench_conv(c, 128, 256, hw28, 3, 2, 1, 0));
    CV_TRY(bench_conv(c, 32, 32, hw112, 3, 1, 32, 0));
    CV_TRY(bench_conv(c, 144, 144, hw56, 3, 1, 144, 0));
    CV_TRY(bench_conv(c, 576, 576, hw14, 3, 1, 576, 0));
    CV_TRY(bench_mem_f32(c, 0, 64, hw56));
    CV_TRY(bench_mem_f32(c, 1, 64, hw56));
    CV_TRY(bench_mem_f32(c, 2, 64, hw112));
    CV_TRY(bench_mem_f32(c, 4, 64, hw56));
    CV_TRY(bench_mem_f32(c, 5, 64, hw56));
    CV_TRY(bench_mem_f32(c, 6, q ? 16 : 64, 1000));
    /* int8 (uint8 activations, int8 weights): same layers */
    CV_TRY(bench_qmatmul(c, q ? 128 : 256, q ? 512 : 1024, q ? 512 : 1024, 1));
    CV_TRY(bench_qmatmul(c, 64, 512, 512, 0));
    CV_TRY(bench_qconv(c, 64, 64, hw56, 3, 1, 1));
    CV_TRY(bench_qconv(c, 128, 128, hw28, 3, 1, 1));
    CV_TRY(bench_qconv(c, 256, 256, hw14, 3, 1, 1));
    CV_TRY(bench_qconv(c, 256, 64, hw56, 1, 1, 0));
    CV_TRY(bench_qconv(c, 144, 144, hw56, 3, 144, 0));
    CV_TRY(bench_qconv(c, 576, 576, hw14, 3, 576, 0));
    for (int k = 0; k < 3; k++) {
        cleave_status s = bench_mem_u8(c, k, 64, k == 1 ? hw112 : hw56);
        if (s == CLEAVE_E_UNSUPPORTED || s == CLEAVE_E_NOT_IMPLEMENTED) {
            /* an op this build cannot run on uint8: its class falls back below */
            if (c->progress) fprintf(stderr, "calibrate: skipped: %s\n", cleave_ctx_error(c->ctx));
            cleave_ctx_clear_error(c->ctx);
        } else if (s) {
            return s;
        }
    }
    CV_TRY(bench_bandwidth(c, threads, &d->mem_bw_gbs));

    for (int t = 0; t < COST_DT_N; t++) {
        if (!(c->peak[t] > 0))
            return cv_fail(c->ctx, CLEAVE_E_INTERNAL, "calibrate: no %s peak measured", cost_dtype_name((cost_dtype)t));
        d->peak_gops[t] = c->peak[t];
    }
    for (int t = 0; t < COST_DT_N; t++)
        for (int k = 0; k < COST_OP_N; k++) {
            if (c->ns[t][k] > 0) {
                d->efficiency[t][k] = clamp_eff(c->ops[t][k] / c->ns[t][k] / c->peak[t], k);
            } else if (k == COST_OP_WCONV) {
                /* no Winograd on this dtype (int8): as any conv */
                d->efficiency[t][k] = d->efficiency[t][COST_OP_CONV];
            } else if (t == COST_DT_INT8 && c->ns[COST_DT_FP32][k] > 0) {
                /* not measured on uint8: the same elements per second as fp32 */
                d->efficiency[t][k] = clamp_eff(c->ops[0][k] / c->ns[0][k] / c->peak[t], k);
            } else {
                d->efficiency[t][k] = cost_device_default_efficiency((cost_op_class)k);
            }
        }
    d->op_overhead_us = c->overhead_ns * 1e-3;
    d->winograd = fast_winograd_enabled() && c->ns[COST_DT_FP32][COST_OP_WCONV] > 0;
    /* no Winograd: those convs are convs (as a file without wconv reads back) */
    if (!d->winograd)
        for (int t = 0; t < COST_DT_N; t++) d->efficiency[t][COST_OP_WCONV] = d->efficiency[t][COST_OP_CONV];
    return CLEAVE_OK;
}

/* Thread scaling from the two passes: per (dtype, class) the speedup S of
 * the representative layers on `threads` threads over one, as the share
 * (S - 1) / (threads - 1) of linear; bandwidth on all threads; the extra
 * fixed cost per node. d holds pass 1 (one thread). */
static void parallel_from(const cal *one, const cal *all, int threads, const cost_device *d_all,
                          cost_device *d) {
    d->has_parallel = 1;
    for (int t = 0; t < COST_DT_N; t++)
        for (int k = 0; k < COST_OP_N; k++) {
            /* int8 has no Winograd: its wconv nodes scale as its convs */
            int kk = t == COST_DT_INT8 && k == COST_OP_WCONV ? COST_OP_CONV : k;
            int tt = one->ns[t][kk] > 0 && all->ns[t][kk] > 0 ? t : COST_DT_FP32;
            double pe = 1.0;
            if (one->ns[tt][kk] > 0 && all->ns[tt][kk] > 0 && one->ops[tt][kk] > 0) {
                double s = (all->ops[tt][kk] / all->ns[tt][kk]) / (one->ops[tt][kk] / one->ns[tt][kk]);
                pe = (s - 1.0) / (threads - 1);
            }
            d->par_eff[t][k] = pe < 0 ? 0 : pe > 1 ? 1 : pe;
        }
    double bw1 = d->mem_bw_gbs;
    d->mem_bw_gbs = d_all->mem_bw_gbs > bw1 ? d_all->mem_bw_gbs : bw1;
    d->mem_bw_1core_gbs = bw1;
    double extra = all->overhead_ns - one->overhead_ns;
    d->par_overhead_us = extra > 0 ? extra * 1e-3 : 0;
}

cleave_status cost_device_calibrate_budget(cleave_ctx *ctx, int threads, int progress, double seconds,
                                           cost_device *d) {
    if (threads <= 0) threads = online_cpus();
    if (threads > 4096) threads = 4096;
    if (!(seconds > 0)) seconds = 4;
    if (seconds > 600) seconds = 600;
    memset(d, 0, sizeof *d);
    /* ~33 benchmarks; compile time is outside the per-benchmark budget */
    cal c = {.ctx = ctx, .progress = progress, .quick = seconds < 1.0, .seed = CAL_SEED, .bench_ms = seconds * 1000.0 / 45.0};
    double t0 = cv_now_ms();
    if (progress)
        fprintf(stderr, "calibrate: 1 thread for per-core figures%s%.0d%s, budget %.1f s%s\n",
                threads > 1 ? ", then " : "", threads > 1 ? threads : 0, threads > 1 ? " for thread scaling" : "",
                seconds, c.quick ? " (quick: small shapes)" : "");
    snprintf(d->name, sizeof d->name, "this-machine");
    snprintf(d->kind, sizeof d->kind, "host");
    d->cores = threads;
    machine_facts(d);
    /* per-core figures on one thread; then, for threads > 1, the same
     * benchmarks on all threads give each class's scaling (the two passes
     * share the budget); the context's setting comes back after */
    int saved = ctx->threads;
    ctx->threads = 1;
    if (threads > 1) c.bench_ms *= 0.5;
    cleave_status st = run_all(&c, 1, d);
    if (!st && threads > 1) {
        /* the same settings, fresh accumulators */
        cal c2 = {.ctx = ctx, .progress = progress, .quick = c.quick, .seed = CAL_SEED, .bench_ms = c.bench_ms};
        cost_device d2;
        memset(&d2, 0, sizeof d2);
        d2.cores = threads;
        if (progress) fprintf(stderr, "calibrate: the same on %d threads (thread scaling)\n", threads);
        ctx->threads = threads;
        st = run_all(&c2, threads, &d2);
        if (!st) parallel_from(&c, &c2, threads, &d2, d);
    }
    ctx->threads = saved;
    if (st) return st;
    snprintf(d->sources, sizeof d->sources,
             "measured on this machine by cleave's micro-benchmarks (src/cost/calibrate.c, docs/devices.md), "
             "engine kernels: %s",
             ctx->fast ? "fast path (oneDNN when built in)" : "reference C");
    char when[32] = "unknown date";
    time_t now = time(NULL);
    struct tm tmv;
    if (gmtime_r(&now, &tmv)) strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tmv);
    snprintf(d->calibrated, sizeof d->calibrated, "cleave micro-benchmarks, %s, %d thread(s), %.1f s budget%s",
             when, threads, seconds, c.quick ? ", quick" : "");
    if (progress)
        fprintf(stderr, "calibrate: done in %.1f s: fp32 peak %.1f GFLOP/s/core, int8 peak %.1f GOP/s/core, %.2f GB/s, %.2f us/node\n",
                (cv_now_ms() - t0) * 1e-3, d->peak_gops[0], d->peak_gops[1], d->mem_bw_gbs, d->op_overhead_us);
    return cost_device_validate(ctx, "calibration", d);
}

cleave_status cost_device_calibrate(cleave_ctx *ctx, int threads, int progress, cost_device *d) {
    return cost_device_calibrate_budget(ctx, threads, progress, 4.0, d);
}
