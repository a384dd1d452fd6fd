/* cleave inspect: the canonical graph node by node (op, output shape,
 * MACs, parameter bytes, output bytes) and whole-model totals, including
 * the executor's peak activation memory; --json for machines. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "quant/qgraph.h"
#include "ir/stats.h"
#include "ops/op.h"

static void help(void) {
    printf("usage: cleave inspect MODEL.onnx [options]\n\n"
           "Loads the model, builds the canonical graph (constants folded, BatchNorm folded,\n"
           "activations fused, Identity/Dropout and dead nodes removed), compiles it and prints\n"
           "per node: op, output shape, MACs, parameter bytes, output activation bytes; then\n"
           "totals and the peak activation memory of the executor's memory plan.\n\n"
           "options:\n"
           "  --shape [NAME=]D1xD2...  input shape (default: declared, dynamic batch = --batch)\n"
           "  --batch N                value of a dynamic leading dimension (default 1)\n"
           "  --raw                    do not optimise (show the graph as stored)\n"
           "  --layers                 list the quantization points (names for --bits files)\n"
           "  --json                   machine-readable output\n"
           "  -h, --help               this text\n");
}

static void human(char *buf, size_t n, double v, const char *unit) {
    const char *pre[] = {"", "K", "M", "G", "T"};
    int i = 0;
    while (v >= 1000 && i < 4) v /= 1000, i++;
    snprintf(buf, n, i ? "%.2f %s%s" : "%.0f %s%s", v, pre[i], unit);
}

/* Quantization points: what a bit configuration can name. */
static cleave_status list_layers(cleave_ctx *ctx, const ir_graph *g, const rt_plan *p, int json) {
    quant_layer *l;
    int n;
    CV_TRY(quant_layers_find(ctx, g, p, &l, &n));
    json_t *arr = json_array();
    if (!json) printf("%-4s %-40s %-16s %14s %18s\n", "#", "layer", "op", "weight elems", "activation elems");
    for (int k = 0; k < n; k++) {
        const char *op = l[k].node >= 0 ? g->nodes[l[k].node].op_type : "(input)";
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(l[k].name));
            json_object_set_new(o, "op", json_string(op));
            json_object_set_new(o, "weight_numel", json_integer(l[k].w_numel));
            json_object_set_new(o, "activation_numel", json_integer(l[k].a_numel));
            json_array_append_new(arr, o);
        } else {
            char w[32] = "-", a[32] = "-";
            if (l[k].weight >= 0) snprintf(w, sizeof w, "%lld", (long long)l[k].w_numel);
            if (l[k].act >= 0) snprintf(a, sizeof a, "%lld", (long long)l[k].a_numel);
            printf("%-4d %-40s %-16s %14s %18s\n", k, l[k].name, op, w, a);
        }
    }
    if (json) {
        char *txt = json_dumps(arr, JSON_INDENT(2));
        if (txt) puts(txt);
        free(txt);
    }
    json_decref(arr);
    cv_free(l);
    return CLEAVE_OK;
}

int cmd_inspect(int argc, char **argv) {
    const char *model = NULL;
    int json = 0, raw = 0, layers = 0;
    cli_shapes shapes = {.batch = 1};
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    int rc = 1;
    ir_graph *g = NULL;
    rt_plan *p = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--layers")) layers = 1;
        else if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "--batch")) {
            if (!cli_parse_int(a, i + 1 < argc ? argv[++i] : NULL, 1, 1 << 20, &shapes.batch)) goto out;
        } else if (!strcmp(a, "--shape")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cleave inspect: --shape needs a value\n");
                goto out;
            }
            if (cli_parse_shape(ctx, argv[++i], &shapes)) goto err;
        } else if (a[0] == '-') {
            fprintf(stderr, "cleave inspect: unknown option '%s' (see --help)\n", a);
            goto out;
        } else if (!model) model = a;
        else {
            fprintf(stderr, "cleave inspect: unexpected argument '%s'\n", a);
            goto out;
        }
    }
    if (!model) {
        fprintf(stderr, "cleave inspect: no model given (see --help)\n");
        goto out;
    }
    rt_opt_stats os = {0};
    if (cli_load_model(ctx, model, !raw, &g, &os)) goto err;
    cv_tensor specs[CLI_MAX_INPUTS];
    int n_in = 0;
    if (cli_input_specs(ctx, g, &shapes, specs, &n_in)) goto err;
    if (rt_plan_create(ctx, g, NULL, 0, NULL, 0, specs, NULL, &p)) goto err;
    if (layers) {
        if (raw) {
            fprintf(stderr, "cleave inspect: --layers describes the optimised graph; drop --raw\n");
            goto out;
        }
        if (list_layers(ctx, g, p, json)) goto err;
        rc = 0;
        goto out;
    }

    int64_t tot_macs = 0, tot_params = 0, tot_act = 0;
    int ns = rt_plan_n_steps(p);
    json_t *jn = json ? json_array() : NULL;
    if (!json)
        printf("%-5s %-36s %-20s %-22s %12s %12s %12s\n", "#", "node", "op", "output shape", "MACs",
               "params B", "output B");
    for (int s = 0; s < ns; s++) {
        const ir_node *n = &g->nodes[rt_plan_step_node(p, s)];
        const cv_tensor *in[256], *out[64];
        int nin = n->n_in < 256 ? n->n_in : 256, nout = n->n_out < 64 ? n->n_out : 64;
        for (int k = 0; k < nin; k++) in[k] = n->in[k] >= 0 ? rt_plan_value(p, n->in[k]) : NULL;
        for (int k = 0; k < nout; k++) out[k] = n->out[k] >= 0 ? rt_plan_value(p, n->out[k]) : NULL;
        ir_node_stats st;
        ir_node_stats_compute(g, n, in, out, &st);
        tot_macs += st.macs;
        tot_params += st.param_bytes;
        tot_act += st.out_bytes;
        char shp[128], opn[64];
        const cv_tensor *y = out[0];
        cv_shape_str(y ? y->ndim : 0, y ? y->dims : NULL, shp, sizeof shp);
        snprintf(opn, sizeof opn, "%s%s%s", n->op_type, n->act.kind ? "+act" : "", "");
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(n->name));
            json_object_set_new(o, "op", json_string(n->op_type));
            json_object_set_new(o, "fused_activation", json_integer(n->act.kind));
            json_object_set_new(o, "output_shape", json_string(shp));
            json_object_set_new(o, "macs", json_integer(st.macs));
            json_object_set_new(o, "param_bytes", json_integer(st.param_bytes));
            json_object_set_new(o, "output_bytes", json_integer(st.out_bytes));
            json_array_append_new(jn, o);
        } else {
            printf("%-5d %-36.36s %-20s %-22s %12lld %12lld %12lld\n", s, n->name, opn, shp,
                   (long long)st.macs, (long long)st.param_bytes, (long long)st.out_bytes);
        }
    }
    size_t peak = rt_plan_arena_bytes(p), sum = rt_plan_total_activation_bytes(p);
    if (json) {
        json_t *r = json_object();
        json_object_set_new(r, "model", json_string(model));
        json_object_set_new(r, "nodes_loaded", json_integer(os.nodes_before ? os.nodes_before : g->n_nodes));
        json_object_set_new(r, "nodes", json_integer(g->n_nodes));
        json_object_set_new(r, "scheduled_nodes", json_integer(ns));
        json_t *pj = json_object();
        json_object_set_new(pj, "constants_folded", json_integer(os.folded));
        json_object_set_new(pj, "identity_removed", json_integer(os.identity));
        json_object_set_new(pj, "batchnorm_folded", json_integer(os.bn_folded));
        json_object_set_new(pj, "activations_fused", json_integer(os.act_fused));
        json_object_set_new(pj, "dead_removed", json_integer(os.dead));
        json_object_set_new(r, "passes", pj);
        json_object_set_new(r, "macs", json_integer(tot_macs));
        json_object_set_new(r, "param_bytes", json_integer(tot_params));
        json_object_set_new(r, "activation_bytes_sum", json_integer((json_int_t)sum));
        json_object_set_new(r, "peak_activation_bytes", json_integer((json_int_t)rt_plan_peak_live_bytes(p)));
        json_object_set_new(r, "arena_bytes", json_integer((json_int_t)peak));
        json_object_set_new(r, "weight_bytes_held", json_integer((json_int_t)rt_plan_weight_bytes(p)));
        json_object_set_new(r, "node_list", jn);
        char *txt = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (txt) puts(txt);
        free(txt);
        json_decref(r);
    } else {
        char a[32], b[32], c[32], d[32];
        human(a, sizeof a, (double)tot_macs, "MAC");
        human(b, sizeof b, (double)tot_params, "B");
        human(c, sizeof c, (double)sum, "B");
        human(d, sizeof d, (double)peak, "B");
        printf("\nmodel %s: %d nodes loaded, %d after optimisation (%d constants folded, %d "
               "Identity/Dropout removed, %d BatchNorm folded, %d activations fused, %d dead)\n",
               model, os.nodes_before ? os.nodes_before : g->n_nodes, g->n_nodes, os.folded,
               os.identity, os.bn_folded, os.act_fused, os.dead);
        char e[32];
        size_t live = rt_plan_peak_live_bytes(p);
        human(e, sizeof e, (double)live, "B");
        printf("total: %s, parameters %s, activations %s summed, peak live activations %s "
               "(%.1f%% of the sum), arena %s (incl. scratch)\n",
               a, b, c, e, sum ? 100.0 * (double)live / (double)sum : 0.0, d);
        human(e, sizeof e, (double)rt_plan_weight_bytes(p), "B");
        printf("engine memory: arena %s + weights held %s (as the kernels keep them: packed "
               "below 8 bits, reordered for the library)\n", d, e);
    }
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    rt_plan_destroy(p);
    ir_graph_destroy(g);
    cleave_ctx_destroy(ctx);
    return rc;
}
