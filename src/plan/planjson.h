/* plan/planjson: plan.json ("cleave-plan" v1, docs/plan.md): what was
 * planned (model hash, devices, link, constraints, predictors), the
 * search statistics, and every solution with its cut, bits and predicted
 * (and, when measured, measured) figures. */
#ifndef CLEAVE_PLAN_PLANJSON_H
#define CLEAVE_PLAN_PLANJSON_H

#include <jansson.h>

#include "ir/graph.h"
#include "plan/exits.h"
#include "plan/planner.h"

#define PLAN_FORMAT_VERSION 1

typedef struct plan_meta {
    const char *model, *model_sha256;
    const char *edge_device, *cloud_device;   /* names */
    const char *edge_predictor, *cloud_predictor;
    const char *stats;                        /* statistics file or how they were made */
    const char *stats_file;                   /* the --stats file as given, NULL when measured now */
} plan_meta;

/* Measured accuracy of a solution (NAN when not measured). */
typedef struct plan_measured {
    double top1, fp32_top1, drop, agreement;
    int n;
} plan_measured;

/* One solution (the same object plan.json's solutions[] holds). */
json_t *plan_solution_json(const plan_problem *pb, const plan_solution *s, int id, const plan_measured *m);

json_t *plan_result_json(const ir_graph *g, const plan_problem *pb, const plan_result *r,
                         const plan_meta *m, const plan_measured *measured);

/* The Edgent configuration map: {"deadline_ms", "states": [{"mbit", "exit",
 * "output", "meets", "accuracy_pt", "exit_ms": [...], "solution": {...}}]}. */
json_t *plan_config_map_json(const plan_problem *pb, const plan_config_map *m, const char *const *exit_names);

#endif
