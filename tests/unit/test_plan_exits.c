/* plan exits (Edgent): on a hand-built three-exit network, each exit's
 * sub-DAG is exactly its output's ancestors; per bandwidth state the chosen
 * exit is the most accurate one whose best solution meets the requirement
 * (checked against each exit's own search, and against the all-cloud upper
 * bound computed by hand); the chosen solution stays inside its exit's
 * sub-DAG; the lookup picks the right state for any bandwidth; states from
 * a trace CSV. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "plan/exits.h"

static uint64_t s_ = 0x853c49e6748fea9bull;
static double urand(void) {
    s_ ^= s_ << 13, s_ ^= s_ >> 7, s_ ^= s_ << 17;
    return (double)(s_ >> 11) / 9007199254740992.0;
}

int main(void) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    /* trunk 0-1-2, exit1 head 3-4 (from 2), trunk 5-6-7 (from 2), exit2
     * head 8-9 (from 7), trunk 10-11-12 (from 7); tensor 0 = input, tensor
     * i+1 = output of node i; exits are tensors 5, 10 and 13 */
    static const int e[][3] = {{-1, 0, 0}, {0, 1, 1}, {1, 2, 2}, {2, 3, 3}, {3, 4, 4}, {4, -1, 5},
                               {2, 5, 3}, {5, 6, 6}, {6, 7, 7}, {7, 8, 8}, {8, 9, 9}, {9, -1, 10},
                               {7, 10, 8}, {10, 11, 11}, {11, 12, 12}, {12, -1, 13}};
    enum { N = 13, NT = 14, L = 14 };
    int64_t numel[NT];
    numel[0] = 112 * 112;
    for (int t = 1; t < NT; t++) numel[t] = 500 + (int64_t)(urand() * 30000);
    numel[5] = numel[10] = numel[13] = 10;
    plan_dag *d = NULL;
    CHECK(plan_dag_build(ctx, N, NT, numel, e, (int)(sizeof e / sizeof e[0]), NULL, 0, &d) == CLEAVE_OK);
    if (!d) return check_summary("test_plan_exits");
    quant_layer layers[L];
    quant_distortion w[L * 4], a[L * 4];
    cost_features feat[N];
    double e32[N], e8[N], cl[N];
    int node_layer[N], tensor_layer[NT];
    memset(layers, 0, sizeof layers), memset(feat, 0, sizeof feat);
    for (int k = 0; k < L; k++) {
        layers[k].node = k - 1;
        layers[k].weight = k ? 1 : -1;
        layers[k].w_numel = k ? 1000 + (int64_t)(urand() * 20000) : 0;
        for (int j = 0; j < 4; j++) {
            w[k * 4 + j].mse = k ? 1e-4 * pow(4.0, -2 * (j + 1)) * 256 : NAN;
            a[k * 4 + j].mse = 1e-4 * pow(4.0, -2 * (j + 1)) * 256;
            w[k * 4 + j].flip = a[k * 4 + j].flip = 0;
        }
    }
    for (int i = 0; i < N; i++) {
        node_layer[i] = i + 1;
        feat[i].param_bytes = 4.0 * (double)layers[i + 1].w_numel + 64, feat[i].cout = 16;
        e32[i] = 10 + urand() * 20, e8[i] = e32[i] * 0.5, cl[i] = e32[i] * 0.05;
    }
    for (int t = 0; t < NT; t++) tensor_layer[t] = t < L ? t : -1;
    tensor_layer[5] = tensor_layer[10] = tensor_layer[13] = -1;
    quant_table table = {.n_layers = L, .n_bits = 4, .bits = {2, 4, 6, 8}, .w = w, .a = a};
    plan_problem pb = {.dag = d, .feat = feat, .edge_fp32_ms = e32, .edge_int8_ms = e8, .cloud_ms = cl,
                       .layers = layers, .n_layers = L, .node_layer = node_layer, .tensor_layer = tensor_layer,
                       .table = &table, .kappa = 1, .link = cost_link_make(1, 20), .mem_budget = 256 * 1024,
                       .max_drop = 1.0, .bits = {2, 4, 6, 8}, .n_bits = 4, .input_bits = 8, .cut_cap = 10000};
    /* sub-DAGs */
    uint8_t keep[N];
    plan_dag_ancestors(d, 5, keep);
    int want1[N] = {1, 1, 1, 1, 1, 0};
    CHECK(!memcmp(keep, (uint8_t[N]){1, 1, 1, 1, 1}, N));
    (void)want1;
    plan_dag_ancestors(d, 10, keep);
    CHECK(!memcmp(keep, (uint8_t[N]){1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, N));

    const int exits[3] = {5, 10, 13};
    const double acc[3] = {85.0, 90.0, 93.0};
    const double states[6] = {0.05, 0.1, 0.25, 0.5, 1.0, 1.5};
    int moved_later = 0;
    plan_config_map m;
    memset(&m, 0, sizeof m);
    static const double deadlines[] = {150, 100, 80, 60, 40};
    for (size_t di = 0; di < sizeof deadlines / sizeof deadlines[0]; di++) {
    double deadline = deadlines[di];
    plan_config_map_free(&m);
    printf("requirement %.0f ms\n", deadline);
    CHECK(plan_exits_map(ctx, &pb, exits, acc, 3, states, 6, deadline, &m) == CLEAVE_OK);
    CHECK(m.n == 6);
    for (int s = 0; s < m.n; s++) {
        const plan_exit_choice *c = &m.c[s];
        /* Edgent's rule: the most accurate exit meeting the requirement */
        int best = -1;
        for (int k = 0; k < 3; k++)
            if (!isnan(c->exit_ms[k]) && c->exit_ms[k] <= deadline && (best < 0 || c->exit_acc[k] > c->exit_acc[best]))
                best = k;
        CHECK(c->meets == (best >= 0));
        if (best >= 0) CHECK(c->exit == best);
        CHECK(fabs(c->sol.total_ms - c->exit_ms[c->exit]) < 1e-9);
        /* each exit's best is no slower than sending the input and running
         * its part on the cloud */
        for (int k = 0; k < 3; k++) {
            plan_dag_ancestors(d, exits[k], keep);
            double cloud = 0;
            for (int i = 0; i < N; i++) cloud += keep[i] ? cl[i] : 0;
            cost_link l = pb.link;
            l.mbit_s = states[s];
            double all_cloud = cloud + cost_link_transfer_ms(&l, (double)numel[0]);
            CHECK(isnan(c->exit_ms[k]) || c->exit_ms[k] <= all_cloud + 1e-9);
        }
        /* the solution stays inside its exit's sub-DAG and is a valid cut */
        plan_dag_ancestors(d, exits[c->exit], keep);
        int inside = 1;
        for (int i = 0; i < N; i++) inside &= !c->sol.edge[i] || keep[i];
        CHECK(inside && plan_cut_valid(d, c->sol.edge));
        if (s && c->exit > m.c[s - 1].exit) moved_later = 1;
        printf("%5.2f Mbit/s: exit %d (%s), %6.1f ms, %d edge nodes, accuracy %.2f\n", c->mbit, c->exit + 1,
               c->meets ? "meets" : "fastest", c->sol.total_ms, c->sol.n_edge, c->accuracy);
    }
    /* lookup */
    CHECK(plan_config_lookup(&m, 0.01) == 0);
    CHECK(plan_config_lookup(&m, 0.05) == 0);
    CHECK(plan_config_lookup(&m, 0.3) == 2);
    CHECK(plan_config_lookup(&m, 1.49) == 4);
    CHECK(plan_config_lookup(&m, 100) == 5);
    double t0 = cv_now_ms();
    volatile int sink = 0;
    for (int i = 0; i < 1000000; i++) sink += plan_config_lookup(&m, 0.001 * (i % 2000));
    double per_us = (cv_now_ms() - t0) * 1e3 / 1e6;
    printf("lookup: %.3f us each\n", per_us);
    CHECK(per_us < 10);
    }
    CHECK(moved_later); /* for some requirement: more bandwidth, a deeper exit */
    plan_config_map_free(&m);

    /* states from a trace */
    const char *tp = "/tmp/cleave_test_trace.csv";
    FILE *f = fopen(tp, "w");
    fprintf(f, "time_s,mbit\n0,1.0\n1,1.1\n2,0.3\n3,0.31\n4,2.5\n# comment\n5,1.05\n");
    fclose(f);
    double *st = NULL;
    int ns = 0;
    CHECK(plan_states_from_trace(ctx, tp, 1.25, &st, &ns) == CLEAVE_OK);
    /* 1.0, 1.1, 1.05 -> 1.0; 0.3, 0.31 -> 1.25^-6 = 0.262; 2.5 -> 1.25^4 = 2.44 */
    CHECK(ns == 3);
    if (ns == 3) {
        CHECK_NEAR(st[0], pow(1.25, -6), 1e-9, 0);
        CHECK_NEAR(st[1], 1.0, 1e-9, 0);
        CHECK_NEAR(st[2], pow(1.25, 4), 1e-9, 0);
    }
    cv_free(st);
    f = fopen(tp, "w");
    fprintf(f, "0,1.0\n1,-3\n");
    fclose(f);
    cleave_ctx_clear_error(ctx);
    CHECK(plan_states_from_trace(ctx, tp, 1.25, &st, &ns) == CLEAVE_E_PARSE);
    CHECK(strstr(cleave_ctx_error(ctx), ":2:") != NULL);
    plan_dag_destroy(d);
    cleave_ctx_destroy(ctx);
    return check_summary("test_plan_exits");
}
