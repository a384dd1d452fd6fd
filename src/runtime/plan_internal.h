/* runtime internals shared by the compile (plan.c) and the layout pass
 * (layout.c): the plan's steps, buffers and per-step tensor views. Not a
 * public header. */
#ifndef CLEAVE_RUNTIME_PLAN_INTERNAL_H
#define CLEAVE_RUNTIME_PLAN_INTERNAL_H

#include "ops/op.h"
#include "runtime/runtime.h"

typedef struct rt_step {
    int node;
    const op_def *def;
    op_call call;
    int alias;   /* 1: output 0 shares input 0's buffer; nothing to run */
    int scratch; /* buffer id of the scratch area or -1 */
    int kind;    /* layout class (LK_*) */
    int blocked; /* runs on channel-blocked tensors */
    int conv0, n_conv; /* its input layout conversions in rt_plan.convs */
    int view0;   /* its in/out views in rt_plan.views: n_in then n_out */
    /* Conv + Add fused (rt_fuse_sums): the conv writes the Add's output
     * (fused_out) adding sum_value; the Add's step is fused_away. -1 / 0
     * otherwise. */
    int fused_out, sum_value, fused_away;
    cv_tensor sum_view;
} rt_step;

/* An input converted to the layout its step runs in, into a buffer that
 * lives for that step only. */
typedef struct rt_conv {
    int value; /* source value */
    int view;  /* index of the step's input view (target layout) */
    int buf;   /* destination buffer */
} rt_conv;

typedef struct rt_buf {
    size_t size, off;
    int first, last;
} rt_buf;

struct rt_plan {
    cleave_ctx *ctx;
    const ir_graph *g;
    cv_tensor *vt; /* per value: dtype, shape, data */
    int *buf_of;   /* per value: buffer id or -1 */
    rt_step *steps;
    int n_steps;
    int n_in, n_out;
    int *in_ids, *out_ids;
    rt_buf *bufs;
    int n_bufs;
    uint8_t *arena;
    size_t arena_bytes, total_act, peak_live, scratch_max, weight_bytes;
    cv_arena consts;
    const cv_tensor **ptrs; /* storage for every step's in/out arrays */
    cv_tensor *views;       /* every step's own in/out tensors (layout, data) */
    rt_conv *convs;
    int n_convs;
    int *blk;               /* per value: channel block of its buffer (0 = plain) */
    int block;              /* the backend's channel block, 0 = all plain */
    uint64_t *ns;
    int runs, profile;
    int pack; /* rt_options.pack_activations */
};

/* Layout pass (layout.c): which values stay channel-blocked, each step's
 * own views of its inputs/outputs, and the conversions between them. */
void rt_choose_layouts(rt_plan *p);
void rt_build_views(rt_plan *p);
/* With views built and before prepare: a blocked f32 Conv whose output only
 * an equal-shape blocked Add reads, the Add's other operand computed
 * before the conv, runs as one step (oneDNN's sum post-op; the Add's
 * Relu, if fused into it, after the sum). */
void rt_fuse_sums(rt_plan *p);
/* After the layouts, before the views (pack.c): which uint8 values are
 * held packed below 8 bits (vt[v].pbits). */
void rt_choose_packing(rt_plan *p);
/* After placement: point views at their buffers. */
void rt_bind_views(rt_plan *p);
/* Run one conversion (before its step). */
void rt_run_conversion(rt_plan *p, const rt_conv *cv);

#endif
