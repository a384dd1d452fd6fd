/* ir stats: MACs from the op's shapes (Conv: output elements x input
 * channels per group x kernel size; ConvTranspose: input elements x output
 * channels per group x kernel size; Gemm/MatMul: M x N x K per batch). */
#include "ir/stats.h"

#include <string.h>

void ir_node_stats_compute(const ir_graph *g, const ir_node *n, const cv_tensor *const *in,
                           const cv_tensor *const *out, ir_node_stats *s) {
    memset(s, 0, sizeof *s);
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v >= 0 && g->values[v].data && g->values[v].producer < 0 && in[k])
            s->param_bytes += (int64_t)cv_nbytes(in[k]);
    }
    for (int k = 0; k < n->n_out; k++)
        if (out[k]) s->out_bytes += (int64_t)cv_nbytes(out[k]);
    const cv_tensor *x = n->n_in > 0 ? in[0] : NULL, *w = n->n_in > 1 ? in[1] : NULL;
    const cv_tensor *y = n->n_out > 0 ? out[0] : NULL;
    if (!y) return;
    s->flops = cv_numel(y);
    const char *t = n->op_type;
    if (!strcmp(t, "Conv") && w && w->ndim >= 3) {
        s->macs = cv_numel(y) * cv_shape_numel(w->ndim - 1, w->dims + 1);
    } else if (!strcmp(t, "ConvTranspose") && w && x && w->ndim >= 3) {
        s->macs = cv_numel(x) * cv_shape_numel(w->ndim - 1, w->dims + 1);
    } else if ((!strcmp(t, "Gemm") || !strcmp(t, "MatMul")) && x && x->ndim >= 1) {
        int64_t kdim = x->dims[x->ndim - 1];
        if (!strcmp(t, "Gemm") && ir_attr_int(n, "transA", 0) && x->ndim == 2) kdim = x->dims[0];
        s->macs = cv_numel(y) * kdim;
    }
    if (s->macs) s->flops = 2 * s->macs;
}
