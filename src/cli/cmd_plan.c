/* cleave plan: where to cut a model and with which bits. Loads the model,
 * its quantization statistics and distortion tables (or makes them), the
 * edge and cloud devices and predictors, and the link; searches every cut
 * with the Lagrangian bit allocation; prints the Pareto front and the
 * baselines; writes plan.json; optionally measures the accuracy of the top
 * solutions with cleave's quantized execution. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "cli/cli_cost.h"
#include "cli/cli_quant.h"
#include "cost/emulate.h"
#include "cost/regress.h"
#include "plan/exits.h"
#include "plan/planjson.h"

static void help(void) {
    printf("usage: cleave plan MODEL.onnx --edge DEV.json --cloud DEV.json --link RATE,RTT --mem SIZE\n"
           "                  [--max-drop PT] [options] [-o plan.json]\n\n"
           "Searches every cut of the model (a DAG: several tensors may cross) and, for the\n"
           "edge part, per-layer weight bits by a Lagrangian rate-distortion allocation, and\n"
           "the bits of the sent tensors; minimises predicted latency (edge + transfer +\n"
           "cloud) under the edge memory budget and the predicted accuracy-drop bound.\n"
           "Prints the Pareto front (latency, drop, memory) and the baselines priced by the\n"
           "same model. Format of plan.json: docs/plan.md.\n\n"
           "required:\n"
           "  --edge FILE         edge device description (devices/*.json)\n"
           "  --cloud FILE        cloud device description\n"
           "  --link L            RATE[,RTT[,OVERHEAD]], e.g. 3mbit,20ms\n"
           "  --mem SIZE          edge memory for weights + activations, e.g. 256KiB, 4MiB\n"
           "options:\n"
           "  --max-drop PT       predicted top-1 drop bound in points (default 1.0)\n"
           "  --stats FILE        statistics with distortion tables (cleave calibrate); without\n"
           "                      it they are measured now on --data (slower)\n"
           "  --data SPEC         fashion-mnist[:DIR] | random | FILE.npy (default random)\n"
           "  --calib-n N         calibration inputs when measuring now (default 256)\n"
           "  --table-n N         inputs for the distortion tables when measuring now (default 128)\n"
           "  --bits LIST         candidate widths (default 2,4,6,8)\n"
           "  --input-bits B      width of the raw input when sent (default 8)\n"
           "  --act8              keep the edge activations that are not sent at 8 bits (by\n"
           "                      default they take narrower widths from --bits, held packed,\n"
           "                      when the edge memory is short)\n"
           "  --edge-profile F    measured fp32 profile of this model on the edge (cleave profile)\n"
           "  --edge-profile-int8 F  measured int8 profile on the edge\n"
           "  --cloud-profile F   measured profile on the cloud\n"
           "  --edge-from-host    the edge profiles were measured on this machine (one thread):\n"
           "                      scale them by the slowdown of --edge against --host, the\n"
           "                      time dilation `cleave run --edge-device` applies\n"
           "  --host F            this machine's description (default devices/this-machine.json)\n"
           "  --regress F         fitted regression (else the roofline) where no profile is given\n"
           "  --edge-threads N    threads on the edge (default: its cores)\n"
           "  --cloud-threads N   threads on the cloud (default: its cores)\n"
           "  --cut-cap N         most cuts to enumerate before using prefixes (default 20000)\n"
           "  --measure K         measure the accuracy of the K fastest solutions and every\n"
           "                      baseline on --data's test split (--n images, default 1000);\n"
           "                      with --exits, also every configuration of the map on its exit\n"
           "  --n N               images for --measure\n"
           "early exits (Edgent): the most accurate exit and cut within a latency requirement,\n"
           "per bandwidth state, as a configuration map the runtime looks up:\n"
           "  --exits             plan every graph output as an exit\n"
           "  --deadline MS       the latency requirement (required with --exits)\n"
           "  --bandwidths LIST   states in Mbit/s (default 0.05,0.1,0.25,0.5,1,1.5,3,10)\n"
           "  --trace FILE        states from a bandwidth trace (CSV time,mbit), on a 1.25x grid\n"
           "  --exit-accuracy L   fp32 top-1 of each exit in points (default: measured on\n"
           "                      --data's test split, --n images)\n"
           "  -o FILE             write plan.json\n"
           "  --json              print plan.json on stdout instead of the table\n"
           "  -h, --help          this text\n");
}

/* Per-node times of one side from a profile (by name, also NAME_int8),
 * else a regression, else the roofline. int8: the node as lowered. */
static cleave_status side_times(cleave_ctx *ctx, const char *side, const cost_features *feat, int n,
                                const cost_profile *prof, const cost_regress *reg, const cost_device *dev,
                                int threads, int int8, double *out, char *desc, size_t dlen) {
    int from_prof = 0, missing = 0;
    for (int i = 0; i < n; i++) {
        cost_features f = feat[i];
        int lowered = int8 && (f.cls == COST_OP_CONV || f.cls == COST_OP_WCONV || f.cls == COST_OP_DWCONV ||
                               (f.cls == COST_OP_POOL && !strcmp(f.op_type, "MaxPool")) ||
                               (f.cls == COST_OP_ELTWISE && !strcmp(f.op_type, "Add")));
        if (lowered) {
            f.dtype = COST_DT_INT8;
            if (f.cls == COST_OP_WCONV) f.cls = COST_OP_CONV; /* no Winograd on integers */
            f.in_bytes /= 4, f.out_bytes /= 4;
            f.param_bytes /= 4;
        }
        double t = NAN;
        if (prof) {
            int k = -1;
            if (lowered) {
                char nm[512];
                snprintf(nm, sizeof nm, "%s_int8", f.name ? f.name : "");
                k = cost_profile_find(prof, nm);
            }
            if (k < 0 && f.name) k = cost_profile_find(prof, f.name);
            if (k >= 0) t = cost_profile_node_ms(prof, k), from_prof++;
            else missing++;
        }
        if (isnan(t) && reg) t = cost_regress_node_ms(reg, &f, dev, threads);
        if (isnan(t)) t = cost_roofline_node_ms(dev, &f, threads);
        if (!(t >= 0) || !isfinite(t))
            return cv_fail(ctx, CLEAVE_E_INVALID, "plan: %s: no usable time for node '%s'", side,
                           f.name ? f.name : "?");
        out[i] = t;
    }
    if (prof && missing)
        snprintf(desc, dlen, "profile (%d nodes) + %s (%d nodes)", from_prof, reg ? "regression" : "roofline", missing);
    else if (prof)
        snprintf(desc, dlen, "profile");
    else
        snprintf(desc, dlen, "%s", reg ? "regression" : "roofline");
    return CLEAVE_OK;
}

/* Top-1 of output k and agreement with ref (both on the same data). */
static void score(const quant_outputs *o, const quant_outputs *ref, const cli_dataset *ds, int k,
                  plan_measured *m) {
    int64_t per = o->per_sample[k];
    int correct = 0, agree = 0, ref_correct = 0, labelled = cli_dataset_label(ds, 0) >= 0;
    for (int i = 0; i < o->n; i++) {
        int64_t a = quant_argmax(o->out[k] + per * i, per), b = quant_argmax(ref->out[k] + per * i, per);
        agree += a == b;
        if (labelled) correct += a == cli_dataset_label(ds, i), ref_correct += b == cli_dataset_label(ds, i);
    }
    m->n = o->n;
    m->agreement = (double)agree / o->n;
    m->top1 = labelled ? 100.0 * correct / o->n : NAN;
    m->fp32_top1 = labelled ? 100.0 * ref_correct / o->n : NAN;
    m->drop = labelled ? m->fp32_top1 - m->top1 : 100.0 * (1 - m->agreement);
}


/* The model's outputs with the edge part quantized to these widths (the
 * cloud part, 32 bits, in float) and lowered to integer kernels, as
 * cleave's edge runs it. */
static cleave_status measure_bits(cleave_ctx *ctx, const cli_qmodel *m, const int *wbits, const int *abits,
                                  const quant_config *cfg, const quant_stats *st, quant_data *qd,
                                  quant_outputs *o) {
    ir_graph *qg = NULL;
    quant_apply_info info;
    int n_int = 0;
    cleave_status s = ir_graph_clone(ctx, m->g, &qg);
    if (!s) s = quant_apply(ctx, qg, m->layers, m->n_layers, wbits, abits, cfg, st, &info);
    if (!s) s = quant_lower_int8(ctx, qg, &n_int);
    if (!s) s = quant_collect_outputs(ctx, qg, qd, o);
    ir_graph_destroy(qg);
    return s;
}

/* Two configurations of the map run the same quantized graph. */
static int same_config(const plan_exit_choice *a, const plan_exit_choice *b, int n_layers) {
    return a->exit == b->exit && !memcmp(a->sol.wbits, b->sol.wbits, sizeof(int) * (size_t)n_layers) &&
           !memcmp(a->sol.abits, b->sol.abits, sizeof(int) * (size_t)n_layers);
}

/* --measure with --exits: the top-1 of every configuration of the map on
 * its own exit (each distinct one measured once). */
static cleave_status measure_map(cleave_ctx *ctx, const cli_qmodel *m, plan_config_map *map,
                                 const quant_config *cfg, const quant_stats *st, quant_data *qd,
                                 const quant_outputs *ref, const cli_dataset *ds, int quiet) {
    for (int i = 0; i < map->n; i++) {
        plan_exit_choice *c = &map->c[i];
        for (int j = 0; j < i && isnan(c->measured_acc); j++)
            if (same_config(&map->c[j], c, m->n_layers)) c->measured_acc = map->c[j].measured_acc;
        if (!isnan(c->measured_acc)) continue;
        if (!quiet) cli_progress((void *)"plan: measuring the configuration map", i + 1, map->n);
        quant_outputs o = {0};
        cleave_status s = measure_bits(ctx, m, c->sol.wbits, c->sol.abits, cfg, st, qd, &o);
        if (!s && c->exit >= o.n_out)
            s = cv_fail(ctx, CLEAVE_E_INTERNAL, "plan: exit %d has no output", c->exit + 1);
        if (!s) {
            plan_measured pm;
            score(&o, ref, ds, c->exit, &pm);
            c->measured_acc = pm.top1;
        }
        quant_outputs_free(&o);
        if (s) return s;
    }
    return CLEAVE_OK;
}

static void print_map(const plan_config_map *m, const plan_dag *dag, const char *const *names) {
    int measured = m->n > 0 && isfinite(m->c[0].measured_acc);
    printf("\nconfiguration map (Edgent): requirement %.1f ms, %d exits, built in %.1f ms\n", m->deadline_ms,
           m->n_exits, m->plan_ms);
    printf("%9s  %-22s %-7s %9s %9s%s %5s  %s\n", "Mbit/s >=", "exit", "meets", "total ms", "acc pt",
           measured ? "  measured" : "", "edge", "sends");
    for (int i = 0; i < m->n; i++) {
        const plan_exit_choice *c = &m->c[i];
        char sent[96] = "nothing";
        if (c->sol.n_cross == 1)
            snprintf(sent, sizeof sent, "%.60s (%d bits)", dag->tensors[c->sol.cross[0]].name ? dag->tensors[c->sol.cross[0]].name : "?",
                     c->sol.cross_bits[0]);
        else if (c->sol.n_cross > 1)
            snprintf(sent, sizeof sent, "%d tensors", c->sol.n_cross);
        char ma[16] = "";
        if (measured) snprintf(ma, sizeof ma, " %9.2f", c->measured_acc);
        printf("%9.3g  %d %-20.20s %-7s %9.2f %9.2f%s %5d  %s\n", c->mbit, c->exit + 1,
               names[c->exit] ? names[c->exit] : "", c->meets ? "yes" : "NO", c->sol.total_ms,
               c->accuracy, ma, c->sol.n_edge, sent);
    }
}

/* The Edgent map over the model's outputs. */
static cleave_status plan_exits(cleave_ctx *ctx, const char *model, const cli_qmodel *m, const plan_problem *pb,
                                const char *data, int n_meas, const char *bw_s, const char *trace_p,
                                const char *exacc_s, double deadline, int quiet, plan_config_map *cmap,
                                const char **names) {
    const plan_dag *d = pb->dag;
    int n_ex = m->g->n_outputs, ext[PLAN_MAX_EXITS];
    if (n_ex < 2 || n_ex > PLAN_MAX_EXITS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: --exits needs a model with 2..%d outputs (it has %d)", model,
                       PLAN_MAX_EXITS, n_ex);
    for (int k = 0; k < n_ex; k++) {
        const char *on = m->g->values[m->g->outputs[k]].name;
        names[k] = on;
        ext[k] = -1;
        for (int t = 0; t < d->n_tensors; t++)
            if (d->tensors[t].name && on && !strcmp(d->tensors[t].name, on)) ext[k] = t;
        if (ext[k] < 0) return cv_fail(ctx, CLEAVE_E_INTERNAL, "%s: output '%s' not in the plan", model, on ? on : "?");
    }
    double acc[PLAN_MAX_EXITS];
    if (exacc_s) {
        int k = cli_parse_num_list(exacc_s, acc, PLAN_MAX_EXITS), ok = k == n_ex;
        for (int j = 0; ok && j < k; j++) ok = acc[j] >= 0 && acc[j] <= 100;
        if (!ok)
            return cv_fail(ctx, CLEAVE_E_INVALID, "--exit-accuracy: expected %d values in 0..100, like 90.8,92.5,93.4", n_ex);
    } else {
        cli_dataset ds;
        CV_TRY(cli_dataset_open(ctx, data, "test", &m->in_spec, &ds));
        if (cli_dataset_label(&ds, 0) < 0) {
            cli_dataset_close(&ds);
            return cv_fail(ctx, CLEAVE_E_INVALID, "--exits: --data %s has no labels; give --exit-accuracy", data);
        }
        int total = ds.count < n_meas ? ds.count : n_meas;
        int *idx = cv_malloc(sizeof(int) * (size_t)total);
        cv_tensor xt = {0};
        quant_outputs o = {0};
        cleave_status s = idx ? CLEAVE_OK : cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
        for (int i = 0; !s && i < total; i++) idx[i] = i;
        if (!s) s = cli_dataset_tensor(ctx, &ds, idx, total, &xt);
        if (!s) s = quant_collect_outputs(ctx, m->g, &(quant_data){&xt, 50, NULL, NULL}, &o);
        for (int k = 0; !s && k < n_ex; k++) {
            int correct = 0;
            int64_t per = o.per_sample[k];
            for (int i = 0; i < o.n; i++) correct += quant_argmax(o.out[k] + per * i, per) == cli_dataset_label(&ds, i);
            acc[k] = 100.0 * correct / o.n;
        }
        if (!s && !quiet) {
            fprintf(stderr, "plan: fp32 top-1 per exit on %d test images:", o.n);
            for (int k = 0; k < n_ex; k++) fprintf(stderr, " %.2f", acc[k]);
            fprintf(stderr, "\n");
        }
        quant_outputs_free(&o);
        cv_aligned_free(xt.data);
        cv_free(idx);
        cli_dataset_close(&ds);
        if (s) return s;
    }
    double *states = NULL;
    int ns = 0;
    if (trace_p) {
        CV_TRY(plan_states_from_trace(ctx, trace_p, 1.25, &states, &ns));
    } else {
        states = cv_malloc(sizeof(double) * 64);
        if (!states) return cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
        ns = cli_parse_num_list(bw_s, states, 64);
        int ok = ns > 0;
        for (int j = 0; ok && j < ns; j++) ok = states[j] > 0 && (!j || states[j] > states[j - 1]);
        if (!ok) {
            cv_free(states);
            return cv_fail(ctx, CLEAVE_E_INVALID, "--bandwidths: expected up to 64 ascending Mbit/s values > 0, "
                           "like 0.1,0.5,1");
        }
    }
    cleave_status s = plan_exits_map(ctx, pb, ext, acc, n_ex, states, ns, deadline, cmap);
    cv_free(states);
    return s;
}

int cmd_plan(int argc, char **argv) {
    fast_set_deterministic(1); /* accuracy figures: the same bits every run */
    const char *model = NULL, *edge_path = NULL, *cloud_path = NULL, *link_s = NULL, *mem_s = NULL,
               *stats_path = NULL, *data = "random", *eprof_p = NULL, *eprof8_p = NULL, *cprof_p = NULL,
               *reg_p = NULL, *outp = NULL, *bits_s = "2,4,6,8", *bw_s = "0.05,0.1,0.25,0.5,1,1.5,3,10",
               *trace_p = NULL, *exacc_s = NULL, *host_p = "devices/this-machine.json";
    int from_host = 0, act8 = 0;
    double deadline = 0;
    int exits = 0;
    double max_drop = 1.0;
    int calib_n = 256, table_n = 128, input_bits = 8, ethreads = 0, cthreads = 0, measure = 0, n_meas = 1000,
        json = 0, cut_cap = 20000, rc = 1;
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    cli_qmodel m;
    memset(&m, 0, sizeof m);
    cost_device edev, cdev;
    cost_profile eprof, eprof8, cprof;
    memset(&eprof, 0, sizeof eprof), memset(&eprof8, 0, sizeof eprof8), memset(&cprof, 0, sizeof cprof);
    cost_regress *reg = NULL;
    quant_stats st;
    memset(&st, 0, sizeof st);
    quant_table table;
    memset(&table, 0, sizeof table);
    rt_plan *p = NULL;
    plan_dag *dag = NULL;
    cost_features *feat = NULL;
    double *e32 = NULL, *e8 = NULL, *cl = NULL;
    int *node_layer = NULL, *tensor_layer = NULL;
    plan_result res;
    memset(&res, 0, sizeof res);
    plan_measured *meas = NULL;
    plan_config_map cmap;
    memset(&cmap, 0, sizeof cmap);
    const char *exit_names[PLAN_MAX_EXITS] = {0};
    json_t *root = NULL, *sroot = NULL;
    cv_tensor cx = {0};
    quant_outputs ref = {0};
    cli_dataset ds;
    memset(&ds, 0, sizeof ds);
    char stats_desc[300] = "";
    const cli_int_opt ints[] = {{"--calib-n", 1, 1 << 20, &calib_n},
                                {"--table-n", 1, 1 << 20, &table_n},
                                {"--input-bits", 1, 32, &input_bits},
                                {"--edge-threads", 1, 4096, &ethreads},
                                {"--cloud-threads", 1, 4096, &cthreads},
                                {"--measure", 0, 1000, &measure},
                                {"--n", 1, 1 << 20, &n_meas},
                                {"--cut-cap", 1, 100000000, &cut_cap},
                                {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = cli_int_option(argc, argv, &i, ints);
        if (took < 0) goto out;
        if (took) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            rc = 0;
            goto out;
        }
#define OPT_S(name, var) else if (!strcmp(a, name) && v) var = v, i++;
        OPT_S("--edge", edge_path)
        OPT_S("--cloud", cloud_path)
        OPT_S("--link", link_s)
        OPT_S("--mem", mem_s)
        OPT_S("--stats", stats_path)
        OPT_S("--data", data)
        OPT_S("--bits", bits_s)
        OPT_S("--edge-profile", eprof_p)
        OPT_S("--edge-profile-int8", eprof8_p)
        OPT_S("--cloud-profile", cprof_p)
        OPT_S("--host", host_p)
        OPT_S("--regress", reg_p)
        OPT_S("-o", outp)
        OPT_S("--bandwidths", bw_s)
        OPT_S("--trace", trace_p)
        OPT_S("--exit-accuracy", exacc_s)
        else if (!strcmp(a, "--max-drop") && v) {
            char *e;
            max_drop = strtod(v, &e);
            if (*e || !(max_drop >= 0) || max_drop > 100) {
                fprintf(stderr, "cleave plan: --max-drop: expected points in 0..100, not '%s'\n", v);
                goto out;
            }
            i++;
        } else if (!strcmp(a, "--deadline") && v) {
            char *e;
            deadline = strtod(v, &e);
            if (!strcmp(e, "ms")) e += 2;
            if (*e || !(deadline > 0)) {
                fprintf(stderr, "cleave plan: --deadline: expected milliseconds > 0, not '%s'\n", v);
                goto out;
            }
            i++;
        } else if (!strcmp(a, "--exits")) exits = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--edge-from-host")) from_host = 1;
        else if (!strcmp(a, "--act8")) act8 = 1;
        else if (!cli_positional("plan", a, &model)) goto out;
#undef OPT_S
    }
    if (!model || !edge_path || !cloud_path || !link_s || !mem_s) {
        fprintf(stderr, "cleave plan: needs MODEL, --edge, --cloud, --link and --mem (see --help)\n");
        goto out;
    }
    if (exits && !(deadline > 0)) {
        fprintf(stderr, "cleave plan: --exits needs --deadline MS\n");
        goto out;
    }
    plan_problem pb;
    memset(&pb, 0, sizeof pb);
    pb.max_drop = max_drop;
    pb.input_bits = input_bits;
    pb.cut_cap = cut_cap;
    int nb = cli_parse_bits_list(bits_s, pb.bits, PLAN_MAX_BITS);
    if (nb < 0) {
        fprintf(stderr, "cleave plan: --bits: expected up to %d widths like 2,4,6,8 (each 2..8)\n", PLAN_MAX_BITS);
        goto out;
    }
    pb.n_bits = nb;
    if (!cost_parse_bytes(mem_s, &pb.mem_budget) || !(pb.mem_budget > 0)) {
        fprintf(stderr, "cleave plan: --mem: expected a size like 256KiB or 4MiB, not '%s'\n", mem_s);
        goto out;
    }
    if (cost_link_parse(ctx, link_s, &pb.link)) goto err;
    if (cost_device_load(ctx, edge_path, &edev) || cost_device_load(ctx, cloud_path, &cdev)) goto err;
    char sha[65];
    if (cv_sha256_file(ctx, model, sha)) goto err;
    if (eprof_p && cost_profile_load(ctx, eprof_p, sha, &eprof)) goto err;
    if (eprof8_p && cost_profile_load(ctx, eprof8_p, sha, &eprof8)) goto err;
    if (cprof_p && cost_profile_load(ctx, cprof_p, sha, &cprof)) goto err;
    if (reg_p && (cost_regress_create(ctx, NULL, &reg) || cost_regress_load(ctx, reg, reg_p))) goto err;
    /* model, its DAG and features */
    if (cli_qmodel_load(ctx, model, &m)) goto err;
    if (rt_plan_create(ctx, m.g, NULL, 0, NULL, 0, &m.in_spec, NULL, &p)) goto err;
    if (plan_dag_from_plan(ctx, m.g, p, &dag)) goto err;
    int nf = 0;
    if (cost_features_from_plan(ctx, m.g, p, &feat, &nf)) goto err;
    /* statistics and distortion tables */
    if (stats_path) {
        json_error_t jerr;
        sroot = json_load_file(stats_path, 0, &jerr);
        if (!sroot) {
            cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d: %s", stats_path, jerr.line, jerr.text);
            goto err;
        }
        json_t *ms = json_object_get(sroot, "model_sha256");
        if (json_is_string(ms) && strcmp(json_string_value(ms), sha)) {
            cv_fail(ctx, CLEAVE_E_INVALID, "%s: statistics of a different model (model_sha256 %.12s... is "
                    "not %s's %.12s...)", stats_path, json_string_value(ms), model, sha);
            goto err;
        }
        json_t *dj = json_object_get(sroot, "distortion");
        if (!dj) {
            cv_fail(ctx, CLEAVE_E_INVALID, "%s: no distortion tables (made with --no-tables?): run "
                    "cleave calibrate %s -o %s", stats_path, model, stats_path);
            goto err;
        }
        if (quant_stats_parse(ctx, stats_path, sroot, &st)) goto err;
        if (quant_table_parse(ctx, stats_path, dj, m.layers, m.n_layers, &table)) goto err;
        snprintf(stats_desc, sizeof stats_desc, "%s", stats_path);
    } else {
        char desc[200];
        if (cli_calib_tensor(ctx, data, &m.in_spec, calib_n, 0, &cx, desc, sizeof desc)) goto err;
        if (!json) fprintf(stderr, "plan: no --stats: calibrating on %s and measuring distortion tables\n", desc);
        if (quant_stats_create(ctx, m.g, m.layers, m.n_layers, Q_HIST_DEFAULT_BINS, &st)) goto err;
        quant_data qd = {&cx, 32, json ? NULL : cli_progress, (void *)"calibrate"};
        if (quant_calibrate(ctx, m.g, m.layers, m.n_layers, &qd, &st)) goto err;
        cv_tensor xt = cx;
        if (xt.dims[0] > table_n) xt.dims[0] = table_n;
        quant_outputs tref = {0};
        if (quant_collect_outputs(ctx, m.g, &(quant_data){&xt, 32, NULL, NULL}, &tref)) goto err;
        quant_config cfg;
        quant_config_uniform(&cfg, 8, 8);
        int tb[4] = {2, 4, 6, 8};
        quant_data td = {&xt, 32, json ? NULL : cli_progress, (void *)"tables"};
        cleave_status s = quant_table_build(ctx, m.g, m.layers, m.n_layers, &cfg, &st, &td, &tref, tb, 4, &table);
        quant_outputs_free(&tref);
        if (s) goto err;
        snprintf(stats_desc, sizeof stats_desc, "measured now: %s, tables on %lld", desc, (long long)xt.dims[0]);
    }
    /* per-node times */
    e32 = cv_malloc(sizeof(double) * (size_t)(nf + 1));
    e8 = cv_malloc(sizeof(double) * (size_t)(nf + 1));
    cl = cv_malloc(sizeof(double) * (size_t)(nf + 1));
    node_layer = cv_malloc(sizeof(int) * (size_t)(dag->n_nodes + 1));
    tensor_layer = cv_malloc(sizeof(int) * (size_t)(dag->n_tensors + 1));
    if (!e32 || !e8 || !cl || !node_layer || !tensor_layer) {
        cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory");
        goto err;
    }
    char ed[160], ed8[160], cd[160], epred[400], cpred[200];
    double host_f = 1; /* --edge-from-host: this machine -> edge */
    int et = ethreads ? ethreads : edev.cores, ct = cthreads ? cthreads : cdev.cores;
    if (side_times(ctx, "edge fp32", feat, nf, eprof_p ? &eprof : NULL, reg, &edev, et, 0, e32, ed, sizeof ed)) goto err;
    if (side_times(ctx, "edge int8", feat, nf, eprof8_p ? &eprof8 : NULL, reg, &edev, et, 1, e8, ed8, sizeof ed8)) goto err;
    if (side_times(ctx, "cloud", feat, nf, cprof_p ? &cprof : NULL, reg, &cdev, ct, 0, cl, cd, sizeof cd)) goto err;
    if (from_host) {
        /* host one-thread profiles stretched to the edge (cost_emu_slowdown,
         * as `cleave emulate` and `cleave run --edge-device` compute it) */
        cost_device hdev;
        double f = 1;
        if (cost_device_load(ctx, host_p, &hdev) || cost_emu_slowdown(ctx, &hdev, &edev, COST_DT_FP32, 0, &f, NULL, NULL))
            goto err;
        if (f < 1) f = 1;
        host_f = f;
        for (int i = 0; i < nf; i++) e32[i] *= f, e8[i] *= f;
        char t[160];
        snprintf(t, sizeof t, "%s x %.2f (this machine -> %s)", ed, f, edev.name);
        snprintf(ed, sizeof ed, "%s", t);
        snprintf(t, sizeof t, "%s x %.2f", ed8, f);
        snprintf(ed8, sizeof ed8, "%s", t);
    }
    /* the v2 codec per request, as `cleave profile` timed it after a run */
    {
        double er = eprof8_p && eprof8.request_ms > 0 ? eprof8.request_ms : eprof_p ? eprof.request_ms : 0;
        pb.edge_request_ms = er * host_f;
        /* the integer kernels' tile per edge thread (one with host profiles) */
        pb.kernel_scratch = (double)QCONV_REF_TILE_BYTES * (from_host ? 1 : et);
        pb.cloud_request_ms = cprof_p ? cprof.request_ms : 0;
    }
    pb.act_widths = !act8;
    snprintf(epred, sizeof epred, "fp32: %s; int8: %s", ed, ed8);
    snprintf(cpred, sizeof cpred, "%s", cd);
    plan_map_layers(m.g, dag, m.layers, m.n_layers, node_layer, tensor_layer);
    pb.dag = dag;
    pb.feat = feat;
    pb.edge_fp32_ms = e32, pb.edge_int8_ms = e8, pb.cloud_ms = cl;
    pb.layers = m.layers, pb.n_layers = m.n_layers;
    pb.node_layer = node_layer, pb.tensor_layer = tensor_layer;
    pb.table = &table;
    pb.kappa = plan_fit_kappa(&table);
    if (plan_search(ctx, &pb, &res)) goto err;
    if (exits && plan_exits(ctx, model, &m, &pb, data, n_meas, bw_s, trace_p, exacc_s, deadline, json, &cmap,
                            exit_names))
        goto err;
    /* measured accuracy */
    if (measure > 0) {
        meas = cv_calloc((size_t)res.n_sol, sizeof *meas);
        if (!meas) goto err;
        if (cli_dataset_open(ctx, data, "test", &m.in_spec, &ds)) goto err;
        int total = ds.count < n_meas ? ds.count : n_meas;
        if (ds.kind == CLI_DATA_RANDOM) total = n_meas;
        int *idx = cv_malloc(sizeof(int) * (size_t)total);
        if (!idx) goto err;
        for (int i = 0; i < total; i++) idx[i] = i;
        cv_tensor xt = {0};
        cleave_status s = cli_dataset_tensor(ctx, &ds, idx, total, &xt);
        cv_free(idx);
        if (s) goto err;
        quant_data qd = {&xt, 50, NULL, NULL};
        s = quant_collect_outputs(ctx, m.g, &qd, &ref);
        quant_config cfg;
        quant_config_uniform(&cfg, 8, 8);
        for (int k = 0; k < res.n_sol && !s; k++) {
            if (res.sol[k].method == PLAN_AUTO_SPLIT && k >= measure) continue;
            if (!json) cli_progress((void *)"plan: measuring accuracy", k + 1, res.n_sol);
            quant_outputs o = {0};
            s = measure_bits(ctx, &m, res.sol[k].wbits, res.sol[k].abits, &cfg, &st, &qd, &o);
            if (!s) score(&o, &ref, &ds, o.n_out - 1, &meas[k]);
            quant_outputs_free(&o);
        }
        if (!s && exits && cli_dataset_label(&ds, 0) >= 0)
            s = measure_map(ctx, &m, &cmap, &cfg, &st, &qd, &ref, &ds, json);
        cv_aligned_free(xt.data);
        if (s) goto err;
    }
    plan_meta meta = {model, sha, edev.name, cdev.name, epred, cpred, stats_desc, stats_path};
    root = plan_result_json(m.g, &pb, &res, &meta, meas);
    if (exits) json_object_set_new(root, "config_map", plan_config_map_json(&pb, &cmap, exit_names));
    if (outp && json_dump_file(root, outp, JSON_INDENT(1) | JSON_REAL_PRECISION(10))) {
        cv_fail(ctx, CLEAVE_E_IO, "%s: cannot write", outp);
        goto err;
    }
    if (json) {
        char *t = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
        if (t) printf("%s\n", t);
        free(t);
    } else {
        char lk[128];
        cost_link_format(&pb.link, lk, sizeof lk);
        printf("model      %s: %d nodes, %d quantization points\n", model, dag->n_nodes, m.n_layers);
        printf("edge       %s (%s)   cloud %s (%s)\n", edev.name, epred, cdev.name, cpred);
        printf("link       %s   memory budget %.0f KiB   max drop %.2f pt   bits %s\n", lk,
               pb.mem_budget / 1024, pb.max_drop, bits_s);
        if (pb.edge_request_ms > 0 || pb.cloud_request_ms > 0)
            printf("codec      v2 request codec %.3f ms on the edge + %.3f ms on the cloud (profiles' request_ms),\n"
                   "           counted in 'send ms' of every solution that sends\n",
                   pb.edge_request_ms, pb.cloud_request_ms);
        if (res.cuts_prefix_fallback)
            printf("cuts       more than %d: used the %d prefixes of the schedule; %d fit the memory\n",
                   cut_cap, dag->n_nodes + 1, res.cuts_kept);
        else
            printf("cuts       %ld enumerated, %d fit the memory at the lowest bits; Pareto front %d; "
                   "search %.1f ms\n", res.cuts_total, res.cuts_kept, res.n_front, res.plan_ms);
        if (res.infeasible[0]) printf("           %s\n", res.infeasible);
        printf("\n%-3s %-18s %-5s %-26s %6s %9s %9s %9s %9s %8s %8s %7s %7s%s\n", "#", "method", "edge",
               "sent (bits)", "KB", "edge ms", "send ms", "cloud ms", "total ms", "mem KiB", "drop pt",
               "W bits", "A bits", measure ? "  measured drop" : "");
        for (int k = 0; k < res.n_sol; k++) {
            const plan_solution *s = &res.sol[k];
            if (k == res.n_front) printf("--- baselines (same cost model)\n");
            char sent[64] = "", wb[16] = "-";
            if (s->n_cross == 0) snprintf(sent, sizeof sent, "nothing");
            else if (s->n_cross == 1)
                snprintf(sent, sizeof sent, "%.18s (%d)", dag->tensors[s->cross[0]].name ? dag->tensors[s->cross[0]].name : "?", s->cross_bits[0]);
            else snprintf(sent, sizeof sent, "%d tensors (%d..)", s->n_cross, s->cross_bits[0]);
            int wmin = 99, wmax = 0;
            for (int q = 0; q < m.n_layers; q++)
                if (s->wbits[q] < 32) wmin = s->wbits[q] < wmin ? s->wbits[q] : wmin, wmax = s->wbits[q] > wmax ? s->wbits[q] : wmax;
            if (wmax) snprintf(wb, sizeof wb, wmin == wmax ? "%d" : "%d-%d", wmin, wmax);
            /* the edge activations that are not sent */
            char ab[16] = "-";
            int amin = 99, amax = 0;
            for (int q = 0; q < m.n_layers; q++) {
                int sent = 0;
                for (int c = 0; c < s->n_cross; c++) sent |= tensor_layer[s->cross[c]] == q;
                if (s->abits[q] < 32 && !sent)
                    amin = s->abits[q] < amin ? s->abits[q] : amin, amax = s->abits[q] > amax ? s->abits[q] : amax;
            }
            if (amax) snprintf(ab, sizeof ab, amin == amax ? "%d" : "%d-%d", amin, amax);
            char mm[48] = "", tail[200] = "";
            if (meas && meas[k].n) snprintf(mm, sizeof mm, "  %6.2f (%d)", meas[k].drop, meas[k].n);
            if (s->recommended) snprintf(tail, sizeof tail, "  <- recommended");
            else if (!s->feasible) snprintf(tail, sizeof tail, "  (infeasible: %s)", s->why);
            printf("%-3d %-18.18s %2d/%-2d %-26.26s %6.1f %9.3f %9.3f %9.3f %9.3f %8.1f %8.2f %7s %7s%s%s\n", k,
                   plan_method_name(s->method), s->n_edge, dag->n_nodes, sent, s->tx_bytes / 1000, s->edge_ms,
                   s->transfer_ms + s->codec_ms, s->cloud_ms, s->total_ms, s->mem_bytes / 1024, s->pred_drop, wb, ab,
                   mm, tail);
        }
        /* one line to compare runs: the recommended solution against the
         * fastest baseline that meets the same constraints */
        int bb = -1;
        for (int k = res.n_front; k < res.n_sol; k++)
            if (res.sol[k].feasible && (bb < 0 || res.sol[k].total_ms < res.sol[bb].total_ms)) bb = k;
        if (res.n_front) {
            const plan_solution *r0 = &res.sol[0];
            char md[48] = "";
            if (meas && meas[0].n) snprintf(md, sizeof md, ", measured %.2f", meas[0].drop);
            printf("\nsummary    recommended: %d/%d nodes on the edge, sends %.1f KB, %.2f ms, %.0f KiB, drop %.2f pt "
                   "predicted%s", r0->n_edge, dag->n_nodes, r0->tx_bytes / 1000, r0->total_ms, r0->mem_bytes / 1024,
                   r0->pred_drop, md);
            if (bb >= 0)
                printf("; best feasible baseline: %s %.2f ms (%.2fx)\n", plan_method_name(res.sol[bb].method),
                       res.sol[bb].total_ms, res.sol[bb].total_ms / r0->total_ms);
            else
                printf("; no baseline is feasible\n");
        }
        if (exits) print_map(&cmap, dag, exit_names);
        if (outp) printf("\nwritten    %s\n", outp);
    }
    rc = res.n_front ? 0 : 5;
    goto out;
err:
    rc = cli_error(ctx);
out:
    json_decref(root);
    json_decref(sroot);
    cv_free(meas);
    plan_config_map_free(&cmap);
    plan_result_free(&res);
    cv_free(e32), cv_free(e8), cv_free(cl), cv_free(node_layer), cv_free(tensor_layer);
    cv_free(feat);
    plan_dag_destroy(dag);
    rt_plan_destroy(p);
    quant_table_free(&table);
    quant_stats_free(&st);
    quant_outputs_free(&ref);
    cli_dataset_close(&ds);
    cv_aligned_free(cx.data);
    cost_profile_free(&eprof), cost_profile_free(&eprof8), cost_profile_free(&cprof);
    cost_regress_destroy(reg);
    cli_qmodel_free(&m);
    cleave_ctx_destroy(ctx);
    return rc;
}
