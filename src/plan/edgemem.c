/* plan/edgemem: the edge part's memory as the planner counts it: the
 * liveness walk over the edge nodes (activations at their widths, packed
 * where the reference engine holds them packed, runtime/pack.c), and the
 * engine's widening buffer of weights held packed. Moved out of
 * planner.c; the functions are declared in plan/planner.h. */
#include <math.h>
#include <string.h>

#include "base/pack.h"
#include "plan/planner.h"

/* Whether node i's lowered form reads and writes its codes packed, as
 * runtime/pack.c decides (writes_packed / reads_packed): not the integer
 * MatMul nor the Gemm's 1x1-conv-between-Reshapes lowering; a conv only
 * when 2-D; an Add only at equal shapes (QLinearAdd broadcasting reads one
 * byte a code). Other ops read codes through a DequantizeLinear and write
 * them through a QuantizeLinear, which both stream packed codes. Nodes of a
 * hand-built DAG (no op type) count as streaming. */
static int node_streams_packed(const plan_problem *pb, int i) {
    const cost_features *f = pb->feat ? &pb->feat[i] : NULL;
    const char *op = f ? f->op_type : NULL;
    if (!op) return 1;
    if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul")) return 0;
    if (!strcmp(op, "Conv")) return f->out_rank == 4;
    if (!strcmp(op, "Add")) {
        const plan_node *n = &pb->dag->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            for (int o = 0; o < n->n_out; o++)
                if (pb->dag->tensors[n->in[k]].numel != pb->dag->tensors[n->out[o]].numel) return 0;
    }
    return 1;
}

int plan_act_packable(const plan_problem *pb, const uint8_t *edge, int t) {
    const plan_dag *d = pb->dag;
    const plan_tensor *x = &d->tensors[t];
    if (pb->tensor_layer[t] < 0 || x->is_output) return 0;
    if (x->producer >= 0 && (!edge[x->producer] || !node_streams_packed(pb, x->producer))) return 0;
    for (int c = 0; c < x->n_cons; c++) {
        const int i = x->cons[c];
        if (!edge[i] || !node_streams_packed(pb, i)) return 0; /* sent, or read one byte a code */
    }
    return 1;
}

/* Bytes tensor t takes on the edge: float as computed; int8 edges keep
 * quantized activations as codes, one byte each, or packed at their width
 * below 8 bits where the engine can (plan_act_packable). */
static double act_tensor_bytes(const plan_problem *pb, const uint8_t *edge, int int8, const int *abits, int t) {
    const plan_tensor *x = &pb->dag->tensors[t];
    const int k = pb->tensor_layer[t];
    if (!int8 || k < 0) return (double)x->numel * (double)x->elem_bytes;
    const int b = abits ? abits[k] : 8;
    if (b < 8 && plan_act_packable(pb, edge, t)) return (double)q_packed_bytes((size_t)x->numel, b);
    return (double)x->numel;
}

/* The liveness walk: the peak, and the step where it is first reached
 * (-1: the quantize step before the first node). */
double plan_act_walk(const plan_problem *pb, const uint8_t *edge, int int8, const int *abits, int *peak_step) {
    const plan_dag *d = pb->dag;
    int n = d->n_nodes;
    if (peak_step) *peak_step = -1;
    int any = 0;
    for (int i = 0; i < n; i++) any |= edge[i];
    if (!any) return 0;
    int *left = cv_calloc((size_t)d->n_tensors + 1, sizeof *left); /* edge readers still to run */
    double *tb = cv_malloc(sizeof(double) * ((size_t)d->n_tensors + 1));
    if (!left || !tb) {
        cv_free(left), cv_free(tb);
        return INFINITY;
    }
    double live = 0, peak = 0;
    for (int t = 0; t < d->n_tensors; t++) {
        const plan_tensor *x = &d->tensors[t];
        for (int k = 0; k < x->n_cons; k++) left[t] += edge[x->cons[k]];
        tb[t] = act_tensor_bytes(pb, edge, int8, abits, t);
    }
    double quantize_step = 0; /* the engine quantizes a float input first: both live */
    for (int t = 0; t < d->n_tensors; t++)
        if (d->tensors[t].producer < 0 && left[t]) {
            live += tb[t];
            if (int8 && pb->tensor_layer[t] >= 0)
                quantize_step += (double)d->tensors[t].numel * (double)d->tensors[t].elem_bytes;
        }
    peak = live + quantize_step;
    for (int i = 0; i < n; i++) {
        if (!edge[i]) continue;
        const plan_node *nd = &d->nodes[i];
        for (int k = 0; k < nd->n_out; k++) live += tb[nd->out[k]];
        if (live > peak) {
            peak = live;
            if (peak_step) *peak_step = i;
        }
        for (int k = 0; k < nd->n_in; k++) {
            int t = nd->in[k];
            if (--left[t] == 0) {
                /* free unless it must still be sent */
                int sent = 0;
                for (int c = 0; c < d->tensors[t].n_cons; c++) sent |= !edge[d->tensors[t].cons[c]];
                if (!sent) live -= tb[t];
            }
        }
        for (int k = 0; k < nd->n_out; k++) {
            int t = nd->out[k];
            int sent = d->tensors[t].is_output;
            for (int c = 0; c < d->tensors[t].n_cons; c++) sent |= !edge[d->tensors[t].cons[c]];
            if (!left[t] && !sent) live -= tb[t];
        }
    }
    cv_free(left);
    cv_free(tb);
    return peak;
}

double plan_act_peak_bytes_at(const plan_problem *pb, const uint8_t *edge, int int8, const int *abits) {
    return plan_act_walk(pb, edge, int8, abits, NULL);
}

double plan_act_peak_bytes(const plan_problem *pb, const uint8_t *edge, int int8) {
    return plan_act_walk(pb, edge, int8, NULL, NULL);
}

/* Whether tensor t is alive at step s of the walk (s = -1: the quantize
 * step), i.e. made at or before s and read by an edge node after s or
 * kept (sent, an output). */
int plan_act_alive_at(const plan_dag *d, const uint8_t *edge, int t, int s) {
    const plan_tensor *x = &d->tensors[t];
    if (x->producer > s) return 0;
    if (x->producer >= 0 && !edge[x->producer]) return 0;
    if (x->is_output) return 1;
    int edge_reader = 0;
    for (int c = 0; c < x->n_cons; c++) {
        if (!edge[x->cons[c]]) return 1; /* sent: kept to the end */
        if (x->cons[c] >= s) return 1;   /* read at s or later (at s: still an input) */
        edge_reader = 1;
    }
    return !edge_reader && x->producer == s; /* made at s, read by nobody */
}

double plan_widen_bytes(const plan_problem *pb, const uint8_t *edge, const int *wbits) {
    double w = 0;
    for (int i = 0; i < pb->dag->n_nodes; i++) {
        int k = pb->node_layer[i];
        if (!edge[i] || k < 0 || (wbits && wbits[k] > PLAN_WIDEN_MAX_BITS)) continue;
        double b = (double)pb->layers[k].w_numel;
        if (b > FAST_QCONV_WIDEN_CAP) b = FAST_QCONV_WIDEN_CAP;
        if (b > w) w = b;
    }
    return w;
}
