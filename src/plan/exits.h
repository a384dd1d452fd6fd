/* plan/exits: right-sizing a model with early exits (Edgent, Li, Zhou and
 * Chen 2018; ../shared/PAPERS.md section 2): for each bandwidth state,
 * choose the exit and the cut (with cleave's bit allocation) that give the
 * best accuracy within a latency requirement, offline; the runtime then
 * looks its configuration up by measured bandwidth in O(log states). */
#ifndef CLEAVE_PLAN_EXITS_H
#define CLEAVE_PLAN_EXITS_H

#include "plan/planner.h"

typedef struct plan_exit_choice {
    double mbit;          /* the state's bandwidth (lower end of its range) */
    int exit;             /* chosen exit (index into the exits given) */
    int meets;            /* 1 when it meets the requirement; 0: nothing does, this is the fastest */
    double accuracy;      /* predicted: exit's fp32 accuracy - predicted drop (points) */
    double measured_acc;  /* measured top-1 of this configuration (points); NAN until measured */
    plan_solution sol;    /* in the whole model's DAG numbering */
    /* every exit's best latency at this bandwidth (NAN: no feasible solution) */
    double exit_ms[8], exit_acc[8];
} plan_exit_choice;

typedef struct plan_config_map {
    int n;                /* states, ascending bandwidth */
    int n_exits;
    double deadline_ms;
    plan_exit_choice *c;
    double plan_ms;       /* time to build the map */
} plan_config_map;

#define PLAN_MAX_EXITS 8

/* pb: the whole model's problem (its link gives RTT and overhead; its rate
 * is replaced by each state's). exit_tensor[k]: DAG tensor of exit k's
 * output; exit_acc[k]: its fp32 accuracy in points. mbits: the states,
 * ascending. */
cleave_status plan_exits_map(cleave_ctx *ctx, const plan_problem *pb, const int *exit_tensor,
                             const double *exit_acc, int n_exits, const double *mbits, int n_states,
                             double deadline_ms, plan_config_map *out);
void plan_config_map_free(plan_config_map *m);

/* The configuration for a measured bandwidth: the state with the largest
 * bandwidth not above it (the lowest state below all of them). */
int plan_config_lookup(const plan_config_map *m, double mbit);

/* Bandwidth states from a trace (CSV "time,mbit" lines, '#' comments):
 * the trace's values rounded down onto a geometric grid (ratio `step`,
 * e.g. 1.25) — each level the trace visits becomes a state. *out:
 * cv_malloc'd, ascending. */
cleave_status plan_states_from_trace(cleave_ctx *ctx, const char *path, double step, double **out,
                                     int *n);

#endif
