/* plan/mincut: DADS' minimum-latency partition as an s-t minimum cut,
 * solved by Dinic's max-flow (BFS levels, blocking flow by DFS with
 * current-arc pointers) on double capacities. The source side of the
 * minimum cut (vertices reachable from s in the residual graph) is the
 * edge part. */
#include <math.h>
#include <string.h>

#include "plan/cuts.h"

typedef struct arc {
    int to, next;
    double cap;
} arc;

typedef struct flow_net {
    int nv, na, cap_arcs;
    int *head, *level, *it, *queue;
    arc *a;
} flow_net;

/* An "infinite" capacity that stays finite so residual arithmetic never
 * produces inf - inf. */
#define BIG 1e18

static int add_arc(flow_net *f, int u, int v, double c) {
    if (f->na + 2 > f->cap_arcs) return -1;
    f->a[f->na] = (arc){v, f->head[u], c};
    f->head[u] = f->na++;
    f->a[f->na] = (arc){u, f->head[v], 0};
    f->head[v] = f->na++;
    return 0;
}

static int bfs(flow_net *f, int s, int t, double eps) {
    for (int v = 0; v < f->nv; v++) f->level[v] = -1;
    int qh = 0, qt = 0;
    f->queue[qt++] = s;
    f->level[s] = 0;
    while (qh < qt) {
        int u = f->queue[qh++];
        for (int e = f->head[u]; e >= 0; e = f->a[e].next)
            if (f->a[e].cap > eps && f->level[f->a[e].to] < 0) {
                f->level[f->a[e].to] = f->level[u] + 1;
                f->queue[qt++] = f->a[e].to;
            }
    }
    return f->level[t] >= 0;
}

/* Iterative DFS pushing one augmenting path along level-increasing arcs;
 * returns the amount pushed (0 when blocked). path holds arc ids. */
static double augment(flow_net *f, int s, int t, double eps, int *path) {
    int depth = 0, u = s;
    for (;;) {
        if (u == t) {
            double push = BIG;
            for (int k = 0; k < depth; k++)
                if (f->a[path[k]].cap < push) push = f->a[path[k]].cap;
            for (int k = 0; k < depth; k++) {
                f->a[path[k]].cap -= push;
                f->a[path[k] ^ 1].cap += push;
            }
            return push;
        }
        int e = f->it[u];
        while (e >= 0 && !(f->a[e].cap > eps && f->level[f->a[e].to] == f->level[u] + 1))
            e = f->a[e].next;
        f->it[u] = e;
        if (e >= 0) {
            path[depth++] = e;
            u = f->a[e].to;
        } else {
            if (depth == 0) return 0;
            f->level[u] = -1; /* dead end: never enter again this phase */
            u = f->a[path[--depth] ^ 1].to;
            f->it[u] = f->a[f->it[u]].next;
        }
    }
}

cleave_status plan_min_cut(cleave_ctx *ctx, const plan_dag *d, const double *edge_ms,
                           const double *cloud_ms, const double *send_ms, const double *back_ms,
                           uint8_t *edge_out, double *cost) {
    int n = d->n_nodes, nt = d->n_tensors;
    int s = n + nt, t = s + 1;
    flow_net f = {.nv = n + nt + 2};
    long arcs = 2L * n; /* s->v, v->t */
    for (int x = 0; x < nt; x++) arcs += 1 + d->tensors[x].n_cons;
    for (int i = 0; i < n; i++) arcs += d->nodes[i].n_pred;
    f.cap_arcs = (int)(2 * arcs + 2);
    f.head = cv_malloc(sizeof(int) * (size_t)f.nv);
    f.level = cv_malloc(sizeof(int) * (size_t)f.nv);
    f.it = cv_malloc(sizeof(int) * (size_t)f.nv);
    f.queue = cv_malloc(sizeof(int) * (size_t)f.nv);
    f.a = cv_malloc(sizeof(arc) * (size_t)f.cap_arcs);
    int *path = cv_malloc(sizeof(int) * (size_t)(f.nv + 1));
    cleave_status st = CLEAVE_OK;
    if (!f.head || !f.level || !f.it || !f.queue || !f.a || !path) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "min-cut: out of memory");
        goto out;
    }
    for (int v = 0; v < f.nv; v++) f.head[v] = -1;
    double total = 0;
    for (int i = 0; i < n; i++) {
        double c = cloud_ms[i], e = edge_ms[i];
        for (int k = 0; back_ms && k < d->nodes[i].n_out; k++)
            if (d->tensors[d->nodes[i].out[k]].is_output) c += back_ms[d->nodes[i].out[k]];
        if (!(c >= 0 && e >= 0 && c < BIG && e < BIG)) {
            st = cv_fail(ctx, CLEAVE_E_INVALID, "min-cut: node %d: times must be finite and >= 0", i);
            goto out;
        }
        total += c + e;
        add_arc(&f, s, i, c);
        add_arc(&f, i, t, e);
        for (int k = 0; k < d->nodes[i].n_pred; k++) add_arc(&f, i, d->nodes[i].pred[k], BIG);
    }
    for (int x = 0; x < nt; x++) {
        const plan_tensor *tx = &d->tensors[x];
        if (!(send_ms[x] >= 0 && send_ms[x] < BIG)) {
            st = cv_fail(ctx, CLEAVE_E_INVALID, "min-cut: tensor %d: send time must be finite and >= 0", x);
            goto out;
        }
        if (!tx->n_cons) continue;
        total += send_ms[x];
        add_arc(&f, tx->producer >= 0 ? tx->producer : s, n + x, send_ms[x]);
        for (int k = 0; k < tx->n_cons; k++) add_arc(&f, n + x, tx->cons[k], BIG);
    }
    double eps = 1e-12 * (total > 1 ? total : 1), flow = 0;
    while (bfs(&f, s, t, eps)) {
        for (int v = 0; v < f.nv; v++) f.it[v] = f.head[v];
        double pushed;
        while ((pushed = augment(&f, s, t, eps, path)) > 0) flow += pushed;
    }
    /* source side: reachable from s in the residual graph (last BFS) */
    bfs(&f, s, t, eps);
    for (int i = 0; i < n; i++) edge_out[i] = f.level[i] >= 0;
    *cost = plan_cut_cost(d, edge_out, edge_ms, cloud_ms, send_ms, back_ms);
    if (fabs(*cost - flow) > 1e-6 * (flow > 1 ? flow : 1) || !plan_cut_valid(d, edge_out))
        st = cv_fail(ctx, CLEAVE_E_INTERNAL, "min-cut: cut cost %.9g differs from max-flow %.9g",
                     *cost, flow);
out:
    cv_free(f.head);
    cv_free(f.level);
    cv_free(f.it);
    cv_free(f.queue);
    cv_free(f.a);
    cv_free(path);
    return st;
}
