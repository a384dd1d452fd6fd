/* plan/planner: candidate cuts (every down-set, or the prefixes of the
 * schedule when there are too many), each priced with int8 edge kernels,
 * its crossing tensors at every combination of widths, and the weight bits
 * from the Lagrangian sweep that fit the memory left by the activations;
 * the Pareto front of (latency, predicted drop, edge memory) is kept
 * incrementally. Baselines are priced by the same functions. */
#include "plan/planner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/pack.h"
#include "plan/bitalloc.h"
#include "plan/cuts.h"

const char *plan_method_name(plan_method m) {
    static const char *const names[PLAN_METHOD_N] = {
        "auto-split", "cloud-only", "edge-fp32", "edge-u8", "edge-u4 (w4a8)",
        "neurosurgeon", "dads", "qdmp (min-cut u8)"};
    return (unsigned)m < PLAN_METHOD_N ? names[m] : "?";
}

void plan_map_layers(const ir_graph *g, const plan_dag *d, const quant_layer *l, int n,
                     int *node_layer, int *tensor_layer) {
    for (int i = 0; i < d->n_nodes; i++) node_layer[i] = -1;
    for (int t = 0; t < d->n_tensors; t++) tensor_layer[t] = -1;
    for (int k = 0; k < n; k++) {
        if (l[k].weight >= 0 && l[k].node >= 0)
            for (int i = 0; i < d->n_nodes; i++)
                if (d->nodes[i].graph_node == l[k].node) node_layer[i] = k;
        if (l[k].act >= 0) {
            const char *an = g->values[l[k].act].name;
            for (int t = 0; t < d->n_tensors; t++)
                if (d->tensors[t].name && an && !strcmp(d->tensors[t].name, an)) tensor_layer[t] = k;
        }
    }
}

double plan_fit_kappa(const quant_table *t) {
    double num = 0, den = 0;
    for (int k = 0; k < t->n_layers * t->n_bits; k++) {
        const quant_distortion *e[2] = {&t->w[k], &t->a[k]};
        for (int j = 0; j < 2; j++)
            if (!isnan(e[j]->mse) && e[j]->mse > 0) num += e[j]->flip * sqrt(e[j]->mse), den += e[j]->mse;
    }
    return den > 0 && num > 0 ? num / den : 1.0;
}

/* ---- per-cut pricing ---- */

static int bits_col(const quant_table *t, int b) {
    for (int j = 0; j < t->n_bits; j++)
        if (t->bits[j] == b) return j;
    return -1;
}

static double dist_w(const plan_problem *pb, int k, int b) {
    if (b >= 32 || k < 0) return 0;
    int j = bits_col(pb->table, b);
    double d = j < 0 ? NAN : pb->table->w[k * pb->table->n_bits + j].mse;
    return isnan(d) ? 0 : d;
}

static double dist_a(const plan_problem *pb, int k, int b) {
    if (b >= 32 || k < 0) return 0;
    int j = bits_col(pb->table, b);
    double d = j < 0 ? NAN : pb->table->a[k * pb->table->n_bits + j].mse;
    return isnan(d) ? 0 : d;
}

/* Weight bytes of an edge node: packed weight at wb bits plus per-channel
 * scales, and everything else (bias) as stored (fp32 when wb == 32). */
static double node_weight_bytes(const plan_problem *pb, int i, int wb) {
    const cost_features *f = &pb->feat[i];
    int k = pb->node_layer[i];
    if (k < 0 || wb >= 32) return f->param_bytes;
    double wn = (double)pb->layers[k].w_numel;
    double rest = f->param_bytes - 4.0 * wn;
    if (rest < 0) rest = 0;
    return wn * wb / 8.0 + 4.0 * (double)(f->cout > 0 ? f->cout : 1) + rest;
}

typedef struct cut_eval {
    double edge_ms, cloud_ms, act_peak, fixed_bytes, dist_fixed;
    int n_cross;
    int cross[64];
    int cross_layer[64];
    int n_w;          /* weight layers on the edge */
    int *w_layer;     /* their layer ids */
    int *w_node;      /* their DAG nodes */
} cut_eval;

static double transfer(const plan_problem *pb, double bytes, int n_cross) {
    if (n_cross == 0) return 0;
    return cost_link_transfer_ms(&pb->link, bytes);
}

/* Fill a solution's arrays for edge[] with weight bits per weight layer
 * (wl/wb, n_w entries), crossing widths cb[]; all other edge activations
 * at act[k] (per layer; NULL: 8). */
static cleave_status materialize(cleave_ctx *ctx, const plan_problem *pb, plan_method m,
                                 const uint8_t *edge, const int *cross, const int *cb, int n_cross,
                                 const int *wl, const int *wb, int n_w, int int8_edge,
                                 const int *act, plan_solution *s) {
    const plan_dag *d = pb->dag;
    memset(s, 0, sizeof *s);
    s->method = m;
    s->edge = cv_malloc((size_t)d->n_nodes + 1);
    s->cross = cv_malloc(sizeof(int) * (size_t)(n_cross + 1));
    s->cross_bits = cv_malloc(sizeof(int) * (size_t)(n_cross + 1));
    s->wbits = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1));
    s->abits = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1));
    if (!s->edge || !s->cross || !s->cross_bits || !s->wbits || !s->abits)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    memcpy(s->edge, edge, (size_t)d->n_nodes);
    s->n_cross = n_cross;
    memcpy(s->cross, cross, sizeof(int) * (size_t)n_cross);
    memcpy(s->cross_bits, cb, sizeof(int) * (size_t)n_cross);
    int any_edge = 0;
    for (int i = 0; i < d->n_nodes; i++) any_edge |= edge[i], s->n_edge += edge[i];
    for (int k = 0; k < pb->n_layers; k++) s->wbits[k] = s->abits[k] = 32;
    for (int j = 0; j < n_w; j++) s->wbits[wl[j]] = wb[j];
    /* activations quantized on the edge: tensors made there (or the input
     * when the edge runs anything), at act[k] (8 by default) unless sent at
     * other widths */
    if (int8_edge)
        for (int t = 0; t < d->n_tensors; t++) {
            int k = pb->tensor_layer[t];
            if (k < 0) continue;
            int p = d->tensors[t].producer;
            if ((p < 0 && any_edge) || (p >= 0 && edge[p])) s->abits[k] = act && act[k] < 32 ? act[k] : 8;
        }
    for (int c = 0; c < n_cross; c++) {
        int k = pb->tensor_layer[cross[c]];
        if (k >= 0) s->abits[k] = cb[c];
    }
    /* price */
    double tx = 0, wbytes = 0, dist = 0;
    for (int i = 0; i < d->n_nodes; i++) {
        if (edge[i]) {
            s->edge_ms += int8_edge ? pb->edge_int8_ms[i] : pb->edge_fp32_ms[i];
            int k = pb->node_layer[i];
            wbytes += node_weight_bytes(pb, i, k >= 0 ? s->wbits[k] : 32);
        } else {
            s->cloud_ms += pb->cloud_ms[i];
        }
    }
    for (int c = 0; c < n_cross; c++) {
        const plan_tensor *x = &d->tensors[cross[c]];
        tx += cb[c] >= 32 ? (double)x->numel * x->elem_bytes : (double)cost_tensor_bytes(x->numel, cb[c]);
    }
    for (int k = 0; k < pb->n_layers; k++) dist += dist_w(pb, k, s->wbits[k]) + dist_a(pb, k, s->abits[k]);
    s->tx_bytes = tx;
    s->transfer_ms = transfer(pb, tx, n_cross);
    s->codec_ms = n_cross ? pb->edge_request_ms + pb->cloud_request_ms : 0;
    s->total_ms = s->edge_ms + s->transfer_ms + s->codec_ms + s->cloud_ms;
    s->weight_bytes = wbytes;
    s->act_bytes = plan_act_peak_bytes_at(pb, edge, int8_edge, int8_edge ? s->abits : NULL);
    s->widen_bytes = int8_edge ? plan_widen_bytes(pb, edge, s->wbits) : 0;
    s->scratch_bytes = int8_edge && any_edge ? pb->kernel_scratch : 0;
    s->mem_bytes = any_edge ? wbytes + s->act_bytes + s->widen_bytes + s->scratch_bytes : 0;
    s->distortion = dist;
    s->pred_drop = 100.0 * pb->kappa * sqrt(dist);
    s->feasible = 1;
    if (s->mem_bytes > pb->mem_budget) {
        s->feasible = 0;
        snprintf(s->why, sizeof s->why, "edge memory %.0f KiB > budget %.0f KiB",
                 s->mem_bytes / 1024, pb->mem_budget / 1024);
    } else if (s->pred_drop > pb->max_drop) {
        s->feasible = 0;
        snprintf(s->why, sizeof s->why, "predicted drop %.2f pt > bound %.2f", s->pred_drop, pb->max_drop);
    }
    return CLEAVE_OK;
}

static void sol_free(plan_solution *s) {
    cv_free(s->edge);
    cv_free(s->cross);
    cv_free(s->cross_bits);
    cv_free(s->wbits);
    cv_free(s->abits);
    memset(s, 0, sizeof *s);
}

void plan_result_free(plan_result *r) {
    for (int i = 0; i < r->n_sol; i++) sol_free(&r->sol[i]);
    cv_free(r->sol);
    memset(r, 0, sizeof *r);
}

/* ---- the Pareto front ---- */

typedef struct front {
    plan_solution *s;
    int n, cap;
} front;

static int dominates(const plan_solution *a, const plan_solution *b) {
    const double e = 1e-9;
    /* equal in all three counts too: the earlier one stays */
    return a->total_ms <= b->total_ms + e && a->pred_drop <= b->pred_drop + e &&
           a->mem_bytes <= b->mem_bytes + e;
}

/* Takes ownership of s (frees it when dominated). */
static cleave_status front_add(cleave_ctx *ctx, front *f, plan_solution *s) {
    for (int i = 0; i < f->n; i++)
        if (dominates(&f->s[i], s)) {
            sol_free(s);
            return CLEAVE_OK;
        }
    int m = 0;
    for (int i = 0; i < f->n; i++) {
        if (dominates(s, &f->s[i])) sol_free(&f->s[i]);
        else f->s[m++] = f->s[i];
    }
    f->n = m;
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 32;
        plan_solution *ns = cv_realloc(f->s, sizeof *ns * (size_t)cap);
        if (!ns) {
            sol_free(s);
            return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        }
        f->s = ns, f->cap = cap;
    }
    f->s[f->n++] = *s;
    return CLEAVE_OK;
}

/* ---- the search ---- */

typedef struct search {
    cleave_ctx *ctx;
    const plan_problem *pb;
    front fr;
    cleave_status st;
    long visited;
    int kept;
    double dist_budget;
    /* tightest-constraint bookkeeping over rejected cuts */
    double best_mem_excess, best_drop; /* least memory excess; least predicted drop that fits */
    int *wl, *wb, *choice, *cross, *cl, *cb;
    int *abits;    /* per layer: the edge activations' widths of the configuration priced */
    int *abits_cfg; /* PLAN_MAX_ACT_CONFIGS such arrays of n_layers (price_cut) */
    int *wnode;    /* per edge weight layer: its node */
    double *wbuf;  /* and the engine's widening buffer when packed */
    plan_ba_layer *bal;
} search;

/* The sent tensors' widths. Tensors with a quantization point take one of
 * nopt options (option j < n_bits: bits[j], else float), in every
 * combination, or one width for all when more than four cross; the others
 * go as float. width_combos() counts the combinations; set_widths() fills
 * cb[] for combination ci and returns the distortion it adds. */
static long width_combos(const int *cl, int nc, int nopt, int *uniform) {
    int quant_cross = 0;
    for (int c = 0; c < nc; c++) quant_cross += cl[c] >= 0;
    *uniform = quant_cross > 4;
    if (*uniform) return nopt;
    long combos = 1;
    for (int c = 0; c < nc; c++)
        if (cl[c] >= 0) combos *= nopt;
    return combos;
}

static double set_widths(const plan_problem *pb, const int *cl, int nc, int nopt, int uniform, long ci,
                         int *cb) {
    double dc = 0;
    long r = ci;
    for (int c = 0; c < nc; c++) {
        if (cl[c] < 0) {
            cb[c] = 32;
            continue;
        }
        int o = uniform ? (int)ci : (int)(r % nopt);
        if (!uniform) r /= nopt;
        cb[c] = o < pb->n_bits ? pb->bits[o] : 32;
        dc += dist_a(pb, cl[c], cb[c]);
    }
    return dc;
}

/* Price one configuration of the cut (crossing widths in S->cb, weight
 * widths S->wb of layers S->wl) and offer it to the front. */
static void offer(search *S, const uint8_t *edge, int nc, int nw, int int8_edge) {
    plan_solution s;
    if ((S->st = materialize(S->ctx, S->pb, PLAN_AUTO_SPLIT, edge, S->cross, S->cb, nc, S->wl, S->wb, nw,
                             int8_edge, int8_edge ? S->abits : NULL, &s))) {
        sol_free(&s);
        return;
    }
    if (!s.feasible) {
        sol_free(&s);
        return;
    }
    S->st = front_add(S->ctx, &S->fr, &s);
}

static void sweep_and_offer(search *S, const uint8_t *edge, int nc, int nw, int any_edge,
                            double mem_left, double dfix, const plan_ba_sweep *sw);
static int lower_act_at_peak(search *S, const uint8_t *edge);
/* Activation configurations priced per cut when memory is short (the
 * first keeps 8 bits; each next one narrows one activation). */
#define PLAN_MAX_ACT_CONFIGS 8

#define PLAN_MAX_CAPS 4
/* The cut with int8 edge kernels: weight widths from the Lagrangian sweep
 * within the memory the activations leave. S->cross / S->cl hold the nc
 * crossing tensors and their quantization layers. The engine widens a
 * packed layer (<= PLAN_WIDEN_MAX_BITS) into a buffer of up to
 * FAST_QCONV_WIDEN_CAP bytes while it runs; that buffer is the largest
 * packed layer's, which the per-layer sweep cannot price. So the sweep
 * runs once per allowance c (the largest distinct layer buffers, at most
 * PLAN_MAX_CAPS, then 0): layers whose buffer exceeds c stay at 8 bits
 * and c is reserved, so every solution offered fits when materialized. */
static void price_cut(search *S, const uint8_t *edge, int nc, int any_edge) {
    const plan_problem *pb = S->pb;
    const plan_dag *d = pb->dag;
    int *cross = S->cross;
    /* weight layers on the edge, their nodes and widening buffers */
    int nw = 0;
    double fixed_bytes = 0;
    double caps[PLAN_MAX_CAPS + 1];
    int ncap = 0;
    for (int i = 0; i < d->n_nodes; i++) {
        if (!edge[i]) continue;
        int k = pb->node_layer[i];
        if (k < 0) {
            fixed_bytes += pb->feat[i].param_bytes;
            continue;
        }
        S->wnode[nw] = i;
        double v = (double)pb->layers[k].w_numel;
        S->wbuf[nw] = v > FAST_QCONV_WIDEN_CAP ? FAST_QCONV_WIDEN_CAP : v;
        S->wl[nw++] = k;
    }
    /* the largest distinct buffers, descending, then 0 */
    double below = INFINITY;
    while (ncap < PLAN_MAX_CAPS) {
        double m = -1;
        for (int j = 0; j < nw; j++)
            if (S->wbuf[j] < below && S->wbuf[j] > m) m = S->wbuf[j];
        if (m <= 0) break;
        caps[ncap++] = below = m;
    }
    caps[ncap++] = 0;
    /* the edge activations that are not sent: 8 bits in configuration 0 */
    int *ab = S->abits;
    for (int k = 0; k < pb->n_layers; k++) ab[k] = 32;
    for (int t = 0; t < d->n_tensors; t++) {
        int k = pb->tensor_layer[t], p = d->tensors[t].producer;
        if (k < 0 || !((p < 0 && any_edge) || (p >= 0 && edge[p]))) continue;
        int sent = 0;
        for (int c = 0; c < nc; c++) sent |= cross[c] == t;
        if (!sent) ab[k] = 8;
    }
    double widest_w = 0; /* every edge weight at its widest option */
    for (int j = 0; j < nw; j++) {
        double mx = 0;
        for (int o = 0; o < pb->n_bits; o++) {
            double r = node_weight_bytes(pb, S->wnode[j], pb->bits[o]);
            mx = r > mx ? r : mx;
        }
        widest_w += mx;
    }
    /* the activation configurations: each frees memory at the peak */
    const int L = pb->n_layers;
    int ncfg = 0;
    double cfg_act[PLAN_MAX_ACT_CONFIGS], cfg_dfix[PLAN_MAX_ACT_CONFIGS];
    double last_act = INFINITY;
    for (int tries = 0; ncfg < PLAN_MAX_ACT_CONFIGS && tries < 2 * PLAN_MAX_ACT_CONFIGS; tries++) {
        if (tries > 0 && !lower_act_at_peak(S, edge)) break;
        const double act = plan_act_peak_bytes_at(pb, edge, 1, ab) + (any_edge ? pb->kernel_scratch : 0);
        if (act >= last_act - 0.5) continue; /* the same peak with more distortion: dominated */
        last_act = act;
        double dfix = 0; /* their distortion */
        for (int k = 0; k < L; k++) dfix += dist_a(pb, k, ab[k]);
        memcpy(S->abits_cfg + (size_t)ncfg * (size_t)L, ab, sizeof(int) * (size_t)L);
        cfg_act[ncfg] = act, cfg_dfix[ncfg] = dfix, ncfg++;
        /* narrower activations only pay when memory is short */
        if (!pb->act_widths || !any_edge || pb->mem_budget - act - fixed_bytes >= widest_w) break;
    }
    /* per widening allowance: the weight sweep once, offered within what
     * each configuration leaves */
    int kept = 0;
    for (int ci = 0; ci < ncap && !S->st; ci++) {
        double min_w = 0;
        for (int j = 0; j < nw; j++) {
            plan_ba_layer *Lj = &S->bal[j];
            Lj->n_opt = pb->n_bits;
            double mn = INFINITY;
            for (int o = 0; o < pb->n_bits; o++) {
                Lj->rate[o] = node_weight_bytes(pb, S->wnode[j], pb->bits[o]);
                Lj->dist[o] = dist_w(pb, S->wl[j], pb->bits[o]);
                if (pb->bits[o] <= PLAN_WIDEN_MAX_BITS && S->wbuf[j] > caps[ci])
                    Lj->rate[o] = 1e30; /* not at this allowance */
                mn = Lj->rate[o] < mn ? Lj->rate[o] : mn;
            }
            min_w += mn;
        }
        int any_fit = 0;
        for (int c = 0; c < ncfg; c++) {
            double mem_left = pb->mem_budget - cfg_act[c] - caps[ci] - fixed_bytes;
            if (!any_edge || mem_left >= min_w) {
                any_fit = 1;
            } else {
                double ex = (min_w - mem_left) / pb->mem_budget;
                if (ex < S->best_mem_excess) S->best_mem_excess = ex;
            }
        }
        if (!any_fit) continue;
        kept = 1;
        plan_ba_sweep sw;
        memset(&sw, 0, sizeof sw);
        if (nw && (S->st = plan_ba_sweep_run(S->ctx, S->bal, nw, &sw))) break;
        for (int c = 0; c < ncfg && !S->st; c++) {
            double mem_left = pb->mem_budget - cfg_act[c] - caps[ci] - fixed_bytes;
            if (any_edge && mem_left < min_w) continue;
            memcpy(ab, S->abits_cfg + (size_t)c * (size_t)L, sizeof(int) * (size_t)L);
            sweep_and_offer(S, edge, nc, nw, any_edge, mem_left, cfg_dfix[c], nw ? &sw : NULL);
        }
        plan_ba_sweep_free(&sw);
        if (!any_edge || !nw) break; /* nothing to widen: one pass */
    }
    S->kept += kept;
}

/* Configuration cfg > 0 of the edge activations (S->abits): the previous
 * one with the activation that buys the most bytes at the walk's peak per
 * distortion added one width narrower. 0 when none can be. */
static int lower_act_at_peak(search *S, const uint8_t *edge) {
    const plan_problem *pb = S->pb;
    const plan_dag *d = pb->dag;
    int *ab = S->abits, step = -1;
    plan_act_walk(pb, edge, 1, ab, &step);
    int best = -1, best_b = 0;
    double best_score = -1;
    for (int t = 0; t < d->n_tensors; t++) {
        const int k = pb->tensor_layer[t];
        if (k < 0 || ab[k] >= 32 || !plan_act_alive_at(d, edge, t, step) || !plan_act_packable(pb, edge, t)) continue;
        int nb = 0; /* the next width down in the set */
        for (int o = 0; o < pb->n_bits; o++)
            if (pb->bits[o] < ab[k] && pb->bits[o] > nb) nb = pb->bits[o];
        if (nb < 1) continue;
        const size_t n = (size_t)d->tensors[t].numel;
        const double dbytes = (double)(ab[k] >= 8 ? n : q_packed_bytes(n, ab[k])) - (double)q_packed_bytes(n, nb);
        const double ddist = dist_a(pb, k, nb) - dist_a(pb, k, ab[k]);
        const double score = ddist <= 0 ? INFINITY : dbytes / ddist;
        if (dbytes > 0 && score > best_score) best = k, best_b = nb, best_score = score;
    }
    if (best < 0) return 0;
    ab[best] = best_b;
    return 1;
}

/* The sweep at one widening allowance: weights from the Lagrangian sweep
 * that fit mem_left, then every combination of crossing widths. */
static void sweep_and_offer(search *S, const uint8_t *edge, int nc, int nw, int any_edge,
                            double mem_left, double dfix, const plan_ba_sweep *swp) {
    const plan_problem *pb = S->pb;
    const plan_dag *d = pb->dag;
    int *cross = S->cross, *cl = S->cl, *cb = S->cb;
    static const plan_ba_sweep none;
    const plan_ba_sweep sw = swp ? *swp : none;
    /* the least-distortion weights that fit, and what they cost, are the
     * same for every crossing width: S->choice keeps them */
    int k0 = nw ? plan_ba_sweep_best(&sw, mem_left) : 0;
    if (k0 < 0) return;
    double dw = 0;
    if (nw) {
        plan_ba_sweep_choice(&sw, k0, S->choice);
        dw = plan_ba_fill(S->bal, nw, S->choice, mem_left);
    }
    /* crossing widths; the raw input of a cloud-only plan goes at input_bits */
    int uniform = 0;
    long combos = any_edge ? width_combos(cl, nc, pb->n_bits, &uniform) : 1;
    for (long ci = 0; ci < combos && !S->st; ci++) {
        double dc = 0;
        if (any_edge) {
            dc = set_widths(pb, cl, nc, pb->n_bits, uniform, ci, cb);
        } else {
            for (int c = 0; c < nc; c++) {
                cb[c] = d->tensors[cross[c]].producer < 0 ? pb->input_bits : 32;
                dc += dist_a(pb, cl[c], cb[c]);
            }
        }
        double drem = S->dist_budget - dfix - dc;
        if (dw > drem) {
            double pd = 100.0 * pb->kappa * sqrt(dfix + dc + dw);
            if (pd < S->best_drop) S->best_drop = pd;
            continue;
        }
        /* up to three points: least distortion (filled), least memory that
         * still meets the bound, and one between */
        int k1 = k0;
        while (nw && k1 + 1 < sw.n_points && sw.dist[k1 + 1] <= drem) k1++;
        for (int j = 0; j < nw; j++) S->wb[j] = pb->bits[S->choice[j]];
        offer(S, edge, nc, nw, any_edge);
        int pts[2], np = 0;
        if (k1 > k0) pts[np++] = k1;
        if (k1 > k0 + 1) pts[np++] = (k0 + k1) / 2;
        for (int q = 0; q < np && !S->st; q++) {
            plan_ba_sweep_choice(&sw, pts[q], S->wb); /* option indices, then widths */
            for (int j = 0; j < nw; j++) S->wb[j] = pb->bits[S->wb[j]];
            offer(S, edge, nc, nw, any_edge);
        }
    }
}

/* The same cut with the edge part in float (fp32 kernels, fp32 weights):
 * on a small model the int8 kernels' fixed costs can exceed their savings,
 * so the float edge is a candidate too. Sent tensors may still be
 * quantized for the link (widths from the set, or float). */
static void price_cut_fp32(search *S, const uint8_t *edge, int nc) {
    const plan_problem *pb = S->pb;
    const plan_dag *d = pb->dag;
    int nw = 0;
    double wbytes = 0;
    for (int i = 0; i < d->n_nodes; i++) {
        if (!edge[i]) continue;
        wbytes += pb->feat[i].param_bytes;
        if (pb->node_layer[i] >= 0) S->wl[nw] = pb->node_layer[i], S->wb[nw++] = 32;
    }
    if (wbytes + plan_act_peak_bytes(pb, edge, 0) > pb->mem_budget) return;
    int nopt = pb->n_bits + 1, uniform = 0;
    long combos = width_combos(S->cl, nc, nopt, &uniform);
    for (long ci = 0; ci < combos && !S->st; ci++) {
        double dc = set_widths(pb, S->cl, nc, nopt, uniform, ci, S->cb);
        if (100.0 * pb->kappa * sqrt(dc) <= pb->max_drop) offer(S, edge, nc, nw, 0);
    }
}

static int on_cut(void *user, const uint8_t *edge) {
    search *S = user;
    const plan_dag *d = S->pb->dag;
    S->visited++;
    int nc = plan_cut_crossing(d, edge, S->cross), any = 0;
    for (int c = 0; c < nc; c++) S->cl[c] = S->pb->tensor_layer[S->cross[c]];
    for (int i = 0; i < d->n_nodes && !any; i++) any = edge[i];
    price_cut(S, edge, nc, any);
    if (any && !S->st) price_cut_fp32(S, edge, nc);
    return S->st != CLEAVE_OK;
}

static int cmp_sol(const void *a, const void *b) {
    const plan_solution *x = a, *y = b;
    if (x->total_ms != y->total_ms) return x->total_ms < y->total_ms ? -1 : 1;
    if (x->pred_drop != y->pred_drop) return x->pred_drop < y->pred_drop ? -1 : 1;
    return (x->mem_bytes > y->mem_bytes) - (x->mem_bytes < y->mem_bytes);
}

/* A baseline: uniform bits on a given cut. */
static cleave_status baseline(cleave_ctx *ctx, const plan_problem *pb, plan_method m, const uint8_t *edge,
                              int wbits, int int8, plan_solution *s) {
    const plan_dag *d = pb->dag;
    int *cross = cv_malloc(sizeof(int) * (size_t)(d->n_tensors + 1));
    int *cb = cv_malloc(sizeof(int) * (size_t)(d->n_tensors + 1));
    int *wl = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1));
    int *wb = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1));
    if (!cross || !cb || !wl || !wb) {
        cv_free(cross), cv_free(cb), cv_free(wl), cv_free(wb);
        memset(s, 0, sizeof *s);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    }
    int nw = 0;
    int nc = plan_cut_crossing(d, edge, cross);
    int any_edge = 0;
    for (int i = 0; i < d->n_nodes; i++) any_edge |= edge[i];
    for (int c = 0; c < nc; c++) {
        int in = d->tensors[cross[c]].producer < 0;
        cb[c] = !any_edge ? (in ? pb->input_bits : 32) : (int8 && pb->tensor_layer[cross[c]] >= 0 ? 8 : 32);
    }
    for (int i = 0; i < d->n_nodes; i++)
        if (edge[i] && pb->node_layer[i] >= 0) wl[nw] = pb->node_layer[i], wb[nw++] = wbits;
    cleave_status st = materialize(ctx, pb, m, edge, cross, cb, nc, wl, wb, nw, int8, NULL, s);
    cv_free(cross), cv_free(cb), cv_free(wl), cv_free(wb);
    return st;
}

cleave_status plan_search(cleave_ctx *ctx, const plan_problem *pb, plan_result *out) {
    memset(out, 0, sizeof *out);
    const plan_dag *d = pb->dag;
    int n = d->n_nodes;
    double t0 = cv_now_ms();
    if (pb->n_bits < 1 || pb->n_bits > PLAN_MAX_BITS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "plan: 1..%d candidate bit widths", PLAN_MAX_BITS);
    for (int j = 0; j < pb->n_bits; j++)
        if (bits_col(pb->table, pb->bits[j]) < 0)
            return cv_fail(ctx, CLEAVE_E_INVALID, "plan: the distortion tables have no %d-bit column "
                           "(calibrate with --table-bits including it)", pb->bits[j]);
    if (bits_col(pb->table, 8) < 0)
        return cv_fail(ctx, CLEAVE_E_INVALID, "plan: the distortion tables need an 8-bit column");
    search S = {.ctx = ctx, .pb = pb, .best_mem_excess = INFINITY, .best_drop = INFINITY};
    int nb = 0; /* solutions in S.fr.s (front, then baselines) */
    double q = pb->max_drop / (100.0 * pb->kappa);
    S.dist_budget = q > 0 ? q * q : 0;
    S.wl = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1));
    S.wb = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1));
    S.choice = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1));
    S.abits = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1));
    S.abits_cfg = cv_malloc(sizeof(int) * (size_t)(pb->n_layers + 1) * PLAN_MAX_ACT_CONFIGS);
    S.bal = cv_malloc(sizeof(plan_ba_layer) * (size_t)(pb->n_layers + 1));
    S.cross = cv_malloc(sizeof(int) * (size_t)(d->n_tensors + 1));
    S.cl = cv_malloc(sizeof(int) * (size_t)(d->n_tensors + 1));
    S.cb = cv_malloc(sizeof(int) * (size_t)(d->n_tensors + 1));
    S.wnode = cv_malloc(sizeof(int) * (size_t)(n + 1));
    S.wbuf = cv_malloc(sizeof(double) * (size_t)(n + 1));
    uint8_t *edge = cv_calloc((size_t)n + 1, 1);
    double *send = cv_malloc(sizeof(double) * (size_t)(d->n_tensors + 1));
    cleave_status st = CLEAVE_OK;
    if (!S.wl || !S.wb || !S.choice || !S.abits || !S.abits_cfg || !S.bal || !S.cross || !S.cl || !S.cb || !S.wnode || !S.wbuf ||
        !edge || !send) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        goto out;
    }
    long cap = pb->cut_cap > 0 ? pb->cut_cap : 20000;
    long total = plan_cuts_enumerate(d, cap, NULL, NULL);
    out->cuts_total = total;
    if (total < 0) {
        out->cuts_prefix_fallback = 1;
        plan_cuts_prefix(d, on_cut, &S);
    } else {
        plan_cuts_enumerate(d, cap, on_cut, &S);
    }
    if ((st = S.st)) goto out;
    out->cuts_kept = S.kept;
    if (S.fr.n == 0) {
        if (S.kept > 0)
            snprintf(out->infeasible, sizeof out->infeasible,
                     "no feasible solution: accuracy is the tightest constraint (the most accurate "
                     "solution that fits the memory predicts a %.2f pt drop > --max-drop %.2f)",
                     S.best_drop, pb->max_drop);
        else
            snprintf(out->infeasible, sizeof out->infeasible,
                     "no feasible solution: edge memory is the tightest constraint (the smallest "
                     "edge part at the lowest bits exceeds %.0f KiB by %.0f%%)",
                     pb->mem_budget / 1024, 100 * S.best_mem_excess);
    }
    if (S.fr.n) qsort(S.fr.s, (size_t)S.fr.n, sizeof *S.fr.s, cmp_sol);
    if (S.fr.n) S.fr.s[0].recommended = 1;
    /* baselines */
    plan_solution *all = cv_realloc(S.fr.s, sizeof *all * (size_t)(S.fr.n + PLAN_METHOD_N + 1));
    if (!all) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        goto out;
    }
    S.fr.s = all;
    out->n_front = S.fr.n;
    nb = S.fr.n;
    memset(edge, 0, (size_t)n);
    if ((st = baseline(ctx, pb, PLAN_CLOUD_ONLY, edge, 32, 0, &all[nb++]))) goto out;
    memset(edge, 1, (size_t)n);
    if ((st = baseline(ctx, pb, PLAN_EDGE_FP32, edge, 32, 0, &all[nb++]))) goto out;
    if ((st = baseline(ctx, pb, PLAN_EDGE_U8, edge, 8, 1, &all[nb++]))) goto out;
    if ((st = baseline(ctx, pb, PLAN_EDGE_U4, edge, 4, 1, &all[nb++]))) goto out;
    /* Neurosurgeon: prefix cuts judged by the last layer's output only (the
     * chain assumption), then priced with the real crossing tensors */
    {
        int bestk = 0;
        double best = INFINITY, acc_e = 0, acc_c = 0;
        for (int i = 0; i < n; i++) acc_c += pb->cloud_ms[i];
        for (int k = 0; k <= n; k++) {
            double bytes = k == 0 ? (double)d->tensors[0].numel * pb->input_bits / 8
                                  : (d->nodes[k - 1].n_out ? (double)d->tensors[d->nodes[k - 1].out[0]].numel * 4 : 0);
            double c = acc_e + acc_c +
                       (k < n ? cost_link_transfer_ms(&pb->link, bytes) + pb->edge_request_ms + pb->cloud_request_ms : 0);
            if (c < best) best = c, bestk = k;
            if (k < n) acc_e += pb->edge_fp32_ms[k], acc_c -= pb->cloud_ms[k];
        }
        memset(edge, 0, (size_t)n);
        memset(edge, 1, (size_t)bestk);
        if ((st = baseline(ctx, pb, PLAN_NEUROSURGEON, edge, 32, 0, &all[nb++]))) goto out;
    }
    /* DADS: min-cut in fp32; QDMP as the Auto-Split paper uses it: the
     * min-cut with 8-bit tensors and int8 edge kernels */
    for (int pass = 0; pass < 2; pass++) {
        double rate = pb->link.mbit_s * 1e6 / 8 * pb->link.payload_efficiency; /* bytes/s */
        for (int t = 0; t < d->n_tensors; t++) {
            const plan_tensor *x = &d->tensors[t];
            double b = x->producer < 0 ? (double)x->numel * pb->input_bits / 8
                                       : (double)x->numel * (pass ? 1.0 : x->elem_bytes);
            send[t] = b / rate * 1e3;
        }
        double cost;
        if ((st = plan_min_cut(ctx, d, pass ? pb->edge_int8_ms : pb->edge_fp32_ms, pb->cloud_ms, send,
                               NULL, edge, &cost)))
            goto out;
        if ((st = baseline(ctx, pb, pass ? PLAN_QDMP : PLAN_DADS, edge, pass ? 8 : 32, pass, &all[nb++])))
            goto out;
    }
    out->sol = all;
    out->n_sol = nb;
    S.fr.s = NULL;
    out->plan_ms = cv_now_ms() - t0;
out:
    if (S.fr.s) {
        for (int i = 0; i < (nb > S.fr.n ? nb : S.fr.n); i++) sol_free(&S.fr.s[i]);
        cv_free(S.fr.s);
    }
    if (st) {
        for (int i = 0; i < out->n_sol; i++) sol_free(&out->sol[i]);
        memset(out, 0, sizeof *out);
    }
    cv_free(S.wl);
    cv_free(S.wnode);
    cv_free(S.wbuf);
    cv_free(S.wb);
    cv_free(S.choice);
    cv_free(S.abits);
    cv_free(S.abits_cfg);
    cv_free(S.bal);
    cv_free(S.cross);
    cv_free(S.cl);
    cv_free(S.cb);
    cv_free(edge);
    cv_free(send);
    return st;
}
