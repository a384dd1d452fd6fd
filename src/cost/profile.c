/* cost/profile: measurement and the "cleave-profile" v1 file. Whole-model
 * runs use a plan without per-node timers; node times come from a second
 * plan of the same graph with timers, run in its own block so neither plan
 * evicts the other's weights between runs. */
#include "cost/profile.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void cost_stat_of(double *ms, int n, cost_stat *s) {
    memset(s, 0, sizeof *s);
    if (n <= 0) return;
    qsort(ms, (size_t)n, sizeof *ms, cmp_d);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += ms[i];
    s->mean_ms = sum / n;
    s->min_ms = ms[0];
    s->median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    s->p10_ms = ms[(n - 1) / 10];
    s->p90_ms = ms[(n - 1) - (n - 1) / 10];
}

void cost_profile_free(cost_profile *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        cv_free((char *)p->nodes[i].f.name);
        cv_free((char *)p->nodes[i].f.op_type);
    }
    cv_free(p->nodes);
    cv_free(p->model);
    memset(p, 0, sizeof *p);
}

double cost_profile_sum_median(const cost_profile *p) {
    double s = 0;
    for (int i = 0; i < p->n; i++) s += p->nodes[i].t.median_ms;
    return s;
}

double cost_profile_sum_mean(const cost_profile *p) {
    double s = 0;
    for (int i = 0; i < p->n; i++) s += p->nodes[i].t.mean_ms;
    return s;
}

double cost_profile_whole_ms(const cost_profile *p) {
    return p->emulation[0] ? p->whole.mean_ms : p->whole.median_ms;
}

static double sum_min(const cost_profile *p) {
    double s = 0;
    for (int i = 0; i < p->n; i++) s += p->nodes[i].t.min_ms;
    return s;
}

double cost_profile_node_ms(const cost_profile *p, int i) {
    double whole = cost_profile_whole_ms(p);
    if (p->emulation[0]) {
        /* Under a CPU quota a node's own runs are either unthrottled or hit
         * a whole stall (docs/emulation.md), so its mean over a few runs is
         * mostly noise. Stalls fall on the nodes in proportion to the CPU
         * time they use: a node's expected latency is its share of the
         * unthrottled time (its fastest run, which missed the stalls) times
         * the whole-model mean, which spans many periods. */
        double sm = sum_min(p);
        if (sm > 0 && whole > 0) return p->nodes[i].t.min_ms * whole / sm;
        return p->nodes[i].t.mean_ms;
    }
    /* Per-node timers miss the executor's gaps between nodes (a few per
     * cent of a small model); each node gets its share of them, so the
     * nodes add up to the whole-model figure measured without timers. */
    double sum = cost_profile_sum_median(p);
    double scale = sum > 0 && whole > 0 ? whole / sum : 1.0;
    if (scale < 0.5 || scale > 2.0) scale = 1.0; /* implausible: keep raw */
    return p->nodes[i].t.median_ms * scale;
}

int cost_profile_find(const cost_profile *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (p->nodes[i].f.name && !strcmp(p->nodes[i].f.name, name)) return i;
    return -1;
}

static void shapes_str(const cv_tensor *in, int n_in, const ir_graph *g, char *out, size_t len) {
    size_t o = 0;
    out[0] = 0;
    for (int k = 0; k < n_in && o + 1 < len; k++) {
        const char *name = k < g->n_inputs ? g->values[g->inputs[k]].name : "?";
        char shp[96];
        cv_shape_str(in[k].ndim, in[k].dims, shp, sizeof shp);
        int w = snprintf(out + o, len - o, "%s%s=%s", k ? "," : "", name ? name : "?", shp);
        if (w < 0) break;
        o += (size_t)w;
    }
}

/* Fill out from the samples of one profile (whole[repeat], node_ms[ns][repeat]). */
static cleave_status profile_fill(cleave_ctx *ctx, const ir_graph *g, const rt_plan *timed,
                                  const cv_tensor *in, int n_in, double *whole, double *node_ms,
                                  int repeat, int warmup, double gap_ms, cost_profile *out) {
    cost_features *fs = NULL;
    int nf = 0;
    cleave_status st = cost_features_from_plan(ctx, g, timed, &fs, &nf);
    if (st) return st;
    out->nodes = cv_calloc(nf > 0 ? (size_t)nf : 1, sizeof *out->nodes);
    if (!out->nodes) {
        cv_free(fs);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "profile: out of memory");
    }
    out->n = nf;
    for (int s = 0; s < nf; s++) {
        cost_prof_node *pn = &out->nodes[s];
        pn->f = fs[s];
        pn->f.name = cv_strdup(fs[s].name ? fs[s].name : "");
        pn->f.op_type = cv_strdup(fs[s].op_type);
        if (!pn->f.name || !pn->f.op_type) {
            cv_free(fs);
            return cv_fail(ctx, CLEAVE_E_NOMEM, "profile: out of memory");
        }
        cost_stat_of(node_ms + (size_t)s * repeat, repeat, &pn->t);
    }
    cv_free(fs);
    cost_stat_of(whole, repeat, &out->whole);
    out->threads = ctx->threads > 0 ? ctx->threads : 1;
    out->warmup = warmup;
    out->gap_ms = gap_ms;
    out->repeat = repeat;
    out->dtype = COST_DT_FP32;
    for (int s = 0; s < nf; s++)
        if (out->nodes[s].f.dtype == COST_DT_INT8 && out->nodes[s].f.macs > 0) out->dtype = COST_DT_INT8;
    shapes_str(in, n_in, g, out->input_shapes, sizeof out->input_shapes);
    return CLEAVE_OK;
}

/* n untimed runs of p, each after the idle gap, counted as progress. */
static cleave_status run_untimed(rt_plan *p, const cv_tensor *in, int n, double gap_ms, cost_progress_fn progress,
                                 void *user, int *done, int total) {
    for (int u = 0; u < n; u++) {
        cv_sleep_ms(gap_ms);
        cleave_status st = rt_plan_run(p, in);
        if (st) return st;
        if (progress) progress(user, ++*done, total);
    }
    return CLEAVE_OK;
}

cleave_status cost_profile_measure(cleave_ctx *ctx, const ir_graph *g, const cv_tensor *in,
                                   int n_in, int warmup, int repeat, double min_block_ms,
                                   double gap_ms, cost_progress_fn progress, void *user,
                                   cost_profile *out) {
    return cost_profile_measure_n(ctx, g, in, n_in, 1, 1, warmup, repeat, min_block_ms, gap_ms,
                                  progress, user, out);
}

cleave_status cost_profile_measure_n(cleave_ctx *ctx, const ir_graph *g, const cv_tensor *in,
                                     int n_in, int n_prof, int rounds, int warmup, int repeat,
                                     double min_block_ms, double gap_ms, cost_progress_fn progress,
                                     void *user, cost_profile *out) {
    if (n_prof < 1 || n_prof > COST_PROFILE_MAX_N)
        return cv_fail(ctx, CLEAVE_E_INVALID, "profile: %d profiles at once (1..%d)", n_prof,
                       COST_PROFILE_MAX_N);
    memset(out, 0, sizeof *out * (size_t)n_prof);
    if (repeat < 1) return cv_fail(ctx, CLEAVE_E_INVALID, "profile: repeat must be >= 1");
    if (rounds < 1 || rounds > 1000)
        return cv_fail(ctx, CLEAVE_E_INVALID, "profile: %d rounds out of 1..1000", rounds);
    if (!(gap_ms >= 0 && gap_ms <= 10000))
        return cv_fail(ctx, CLEAVE_E_INVALID, "profile: gap %g ms out of 0..10000", gap_ms);
    if (gap_ms > 0 && min_block_ms > 0)
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "profile: a gap between runs and blocks of runs under a CPU quota exclude each other");
    cleave_status st = CLEAVE_OK;
    rt_plan *plain[COST_PROFILE_MAX_N] = {0}, *timed[COST_PROFILE_MAX_N] = {0};
    double *whole = NULL, *node_ms = NULL;
    int ns = 0;
    rt_options o_plain = {0}, o_timed = {.profile = 1};
    for (int k = 0; k < n_prof; k++) {
        if ((st = rt_plan_create(ctx, g, NULL, 0, NULL, 0, in, &o_plain, &plain[k]))) goto out;
        if ((st = rt_plan_create(ctx, g, NULL, 0, NULL, 0, in, &o_timed, &timed[k]))) goto out;
    }
    ns = rt_plan_n_steps(timed[0]);
    for (int k = 1; k < n_prof; k++)
        if (rt_plan_n_steps(timed[k]) != ns) {
            st = cv_fail(ctx, CLEAVE_E_INTERNAL, "profile: two compilations of one graph differ in steps (%d, %d)",
                         ns, rt_plan_n_steps(timed[k]));
            goto out;
        }
    if (min_block_ms > 0) {
        /* estimate a run's time from warm-up runs (at least ~50 ms of them) */
        int runs = 0;
        double t0 = cv_now_ms(), el = 0;
        while (runs < (warmup > 1 ? warmup : 1) || (el < 50 && runs < 10000)) {
            if ((st = rt_plan_run(plain[0], in))) goto out;
            runs++;
            el = cv_now_ms() - t0;
        }
        double want = min_block_ms / (el / runs);
        if (want > repeat) repeat = want > 20000 ? 20000 : (int)want;
        warmup = 1; /* done for plain[0]; one untimed run for every other plan's first block */
    }
    if (rounds > repeat) rounds = repeat;
    size_t per = (size_t)repeat * (size_t)n_prof;
    whole = cv_malloc(sizeof(double) * per);
    node_ms = cv_malloc(sizeof(double) * per * (size_t)(ns > 0 ? ns : 1));
    if (!whole || !node_ms) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "profile: out of memory");
        goto out;
    }
    /* Rounds: each profile's whole-model block, then each one's per-node
     * block. A plan's first block starts with the warm-up runs, a later one
     * with one untimed run (another plan's weights were in the caches). */
    int untimed_later = rounds > 1 ? 1 : 0;
    int total = 2 * n_prof * (warmup + repeat + (rounds - 1) * untimed_later), done = 0;
    for (int rd = 0; rd < rounds; rd++) {
        int r0 = (int)((long long)repeat * rd / rounds), r1 = (int)((long long)repeat * (rd + 1) / rounds);
        int untimed = rd == 0 ? warmup : untimed_later;
        for (int k = 0; k < n_prof; k++) {
            double *wk = whole + (size_t)k * repeat;
            if ((st = run_untimed(plain[k], in, untimed, gap_ms, progress, user, &done, total))) goto out;
            for (int r = r0; r < r1; r++) {
                cv_sleep_ms(gap_ms);
                double t0 = cv_now_ms();
                if ((st = rt_plan_run(plain[k], in))) goto out;
                wk[r] = cv_now_ms() - t0;
                if (progress) progress(user, ++done, total);
            }
        }
        for (int k = 0; k < n_prof; k++) {
            double *nk = node_ms + (size_t)k * repeat * (size_t)ns;
            if ((st = run_untimed(timed[k], in, untimed, gap_ms, progress, user, &done, total))) goto out;
            for (int r = r0; r < r1; r++) {
                cv_sleep_ms(gap_ms);
                rt_plan_reset_profile(timed[k]);
                if ((st = rt_plan_run(timed[k], in))) goto out;
                for (int s = 0; s < ns; s++)
                    nk[(size_t)s * repeat + r] = (double)rt_plan_step_ns(timed[k], s) / 1e6;
                if (progress) progress(user, ++done, total);
            }
        }
    }
    for (int k = 0; k < n_prof && !st; k++)
        st = profile_fill(ctx, g, timed[k], in, n_in, whole + (size_t)k * repeat,
                          node_ms + (size_t)k * repeat * (size_t)ns, repeat, warmup, gap_ms, &out[k]);
    if (!st)
        for (int k = 0; k < n_prof; k++) out[k].rounds = rounds;
out:
    if (st)
        for (int k = 0; k < n_prof; k++) cost_profile_free(&out[k]);
    cv_free(whole);
    cv_free(node_ms);
    for (int k = 0; k < n_prof; k++) {
        rt_plan_destroy(plain[k]);
        rt_plan_destroy(timed[k]);
    }
    return st;
}

/* ---- file format ---- */

static json_t *num(double x) { return json_real(round(x * 1e5) / 1e5); }

static json_t *stat_json(const cost_stat *s) {
    json_t *o = json_object();
    json_object_set_new(o, "median_ms", num(s->median_ms));
    json_object_set_new(o, "mean_ms", num(s->mean_ms));
    json_object_set_new(o, "min_ms", num(s->min_ms));
    json_object_set_new(o, "p10_ms", num(s->p10_ms));
    json_object_set_new(o, "p90_ms", num(s->p90_ms));
    return o;
}

cleave_status cost_profile_save(cleave_ctx *ctx, const char *path, const cost_profile *p) {
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string("cleave-profile"));
    json_object_set_new(root, "version", json_integer(COST_PROFILE_VERSION));
    json_object_set_new(root, "model", json_string(p->model ? p->model : ""));
    json_object_set_new(root, "model_sha256", json_string(p->model_sha256));
    json_object_set_new(root, "device", json_string(p->device));
    json_object_set_new(root, "emulation", json_string(p->emulation));
    json_object_set_new(root, "dtype", json_string(cost_dtype_name(p->dtype)));
    json_object_set_new(root, "threads", json_integer(p->threads));
    json_object_set_new(root, "warmup", json_integer(p->warmup));
    json_object_set_new(root, "repeat", json_integer(p->repeat));
    if (p->rounds > 1) json_object_set_new(root, "rounds", json_integer(p->rounds));
    if (p->gap_ms > 0) json_object_set_new(root, "gap_ms", json_real(p->gap_ms));
    if (p->request_ms > 0) json_object_set_new(root, "request_ms", num(p->request_ms));
    json_object_set_new(root, "inputs", json_string(p->input_shapes));
    json_object_set_new(root, "whole", stat_json(&p->whole));
    json_object_set_new(root, "nodes_sum_median_ms", num(cost_profile_sum_median(p)));
    json_object_set_new(root, "nodes_sum_mean_ms", num(cost_profile_sum_mean(p)));
    json_t *arr = json_array();
    for (int i = 0; i < p->n; i++) {
        const cost_features *f = &p->nodes[i].f;
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(f->name));
        json_object_set_new(o, "op", json_string(f->op_type));
        json_object_set_new(o, "class", json_string(cost_op_class_name(f->cls)));
        json_object_set_new(o, "dtype", json_string(cost_dtype_name(f->dtype)));
        json_object_set_new(o, "time", stat_json(&p->nodes[i].t));
        json_object_set_new(o, "macs", json_integer((json_int_t)f->macs));
        json_object_set_new(o, "flops", json_integer((json_int_t)f->flops));
        json_object_set_new(o, "in_bytes", json_integer((json_int_t)f->in_bytes));
        json_object_set_new(o, "out_bytes", json_integer((json_int_t)f->out_bytes));
        json_object_set_new(o, "param_bytes", json_integer((json_int_t)f->param_bytes));
        json_object_set_new(o, "out_elems", json_integer((json_int_t)f->out_elems));
        json_object_set_new(o, "kernel", json_pack("[ii]", f->kh, f->kw));
        json_object_set_new(o, "stride", json_integer(f->stride));
        json_object_set_new(o, "groups", json_integer(f->groups));
        json_object_set_new(o, "cin", json_integer(f->cin));
        json_object_set_new(o, "cout", json_integer(f->cout));
        json_object_set_new(o, "out_hw", json_pack("[II]", (json_int_t)f->out_h, (json_int_t)f->out_w));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "nodes", arr);
    char *txt = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(12));
    json_decref(root);
    if (!txt) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot format the profile", path);
    size_t len = strlen(txt);
    txt[len] = '\n';
    cleave_status st = cv_write_file(ctx, path, txt, len + 1);
    free(txt);
    return st;
}

static int get_num(json_t *o, const char *k, double *v) {
    json_t *x = json_object_get(o, k);
    if (!json_is_number(x)) return 0;
    *v = json_number_value(x);
    return isfinite(*v) && *v >= 0;
}

static cleave_status stat_parse(cleave_ctx *ctx, const char *path, const char *where, json_t *o,
                                cost_stat *s) {
    if (!json_is_object(o) || !get_num(o, "median_ms", &s->median_ms) ||
        !get_num(o, "mean_ms", &s->mean_ms) || !get_num(o, "min_ms", &s->min_ms) ||
        !get_num(o, "p10_ms", &s->p10_ms) || !get_num(o, "p90_ms", &s->p90_ms))
        return cv_fail(ctx, CLEAVE_E_PARSE,
                       "%s: %s: needs median_ms, mean_ms, min_ms, p10_ms, p90_ms (numbers >= 0)",
                       path, where);
    return CLEAVE_OK;
}

static const char *str_of(json_t *o, const char *k) {
    json_t *x = json_object_get(o, k);
    return json_is_string(x) ? json_string_value(x) : NULL;
}

#define PROFILE_MAX_BYTES (64u << 20)
#define PROFILE_MAX_NODES 100000

cleave_status cost_profile_load(cleave_ctx *ctx, const char *path, const char *expect_sha256,
                                cost_profile *p) {
    memset(p, 0, sizeof *p);
    uint8_t *buf = NULL;
    size_t len = 0;
    CV_TRY(cv_read_file(ctx, path, PROFILE_MAX_BYTES, &buf, &len));
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf, len, 0, &jerr);
    cv_free(buf);
    if (!root)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d: not JSON: %s", path, jerr.line, jerr.text);
    cleave_status st = CLEAVE_OK;
    const char *fmt = str_of(root, "format"), *sha = str_of(root, "model_sha256");
    json_t *ver = json_object_get(root, "version"), *nodes = json_object_get(root, "nodes");
    if (!fmt || strcmp(fmt, "cleave-profile")) {
        st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: not a cleave profile (format is not \"cleave-profile\")", path);
        goto out;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != COST_PROFILE_VERSION) {
        st = cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: profile version %lld, this cleave reads %d", path,
                     json_is_integer(ver) ? (long long)json_integer_value(ver) : -1LL,
                     COST_PROFILE_VERSION);
        goto out;
    }
    if (!sha || strlen(sha) != 64) {
        st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: model_sha256: missing or not 64 hex digits", path);
        goto out;
    }
    snprintf(p->model_sha256, sizeof p->model_sha256, "%s", sha);
    if (expect_sha256 && strcmp(expect_sha256, sha)) {
        st = cv_fail(ctx, CLEAVE_E_INVALID,
                     "%s: profile of a different model (its model_sha256 %.12s... is not the "
                     "model's %.12s...)", path, sha, expect_sha256);
        goto out;
    }
    const char *model = str_of(root, "model"), *dev = str_of(root, "device"),
               *emu = str_of(root, "emulation"), *dt = str_of(root, "dtype"),
               *ins = str_of(root, "inputs");
    p->model = cv_strdup(model ? model : "");
    snprintf(p->device, sizeof p->device, "%s", dev ? dev : "");
    snprintf(p->emulation, sizeof p->emulation, "%s", emu ? emu : "");
    snprintf(p->input_shapes, sizeof p->input_shapes, "%s", ins ? ins : "");
    int d = cost_dtype_parse(dt);
    if (d < 0) {
        st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: dtype: must be \"fp32\" or \"int8\"", path);
        goto out;
    }
    p->dtype = (cost_dtype)d;
    json_t *th = json_object_get(root, "threads");
    p->threads = json_is_integer(th) ? (int)json_integer_value(th) : 0;
    if (p->threads < 1 || p->threads > 4096) {
        st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: threads: must be an integer in 1..4096", path);
        goto out;
    }
    json_t *x = json_object_get(root, "warmup");
    p->warmup = json_is_integer(x) ? (int)json_integer_value(x) : 0;
    x = json_object_get(root, "repeat");
    p->repeat = json_is_integer(x) ? (int)json_integer_value(x) : 0;
    x = json_object_get(root, "rounds");
    p->rounds = x && json_is_integer(x) ? (int)json_integer_value(x) : 1;
    if ((x && !json_is_integer(x)) || p->rounds < 1 || p->rounds > 1000) {
        st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: rounds: must be an integer in 1..1000 (absent: 1)", path);
        goto out;
    }
    x = json_object_get(root, "gap_ms");
    p->gap_ms = json_is_number(x) ? json_number_value(x) : 0;
    x = json_object_get(root, "request_ms");
    p->request_ms = json_is_number(x) ? json_number_value(x) : 0;
    if (!(p->request_ms >= 0 && p->request_ms < 1e6)) {
        st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: request_ms: must be a number >= 0", path);
        goto out;
    }
    if ((st = stat_parse(ctx, path, "whole", json_object_get(root, "whole"), &p->whole))) goto out;
    if (!json_is_array(nodes) || json_array_size(nodes) > PROFILE_MAX_NODES) {
        st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: nodes: missing, not an array or over %d entries",
                     path, PROFILE_MAX_NODES);
        goto out;
    }
    int n = (int)json_array_size(nodes);
    p->nodes = cv_calloc(n > 0 ? (size_t)n : 1, sizeof *p->nodes);
    if (!p->nodes) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        json_t *o = json_array_get(nodes, (size_t)i);
        cost_prof_node *pn = &p->nodes[i];
        const char *name = str_of(o, "name"), *op = str_of(o, "op"), *cls = str_of(o, "class");
        if (!name || !op || !cls) {
            st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: nodes[%d]: needs name, op and class", path, i);
            goto out;
        }
        pn->f.name = cv_strdup(name);
        pn->f.op_type = cv_strdup(op);
        p->n = i + 1;
        if (!pn->f.name || !pn->f.op_type) {
            st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
            goto out;
        }
        pn->f.node = i;
        int c = 0;
        while (c < COST_OP_N && strcmp(cost_op_class_name((cost_op_class)c), cls)) c++;
        if (c == COST_OP_N) {
            st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: node '%s': unknown class '%s'", path, name, cls);
            goto out;
        }
        pn->f.cls = (cost_op_class)c;
        int nd = cost_dtype_parse(str_of(o, "dtype"));
        pn->f.dtype = nd < 0 ? COST_DT_FP32 : (cost_dtype)nd;
        char where[160];
        snprintf(where, sizeof where, "node '%.100s': time", name);
        if ((st = stat_parse(ctx, path, where, json_object_get(o, "time"), &pn->t))) goto out;
        double v;
        pn->f.macs = get_num(o, "macs", &v) ? v : 0;
        pn->f.flops = get_num(o, "flops", &v) ? v : 0;
        pn->f.in_bytes = get_num(o, "in_bytes", &v) ? v : 0;
        pn->f.out_bytes = get_num(o, "out_bytes", &v) ? v : 0;
        pn->f.param_bytes = get_num(o, "param_bytes", &v) ? v : 0;
        pn->f.out_elems = get_num(o, "out_elems", &v) ? v : 0;
        pn->f.stride = get_num(o, "stride", &v) ? (int)v : 0;
        pn->f.groups = get_num(o, "groups", &v) ? (int)v : 0;
        pn->f.cin = get_num(o, "cin", &v) ? (int64_t)v : 0;
        pn->f.cout = get_num(o, "cout", &v) ? (int64_t)v : 0;
        json_t *k = json_object_get(o, "kernel"), *hw = json_object_get(o, "out_hw");
        if (json_is_array(k) && json_array_size(k) == 2) {
            pn->f.kh = (int)json_integer_value(json_array_get(k, 0));
            pn->f.kw = (int)json_integer_value(json_array_get(k, 1));
        }
        if (json_is_array(hw) && json_array_size(hw) == 2) {
            pn->f.out_h = json_integer_value(json_array_get(hw, 0));
            pn->f.out_w = json_integer_value(json_array_get(hw, 1));
        }
    }
out:
    json_decref(root);
    if (st) cost_profile_free(p);
    return st;
}
