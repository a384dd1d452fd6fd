/* plan/bitalloc: per layer, the lower convex hull of its (rate, distortion)
 * options from the least-distortion option toward cheaper ones; all
 * layers' hull segments merged by slope (distortion added per byte saved)
 * give the global sweep — the order in which increasing lambda switches
 * layers. */
#include "plan/bitalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct seg {
    double slope;
    int layer, opt, order;
} seg;

static int cmp_seg(const void *a, const void *b) {
    const seg *x = a, *y = b;
    if (x->slope != y->slope) return x->slope < y->slope ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Hull of one layer: options sorted by rate descending starting at the
 * least-distortion one (lowest rate among ties); returns hull length into
 * h[] (option indices) — h[0] is the start. */
static int layer_hull(const plan_ba_layer *l, int *h) {
    int start = 0;
    for (int o = 1; o < l->n_opt; o++)
        if (l->dist[o] < l->dist[start] || (l->dist[o] == l->dist[start] && l->rate[o] < l->rate[start]))
            start = o;
    int n = 0;
    h[n++] = start;
    int cur = start;
    for (;;) {
        /* next: among cheaper options, the smallest slope (ties: cheapest) */
        int best = -1;
        double bs = INFINITY;
        for (int o = 0; o < l->n_opt; o++) {
            if (!(l->rate[o] < l->rate[cur])) continue;
            double s = (l->dist[o] - l->dist[cur]) / (l->rate[cur] - l->rate[o]);
            if (s < 0) s = 0; /* cheaper and no worse: take it at once */
            if (s < bs || (s == bs && best >= 0 && l->rate[o] < l->rate[best])) bs = s, best = o;
        }
        if (best < 0) break;
        h[n++] = best;
        cur = best;
    }
    return n;
}

cleave_status plan_ba_sweep_run(cleave_ctx *ctx, const plan_ba_layer *l, int n, plan_ba_sweep *out) {
    memset(out, 0, sizeof *out);
    int total = 0;
    for (int i = 0; i < n; i++) {
        if (l[i].n_opt < 1 || l[i].n_opt > PLAN_BA_MAX_OPTS)
            return cv_fail(ctx, CLEAVE_E_INVALID, "bit allocation: layer %d: %d options (1..%d)", i,
                           l[i].n_opt, PLAN_BA_MAX_OPTS);
        for (int o = 0; o < l[i].n_opt; o++)
            if (!(l[i].rate[o] >= 0 && l[i].dist[o] >= 0 && isfinite(l[i].rate[o]) && isfinite(l[i].dist[o])))
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "bit allocation: layer %d option %d: rate and distortion must be finite and >= 0", i, o);
        total += l[i].n_opt;
    }
    seg *segs = cv_malloc(sizeof *segs * (size_t)(total + 1));
    out->start = cv_malloc(sizeof(int) * (size_t)(n + 1));
    out->rate = cv_malloc(sizeof(double) * (size_t)(total + 1));
    out->dist = cv_malloc(sizeof(double) * (size_t)(total + 1));
    out->lambda = cv_malloc(sizeof(double) * (size_t)(total + 1));
    out->step_layer = cv_malloc(sizeof(int) * (size_t)(total + 1));
    out->step_opt = cv_malloc(sizeof(int) * (size_t)(total + 1));
    if (!segs || !out->start || !out->rate || !out->dist || !out->lambda || !out->step_layer || !out->step_opt) {
        cv_free(segs);
        plan_ba_sweep_free(out);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "bit allocation: out of memory");
    }
    out->n_layers = n;
    int ns = 0;
    double r0 = 0, d0 = 0;
    for (int i = 0; i < n; i++) {
        int h[PLAN_BA_MAX_OPTS];
        int nh = layer_hull(&l[i], h);
        out->start[i] = h[0];
        r0 += l[i].rate[h[0]];
        d0 += l[i].dist[h[0]];
        for (int k = 1; k < nh; k++) {
            double s = (l[i].dist[h[k]] - l[i].dist[h[k - 1]]) / (l[i].rate[h[k - 1]] - l[i].rate[h[k]]);
            segs[ns++] = (seg){s < 0 ? 0 : s, i, h[k], k};
        }
    }
    qsort(segs, (size_t)ns, sizeof *segs, cmp_seg);
    int *cur = cv_malloc(sizeof(int) * (size_t)(n + 1));
    if (!cur) {
        cv_free(segs);
        plan_ba_sweep_free(out);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "bit allocation: out of memory");
    }
    memcpy(cur, out->start, sizeof(int) * (size_t)n);
    out->rate[0] = r0, out->dist[0] = d0, out->lambda[0] = 0;
    for (int k = 0; k < ns; k++) {
        const seg *s = &segs[k];
        const plan_ba_layer *L = &l[s->layer];
        r0 += L->rate[s->opt] - L->rate[cur[s->layer]];
        d0 += L->dist[s->opt] - L->dist[cur[s->layer]];
        cur[s->layer] = s->opt;
        out->rate[k + 1] = r0;
        out->dist[k + 1] = d0;
        out->lambda[k + 1] = s->slope;
        out->step_layer[k] = s->layer;
        out->step_opt[k] = s->opt;
    }
    out->n_points = ns + 1;
    cv_free(cur);
    cv_free(segs);
    return CLEAVE_OK;
}

void plan_ba_sweep_free(plan_ba_sweep *s) {
    cv_free(s->rate);
    cv_free(s->dist);
    cv_free(s->lambda);
    cv_free(s->step_layer);
    cv_free(s->step_opt);
    cv_free(s->start);
    memset(s, 0, sizeof *s);
}

void plan_ba_sweep_choice(const plan_ba_sweep *s, int k, int *choice) {
    memcpy(choice, s->start, sizeof(int) * (size_t)s->n_layers);
    for (int j = 0; j < k && j < s->n_points - 1; j++) choice[s->step_layer[j]] = s->step_opt[j];
}

int plan_ba_sweep_best(const plan_ba_sweep *s, double budget) {
    /* rates fall along the sweep: the first point under budget has the
     * least distortion among those that fit */
    double tol = 1e-9 * (budget > 1 ? budget : 1);
    for (int k = 0; k < s->n_points; k++)
        if (s->rate[k] <= budget + tol) return k;
    return -1;
}

double plan_ba_fill(const plan_ba_layer *l, int n, int *choice, double budget) {
    double r = 0, d = 0;
    for (int i = 0; i < n; i++) r += l[i].rate[choice[i]], d += l[i].dist[choice[i]];
    double tol = 1e-9 * (budget > 1 ? budget : 1);
    for (;;) {
        int bi = -1, bo = -1;
        double best = 0;
        for (int i = 0; i < n; i++)
            for (int o = 0; o < l[i].n_opt; o++) {
                double dr = l[i].rate[o] - l[i].rate[choice[i]], dd = l[i].dist[choice[i]] - l[i].dist[o];
                if (dd <= 0 || r + dr > budget + tol) continue;
                double gain = dr > 0 ? dd / dr : INFINITY;
                if (gain > best) best = gain, bi = i, bo = o;
            }
        if (bi < 0) break;
        r += l[bi].rate[bo] - l[bi].rate[choice[bi]];
        d += l[bi].dist[bo] - l[bi].dist[choice[bi]];
        choice[bi] = bo;
    }
    return d;
}
