/* plan/cuts: cut enumeration (include/exclude over the topological order:
 * a node may join the edge only when all its predecessors are there, so
 * every path of choices ends in a distinct down-set and none is missed)
 * and the cost of a cut. */
#include "plan/cuts.h"

#include <string.h>

long plan_cuts_enumerate(const plan_dag *d, long cap, plan_cut_fn fn, void *user) {
    int n = d->n_nodes;
    uint8_t *edge = cv_calloc((size_t)n + 1, 1), *st = cv_calloc((size_t)n + 1, 1);
    long count = 0;
    if (!edge || !st) {
        cv_free(edge);
        cv_free(st);
        return -2;
    }
    /* st[i]: 0 = not decided, 1 = on the edge (exclusion still to try),
     * 2 = off the edge (done). Exclusion first, so the first cut visited is
     * all-cloud. */
    int i = 0, stop = 0;
    for (;;) {
        if (i == n) {
            if (count >= cap) {
                count = -1;
                break;
            }
            count++;
            if (fn && fn(user, edge)) {
                stop = 1;
                break;
            }
            i--;
        } else if (st[i] == 0) {
            st[i] = 1; /* off first; mark that "on" remains to try */
            edge[i] = 0;
            i++;
            if (i < n) st[i] = 0;
            continue;
        }
        /* backtrack to the deepest node whose other choice remains */
        while (i >= 0) {
            if (st[i] == 1) {
                int ok = 1;
                for (int k = 0; k < d->nodes[i].n_pred && ok; k++) ok = edge[d->nodes[i].pred[k]];
                st[i] = 2;
                if (ok) {
                    edge[i] = 1;
                    break;
                }
            }
            edge[i] = 0;
            i--;
        }
        if (i < 0) break;
        i++;
        if (i < n) st[i] = 0;
    }
    (void)stop;
    cv_free(edge);
    cv_free(st);
    return count;
}

long plan_cuts_prefix(const plan_dag *d, plan_cut_fn fn, void *user) {
    int n = d->n_nodes;
    uint8_t *edge = cv_calloc((size_t)n + 1, 1);
    if (!edge) return -2;
    long count = 0;
    for (int k = 0; k <= n; k++) {
        if (k > 0) edge[k - 1] = 1;
        count++;
        if (fn && fn(user, edge)) break;
    }
    cv_free(edge);
    return count;
}

double plan_cut_cost(const plan_dag *d, const uint8_t *edge, const double *edge_ms,
                     const double *cloud_ms, const double *send_ms, const double *back_ms) {
    double c = 0;
    for (int i = 0; i < d->n_nodes; i++) c += edge[i] ? edge_ms[i] : cloud_ms[i];
    for (int t = 0; t < d->n_tensors; t++) {
        const plan_tensor *x = &d->tensors[t];
        int made_on_edge = x->producer < 0 || edge[x->producer];
        if (made_on_edge) {
            for (int k = 0; k < x->n_cons; k++)
                if (!edge[x->cons[k]]) {
                    c += send_ms[t];
                    break;
                }
        } else if (back_ms && x->is_output) {
            c += back_ms[t];
        }
    }
    return c;
}
