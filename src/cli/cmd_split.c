/* cleave split: one solution of plan.json written as two ONNX files, the
 * quantized head the edge runs (edge.onnx, ending in the codes that
 * travel) and the tail the cloud runs (cloud.onnx, starting from them),
 * plus the whole quantized model and manifest.json (docs/split.md). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/sha256.h"
#include "cli/cli_quant.h"
#include "plan/split.h"
#include "quant/quant.h"

int cmd_split(int argc, char **argv);

static void help(void) {
    printf("usage: cleave split MODEL.onnx PLAN.json [--solution K | --method NAME]\n"
           "                   [--stats STATS.json] -o DIR\n\n"
           "Applies one solution of a plan (cleave plan -o PLAN.json) to the model and writes\n"
           "  DIR/edge.onnx      the edge part, quantized as planned (QDQ); its outputs are the\n"
           "                     uint8 codes of every crossing tensor (float when sent at 32\n"
           "                     bits) and the graph outputs the edge computes itself\n"
           "  DIR/cloud.onnx     the cloud part; its inputs are those codes (absent when\n"
           "                     everything runs on the edge)\n"
           "  DIR/whole.onnx     the whole quantized model, for checking: edge then cloud\n"
           "                     computes exactly what it computes\n"
           "  DIR/manifest.json  crossing tensors (name, dtype, shape, bits, scale, zero point,\n"
           "                     packed bytes), outputs of each part, predicted figures\n\n"
           "options:\n"
           "  --solution K     the solution with id K (default: the recommended one)\n"
           "  --method NAME    the fastest solution of a method (auto-split, cloud-only,\n"
           "                   edge-fp32, edge-u8, neurosurgeon, dads, ...)\n"
           "  --stats FILE     calibration statistics (activation ranges); default: the\n"
           "                   plan's statistics_file (cleave plan --stats)\n"
           "  -o DIR           output folder (created if missing)\n"
           "  -h, --help       this text\n");
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* The plan's statistics_file as given when cleave plan ran; when that path
 * is relative and not found from here, next to the plan. */
static const char *plan_stats_path(const plan_file *pf, const char *plan, char *buf, size_t len) {
    const char *p = pf->stats_file;
    if (!p || exists(p) || p[0] == '/') return p;
    const char *slash = strrchr(plan, '/');
    if (!slash) return p;
    snprintf(buf, len, "%.*s/%s", (int)(slash - plan), plan, p);
    return exists(buf) ? buf : p;
}

/* The plan's model hash against the model's, before its layer names are
 * checked against the model (a plan of another model fails here, clearly). */
static cleave_status same_model(cleave_ctx *ctx, const char *plan, const char *model, const char *sha) {
    json_error_t e;
    json_t *root = json_load_file(plan, 0, &e);
    if (!root) return cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d: %s", plan, e.line, e.text);
    const char *ps = json_string_value(json_object_get(root, "model_sha256"));
    cleave_status s = CLEAVE_OK;
    if (ps && strcmp(ps, sha))
        s = cv_fail(ctx, CLEAVE_E_INVALID, "%s: a plan for another model (model_sha256 %.12s... is not %s's %.12s...)",
                    plan, ps, model, sha);
    json_decref(root);
    return s;
}

static void summary(const plan_split *sp, const plan_file_solution *s, const char *dir) {
    printf("split: solution %d (%s%s): %d node%s on the edge", s->id, s->method, s->recommended ? ", recommended" : "",
           s->n_edge, s->n_edge == 1 ? "" : "s");
    if (!s->feasible) printf(" (marked infeasible in the plan)");
    printf("\n");
    for (int c = 0; c < sp->n_cross; c++) {
        int64_t n = cv_numel(&sp->info[c]);
        size_t bytes = sp->bits[c] < QUANT_FLOAT ? q_packed_bytes((size_t)n, sp->bits[c]) : (size_t)n * 4;
        printf("  sends %s at %d bits: %lld elements, %zu bytes%s", sp->names[c], sp->bits[c], (long long)n, bytes,
               sp->bits[c] < QUANT_FLOAT ? " packed" : "");
        if (sp->bits[c] < QUANT_FLOAT) printf(" (scale %.6g, zero point %d)", sp->scale[c], (int)sp->zero_point[c]);
        printf("\n");
    }
    for (int k = 0; k < sp->n_edge_out; k++) printf("  edge output  %s\n", sp->g->values[sp->edge_out[k]].name);
    for (int k = 0; k < sp->n_cloud_out; k++) printf("  cloud output %s\n", sp->g->values[sp->cloud_out[k]].name);
    printf("wrote %s: edge.onnx%s, whole.onnx, manifest.json\n", dir, sp->n_cloud_out ? ", cloud.onnx" : "");
}

int cmd_split(int argc, char **argv) {
    const char *model = NULL, *plan = NULL, *method = NULL, *stats_path = NULL, *dir = NULL;
    int sol_id = -1, rc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return 0;
        } else if (!strcmp(a, "--method") && v) method = v, i++;
        else if (!strcmp(a, "--stats") && v) stats_path = v, i++;
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && v) dir = v, i++;
        else if (!strcmp(a, "--solution")) {
            if (!cli_parse_int(a, v, 0, 1 << 30, &sol_id)) return 2;
            i++;
        } else if (!cli_positional("split", a, model ? &plan : &model)) { /* MODEL, then PLAN */
            return 2;
        }
    }
    if (!model || !plan || !dir) {
        fprintf(stderr, "cleave split: needs MODEL.onnx, PLAN.json and -o DIR (see --help)\n");
        return 2;
    }
    if (sol_id >= 0 && method) {
        fprintf(stderr, "cleave split: give --solution or --method, not both\n");
        return 2;
    }
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    cli_qmodel m;
    memset(&m, 0, sizeof m);
    plan_file pf;
    memset(&pf, 0, sizeof pf);
    quant_stats st;
    memset(&st, 0, sizeof st);
    plan_split sp;
    memset(&sp, 0, sizeof sp);
    char sha[65], buf[4096];
    if (cli_qmodel_load(ctx, model, &m) || cv_sha256_file(ctx, model, sha)) goto err;
    if (same_model(ctx, plan, model, sha) || plan_file_load(ctx, plan, m.layers, m.n_layers, &pf)) goto err;
    int k = sol_id >= 0 ? plan_file_find(&pf, sol_id) : method ? plan_file_find_method(&pf, method)
                                                               : plan_file_recommended(&pf);
    if (k < 0) {
        if (sol_id >= 0) cv_fail(ctx, CLEAVE_E_INVALID, "%s: no solution with id %d (%d solutions)", plan, sol_id, pf.n_sol);
        else if (method) cv_fail(ctx, CLEAVE_E_INVALID, "%s: no solution of method '%s'", plan, method);
        else cv_fail(ctx, CLEAVE_E_INVALID, "%s: no recommended solution (none was feasible); choose one with --solution K", plan);
        goto err;
    }
    const plan_file_solution *s = &pf.sol[k];
    int need_stats = 0;
    for (int j = 0; j < m.n_layers; j++) need_stats |= s->abits[j] < QUANT_FLOAT;
    if (!stats_path) stats_path = plan_stats_path(&pf, plan, buf, sizeof buf);
    if (!stats_path && need_stats) {
        cv_fail(ctx, CLEAVE_E_INVALID, "%s: solution %d quantizes activations and the plan names no statistics_file "
                "(made without --stats): give --stats FILE", plan, s->id);
        goto err;
    }
    if (stats_path && need_stats) {
        if (quant_stats_load(ctx, stats_path, &st)) goto err;
        if (st.model_sha256 && strcmp(st.model_sha256, sha)) {
            cv_fail(ctx, CLEAVE_E_INVALID, "%s: statistics of another model (model_sha256 %.12s... is not %s's %.12s...)",
                    stats_path, st.model_sha256, model, sha);
            goto err;
        }
    }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        cv_fail(ctx, CLEAVE_E_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
        goto err;
    }
    if (plan_split_build(ctx, m.g, m.layers, m.n_layers, need_stats ? &st : NULL, s, 0, &sp)) goto err;
    if (plan_split_export(ctx, &sp, &pf, s, dir)) goto err;
    summary(&sp, s, dir);
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    plan_split_free(&sp);
    quant_stats_free(&st);
    plan_file_free(&pf);
    cli_qmodel_free(&m);
    cleave_ctx_destroy(ctx);
    return rc;
}
