/* runtime optimize: the canonical-graph pipeline. Constant folding runs the
 * op kernels on nodes whose inputs are all constants and stores the results
 * as initializers; then the ir passes (Identity/Dropout removal, BN folding,
 * activation fusion, dead-node removal). Shape-dependent folding (Shape ->
 * Gather -> Reshape chains) happens per compile in plan.c, so a graph with a
 * dynamic batch stays dynamic. */
#include <string.h>

#include "ir/passes.h"
#include "ops/op.h"
#include "runtime/optimize.h"

cleave_status rt_fold_constants(cleave_ctx *ctx, ir_graph *g, int *count) {
    int folded = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        const op_def *d = op_get(n->op);
        if (n->dead || !d || (d->flags & OP_F_NOFOLD) || n->n_in > 64 || n->n_out > 16) continue;
        int ok = 1;
        for (int k = 0; k < n->n_in && ok; k++)
            ok = n->in[k] < 0 || (g->values[n->in[k]].data && g->values[n->in[k]].producer < 0 &&
                                  !g->values[n->in[k]].is_input);
        for (int k = 0; k < n->n_out && ok; k++) ok = n->out[k] < 0 || !g->values[n->out[k]].is_output;
        if (!ok) continue;
        cv_tensor tin[64], tout[16];
        const cv_tensor *pin[64];
        cv_tensor *pout[16];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] >= 0) tin[k] = ir_value_tensor(g, n->in[k]);
            pin[k] = n->in[k] >= 0 ? &tin[k] : NULL;
        }
        for (int k = 0; k < n->n_out; k++) {
            memset(&tout[k], 0, sizeof tout[k]);
            pout[k] = n->out[k] >= 0 ? &tout[k] : NULL;
        }
        op_call c = {.node = n, .ctx = ctx, .n_in = n->n_in, .n_out = n->n_out, .in = pin,
                     .out = pout, .threads = ctx->threads, .fast = 0};
        CV_TRY(d->infer(&c));
        void *bufs[16] = {0};
        cleave_status st = CLEAVE_OK;
        for (int k = 0; k < n->n_out && st == CLEAVE_OK; k++) {
            if (!pout[k]) continue;
            bufs[k] = cv_aligned_alloc(cv_nbytes(pout[k]) + 64);
            if (!bufs[k]) st = cv_fail(ctx, CLEAVE_E_NOMEM, "constant folding: out of memory");
            pout[k]->data = bufs[k];
        }
        if (st == CLEAVE_OK) st = op_run_once(d, &c);
        for (int k = 0; k < n->n_out && st == CLEAVE_OK; k++) {
            if (!pout[k]) continue;
            st = ir_value_set_data(ctx, g, n->out[k], pout[k]->dtype, pout[k]->ndim, pout[k]->dims,
                                   pout[k]->data);
            g->values[n->out[k]].is_initializer = 1;
        }
        for (int k = 0; k < 16; k++) cv_aligned_free(bufs[k]);
        if (st) return st;
        n->dead = 1;
        folded++;
    }
    if (count) *count = folded;
    return ir_graph_compact(ctx, g);
}

/* Initializers nobody reads any more (e.g. weights replaced by BN folding)
 * lose their payload so a save does not carry them. */
static void drop_unused_constants(ir_graph *g) {
    int *uses = ir_graph_consumer_counts(g);
    if (!uses) return;
    for (int v = 0; v < g->n_values; v++) {
        ir_value *val = &g->values[v];
        if (val->data && val->producer < 0 && !uses[v] && !val->is_input && !val->is_output) {
            val->data = NULL;
            val->is_initializer = 0;
        }
    }
    cv_free(uses);
}

cleave_status rt_graph_optimize(cleave_ctx *ctx, ir_graph *g, rt_opt_stats *stats) {
    rt_opt_stats s = {0};
    s.nodes_before = g->n_nodes;
    CV_TRY(op_bind_graph(ctx, g));
    /* a QDQ model runs on integers: fuse activations into the float ops
     * first, then lower before folding turns DequantizeLinear(weight) into
     * a float constant */
    CV_TRY(ir_pass_remove_identity(ctx, g, &s.identity));
    CV_TRY(ir_pass_fuse_activations(ctx, g, &s.act_fused));
    CV_TRY(ir_pass_qdq_clip_codes(ctx, g, NULL));
    CV_TRY(ir_pass_lower_qdq(ctx, g, &s.qdq_lowered));
    CV_TRY(op_bind_graph(ctx, g));
    CV_TRY(rt_fold_constants(ctx, g, &s.folded));
    CV_TRY(ir_pass_fold_batchnorm(ctx, g, &s.bn_folded));
    int more = 0;
    CV_TRY(ir_pass_fuse_activations(ctx, g, &more));
    s.act_fused += more;
    CV_TRY(ir_pass_fuse_code_clips(ctx, g, &more));
    s.act_fused += more;
    CV_TRY(ir_pass_remove_dead(ctx, g, &s.dead));
    drop_unused_constants(g);
    CV_TRY(op_bind_graph(ctx, g));
    s.nodes_after = g->n_nodes;
    if (stats) *stats = s;
    return CLEAVE_OK;
}
