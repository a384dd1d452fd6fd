/* cleave run --plan: the edge client. Runs the head of a plan solution with
 * cleave's engine (the edge layers quantized and lowered to integer
 * kernels, exactly as `cleave plan --measure` evaluates them), sends the
 * tensors at the cut to a KServe v2 server (low-bit packed, zstd when it
 * pays on the measured link), and records per input where the time went.
 * With several solutions in the plan it re-prices them with the bandwidth
 * it measures from its own transfers (and small probes when its requests
 * are too small to tell) and switches to the fastest; when the server is
 * slow or down it answers on the device: an early exit the head already
 * computed, else the rest of the model run locally (the same numbers the
 * cloud would return). docs/run.md. */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "cli/cli.h"
#include "cli/cli_quant.h"
#include "cli/cmd_edge.h"
#include "cost/device.h"
#include "cost/emulate.h"
#include "cost/link.h"
#include "net/http_client.h"
#include "net/v2.h"
#include "plan/split.h"

static void help(void) {
    printf("usage: cleave run --plan plan.json --server URL --data SPEC [options]\n\n"
           "The edge client: runs the head of a plan's solution, sends the cut tensors to a\n"
           "KServe v2 server (`cleave serve`), and prints one JSON line per input and a summary\n"
           "(docs/run.md). Without --solution it adapts: every feasible solution of the plan\n"
           "is re-priced with the bandwidth measured from its own transfers and the fastest\n"
           "runs. When the server times out or is down the answer comes from the device.\n\n"
           "options:\n"
           "  --plan F            plan.json made by `cleave plan`\n"
           "  --server URL        e.g. http://10.77.0.1:8000\n"
           "  --model-name NAME   model name on the server (default: the model file's name)\n"
           "  --model F           the model file (default: the plan's \"model\")\n"
           "  --stats F           activation statistics (default: the plan's statistics_file)\n"
           "  --data SPEC         fashion-mnist[:DIR] | random | FILE.npy (test split)\n"
           "  --n N               inputs to run (default 100)\n"
           "  --solution K|NAME   run only solution K (id) or the first of method NAME\n"
           "                      (auto-split, cloud-only, edge-u8, neurosurgeon, ...);\n"
           "                      'recommended' = the plan's choice\n"
           "  --compare LIST      run the same inputs through each listed solution in turn\n"
           "                      (ids or method names, comma-separated; 'all' = every\n"
           "                      solution) and print predicted vs measured per solution\n"
           "  --rtt MS            emulated round trip added by the client (default: the plan's)\n"
           "  --timeout-ms T      a request slower than this is answered on the device\n"
           "                      (default 1000)\n"
           "  --fallback exit|tail  local answer: an early exit computed on the edge (when the\n"
           "                      model has one) or the rest of the model (default exit)\n"
           "  --probe-ms T        probe the link when no request told the bandwidth for T ms\n"
           "                      (default 1000 when adapting; with --solution/--compare only\n"
           "                      one probe at the start; 0 = never)\n"
           "  --cc NAME           TCP congestion control of the connection (e.g. cubic; default:\n"
           "                      the system's)\n"
           "  --compress auto|never|always  zstd request bodies (auto: when it pays at the\n"
           "                      measured bandwidth; default auto)\n"
           "  --edge-slowdown F   emulate an edge F times slower than this core: every edge\n"
           "                      computation is stretched to F x its time (default 1)\n"
           "  --edge-device F     the same with F = this machine (--host-device, default\n"
           "                      devices/this-machine.json) / device F, one core\n"
           "  --host-device F     description of this machine\n"
           "  --interval-ms T     inputs arrive every T ms (a camera at 1000/T frames/s); an\n"
           "                      input that finds the previous one still running waits for\n"
           "                      it (default 0: back to back)\n"
           "  --warmup N          untimed requests per solution first (default 2)\n"
           "  --cpu N             pin the client to CPU N (default: not pinned)\n"
           "  --threads N         engine threads on the edge (default 1)\n"
           "  --ref               reference C kernels only (those of a build without oneDNN,\n"
           "                      e.g. the aarch64 edge build)\n"
           "  --log F             JSON lines to F instead of stdout\n"
           "  --summary-json F    the summary as JSON\n"
           "  -h, --help          this text\n");
}

static void dilate(const edge_run *r, double host_ms) { cv_sleep_ms((r->slowdown - 1) * host_ms); }

/* The v2 request body for input idx: the first time through
 * net_v2_request_encode, whose JSON header (constant for a solution but
 * the id, written as 8 digits) is kept; afterwards that header with the id
 * replaced, then each tensor's binary section (packed codes or raw
 * bytes): after an idle wait the JSON library's code is cold, and
 * rebuilding the same header cost about 50 us of edge CPU per request. */
static cleave_status encode_request(edge_run *r, esol *e, const net_v2_input *vin, int n, int idx,
                                    net_buf *body, size_t *hl) {
    char id[16];
    snprintf(id, sizeof id, "%08d", idx % 100000000);
    if (!e->req_hdr) {
        CV_TRY(net_v2_request_encode(r->ctx, id, vin, n, NULL, 0, 1, NULL, body, hl));
        char key[32];
        int kl = snprintf(key, sizeof key, "\"id\":\"%s\"", id);
        size_t at = 0; /* where the key starts in the header (a bounded search: binary data follows) */
        while (at + (size_t)kl <= *hl && memcmp(body->data + at, key, (size_t)kl)) at++;
        if (at + (size_t)kl <= *hl && (e->req_hdr = cv_malloc(*hl))) {
            memcpy(e->req_hdr, body->data, *hl);
            e->req_hdr_len = *hl;
            e->id_off = at + 6; /* past "id":" */
        }
        return CLEAVE_OK;
    }
    size_t total = e->req_hdr_len;
    for (int c = 0; c < n; c++) {
        size_t numel = (size_t)cv_numel(vin[c].t);
        total += vin[c].quant_bits ? q_packed_bytes(numel, vin[c].quant_bits)
                                   : numel * cv_dtype_size(vin[c].t->dtype);
    }
    CV_TRY(net_buf_reserve(r->ctx, body, total));
    memcpy(body->data, e->req_hdr, e->req_hdr_len);
    memcpy(body->data + e->id_off, id, 8);
    size_t at = e->req_hdr_len;
    for (int c = 0; c < n; c++) {
        size_t numel = (size_t)cv_numel(vin[c].t);
        if (vin[c].quant_bits) {
            q_pack_u(vin[c].t->data, numel, vin[c].quant_bits, body->data + at);
            at += q_packed_bytes(numel, vin[c].quant_bits);
        } else {
            size_t nb = numel * cv_dtype_size(vin[c].t->dtype);
            memcpy(body->data + at, vin[c].t->data, nb);
            at += nb;
        }
    }
    body->len = at;
    *hl = e->req_hdr_len;
    return CLEAVE_OK;
}

static int is_graph_input(const ir_graph *g, int v) { return g->values[v].is_input && !g->values[v].is_initializer; }

static cleave_status build_sol(edge_run *r, int k) {
    esol *e = &r->es[k];
    if (e->built) return CLEAVE_OK;
    if (e->failed) return CLEAVE_E_INVALID;
    const plan_file_solution *s = &r->pf.sol[k];
    cleave_status st = plan_split_build(r->ctx, r->m.g, r->m.layers, r->m.n_layers, &r->st, s, 1, &e->sp);
    if (st) {
        e->failed = 1;
        return st;
    }
    const plan_split *sp = &e->sp;
    int outs[NET_V2_MAX_TENSORS * 2], n = 0;
    e->head_slot = cv_calloc((size_t)sp->n_cross + 1, sizeof(int));
    if (!e->head_slot) return cv_fail(r->ctx, CLEAVE_E_NOMEM, "out of memory");
    for (int c = 0; c < sp->n_cross; c++) {
        if (is_graph_input(sp->g, sp->codes[c])) {
            e->head_slot[c] = -1;
            continue;
        }
        e->head_slot[c] = n;
        outs[n++] = sp->codes[c];
    }
    for (int j = 0; j < sp->n_edge_out; j++) outs[n++] = sp->edge_out[j];
    e->n_head_out = n;
    if (n) {
        int in_id = -1;
        for (int i = 0; i < sp->g->n_inputs; i++)
            if (is_graph_input(sp->g, sp->g->inputs[i])) in_id = sp->g->inputs[i];
        /* activations below 8 bits held packed, as the plan counts them
         * (the reference kernels'; a fast backend's blocked layouts keep bytes) */
        const rt_options hopt = {.pack_activations = 1};
        st = rt_plan_create(r->ctx, sp->g, &in_id, 1, outs, n, &r->m.in_spec, &hopt, &e->head);
        if (st) {
            e->failed = 1;
            plan_split_free(&e->sp);
            return st;
        }
    }
    e->built = 1;
    return CLEAVE_OK;
}

/* The local tail (codes -> cloud outputs) of solution k, compiled on first use. */
static cleave_status build_tail(edge_run *r, int k, const cv_tensor *codes) {
    esol *e = &r->es[k];
    if (e->tail || !e->sp.n_cloud_out) return CLEAVE_OK;
    return rt_plan_create(r->ctx, e->sp.g, e->sp.codes, e->sp.n_cross, e->sp.cloud_out, e->sp.n_cloud_out, codes,
                          NULL, &e->tail);
}

/* ------------------------------------------------------------ one input */

static int argmax_of(const cv_tensor *t) {
    if (!t || t->dtype != CV_F32) return -1;
    return (int)quant_argmax(t->data, cv_numel(t));
}

/* Answer on the device: an early exit the head computed, else the tail. */
static cleave_status local_answer(edge_run *r, int k, const cv_tensor *codes, rec *o) {
    esol *e = &r->es[k];
    double t0 = cv_now_ms();
    if (r->fallback_exit && e->sp.n_edge_out) {
        /* the deepest exit computed on the edge */
        int slot = e->n_head_out - 1;
        o->pred = argmax_of(rt_plan_output(e->head, slot));
        o->fallback = 1;
        return CLEAVE_OK;
    }
    CV_TRY(build_tail(r, k, codes));
    double t1 = cv_now_ms();
    if (e->tail) {
        CV_TRY(rt_plan_run(e->tail, codes));
        int best = 0;
        for (int j = 0; j < e->sp.n_cloud_out; j++)
            if (e->sp.cloud_out[j] == r->answer_out) best = j;
        o->pred = argmax_of(rt_plan_output(e->tail, best));
    }
    double host = cv_now_ms() - t1;
    dilate(r, host);
    o->edge_ms += cv_now_ms() - t0;
    o->fallback = 2;
    return CLEAVE_OK;
}

static cleave_status run_one(edge_run *r, int k, const float *x, rec *o) {
    esol *e = &r->es[k];
    const plan_split *sp = &e->sp;
    double t0 = cv_now_ms();
    cv_tensor in = r->m.in_spec;
    in.data = (void *)x;
    if (e->head) CV_TRY(rt_plan_run(e->head, &in));
    double head_host = cv_now_ms() - t0;
    /* Time dilation stretches the head and the encoding that follows it in
     * one sleep after both, as a slower core runs them back to back (a
     * sleep between them would leave the encoder's caches idle and cold). */
    double undilated = head_host; /* host ms not stretched yet */
    if (!sp->n_cross || r->server_down) dilate(r, head_host), undilated = 0;
    o->edge_ms = undilated > 0 ? head_host * r->slowdown : cv_now_ms() - t0;
    /* the codes of every crossing tensor */
    cv_tensor codes[NET_V2_MAX_TENSORS];
    for (int c = 0; c < sp->n_cross; c++) codes[c] = e->head_slot[c] < 0 ? in : *rt_plan_output(e->head, e->head_slot[c]);
    if (!sp->n_cross) { /* edge-only: the answer is on the device */
        int best = e->n_head_out - 1;
        for (int j = 0; j < sp->n_edge_out; j++)
            if (sp->edge_out[j] == r->answer_out) best = j + (e->n_head_out - sp->n_edge_out);
        o->pred = argmax_of(rt_plan_output(e->head, best));
        o->total_ms = cv_now_ms() - t0;
        return CLEAVE_OK;
    }
    /* server down: probe its health now and then, meanwhile answer here */
    if (r->server_down) {
        if (cv_now_ms() >= r->next_health_ms) {
            net_http_result hr;
            net_http_client_set_timeout(r->http, 300);
            cleave_status hs = net_http_client_get(r->http, r->ready_url, &hr);
            if (!hs && hr.status == 200) r->server_down = 0;
            else cleave_ctx_clear_error(r->ctx);
            net_http_result_free(&hr);
            r->next_health_ms = cv_now_ms() + 500;
        }
        if (r->server_down) {
            CV_TRY(local_answer(r, k, codes, o));
            o->total_ms = cv_now_ms() - t0;
            return CLEAVE_OK;
        }
    }
    /* encode */
    double t1 = cv_now_ms();
    net_v2_input vin[NET_V2_MAX_TENSORS];
    for (int c = 0; c < sp->n_cross; c++) {
        vin[c] = (net_v2_input){.name = sp->names[c], .t = &codes[c]};
        if (sp->bits[c] <= 8) {
            vin[c].quant_bits = sp->bits[c];
            vin[c].quant_scale = sp->scale[c];
            vin[c].quant_zero_point = sp->zero_point[c];
        }
    }
    net_buf body = {0}, z = {0};
    size_t hl = 0;
    cleave_status st = encode_request(r, e, vin, sp->n_cross, o->idx, &body, &hl);
    if (st) return st;
    const uint8_t *send = body.data;
    size_t send_len = body.len;
    if (r->compress) {
        double tz = cv_now_ms();
        if (!net_compress(r->ctx, NET_ENC_ZSTD, body.data, body.len, 1, &z)) {
            double zms = (cv_now_ms() - tz) * r->slowdown;
            double saved_ms = ((double)body.len - (double)z.len) * 8 / (r->bw.mbit * 1e3);
            if (r->compress == 2 || (z.len < body.len && saved_ms > zms + 0.05)) {
                send = z.data, send_len = z.len;
                o->compressed = 1;
            }
        } else {
            cleave_ctx_clear_error(r->ctx);
        }
    }
    dilate(r, undilated + (cv_now_ms() - t1));
    o->encode_ms = cv_now_ms() - t1 - undilated * (r->slowdown - 1);
    o->sent = (double)body.len;
    o->wire_sent = (double)send_len;
    /* send */
    char h1[80], h2[40];
    const char *hdrs[2];
    int nh = 0;
    snprintf(h1, sizeof h1, "Inference-Header-Content-Length: %zu", hl);
    hdrs[nh++] = h1;
    if (o->compressed) {
        snprintf(h2, sizeof h2, "Content-Encoding: zstd");
        hdrs[nh++] = h2;
    }
    net_http_result res;
    net_http_client_set_timeout(r->http, r->timeout_ms);
    /* the bucket when the bytes leave: after the first half of the RTT */
    double t2 = cv_now_ms(), bucket = edge_bucket_now(r, r->rtt_ms / 2);
    st = net_http_client_post_h(r->http, r->infer_url, "application/octet-stream", hdrs, nh, send, send_len, &res);
    double http_ms = cv_now_ms() - t2;
    edge_bucket_spend(r, (double)send_len, bucket);
    net_buf_free(&body);
    net_buf_free(&z);
    if (st || res.status != 200) {
        /* down, too slow or refusing: answer here, go on locally */
        if (st) {
            fprintf(stderr, "cleave run: input %d: %s: answering on the device\n", o->idx, cleave_ctx_error(r->ctx));
            cleave_ctx_clear_error(r->ctx);
        } else {
            fprintf(stderr, "cleave run: input %d: server answered %ld: %.200s: answering on the device\n", o->idx,
                    res.status, res.body ? (const char *)res.body : "");
        }
        net_http_result_free(&res);
        r->server_down = 1;
        r->next_health_ms = cv_now_ms() + 500;
        o->transfer_ms = http_ms;
        CV_TRY(local_answer(r, k, codes, o));
        o->total_ms = cv_now_ms() - t0;
        return CLEAVE_OK;
    }
    /* decode */
    double t3 = cv_now_ms();
    net_v2_response resp;
    st = net_v2_response_parse(r->ctx, res.body, res.body_len, res.infer_header_len[0] ? res.infer_header_len : NULL,
                               &resp);
    if (st) {
        net_http_result_free(&res);
        return st;
    }
    double server = 0;
    const char *keys[] = {"server_compute_ms", "server_decode_ms", "server_queue_ms", "server_compile_ms"};
    for (int i = 0; i < 4; i++) server += json_number_value(json_object_get(resp.parameters, keys[i]));
    int best = resp.n_outputs - 1;
    for (int j = 0; j < resp.n_outputs; j++)
        if (!strcmp(resp.outputs[j].name, r->m.g->values[r->answer_out].name)) best = j;
    cv_tensor ot = {0};
    if (best >= 0) st = net_v2_tensor_decode(r->ctx, &resp.outputs[best], &ot);
    if (!st) o->pred = argmax_of(&ot);
    cv_aligned_free(ot.data);
    net_v2_response_free(&resp);
    dilate(r, cv_now_ms() - t3);
    o->decode_ms = cv_now_ms() - t3;
    o->server_ms = server;
    o->transfer_ms = http_ms - server;
    edge_bw_sample(r, o->wire_sent, res.t.curl_total_ms - server);
    net_http_result_free(&res);
    o->total_ms = cv_now_ms() - t0;
    return st;
}

/* --------------------------------------------------------------- command */

/* "recommended", a solution id or a method name -> index, or -1. */
static int find_solution(const plan_file *pf, const char *sel) {
    if (!strcmp(sel, "recommended")) return plan_file_recommended(pf);
    char *e;
    long v = strtol(sel, &e, 10);
    return e != sel && !*e ? plan_file_find(pf, (int)v) : plan_file_find_method(pf, sel);
}

int cmd_edge(int argc, char **argv) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    edge_run r;
    memset(&r, 0, sizeof r);
    r.pending = -1;
    r.ctx = ctx;
    r.slowdown = 1;
    r.timeout_ms = 1000;
    r.compress = 1;
    r.fallback_exit = 1;
    r.probe_ms = -1; /* default: 1000 when adapting, none for fixed solutions */
    r.rtt_ms = -1;
    const char *plan_p = NULL, *server = NULL, *model_name = NULL, *model_p = NULL, *stats_p = NULL;
    const char *data = NULL, *sol_sel = NULL, *compare = NULL, *edge_dev = NULL, *log_p = NULL, *sum_p = NULL;
    const char *host_dev = "devices/this-machine.json", *tcp_cc = NULL;
    int n = 100, cpu = -1, rc = 1;
    double interval = 0;
    char name_buf[256];
    int warmup = 2;
    cli_dataset ds;
    memset(&ds, 0, sizeof ds);
    int have_ds = 0, have_stats = 0, have_pf = 0;
    rec *rv = NULL;
    float *x = NULL;
    int *order = NULL, n_order = 0;
    int threads = 1;
    const cli_int_opt ints[] = {{"--n", 1, 10000000, &n},
                                {"--warmup", 0, 1000, &warmup},
                                {"--cpu", 0, 4095, &cpu},
                                {"--threads", 1, 4096, &threads},
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
#define STR(opt, var)                  \
    else if (!strcmp(a, opt) && v) {   \
        var = v;                       \
        i++;                           \
    }
        STR("--plan", plan_p) STR("--server", server) STR("--model-name", model_name) STR("--model", model_p)
        STR("--stats", stats_p) STR("--data", data) STR("--solution", sol_sel) STR("--compare", compare)
        STR("--edge-device", edge_dev) STR("--host-device", host_dev) STR("--log", log_p)
        STR("--summary-json", sum_p)
#undef STR
        else if (!strcmp(a, "--timeout-ms")) {
            int t;
            if (!cli_parse_int(a, v, 1, 3600000, &t)) goto out;
            r.timeout_ms = t;
            i++;
        } else if (!strcmp(a, "--rtt") || !strcmp(a, "--probe-ms") || !strcmp(a, "--edge-slowdown") ||
                   !strcmp(a, "--interval-ms")) {
            char *e;
            double d = v ? strtod(v, &e) : NAN;
            int bad = !v || *e || !(d >= 0 && d <= 1e6) || (!strcmp(a, "--edge-slowdown") && d < 1);
            if (bad) {
                fprintf(stderr, "cleave run: %s needs a number%s\n", a,
                        !strcmp(a, "--edge-slowdown") ? " >= 1" : " >= 0 (ms)");
                goto out;
            }
            if (!strcmp(a, "--rtt")) r.rtt_ms = d;
            else if (!strcmp(a, "--probe-ms")) r.probe_ms = d;
            else if (!strcmp(a, "--interval-ms")) interval = d;
            else r.slowdown = d;
            i++;
        } else if (!strcmp(a, "--fallback") && v) {
            if (strcmp(v, "exit") && strcmp(v, "tail")) {
                fprintf(stderr, "cleave run: --fallback must be exit or tail\n");
                goto out;
            }
            r.fallback_exit = !strcmp(v, "exit");
            i++;
        } else if (!strcmp(a, "--ref")) {
            cleave_ctx_set_fast(ctx, 0);
        } else if (!strcmp(a, "--cc") && v) {
            tcp_cc = v, i++;
        } else if (!strcmp(a, "--compress") && v) {
            r.compress = !strcmp(v, "never") ? 0 : !strcmp(v, "auto") ? 1 : !strcmp(v, "always") ? 2 : -1;
            if (r.compress < 0) {
                fprintf(stderr, "cleave run: --compress must be auto, never or always\n");
                goto out;
            }
            i++;
        } else {
            cli_bad_option("run", a);
            goto out;
        }
    }
    cleave_ctx_set_threads(ctx, threads);
    if (!plan_p || !server || !data) {
        fprintf(stderr, "cleave run: the edge client needs --plan, --server and --data (see --help)\n");
        goto out;
    }
    if (sol_sel && compare) {
        fprintf(stderr, "cleave run: --solution and --compare exclude each other\n");
        goto out;
    }
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1UL); /* emulated delays end on time, not 50 us late */
#endif
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set)) {
            fprintf(stderr, "cleave run: cannot pin to CPU %d\n", cpu);
            goto out;
        }
    }
    if (edge_dev) {
        cost_device hd, ed;
        if (cost_device_load(ctx, host_dev, &hd) || cost_device_load(ctx, edge_dev, &ed)) goto err;
        if (cost_emu_slowdown(ctx, &hd, &ed, COST_DT_FP32, 0, &r.slowdown, NULL, NULL)) goto err;
        if (r.slowdown < 1) r.slowdown = 1;
    }
    /* the plan, its model and statistics */
    {
        /* first the model named by the plan (its layers are needed to read it) */
        json_error_t je;
        json_t *pj = json_load_file(plan_p, 0, &je);
        if (!pj) {
            fprintf(stderr, "cleave run: %s: %s (line %d)\n", plan_p, je.text, je.line);
            goto out;
        }
        const char *pm = json_string_value(json_object_get(pj, "model"));
        char mp[4096];
        snprintf(mp, sizeof mp, "%s", model_p ? model_p : pm ? pm : "");
        json_decref(pj);
        if (!mp[0]) {
            fprintf(stderr, "cleave run: %s names no model; give --model\n", plan_p);
            goto out;
        }
        if (cli_qmodel_load(ctx, mp, &r.m)) goto err;
        r.m.path = NULL;
        if (plan_file_load(ctx, plan_p, r.m.layers, r.m.n_layers, &r.pf)) goto err;
        have_pf = 1;
        char sha[65];
        if (cv_sha256_file(ctx, mp, sha)) goto err;
        if (r.pf.model_sha256 && r.pf.model_sha256[0] && strcmp(sha, r.pf.model_sha256)) {
            fprintf(stderr, "cleave run: %s was made for another model than %s (sha256 %.12s... vs %.12s...)\n", plan_p,
                    mp, r.pf.model_sha256, sha);
            goto out;
        }
        if (!stats_p) stats_p = r.pf.stats_file;
        if (!stats_p) {
            fprintf(stderr, "cleave run: %s records no statistics file; give --stats\n", plan_p);
            goto out;
        }
        if (quant_stats_load(ctx, stats_p, &r.st)) goto err;
        have_stats = 1;
        if (!model_name) model_name = cli_model_name(mp, name_buf, sizeof name_buf);
    }
    r.answer_out = r.m.g->outputs[r.m.g->n_outputs - 1];
    r.link = cost_link_make(r.pf.mbit_s > 0 ? r.pf.mbit_s : 10, r.pf.rtt_ms >= 0 ? r.pf.rtt_ms : 0);
    if (r.pf.overhead_ms >= 0) r.link.overhead_ms = r.pf.overhead_ms;
    if (r.pf.burst_bytes > 0) r.link.burst_bytes = r.pf.burst_bytes;
    if (r.rtt_ms < 0) r.rtt_ms = r.link.rtt_ms;
    r.link.rtt_ms = r.rtt_ms;
    r.bw.mbit = r.link.mbit_s;
    r.es = cv_calloc((size_t)r.pf.n_sol, sizeof *r.es);
    order = cv_calloc((size_t)r.pf.n_sol + 1, sizeof *order);
    if (!r.es || !order) goto err;
    /* which solutions run, in which order */
    if (sol_sel) {
        int k = find_solution(&r.pf, sol_sel);
        if (k < 0) {
            fprintf(stderr, "cleave run: %s has no solution '%s'\n", plan_p, sol_sel);
            goto out;
        }
        order[n_order++] = k;
    } else if (compare) {
        if (!strcmp(compare, "all")) {
            for (int k = 0; k < r.pf.n_sol; k++) order[n_order++] = k;
        } else {
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", compare);
            for (char *tok = strtok(buf, ","); tok && n_order < r.pf.n_sol; tok = strtok(NULL, ",")) {
                int k = find_solution(&r.pf, tok);
                if (k < 0) {
                    fprintf(stderr, "cleave run: %s has no solution '%s'\n", plan_p, tok);
                    goto out;
                }
                order[n_order++] = k;
            }
        }
    } else {
        order[n_order++] = -1; /* adaptive */
    }
    /* server */
    {
        size_t l = strlen(server);
        while (l && server[l - 1] == '/') l--;
        snprintf(r.infer_url, sizeof r.infer_url, "%.*s/v2/models/%s/infer", (int)l, server, model_name);
        snprintf(r.ready_url, sizeof r.ready_url, "%.*s/v2/health/ready", (int)l, server);
        snprintf(r.probe_url, sizeof r.probe_url, "%.*s/cleave/linktest", (int)l, server);
        net_http_client_opts ho = {.rtt_ms = r.rtt_ms, .timeout_ms = r.timeout_ms, .connect_timeout_ms = 300,
                                   .tcp_cc = tcp_cc};
        if (net_http_client_create(ctx, &ho, &r.http)) goto err;
    }
    /* data */
    if (cli_dataset_open(ctx, data, "test", &r.m.in_spec, &ds)) goto err;
    have_ds = 1;
    if (ds.kind != CLI_DATA_RANDOM && n > ds.count) n = ds.count;
    int64_t per = cv_numel(&r.m.in_spec);
    x = cv_aligned_alloc(sizeof(float) * (size_t)per);
    rv = cv_calloc((size_t)n * (size_t)n_order, sizeof *rv);
    if (!x || !rv) goto err;
    r.log = stdout;
    if (log_p && !(r.log = fopen(log_p, "w"))) {
        fprintf(stderr, "cleave run: cannot write %s\n", log_p);
        goto out;
    }
    FILE *sumf = log_p ? stdout : stderr;
    fprintf(sumf, "cleave run: %s on %s, %d input%s, edge slowdown %.2fx, emulated RTT %.1f ms, %s\n", model_name,
            server, n, n == 1 ? "" : "s", r.slowdown, r.rtt_ms,
            order[0] < 0 ? "adaptive over the plan's feasible solutions" : "fixed solution(s)");
    /* warm the connection and the estimate; then probe only when adapting
     * (unless asked): a probe drains the shaper's bucket, so the request
     * right after it queues behind it (+6 ms for a 2.4 KB cut at 3 Mbit/s) */
    if (r.probe_ms != 0) edge_probe(&r);
    if (r.probe_ms < 0) r.probe_ms = order[0] < 0 ? 1000 : 0;
    int nr = 0, cur = -1;
    double next_at = cv_now_ms();
    for (int o = 0; o < n_order; o++) {
        int fixed = order[o];
        if (fixed >= 0 && build_sol(&r, fixed)) goto err;
        /* untimed warm-up requests: the server compiles its sub-plan for
         * this cut, the codecs and the connection warm up */
        for (int w = 0; w < warmup && fixed >= 0; w++) {
            rec q;
            memset(&q, 0, sizeof q);
            q.idx = -1 - w;
            int i0 = w % n;
            if (cli_dataset_fill(ctx, &ds, &i0, 1, x) || run_one(&r, fixed, x, &q)) goto err;
        }
        for (int i = 0; i < n; i++) {
            rec *q = &rv[nr];
            memset(q, 0, sizeof *q);
            q->idx = i;
            q->label = cli_dataset_label(&ds, i);
            if (interval > 0) { /* the next frame arrives */
                double now = cv_now_ms();
                cv_sleep_ms(next_at - now);
                next_at = (now > next_at ? now : next_at) + interval;
            }
            q->pred = -1;
            if (cli_dataset_fill(ctx, &ds, &i, 1, x)) goto err;
            /* a probe when the link has been silent for a while (right
             * before the request: a probe followed by an idle wait made the
             * next request 100-150 ms slower on the tbf link, cause not yet
             * understood) */
            if (r.probe_ms > 0 && !r.server_down && cv_now_ms() - r.bw.last_ms > r.probe_ms) edge_probe(&r);
            int k = fixed;
            double pred = 0;
            if (k < 0) {
                for (;;) {
                    k = edge_choose(&r, cur, &pred);
                    if (k < 0) {
                        fprintf(stderr, "cleave run: %s has no feasible solution to run\n", plan_p);
                        goto out;
                    }
                    if (!build_sol(&r, k)) break;
                    fprintf(stderr, "cleave run: solution %d (%s) cannot run: %s\n", r.pf.sol[k].id,
                            r.pf.sol[k].method, cleave_ctx_error(ctx));
                    cleave_ctx_clear_error(ctx);
                }
                if (cur >= 0 && k != cur) q->switched = 1, r.n_switches++;
                cur = k;
            }
            pred = edge_sol_predict_now(&r, k, r.bw.mbit);
            q->sol = k;
            q->pred_ms = pred;
            q->bw = r.bw.mbit;
            if (run_one(&r, k, x, q)) goto err;
            nr++;
            const plan_file_solution *ps = &r.pf.sol[k];
            fprintf(r.log,
                    "{\"input\":%d,\"solution\":%d,\"method\":\"%s\",\"label\":%d,\"top1\":%d,\"edge_ms\":%.3f,"
                    "\"encode_ms\":%.3f,\"transfer_ms\":%.3f,\"server_ms\":%.3f,\"decode_ms\":%.3f,\"total_ms\":%.3f,"
                    "\"predicted_ms\":%.3f,\"body_bytes\":%.0f,\"wire_bytes\":%.0f,\"zstd\":%s,\"bw_mbit\":%.3f,"
                    "\"answered\":\"%s\"%s}\n",
                    i, ps->id, ps->method, q->label, q->pred, q->edge_ms, q->encode_ms, q->transfer_ms, q->server_ms,
                    q->decode_ms, q->total_ms, q->pred_ms, q->sent, q->wire_sent, q->compressed ? "true" : "false",
                    q->bw, q->fallback == 1 ? "device-exit" : q->fallback == 2 ? "device" : ps->n_cross ? "cloud" : "device-plan",
                    q->switched ? ",\"switched\":true" : "");
            fflush(r.log); /* a line per answer, readable while the run goes on */
        }
    }
    if (r.log != stdout) fclose(r.log);
    r.log = NULL;
    /* summary */
    json_t *sj = json_array();
    int adaptive = order[0] < 0;
    if (adaptive) fprintf(sumf, "\n(pred ms: each request's prediction at the bandwidth estimated when it was chosen)");
    fprintf(sumf, "\n%-3s %-14s %5s %7s %8s %8s %8s %8s %8s %8s %8s %9s %6s\n", "#", "method", "n", "top1", "p50 ms",
            "p99 ms", "mean ms", "pred ms", "err %", "edge", "xfer", "server", "device");
    int seen_any = 0, rec_k = -1, cloud_k = -1;
    double errs[256], rec_mean = 0, cloud_mean = 0, rec_p50 = 0, cloud_p50 = 0;
    for (int k = 0; k < r.pf.n_sol; k++) {
        sol_summary s;
        edge_summarize(&r, rv, nr, k, &s);
        if (!s.n) continue;
        /* fixed solutions: the plan's prediction; adapting: each request's,
         * re-priced at the bandwidth estimated when it was chosen */
        double pred = adaptive ? s.pred_req : r.pf.sol[k].total_ms;
        if (seen_any < 256) errs[seen_any] = fabs(pred - s.mean) / s.mean;
        seen_any++;
        if (r.pf.sol[k].recommended) rec_k = k, rec_mean = s.mean, rec_p50 = s.p50;
        if (!strcmp(r.pf.sol[k].method, "cloud-only")) cloud_k = k, cloud_mean = s.mean, cloud_p50 = s.p50;
        const plan_file_solution *p = &r.pf.sol[k];
        char top[16] = "-";
        if (s.labelled) snprintf(top, sizeof top, "%.2f", 100.0 * s.correct / s.labelled);
        fprintf(sumf, "%-3d %-14s %5d %7s %8.2f %8.2f %8.2f %8.2f %+8.1f %8.2f %8.2f %9.2f %6d%s\n", p->id, p->method,
                s.n, top, s.p50, s.p99, s.mean, pred, 100.0 * (pred - s.mean) / s.mean, s.edge,
                s.transfer, s.server, s.fallbacks, p->recommended ? "  (recommended)" : "");
        json_array_append_new(sj, edge_summary_json(&r, &s, adaptive));
    }
    sol_summary all;
    edge_summarize(&r, rv, nr, -1, &all);
    fprintf(sumf, "all: %d answers (%d on the device after a cloud failure), %d switches, %d probes (%.0f KB)",
            all.n, all.fallbacks, r.n_switches, r.n_probes, r.probe_bytes / 1024);
    if (all.labelled) fprintf(sumf, ", top-1 %.2f%%", 100.0 * all.correct / all.labelled);
    fprintf(sumf, ", p50 %.2f ms, p99 %.2f ms\n", all.p50, all.p99);
    /* edge memory: the plan's figure (packed weights + activation peak +
     * widening buffer) against the compiled head (arena incl. scratch and
     * the float input, + the weights as its kernels hold them) */
    const int fast_heads = cleave_ctx_fast(ctx) && fast_block_size() > 0;
    for (int k = 0; k < r.pf.n_sol; k++) {
        const esol *e = &r.es[k];
        if (!e->built || !e->head) continue;
        const double a = (double)rt_plan_arena_bytes(e->head), w = (double)rt_plan_weight_bytes(e->head);
        fprintf(sumf, "edge memory, solution %d (%s): plan %.1f KiB, engine %.1f KiB (arena %.1f + weights %.1f)\n",
                r.pf.sol[k].id, r.pf.sol[k].method, r.pf.sol[k].edge_memory_bytes / 1024, (a + w) / 1024,
                a / 1024, w / 1024);
    }
    /* the plan counts the reference engine (an edge without oneDNN) */
    if (fast_heads)
        fprintf(sumf, "(edge memory: these heads ran %s kernels; the plan's figure is the reference engine's "
                      "of an edge device without it, which --ref runs)\n", fast_backend_name());
    if (sum_p) {
        json_t *root = json_pack("{s:s,s:s,s:s,s:f,s:f,s:i,s:i,s:i,s:o,s:o}", "format", "cleave-run", "plan", plan_p,
                                 "server", server, "edge_slowdown", r.slowdown, "rtt_ms", r.rtt_ms, "answers", all.n,
                                 "answered_on_device", all.fallbacks, "switches", r.n_switches, "all",
                                 edge_summary_json(&r, &all, adaptive), "solutions", sj);
        if (json_dump_file(root, sum_p, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) {
            fprintf(stderr, "cleave run: cannot write %s\n", sum_p);
            json_decref(root);
            goto out;
        }
        json_decref(root);
    } else {
        json_decref(sj);
    }
    if (seen_any > 1) {
        int ne = seen_any < 256 ? seen_any : 256;
        fprintf(sumf, "prediction: median |predicted - measured| / measured over %d solutions = %.1f%%\n", ne,
                100 * edge_pct(errs, ne, 0.5));
    }
    if (rec_k >= 0 && cloud_k >= 0)
        fprintf(sumf, "recommended vs cloud-only: mean %.2f / %.2f ms = %.2fx, p50 %.2fx (predicted %.2fx)\n",
                rec_mean, cloud_mean, rec_mean / cloud_mean, rec_p50 / cloud_p50,
                r.pf.sol[rec_k].total_ms / r.pf.sol[cloud_k].total_ms);
    rc = 0;
    goto out;
err:
    rc = cli_error(ctx);
out:
    if (r.log && r.log != stdout) fclose(r.log);
    if (r.es)
        for (int k = 0; k < r.pf.n_sol; k++) {
            rt_plan_destroy(r.es[k].head);
            rt_plan_destroy(r.es[k].tail);
            cv_free(r.es[k].head_slot);
            cv_free(r.es[k].req_hdr);
            if (r.es[k].built) plan_split_free(&r.es[k].sp);
        }
    cv_free(r.es);
    cv_free(order);
    cv_free(rv);
    cv_aligned_free(x);
    net_http_client_destroy(r.http);
    if (have_ds) cli_dataset_close(&ds);
    if (have_stats) quant_stats_free(&r.st);
    if (have_pf) plan_file_free(&r.pf);
    cli_qmodel_free(&r.m);
    cleave_ctx_destroy(ctx);
    return rc;
}
