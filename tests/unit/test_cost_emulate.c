/* Unit tests of cost/emulate's pure parts: period/quota choice (kernel
 * minimum quota, raised period, range errors), the slowdown from two device
 * descriptions, cgroup mount and self-path parsing from mountinfo and
 * /proc/self/cgroup text (v1, v2, escapes, subtree mounts), the median and
 * the reference workload's determinism. No cgroup is touched. */
#include <string.h>

#include "check.h"
#include "cost/emulate.h"

static void test_quota(void) {
    cleave_ctx *ctx;
    cleave_ctx_create(&ctx);
    int p, q, raised;
    CHECK(cost_emu_quota(ctx, 4.0, 10000, &p, &q, &raised) == CLEAVE_OK);
    CHECK(p == 10000 && q == 2500 && !raised);
    CHECK(cost_emu_quota(ctx, 12.3, 10000, &p, &q, &raised) == CLEAVE_OK);
    CHECK(p == 12300 && q == 1000 && raised); /* 813 us < 1000 us: period raised */
    CHECK(cost_emu_quota(ctx, 3.0, 10000, &p, &q, &raised) == CLEAVE_OK);
    CHECK(p == 10000 && q == 3333 && !raised);
    CHECK(cost_emu_quota(ctx, 1.0, 5000, &p, &q, &raised) == CLEAVE_OK);
    CHECK(p == 5000 && q == 5000);
    CHECK(cost_emu_quota(ctx, 10.0, 100000, &p, &q, &raised) == CLEAVE_OK);
    CHECK(p == 100000 && q == 10000 && !raised);
    CHECK(cost_emu_quota(ctx, 15.0, 1000, &p, &q, &raised) == CLEAVE_OK);
    CHECK(p == 15000 && q == 1000 && raised);
    /* errors: faster than the core, beyond 1000x, period out of range */
    CHECK(cost_emu_quota(ctx, 0.5, 10000, &p, &q, &raised) == CLEAVE_E_INVALID);
    cleave_ctx_clear_error(ctx);
    CHECK(cost_emu_quota(ctx, 2000.0, 10000, &p, &q, &raised) == CLEAVE_E_INVALID);
    cleave_ctx_clear_error(ctx);
    CHECK(cost_emu_quota(ctx, 2.0, 999, &p, &q, &raised) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "period") != NULL);
    cleave_ctx_clear_error(ctx);
    CHECK(cost_emu_quota(ctx, NAN, 10000, &p, &q, &raised) == CLEAVE_E_INVALID);
    cleave_ctx_destroy(ctx);
}

static void test_slowdown(void) {
    cleave_ctx *ctx;
    cleave_ctx_create(&ctx);
    cost_device h, d;
    memset(&h, 0, sizeof h);
    memset(&d, 0, sizeof d);
    snprintf(h.name, sizeof h.name, "host");
    snprintf(d.name, sizeof d.name, "rpi");
    h.cores = 2, d.cores = 4;
    h.peak_gops[COST_DT_FP32] = 100, d.peak_gops[COST_DT_FP32] = 4;
    h.efficiency[COST_DT_FP32][COST_OP_CONV] = 0.9, d.efficiency[COST_DT_FP32][COST_OP_CONV] = 0.5;
    h.peak_gops[COST_DT_INT8] = 400, d.peak_gops[COST_DT_INT8] = 16;
    h.efficiency[COST_DT_INT8][COST_OP_CONV] = 0.5, d.efficiency[COST_DT_INT8][COST_OP_CONV] = 0.5;
    double s, hg, dg;
    /* host on ONE core (90) / device on all 4 cores (8) */
    CHECK(cost_emu_slowdown(ctx, &h, &d, COST_DT_FP32, 0, &s, &hg, &dg) == CLEAVE_OK);
    CHECK_NEAR(hg, 90.0, 1e-9, 0);
    CHECK_NEAR(dg, 8.0, 1e-9, 0);
    CHECK_NEAR(s, 11.25, 1e-9, 0);
    CHECK(cost_emu_slowdown(ctx, &h, &d, COST_DT_FP32, 1, &s, NULL, NULL) == CLEAVE_OK);
    CHECK_NEAR(s, 45.0, 1e-9, 0);
    CHECK(cost_emu_slowdown(ctx, &h, &d, COST_DT_INT8, 0, &s, NULL, NULL) == CLEAVE_OK);
    CHECK_NEAR(s, 200.0 / 32.0, 1e-9, 0);
    d.peak_gops[COST_DT_FP32] = 0;
    CHECK(cost_emu_slowdown(ctx, &h, &d, COST_DT_FP32, 0, &s, NULL, NULL) == CLEAVE_E_INVALID);
    CHECK(strstr(cleave_ctx_error(ctx), "rpi") != NULL);
    cleave_ctx_destroy(ctx);
}

/* This machine's layout: v1 controllers plus a cgroup2 "unified" mount. */
static const char *MI_V1 =
    "22 1 0:21 / / rw,relatime - overlay overlay rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime shared:5 - cgroup cgroup rw,cpu\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
/* A combined cpu,cpuacct hierarchy showing a subtree, with a space (\040)
 * in the mount point. */
static const char *MI_SUB =
    "31 30 0:28 /docker/abc /sys/fs/cgroup/cpu\\040x rw - cgroup cgroup rw,cpuacct,cpu\n";
static const char *MI_V2 = "35 24 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

static void test_mounts(void) {
    char m[256], r[256];
    CHECK(cost_emu_find_mount(MI_V1, COST_CGROUP_V1, m, sizeof m, r, sizeof r) == 1);
    CHECK(!strcmp(m, "/sys/fs/cgroup/cpu") && !strcmp(r, "/"));
    CHECK(cost_emu_find_mount(MI_V1, COST_CGROUP_V2, m, sizeof m, r, sizeof r) == 1);
    CHECK(!strcmp(m, "/sys/fs/cgroup/unified"));
    CHECK(cost_emu_find_mount(MI_SUB, COST_CGROUP_V1, m, sizeof m, r, sizeof r) == 1);
    CHECK(!strcmp(m, "/sys/fs/cgroup/cpu x") && !strcmp(r, "/docker/abc"));
    CHECK(cost_emu_find_mount(MI_SUB, COST_CGROUP_V2, m, sizeof m, r, sizeof r) == 0);
    CHECK(cost_emu_find_mount(MI_V2, COST_CGROUP_V1, m, sizeof m, r, sizeof r) == 0);
    CHECK(cost_emu_find_mount(MI_V2, COST_CGROUP_V2, m, sizeof m, NULL, 0) == 1);
    CHECK(!strcmp(m, "/sys/fs/cgroup"));
    /* "cpuset" and "cpuacct" alone are not "cpu" */
    CHECK(cost_emu_find_mount("1 2 0:1 / /c rw - cgroup cgroup rw,cpuset,cpuacct\n", COST_CGROUP_V1, m,
                              sizeof m, r, sizeof r) == 0);
    CHECK(cost_emu_find_mount("", COST_CGROUP_V1, m, sizeof m, r, sizeof r) == 0);
    CHECK(cost_emu_find_mount("garbage without fields", COST_CGROUP_V2, m, sizeof m, r, sizeof r) == 0);
}

static void test_self(void) {
    const char *pc = "9:name=systemd:/\n4:memory:/job/42\n3:cpuset:/\n2:cpuacct:/x\n1:cpu:/a/b\n0::/user.slice/s1\n";
    char p[256];
    CHECK(cost_emu_find_self(pc, COST_CGROUP_V1, p, sizeof p) == 1);
    CHECK(!strcmp(p, "/a/b"));
    CHECK(cost_emu_find_self(pc, COST_CGROUP_V2, p, sizeof p) == 1);
    CHECK(!strcmp(p, "/user.slice/s1"));
    CHECK(cost_emu_find_self("5:cpu,cpuacct:/docker/abc\n", COST_CGROUP_V1, p, sizeof p) == 1);
    CHECK(!strcmp(p, "/docker/abc"));
    CHECK(cost_emu_find_self("0::/", COST_CGROUP_V2, p, sizeof p) == 1); /* no trailing newline */
    CHECK(!strcmp(p, "/"));
    CHECK(cost_emu_find_self("0::/\n", COST_CGROUP_V1, p, sizeof p) == 0);
    CHECK(cost_emu_find_self("3:cpuset:/\n", COST_CGROUP_V1, p, sizeof p) == 0);
    CHECK(cost_emu_find_self("1:cpu:/a/very/long/path\n", COST_CGROUP_V1, p, 8) == 0); /* does not fit */
}

static void test_median_and_work(void) {
    double v[] = {5, 1, 4, 2, 3};
    CHECK(cost_emu_median(v, 5) == 3);
    double w[] = {4, 1, 3, 2};
    CHECK(cost_emu_median(w, 4) == 2.5);
    CHECK(cost_emu_median(w, 0) == 0);
    double a = cost_emu_reference_work(3), b = cost_emu_reference_work(3), c = cost_emu_reference_work(4);
    CHECK(a == b && isfinite(a));
    CHECK(c != a && isfinite(c));
}

int main(void) {
    test_quota();
    test_slowdown();
    test_mounts();
    test_self();
    test_median_and_work();
    return check_summary("test_cost_emulate");
}
