/* plan cuts: enumeration on hand-built DAGs (chain, diamond, residual,
 * inception-like, multi-output) equals brute force over all node subsets;
 * crossing tensors by hand; the DADS min-cut equals the brute-force
 * cheapest cut on random small DAGs; a model's DAG from a compiled plan. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "onnx/onnx.h"
#include "plan/cuts.h"
#include "runtime/optimize.h"

typedef struct collect {
    int n;
    long count;
    uint32_t masks[1 << 14];
} collect;

static int on_cut(void *user, const uint8_t *edge) {
    collect *c = user;
    uint32_t m = 0;
    for (int i = 0; i < c->n; i++) m |= (uint32_t)edge[i] << i;
    if (c->count < (long)(sizeof c->masks / sizeof c->masks[0])) c->masks[c->count] = m;
    c->count++;
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Every valid subset by brute force, sorted. */
static long brute(const plan_dag *d, uint32_t *out) {
    long k = 0;
    uint8_t edge[32];
    for (uint32_t m = 0; m < (1u << d->n_nodes); m++) {
        for (int i = 0; i < d->n_nodes; i++) edge[i] = (m >> i) & 1;
        if (plan_cut_valid(d, edge)) out[k++] = m;
    }
    return k;
}

static void check_enum(const char *what, const plan_dag *d) {
    static collect c;
    static uint32_t want[1 << 14];
    memset(&c, 0, sizeof c);
    c.n = d->n_nodes;
    long got = plan_cuts_enumerate(d, 1 << 14, on_cut, &c);
    long nb = brute(d, want);
    CHECK(got == nb);
    qsort(c.masks, (size_t)c.count, sizeof(uint32_t), cmp_u32);
    int same = got == nb;
    for (long i = 0; same && i < nb; i++) same = c.masks[i] == want[i];
    CHECK(same);
    if (!same || got != nb) fprintf(stderr, "  %s: enumerated %ld cuts, brute force %ld\n", what, got, nb);
    CHECK(c.masks[0] == 0); /* all-cloud is a cut */
    /* the cap stops it */
    if (nb > 2) CHECK(plan_cuts_enumerate(d, nb - 1, NULL, NULL) == -1);
    CHECK(plan_cuts_prefix(d, NULL, NULL) == d->n_nodes + 1);
}

static plan_dag *build(cleave_ctx *ctx, int n, int nt, const int (*e)[3], int ne) {
    int64_t numel[64];
    for (int t = 0; t < nt; t++) numel[t] = 100 * (t + 1);
    plan_dag *d = NULL;
    CHECK(plan_dag_build(ctx, n, nt, numel, e, ne, NULL, 0, &d) == CLEAVE_OK);
    return d;
}

static void hand_built(cleave_ctx *ctx) {
    /* tensor 0 is the graph input; tensor k+1 the output of node k */
    static const int chain[][3] = {{-1, 0, 0}, {0, 1, 1}, {1, 2, 2}, {2, 3, 3}};
    static const int diamond[][3] = {{-1, 0, 0}, {0, 1, 1}, {0, 2, 1}, {1, 3, 2}, {2, 3, 3}};
    /* residual: conv0 -> conv1 -> conv2 -> add3 <- conv0 (skip) -> relu4 */
    static const int residual[][3] = {{-1, 0, 0}, {0, 1, 1}, {1, 2, 2}, {2, 3, 3},
                                      {0, 3, 1}, {3, 4, 4}, {4, -1, 5}};
    /* inception-like: stem 0 -> branches 1 | 2->3 | 4->5 | 6 -> concat 7 */
    static const int incep[][3] = {{-1, 0, 0}, {0, 1, 1}, {0, 2, 1}, {2, 3, 3}, {0, 4, 1}, {4, 5, 5},
                                   {0, 6, 1}, {1, 7, 2}, {3, 7, 4}, {5, 7, 6}, {6, 7, 7}};
    /* multi-output: node 0 makes two tensors; exit head 1 (a graph output),
     * trunk 2 -> 3 (the other output); the input also read by node 2 */
    static const int multi[][3] = {{-1, 0, 0}, {0, 1, 1}, {0, 2, 2}, {2, 3, 3}, {-1, 2, 0}};
    plan_dag *d;
    if ((d = build(ctx, 4, 4, chain, 4))) check_enum("chain", d), plan_dag_destroy(d);
    if ((d = build(ctx, 4, 4, diamond, 5))) check_enum("diamond", d), plan_dag_destroy(d);
    if ((d = build(ctx, 5, 6, residual, 7))) {
        check_enum("residual", d);
        /* {conv0, conv1} on the edge: conv1's output and the skip cross */
        uint8_t edge[5] = {1, 1, 0, 0, 0};
        int cross[8];
        int nc = plan_cut_crossing(d, edge, cross);
        CHECK(nc == 2 && cross[0] == 1 && cross[1] == 2);
        /* not closed: conv2 without conv1 */
        uint8_t bad[5] = {1, 0, 1, 0, 0};
        CHECK(!plan_cut_valid(d, bad));
        /* all-cloud sends the input; edge-only sends nothing, returns nothing */
        uint8_t none[5] = {0}, all[5] = {1, 1, 1, 1, 1};
        CHECK(plan_cut_crossing(d, none, cross) == 1 && cross[0] == 0);
        CHECK(plan_cut_crossing(d, all, cross) == 0);
        CHECK(plan_cut_returned(d, all, cross) == 0);
        CHECK(plan_cut_returned(d, none, cross) == 1 && cross[0] == 5);
        plan_dag_destroy(d);
    }
    if ((d = build(ctx, 8, 8, incep, 11))) {
        check_enum("inception", d);
        /* 1 (no branch) .. : 1 + (2*3*3*2 combos of branch prefixes) + concat */
        long n = plan_cuts_enumerate(d, 1000, NULL, NULL);
        CHECK(n == 1 + 2 * 3 * 3 * 2 + 1);
        plan_dag_destroy(d);
    }
    if ((d = build(ctx, 4, 4, multi, 5))) {
        check_enum("multi-output", d);
        uint8_t edge[4] = {1, 1, 0, 0};
        int cross[8];
        /* node 2 reads the input and tensor 2: both cross */
        int nc = plan_cut_crossing(d, edge, cross);
        CHECK(nc == 2 && cross[0] == 0 && cross[1] == 2);
        plan_dag_destroy(d);
    }
    /* bad edge lists */
    static const int backwards[][3] = {{-1, 0, 0}, {1, 0, 1}};
    int64_t numel[2] = {1, 1};
    CHECK(plan_dag_build(ctx, 2, 2, numel, backwards, 2, NULL, 0, &d) == CLEAVE_E_INVALID);
}

static uint64_t rng_state = 88172645463325252ull;
static double urand(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void random_min_cut(cleave_ctx *ctx) {
    int agree = 0, trials = 300;
    for (int trial = 0; trial < trials; trial++) {
        int n = 2 + (int)(urand() * 11); /* 2..12 nodes */
        int edges[256][3], ne = 0;
        /* tensor 0 = input, tensor i+1 = output of node i */
        for (int i = 0; i < n; i++) {
            int fed = 0;
            for (int j = -1; j < i; j++)
                if ((j == i - 1 && urand() < 0.7) || urand() < 0.25) {
                    edges[ne][0] = j, edges[ne][1] = i, edges[ne][2] = j + 1;
                    ne++, fed = 1;
                }
            if (!fed) edges[ne][0] = -1, edges[ne][1] = i, edges[ne][2] = 0, ne++;
        }
        int64_t numel[16];
        for (int t = 0; t <= n; t++) numel[t] = 1;
        plan_dag *d = NULL;
        if (plan_dag_build(ctx, n, n + 1, numel, (const int(*)[3])edges, ne, NULL, 0, &d)) {
            CHECK(0);
            continue;
        }
        double e_ms[16], c_ms[16], s_ms[16], b_ms[16];
        for (int i = 0; i < n; i++) e_ms[i] = urand() * 10, c_ms[i] = urand() * 2;
        for (int t = 0; t <= n; t++) s_ms[t] = urand() * 8, b_ms[t] = urand() * 0.5;
        double best = 1e300;
        uint8_t edge[16];
        for (uint32_t m = 0; m < (1u << n); m++) {
            for (int i = 0; i < n; i++) edge[i] = (m >> i) & 1;
            if (!plan_cut_valid(d, edge)) continue;
            double c = plan_cut_cost(d, edge, e_ms, c_ms, s_ms, b_ms);
            if (c < best) best = c;
        }
        double got = -1;
        uint8_t cut[16];
        CHECK(plan_min_cut(ctx, d, e_ms, c_ms, s_ms, b_ms, cut, &got) == CLEAVE_OK);
        CHECK(plan_cut_valid(d, cut));
        CHECK_NEAR(got, best, 1e-9, 1e-9);
        CHECK_NEAR(plan_cut_cost(d, cut, e_ms, c_ms, s_ms, b_ms), got, 1e-9, 1e-9);
        agree += fabs(got - best) <= 1e-9 * (1 + best);
        plan_dag_destroy(d);
    }
    printf("min-cut = brute force on %d/%d random DAGs\n", agree, trials);
}

static void model_dag(cleave_ctx *ctx) {
    const char *path = CLEAVE_SOURCE_DIR "/models/fmnist-resnet.onnx";
    ir_graph *g = NULL;
    rt_plan *p = NULL;
    plan_dag *d = NULL;
    cv_tensor x = {.dtype = CV_F32, .ndim = 4, .dims = {1, 1, 112, 112}};
    CHECK(onnx_load_file(ctx, path, &g) == CLEAVE_OK && rt_graph_optimize(ctx, g, NULL) == CLEAVE_OK);
    CHECK(g && rt_plan_create(ctx, g, NULL, 0, NULL, 0, &x, NULL, &p) == CLEAVE_OK);
    CHECK(p && plan_dag_from_plan(ctx, g, p, &d) == CLEAVE_OK);
    if (d) {
        CHECK(d->n_nodes == rt_plan_n_steps(p));
        CHECK(d->tensors[0].producer == -1 && d->tensors[0].numel == 112 * 112);
        long n = plan_cuts_enumerate(d, 100000, NULL, NULL);
        /* residual blocks give cuts where two tensors cross */
        CHECK(n > d->n_nodes + 1);
        printf("fmnist-resnet: %d nodes, %ld cuts (%d prefix cuts)\n", d->n_nodes, n, d->n_nodes + 1);
        /* every prefix of the schedule is closed */
        uint8_t *edge = cv_calloc((size_t)d->n_nodes, 1);
        int ok = 1;
        for (int k = 0; k < d->n_nodes; k++) edge[k] = 1, ok &= plan_cut_valid(d, edge);
        CHECK(ok);
        cv_free(edge);
    }
    plan_dag_destroy(d);
    rt_plan_destroy(p);
    ir_graph_destroy(g);
}

int main(void) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    hand_built(ctx);
    random_min_cut(ctx);
    model_dag(ctx);
    cleave_ctx_destroy(ctx);
    return check_summary("test_plan_cuts");
}
