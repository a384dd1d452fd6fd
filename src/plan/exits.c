/* plan/exits: per exit, the sub-DAG its output depends on becomes its own
 * planning problem; per bandwidth state, every exit's fastest feasible
 * solution is found by the same search as a whole model's, and the state
 * takes the most accurate exit that meets the requirement (Edgent's rule:
 * maximise accuracy subject to latency). */
#include "plan/exits.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cleave_status copy_solution(cleave_ctx *ctx, const plan_problem *pb, const plan_solution *s,
                                   const int *node_new2old, const int *tensor_new2old, int sub_nodes,
                                   plan_solution *o) {
    *o = *s;
    int n = pb->dag->n_nodes, L = pb->n_layers;
    o->edge = cv_calloc((size_t)n + 1, 1);
    o->cross = cv_malloc(sizeof(int) * (size_t)(s->n_cross + 1));
    o->cross_bits = cv_malloc(sizeof(int) * (size_t)(s->n_cross + 1));
    o->wbits = cv_malloc(sizeof(int) * (size_t)(L + 1));
    o->abits = cv_malloc(sizeof(int) * (size_t)(L + 1));
    if (!o->edge || !o->cross || !o->cross_bits || !o->wbits || !o->abits)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    for (int i = 0; i < sub_nodes; i++) o->edge[node_new2old[i]] = s->edge[i];
    for (int c = 0; c < s->n_cross; c++) o->cross[c] = tensor_new2old[s->cross[c]], o->cross_bits[c] = s->cross_bits[c];
    memcpy(o->wbits, s->wbits, sizeof(int) * (size_t)L);
    memcpy(o->abits, s->abits, sizeof(int) * (size_t)L);
    return CLEAVE_OK;
}

static void sol_release(plan_solution *s) {
    cv_free(s->edge), cv_free(s->cross), cv_free(s->cross_bits), cv_free(s->wbits), cv_free(s->abits);
    memset(s, 0, sizeof *s);
}

void plan_config_map_free(plan_config_map *m) {
    for (int i = 0; i < m->n; i++) sol_release(&m->c[i].sol);
    cv_free(m->c);
    memset(m, 0, sizeof *m);
}

/* One exit's sub-problem. */
typedef struct exit_prob {
    plan_problem pb;
    plan_dag *dag;
    int *node_map, *tensor_map, *node_back, *tensor_back, *node_layer, *tensor_layer;
    cost_features *feat;
    double *e32, *e8, *cl;
} exit_prob;

static void exit_prob_free(exit_prob *e) {
    plan_dag_destroy(e->dag);
    cv_free(e->node_map), cv_free(e->tensor_map), cv_free(e->node_back), cv_free(e->tensor_back);
    cv_free(e->node_layer), cv_free(e->tensor_layer), cv_free(e->feat);
    cv_free(e->e32), cv_free(e->e8), cv_free(e->cl);
    memset(e, 0, sizeof *e);
}

static cleave_status exit_prob_make(cleave_ctx *ctx, const plan_problem *pb, int t, exit_prob *e) {
    const plan_dag *d = pb->dag;
    memset(e, 0, sizeof *e);
    uint8_t *keep = cv_malloc((size_t)d->n_nodes + 1);
    e->node_map = cv_malloc(sizeof(int) * (size_t)(d->n_nodes + 1));
    e->tensor_map = cv_malloc(sizeof(int) * (size_t)(d->n_tensors + 1));
    if (!keep || !e->node_map || !e->tensor_map) {
        cv_free(keep);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    }
    plan_dag_ancestors(d, t, keep);
    cleave_status st = plan_dag_subset(ctx, d, keep, &t, 1, &e->dag, e->node_map, e->tensor_map);
    cv_free(keep);
    if (st) return st;
    int n = e->dag->n_nodes, nt = e->dag->n_tensors;
    e->node_back = cv_malloc(sizeof(int) * (size_t)(n + 1));
    e->tensor_back = cv_malloc(sizeof(int) * (size_t)(nt + 1));
    e->node_layer = cv_malloc(sizeof(int) * (size_t)(n + 1));
    e->tensor_layer = cv_malloc(sizeof(int) * (size_t)(nt + 1));
    e->feat = cv_malloc(sizeof(cost_features) * (size_t)(n + 1));
    e->e32 = cv_malloc(sizeof(double) * (size_t)(n + 1));
    e->e8 = cv_malloc(sizeof(double) * (size_t)(n + 1));
    e->cl = cv_malloc(sizeof(double) * (size_t)(n + 1));
    if (!e->node_back || !e->tensor_back || !e->node_layer || !e->tensor_layer || !e->feat || !e->e32 ||
        !e->e8 || !e->cl)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    for (int i = 0; i < d->n_nodes; i++) {
        int k = e->node_map[i];
        if (k < 0) continue;
        e->node_back[k] = i;
        e->node_layer[k] = pb->node_layer[i];
        e->feat[k] = pb->feat[i];
        e->e32[k] = pb->edge_fp32_ms[i], e->e8[k] = pb->edge_int8_ms[i], e->cl[k] = pb->cloud_ms[i];
    }
    for (int x = 0; x < d->n_tensors; x++) {
        int k = e->tensor_map[x];
        if (k < 0) continue;
        e->tensor_back[k] = x;
        e->tensor_layer[k] = pb->tensor_layer[x];
    }
    e->pb = *pb;
    e->pb.dag = e->dag;
    e->pb.feat = e->feat;
    e->pb.edge_fp32_ms = e->e32, e->pb.edge_int8_ms = e->e8, e->pb.cloud_ms = e->cl;
    e->pb.node_layer = e->node_layer, e->pb.tensor_layer = e->tensor_layer;
    return CLEAVE_OK;
}

cleave_status plan_exits_map(cleave_ctx *ctx, const plan_problem *pb, const int *exit_tensor,
                             const double *exit_acc, int n_exits, const double *mbits, int n_states,
                             double deadline_ms, plan_config_map *out) {
    memset(out, 0, sizeof *out);
    if (n_exits < 1 || n_exits > PLAN_MAX_EXITS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "plan: 1..%d exits, not %d", PLAN_MAX_EXITS, n_exits);
    if (n_states < 1) return cv_fail(ctx, CLEAVE_E_INVALID, "plan: no bandwidth states");
    for (int s = 0; s < n_states; s++)
        if (!(mbits[s] > 0) || (s && mbits[s] <= mbits[s - 1]))
            return cv_fail(ctx, CLEAVE_E_INVALID, "plan: bandwidth states must be > 0 and ascending");
    double t0 = cv_now_ms();
    exit_prob ep[PLAN_MAX_EXITS];
    memset(ep, 0, sizeof ep);
    cleave_status st = CLEAVE_OK;
    out->c = cv_calloc((size_t)n_states, sizeof *out->c);
    if (!out->c) return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    out->n = n_states;
    out->n_exits = n_exits;
    out->deadline_ms = deadline_ms;
    for (int k = 0; k < n_exits && !st; k++) {
        if (exit_tensor[k] < 0 || exit_tensor[k] >= pb->dag->n_tensors)
            st = cv_fail(ctx, CLEAVE_E_INVALID, "plan: exit %d: no such tensor", k);
        else
            st = exit_prob_make(ctx, pb, exit_tensor[k], &ep[k]);
    }
    for (int s = 0; s < n_states && !st; s++) {
        plan_exit_choice *c = &out->c[s];
        c->mbit = mbits[s];
        c->measured_acc = NAN;
        int best = -1, fastest = -1;
        double best_acc = -INFINITY, best_ms = INFINITY, fast_ms = INFINITY;
        plan_result res[PLAN_MAX_EXITS];
        memset(res, 0, sizeof res);
        for (int k = 0; k < n_exits && !st; k++) {
            ep[k].pb.link.mbit_s = mbits[s];
            st = plan_search(ctx, &ep[k].pb, &res[k]);
            if (st) break;
            c->exit_ms[k] = res[k].n_front ? res[k].sol[0].total_ms : NAN;
            c->exit_acc[k] = res[k].n_front ? exit_acc[k] - res[k].sol[0].pred_drop : NAN;
            if (!res[k].n_front) continue;
            double ms = c->exit_ms[k], acc = c->exit_acc[k];
            if (ms < fast_ms) fast_ms = ms, fastest = k;
            if (ms <= deadline_ms && (acc > best_acc || (acc == best_acc && ms < best_ms)))
                best = k, best_acc = acc, best_ms = ms;
        }
        int pick = best >= 0 ? best : fastest;
        if (!st && pick < 0)
            st = cv_fail(ctx, CLEAVE_E_INVALID, "plan: at %.3g Mbit/s no exit has a solution within the "
                         "memory and accuracy constraints", mbits[s]);
        if (!st) {
            c->exit = pick;
            c->meets = best >= 0;
            c->accuracy = c->exit_acc[pick];
            st = copy_solution(ctx, pb, &res[pick].sol[0], ep[pick].node_back, ep[pick].tensor_back,
                               ep[pick].dag->n_nodes, &c->sol);
        }
        for (int k = 0; k < n_exits; k++) plan_result_free(&res[k]);
    }
    for (int k = 0; k < n_exits; k++) exit_prob_free(&ep[k]);
    out->plan_ms = cv_now_ms() - t0;
    if (st) plan_config_map_free(out);
    return st;
}

int plan_config_lookup(const plan_config_map *m, double mbit) {
    int lo = 0, hi = m->n - 1, ans = 0;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (m->c[mid].mbit <= mbit) ans = mid, lo = mid + 1;
        else hi = mid - 1;
    }
    return ans;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cleave_status plan_states_from_trace(cleave_ctx *ctx, const char *path, double step, double **out, int *n) {
    if (!(step > 1.0 && step < 10))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: state grid ratio must be in (1, 10)", path);
    FILE *f = fopen(path, "r");
    if (!f) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot open: %s", path, strerror(errno));
    double *v = NULL;
    int nv = 0, cap = 0, line = 0;
    char buf[512];
    cleave_status st = CLEAVE_OK;
    while (fgets(buf, sizeof buf, f)) {
        line++;
        char *p = buf;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || !*p) continue;
        double t, mb;
        if (sscanf(p, "%lf,%lf", &t, &mb) != 2) {
            if (line == 1) continue; /* a header */
            st = cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d: expected \"time,mbit\"", path, line);
            break;
        }
        if (!(mb > 0) || !isfinite(mb) || mb > 1e6) {
            st = cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d: bandwidth %g Mbit/s out of range", path, line, mb);
            break;
        }
        if (nv >= 1000000) {
            st = cv_fail(ctx, CLEAVE_E_LIMIT, "%s: over 10^6 samples", path);
            break;
        }
        if (nv == cap) {
            cap = cap ? 2 * cap : 256;
            double *nvp = cv_realloc(v, sizeof(double) * (size_t)cap);
            if (!nvp) {
                st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
                break;
            }
            v = nvp;
        }
        /* round down onto the grid step^k (k integer) */
        double k = floor(log(mb) / log(step) + 1e-9);
        v[nv++] = pow(step, k);
    }
    fclose(f);
    if (!st && nv == 0) st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: no samples", path);
    if (st) {
        cv_free(v);
        return st;
    }
    qsort(v, (size_t)nv, sizeof *v, cmp_d);
    int m = 0;
    for (int i = 0; i < nv; i++)
        if (!m || v[i] > v[m - 1] * (1 + 1e-9)) v[m++] = v[i];
    *out = v;
    *n = m;
    return CLEAVE_OK;
}
