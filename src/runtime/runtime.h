/* runtime: compile a graph or any part of it (given which tensors come in
 * and which must come out) into a schedule: shapes inferred, constants
 * folded, kernels prepared, every activation and scratch buffer placed in
 * one arena by liveness. Running binds no memory and calls no malloc. */
#ifndef CLEAVE_RUNTIME_H
#define CLEAVE_RUNTIME_H

#include "base/base.h"
#include "base/tensor.h"
#include "ir/graph.h"

typedef struct rt_plan rt_plan;

typedef struct rt_options {
    /* Treat the values of shape-like inputs (small integer tensors, float
     * vectors of at most 16 elements) as compile-time constants, as
     * single-node tests need. The plan is then valid only for those values. */
    int fold_int_inputs;
    /* Accumulate per-node time on every run. */
    int profile;
    /* Hold uint8 activations whose codes fit fewer than 8 bits packed in
     * the arena (runtime/pack.c), read and written by the reference
     * integer kernels through small scratch buffers: the edge's memory at
     * its activation widths. Only without a blocked fast layout. */
    int pack_activations;
} rt_options;

/* Compile. inputs/outputs are value ids; n_inputs == 0 means the graph's
 * non-initializer inputs, n_outputs == 0 the graph's outputs. in[k] gives
 * dtype and shape (data may be NULL unless fold_int_inputs) of inputs[k]. */
cleave_status rt_plan_create(cleave_ctx *ctx, const ir_graph *g, const int *inputs, int n_inputs,
                             const int *outputs, int n_outputs, const cv_tensor *in,
                             const rt_options *opt, rt_plan **out);
void rt_plan_destroy(rt_plan *p);

/* Run with inputs of exactly the compiled shapes and dtypes. */
cleave_status rt_plan_run(rt_plan *p, const cv_tensor *in);

int rt_plan_n_inputs(const rt_plan *p);
int rt_plan_n_outputs(const rt_plan *p);
int rt_plan_input_id(const rt_plan *p, int k);
int rt_plan_output_id(const rt_plan *p, int k);
/* Output k after a run (data valid until the next run or destroy). */
const cv_tensor *rt_plan_output(const rt_plan *p, int k);
/* Inferred dtype/shape of any value id in the compiled part (NULL if not in it). */
const cv_tensor *rt_plan_value(const rt_plan *p, int v);

/* Memory: bytes of the single activation arena (peak, incl. scratch) and
 * the sum of all activation tensors' sizes (what a naive allocator uses). */
size_t rt_plan_arena_bytes(const rt_plan *p);
size_t rt_plan_total_activation_bytes(const rt_plan *p);
/* The most bytes (tensors and scratch, 64-byte rounded) alive at any one
 * step: the lower bound any placement must reach; arena - peak_live is the
 * fragmentation of the greedy placement. */
size_t rt_plan_peak_live_bytes(const rt_plan *p);
size_t rt_plan_max_scratch_bytes(const rt_plan *p);
/* Constant bytes the plan holds: weights as the kernels keep them (packed
 * below 8 bits, reordered for the library, ...) and the other constants
 * steps read at run time. With rt_plan_arena_bytes, the engine's memory
 * beyond the loaded model. */
size_t rt_plan_weight_bytes(const rt_plan *p);

/* Schedule introspection and per-node profile (ns summed over runs). */
int rt_plan_n_steps(const rt_plan *p);
int rt_plan_step_node(const rt_plan *p, int step); /* node index in the graph */
uint64_t rt_plan_step_ns(const rt_plan *p, int step);
int rt_plan_runs(const rt_plan *p);
void rt_plan_reset_profile(rt_plan *p);

#endif
