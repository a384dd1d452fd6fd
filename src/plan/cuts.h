/* plan/cuts: the cuts of a DAG. Every cut (a down-set: the edge part,
 * closed under predecessors) can be enumerated, each exactly once, for the
 * planner's exhaustive search; and the cheapest cut for given per-node edge
 * and cloud times and per-tensor transfer times is an s-t minimum cut
 * (DADS, Hu et al. INFOCOM 2019), solved by max-flow (Dinic). */
#ifndef CLEAVE_PLAN_CUTS_H
#define CLEAVE_PLAN_CUTS_H

#include "plan/dag.h"

/* Called once per cut with edge[i] = 1 for the nodes on the edge; return
 * nonzero to stop. */
typedef int (*plan_cut_fn)(void *user, const uint8_t *edge);

/* Visit every cut, from all-cloud (nothing on the edge) onward. Returns
 * the number visited; if there are more than cap, stops after cap and
 * returns -1 (the caller falls back to plan_cuts_prefix). */
long plan_cuts_enumerate(const plan_dag *d, long cap, plan_cut_fn fn, void *user);

/* The n+1 prefixes of the topological order (Auto-Split's candidates). */
long plan_cuts_prefix(const plan_dag *d, plan_cut_fn fn, void *user);

/* Cost of a cut: sum of edge_ms over edge nodes, cloud_ms over cloud
 * nodes, send_ms over crossing tensors and back_ms (may be NULL) over
 * graph outputs made on the cloud. */
double plan_cut_cost(const plan_dag *d, const uint8_t *edge, const double *edge_ms,
                     const double *cloud_ms, const double *send_ms, const double *back_ms);

/* Minimum-cost cut by max-flow on DADS' auxiliary graph: source side =
 * edge; s->v costs cloud_ms[v] (+ back_ms of its outputs), v->t costs
 * edge_ms[v]; each tensor x gets a vertex x' with producer->x' = send_ms[x]
 * (the source itself for graph inputs) and x'->consumer infinite, so a
 * tensor read by several cloud nodes is paid once; every DAG edge u->w also
 * has an infinite w->u, so no cloud node feeds an edge node. Times >= 0.
 * Fills edge_out and *cost. */
cleave_status plan_min_cut(cleave_ctx *ctx, const plan_dag *d, const double *edge_ms,
                           const double *cloud_ms, const double *send_ms, const double *back_ms,
                           uint8_t *edge_out, double *cost);

#endif
