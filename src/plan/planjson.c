/* plan/planjson: the plan as JSON. Solutions name their cut by the
 * tensors that cross it and the last edge node in schedule order, and
 * their bits by quantization-layer name, so a plan is readable and can be
 * applied to the same model file (checked by its hash). */
#include "plan/planjson.h"

#include <math.h>

static json_t *num(double x) { return isfinite(x) ? json_real(round(x * 1e6) / 1e6) : json_null(); }

json_t *plan_solution_json(const plan_problem *pb, const plan_solution *s, int id, const plan_measured *meas) {
    const plan_dag *d = pb->dag;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "method", json_string(plan_method_name(s->method)));
    json_object_set_new(o, "recommended", json_boolean(s->recommended));
    json_object_set_new(o, "feasible", json_boolean(s->feasible));
    if (!s->feasible) json_object_set_new(o, "why", json_string(s->why));
    json_object_set_new(o, "edge_nodes", json_integer(s->n_edge));
    int last = -1;
    for (int i = 0; i < d->n_nodes; i++)
        if (s->edge[i]) last = i;
    json_object_set_new(o, "last_edge_node", last >= 0 && d->nodes[last].name ? json_string(d->nodes[last].name) : json_null());
    json_t *en = json_array();
    for (int i = 0; i < d->n_nodes; i++)
        if (s->edge[i]) json_array_append_new(en, json_string(d->nodes[i].name ? d->nodes[i].name : "?"));
    json_object_set_new(o, "edge", en);
    json_t *cr = json_array();
    for (int c = 0; c < s->n_cross; c++) {
        const plan_tensor *x = &d->tensors[s->cross[c]];
        json_array_append_new(cr, json_pack("{s:s,s:I,s:i}", "tensor", x->name ? x->name : "?", "elements",
                                            (json_int_t)x->numel, "bits", s->cross_bits[c]));
    }
    json_object_set_new(o, "crossing", cr);
    json_t *bits = json_object();
    for (int k = 0; k < pb->n_layers; k++) {
        if (s->wbits[k] >= 32 && s->abits[k] >= 32) continue;
        json_t *b = json_object();
        if (s->wbits[k] < 32) json_object_set_new(b, "w", json_integer(s->wbits[k]));
        if (s->abits[k] < 32) json_object_set_new(b, "a", json_integer(s->abits[k]));
        json_object_set_new(bits, pb->layers[k].name, b);
    }
    json_object_set_new(o, "layers", bits);
    json_t *p = json_object();
    json_object_set_new(p, "edge_ms", num(s->edge_ms));
    json_object_set_new(p, "transfer_ms", num(s->transfer_ms));
    json_object_set_new(p, "cloud_ms", num(s->cloud_ms));
    json_object_set_new(p, "codec_ms", num(s->codec_ms));
    json_object_set_new(p, "total_ms", num(s->total_ms));
    json_object_set_new(p, "sent_bytes", num(s->tx_bytes));
    json_object_set_new(p, "edge_weight_bytes", num(s->weight_bytes));
    json_object_set_new(p, "edge_activation_bytes", num(s->act_bytes));
    json_object_set_new(p, "edge_widen_bytes", num(s->widen_bytes));
    json_object_set_new(p, "edge_scratch_bytes", num(s->scratch_bytes));
    json_object_set_new(p, "edge_memory_bytes", num(s->mem_bytes));
    json_object_set_new(p, "distortion_mse", num(s->distortion));
    json_object_set_new(p, "accuracy_drop_pt", num(s->pred_drop));
    json_object_set_new(o, "predicted", p);
    if (meas && meas->n > 0) {
        json_t *m = json_object();
        json_object_set_new(m, "images", json_integer(meas->n));
        json_object_set_new(m, "top1", num(meas->top1));
        json_object_set_new(m, "fp32_top1", num(meas->fp32_top1));
        json_object_set_new(m, "accuracy_drop_pt", num(meas->drop));
        json_object_set_new(m, "agreement_with_fp32", num(meas->agreement));
        json_object_set_new(o, "measured", m);
    }
    return o;
}

json_t *plan_result_json(const ir_graph *g, const plan_problem *pb, const plan_result *r,
                         const plan_meta *m, const plan_measured *measured) {
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string("cleave-plan"));
    json_object_set_new(root, "version", json_integer(PLAN_FORMAT_VERSION));
    json_object_set_new(root, "model", json_string(m->model ? m->model : ""));
    json_object_set_new(root, "model_sha256", json_string(m->model_sha256 ? m->model_sha256 : ""));
    json_t *dev = json_object();
    json_object_set_new(dev, "edge", json_string(m->edge_device ? m->edge_device : ""));
    json_object_set_new(dev, "cloud", json_string(m->cloud_device ? m->cloud_device : ""));
    json_object_set_new(dev, "edge_predictor", json_string(m->edge_predictor ? m->edge_predictor : ""));
    json_object_set_new(dev, "cloud_predictor", json_string(m->cloud_predictor ? m->cloud_predictor : ""));
    json_object_set_new(root, "devices", dev);
    json_object_set_new(root, "link", json_pack("{s:o,s:o,s:o,s:o}", "mbit_s", num(pb->link.mbit_s), "rtt_ms",
                                                num(pb->link.rtt_ms), "overhead_ms", num(pb->link.overhead_ms),
                                                "burst_bytes", num(pb->link.burst_bytes)));
    json_t *bits = json_array();
    for (int j = 0; j < pb->n_bits; j++) json_array_append_new(bits, json_integer(pb->bits[j]));
    json_object_set_new(root, "constraints",
                        json_pack("{s:o,s:o,s:o,s:i}", "edge_memory_bytes", num(pb->mem_budget),
                                  "max_accuracy_drop_pt", num(pb->max_drop), "bits", bits, "input_bits",
                                  pb->input_bits));
    json_object_set_new(root, "statistics", json_string(m->stats ? m->stats : ""));
    /* the file itself, so `cleave split` can find the activation ranges */
    if (m->stats_file) json_object_set_new(root, "statistics_file", json_string(m->stats_file));
    json_object_set_new(root, "kappa", num(pb->kappa));
    json_object_set_new(root, "search",
                        json_pack("{s:I,s:i,s:b,s:i,s:o}", "cuts", (json_int_t)r->cuts_total, "cuts_kept",
                                  r->cuts_kept, "prefix_fallback", r->cuts_prefix_fallback, "front",
                                  r->n_front, "ms", num(r->plan_ms)));
    if (r->infeasible[0]) json_object_set_new(root, "infeasible", json_string(r->infeasible));
    json_t *arr = json_array();
    for (int i = 0; i < r->n_sol; i++)
        json_array_append_new(arr, plan_solution_json(pb, &r->sol[i], i, measured ? &measured[i] : NULL));
    json_object_set_new(root, "solutions", arr);
    return root;
}

json_t *plan_config_map_json(const plan_problem *pb, const plan_config_map *m, const char *const *exit_names) {
    json_t *o = json_object();
    json_object_set_new(o, "deadline_ms", num(m->deadline_ms));
    json_object_set_new(o, "build_ms", num(m->plan_ms));
    json_t *arr = json_array();
    for (int i = 0; i < m->n; i++) {
        const plan_exit_choice *c = &m->c[i];
        json_t *e = json_object();
        json_object_set_new(e, "mbit", num(c->mbit));
        json_object_set_new(e, "exit", json_integer(c->exit));
        json_object_set_new(e, "output", json_string(exit_names && exit_names[c->exit] ? exit_names[c->exit] : ""));
        json_object_set_new(e, "meets", json_boolean(c->meets));
        json_object_set_new(e, "accuracy_pt", num(c->accuracy));
        if (isfinite(c->measured_acc)) json_object_set_new(e, "measured_accuracy_pt", num(c->measured_acc));
        json_t *ms = json_array();
        for (int k = 0; k < m->n_exits; k++) json_array_append_new(ms, num(c->exit_ms[k]));
        json_object_set_new(e, "exit_ms", ms);
        json_object_set_new(e, "solution", plan_solution_json(pb, &c->sol, i, NULL));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "states", arr);
    return o;
}
