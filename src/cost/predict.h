/* cost/predict: one interface over the three latency predictors — measured
 * profile lookup, analytical roofline on a device description, and the
 * per-op-class regression — so the planner and the validation report ask
 * every one the same question: how long does this node take there? */
#ifndef CLEAVE_COST_PREDICT_H
#define CLEAVE_COST_PREDICT_H

#include "cost/cost.h"
#include "cost/device.h"
#include "cost/profile.h"
#include "cost/regress.h"

typedef enum cost_pred_kind {
    COST_PRED_PROFILE = 0, /* a measured profile of this model on the device */
    COST_PRED_ROOFLINE,    /* device description only */
    COST_PRED_REGRESS,     /* device description + a fitted regression */
    COST_PRED_N
} cost_pred_kind;

typedef struct cost_predictor {
    cost_pred_kind kind;
    const cost_device *dev;     /* ROOFLINE, REGRESS */
    int threads;                /* threads on that device (<= 0: all cores) */
    const cost_profile *prof;   /* PROFILE */
    int use_mean;               /* PROFILE: node mean instead of median (always for
                                   an emulated profile) */
    const cost_regress *reg;    /* REGRESS */
} cost_predictor;

/* Predicted ms of one node; NAN when the predictor cannot say (a profile
 * without this node, an unusable device). Profile lookup is by node name,
 * so the features must come from the same model (same optimized graph). */
double cost_predict_node_ms(const cost_predictor *p, const cost_features *f);
/* Sum over n nodes; *missing counts the nodes it could not predict. */
double cost_predict_sum_ms(const cost_predictor *p, const cost_features *f, int n, int *missing);
const char *cost_pred_name(cost_pred_kind k);

#endif
