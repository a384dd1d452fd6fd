/* plan/dag: the model as the planner sees it — compute nodes in execution
 * (topological) order and the activation tensors between them, each with
 * its producer (-1: a graph input, born on the edge device) and consumers.
 * A cut is the set of nodes run on the edge, closed under predecessors;
 * the tensors it sends are those made on the edge (or the input) that a
 * cloud node reads. Hand-built DAGs (tests) and models share this form. */
#ifndef CLEAVE_PLAN_DAG_H
#define CLEAVE_PLAN_DAG_H

#include <stdint.h>

#include "base/base.h"
#include "ir/graph.h"
#include "runtime/runtime.h"

#define PLAN_MAX_NODES 100000

typedef struct plan_tensor {
    const char *name;
    int producer;       /* node index, -1 = graph input (on the edge) */
    int64_t numel;      /* elements (a batch-1 activation) */
    int elem_bytes;     /* bytes per element as computed (4 for fp32) */
    int is_output;      /* a graph output */
    int n_cons, *cons;  /* consuming nodes, ascending */
} plan_tensor;

typedef struct plan_node {
    const char *name;
    int graph_node;     /* node index in the ir graph, -1 for hand-built */
    int n_in, *in;      /* activation tensors read (constants excluded) */
    int n_out, *out;    /* tensors written */
    int n_pred, *pred;  /* distinct producer nodes, ascending */
} plan_node;

typedef struct plan_dag {
    cv_arena arena;
    int n_nodes, n_tensors;
    plan_node *nodes;   /* topological order: every pred index < node index */
    plan_tensor *tensors;
} plan_dag;

/* From a compiled plan of g (its steps are the nodes, in schedule order). */
cleave_status plan_dag_from_plan(cleave_ctx *ctx, const ir_graph *g, const rt_plan *p,
                                 plan_dag **out);

/* Hand-built: n_nodes nodes; edges[k] = {producer, consumer, tensor} where
 * producer -1 is the graph input and consumer -1 declares a tensor nobody
 * reads (a graph output); one tensor per distinct id in edges
 * (numel[id]); a tensor without consumers is an output. Nodes must be
 * numbered topologically (producer < consumer). */
cleave_status plan_dag_build(cleave_ctx *ctx, int n_nodes, int n_tensors, const int64_t *numel,
                             const int (*edges)[3], int n_edges, const int *outputs, int n_outputs,
                             plan_dag **out);
void plan_dag_destroy(plan_dag *d);

/* The part of d that `keep` (closed under predecessors) selects, nodes and
 * tensors renumbered in order; node_map / tensor_map (sizes n_nodes /
 * n_tensors of d) get the new index or -1. Tensors listed in outputs (old
 * ids) become the sub-DAG's outputs; those nobody reads any more too. */
cleave_status plan_dag_subset(cleave_ctx *ctx, const plan_dag *d, const uint8_t *keep,
                              const int *outputs, int n_outputs, plan_dag **out, int *node_map,
                              int *tensor_map);
/* keep[] = the nodes tensor t depends on (its producer and all ancestors). */
void plan_dag_ancestors(const plan_dag *d, int t, uint8_t *keep);

/* 1 when edge[] (1 = on the edge) is closed under predecessors. */
int plan_cut_valid(const plan_dag *d, const uint8_t *edge);
/* Tensors the cut sends to the cloud (produced on the edge or graph inputs,
 * read by a cloud node), ascending, into out (capacity n_tensors); count. */
int plan_cut_crossing(const plan_dag *d, const uint8_t *edge, int *out);
/* Graph outputs produced on the cloud (sent back) — count, into out. */
int plan_cut_returned(const plan_dag *d, const uint8_t *edge, int *out);

#endif
