/* cost/predict: dispatch to the profile table, the roofline or the
 * regression; the per-node cost in all three includes the executor's own
 * per-step overhead, as the profiles measure it. */
#include "cost/predict.h"

#include <math.h>

double cost_predict_node_ms(const cost_predictor *p, const cost_features *f) {
    switch (p->kind) {
    case COST_PRED_PROFILE: {
        if (!p->prof || !f->name) return NAN;
        int i = cost_profile_find(p->prof, f->name);
        if (i < 0) return NAN;
        /* emulated profiles answer with means (a CPU quota slows the
         * average of many short runs, not each run; docs/emulation.md) */
        if (p->use_mean && !p->prof->emulation[0]) return p->prof->nodes[i].t.mean_ms;
        return cost_profile_node_ms(p->prof, i);
    }
    case COST_PRED_ROOFLINE:
        return p->dev ? cost_roofline_node_ms(p->dev, f, p->threads) : NAN;
    case COST_PRED_REGRESS:
        return p->dev && p->reg ? cost_regress_node_ms(p->reg, f, p->dev, p->threads) : NAN;
    default:
        return NAN;
    }
}

double cost_predict_sum_ms(const cost_predictor *p, const cost_features *f, int n, int *missing) {
    double s = 0;
    int miss = 0;
    for (int i = 0; i < n; i++) {
        double t = cost_predict_node_ms(p, &f[i]);
        if (isnan(t)) miss++;
        else s += t;
    }
    if (missing) *missing = miss;
    return s;
}

const char *cost_pred_name(cost_pred_kind k) {
    static const char *const names[COST_PRED_N] = {"profile", "roofline", "regression"};
    return (unsigned)k < COST_PRED_N ? names[k] : "?";
}
