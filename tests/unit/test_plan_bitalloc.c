/* plan bit allocation: on random small instances, every point of the
 * Lagrangian sweep is optimal for its own rate (exhaustive search finds no
 * allocation with that rate or less and lower distortion); the choices at
 * each point add up to its rate and distortion; for arbitrary budgets the
 * sweep never exceeds the budget, and its gap to the exhaustive optimum is
 * reported (Lagrangian methods only reach the convex hull). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "plan/bitalloc.h"

static uint64_t s_ = 0x9e3779b97f4a7c15ull;
static double urand(void) {
    s_ ^= s_ << 13, s_ ^= s_ >> 7, s_ ^= s_ << 17;
    return (double)(s_ >> 11) / 9007199254740992.0;
}

/* min distortion with rate <= budget by exhaustive search; -1 if none */
static double exhaustive(const plan_ba_layer *l, int n, double budget) {
    int c[8] = {0};
    double best = -1;
    for (;;) {
        double r = 0, d = 0;
        for (int i = 0; i < n; i++) r += l[i].rate[c[i]], d += l[i].dist[c[i]];
        if (r <= budget + 1e-9 && (best < 0 || d < best)) best = d;
        int i = 0;
        while (i < n && ++c[i] == l[i].n_opt) c[i++] = 0;
        if (i == n) break;
    }
    return best;
}

int main(void) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    static const int bits[4] = {2, 4, 6, 8};
    int trials = 400, exact = 0, budgets = 0;
    double worst_gap = 0, worst_fill = 0;
    int exact_fill = 0;
    for (int t = 0; t < trials; t++) {
        int n = 1 + (int)(urand() * 6);
        plan_ba_layer l[8];
        for (int i = 0; i < n; i++) {
            double vol = 100 + urand() * 10000, scale = urand() * 3;
            l[i].n_opt = 4;
            for (int o = 0; o < 4; o++) {
                l[i].rate[o] = vol * bits[o] / 8;
                /* quantization noise ~ 4^-bits, with random bumps so hulls
                 * are not always convex in the raw options */
                l[i].dist[o] = scale * pow(4.0, -bits[o]) * (0.5 + urand());
            }
        }
        plan_ba_sweep s;
        CHECK(plan_ba_sweep_run(ctx, l, n, &s) == CLEAVE_OK);
        int choice[8];
        for (int k = 0; k < s.n_points; k++) {
            plan_ba_sweep_choice(&s, k, choice);
            double r = 0, d = 0;
            for (int i = 0; i < n; i++) r += l[i].rate[choice[i]], d += l[i].dist[choice[i]];
            CHECK_NEAR(r, s.rate[k], 1e-6, 1e-9);
            CHECK_NEAR(d, s.dist[k], 1e-12, 1e-9);
            CHECK_NEAR(exhaustive(l, n, s.rate[k]), s.dist[k], 1e-12, 1e-9);
            if (k) CHECK(s.rate[k] <= s.rate[k - 1] && s.dist[k] >= s.dist[k - 1] - 1e-15);
        }
        /* arbitrary budgets */
        double rmin = s.rate[s.n_points - 1], rmax = s.rate[0];
        for (int b = 0; b < 5; b++) {
            double budget = rmin * 0.9 + (rmax - rmin * 0.9) * urand();
            int k = plan_ba_sweep_best(&s, budget);
            double ex = exhaustive(l, n, budget);
            if (ex < 0) {
                CHECK(k < 0);
                continue;
            }
            CHECK(k >= 0);
            if (k < 0) continue;
            budgets++;
            CHECK(s.rate[k] <= budget + 1e-6);
            CHECK(s.dist[k] >= ex - 1e-12);
            double gap = s.dist[k] - ex;
            if (gap <= 1e-12 * (1 + ex)) exact++;
            if (ex > 0 && gap / ex > worst_gap) worst_gap = gap / ex;
            /* the greedy fill of the leftover budget */
            plan_ba_sweep_choice(&s, k, choice);
            double df = plan_ba_fill(l, n, choice, budget), rf = 0;
            for (int i = 0; i < n; i++) rf += l[i].rate[choice[i]];
            CHECK(rf <= budget + 1e-6 && df <= s.dist[k] + 1e-15 && df >= ex - 1e-12);
            if (df - ex <= 1e-12 * (1 + ex)) exact_fill++;
            if (ex > 0 && (df - ex) / ex > worst_fill) worst_fill = (df - ex) / ex;
        }
        plan_ba_sweep_free(&s);
    }
    printf("Lagrangian = exhaustive optimum on %d/%d budgets (worst relative distortion gap %.3f)\n",
           exact, budgets, worst_gap);
    printf("with the greedy fill: %d/%d (worst gap %.3f)\n", exact_fill, budgets, worst_fill);
    CHECK(exact_fill >= exact);
    /* hull points are exact by construction; off-hull budgets mostly are too */
    CHECK(exact >= budgets * 6 / 10);
    /* bad input */
    plan_ba_layer bad = {.n_opt = 2, .rate = {1, 2}, .dist = {NAN, 0}};
    plan_ba_sweep s;
    CHECK(plan_ba_sweep_run(ctx, &bad, 1, &s) == CLEAVE_E_INVALID);
    cleave_ctx_destroy(ctx);
    return check_summary("test_plan_bitalloc");
}
