/* cost/roofline: the analytical predictor. A node takes the longer of its
 * arithmetic at the throughput the device reaches for its op class and
 * dtype, and its memory traffic at the device's bandwidth, plus a fixed
 * per-node cost (Williams, Waterman, Patterson, "Roofline: an insightful
 * visual performance model for multicore architectures", CACM 52(4), 2009).
 *
 * What it ignores, knowingly:
 *  - caches: every input, output and weight byte is charged once at DRAM
 *    bandwidth, although a small layer's tensors stay in L2 and a large
 *    layer's im2col / reorders move more than its tensors;
 *  - overlap between nodes and the ramp between the two roofs (near the
 *    ridge point a real kernel is slower than either bound);
 *  - shape effects inside a class (a 1x1 conv over 7x7 pixels reaches less
 *    than a 3x3 over 56x56; Winograd / FFT kernels do fewer multiplies than
 *    2 x MACs); the per-class efficiency is an average, the regression
 *    predictor models the rest;
 *  - thread scaling beyond one calibrated factor per class (a small node
 *    scales worse than the class's representative layers), frequency boost
 *    and thermal throttling, and bandwidth shared with other processes;
 *  - layout conversions the executor inserts between nodes (they are in the
 *    measured per-node time, not here). */
#include <math.h>

#include "cost/device.h"

static int used_cores(const cost_device *d, int threads) {
    int n = d->cores > 0 ? d->cores : 1;
    return threads > 0 && threads < n ? threads : n;
}

double cost_device_speedup(const cost_device *d, cost_dtype t, cost_op_class c, int threads) {
    int n = used_cores(d, threads);
    if (!d->has_parallel || (unsigned)t >= COST_DT_N || (unsigned)c >= COST_OP_N) return n;
    return 1.0 + (n - 1) * d->par_eff[t][c];
}

/* share of the way from one core to all cores */
static double core_frac(const cost_device *d, int threads) {
    int n = used_cores(d, threads);
    return d->cores > 1 ? (double)(n - 1) / (d->cores - 1) : 1.0;
}

double cost_device_bw_gbs(const cost_device *d, int threads) {
    if (!d->has_parallel || !(d->mem_bw_1core_gbs > 0)) return d->mem_bw_gbs;
    return d->mem_bw_1core_gbs + (d->mem_bw_gbs - d->mem_bw_1core_gbs) * core_frac(d, threads);
}

double cost_device_overhead_us(const cost_device *d, int threads) {
    if (!d->has_parallel || used_cores(d, threads) < 2) return d->op_overhead_us;
    return d->op_overhead_us + d->par_overhead_us * core_frac(d, threads);
}

double cost_device_gops(const cost_device *d, cost_dtype t, cost_op_class c, int threads) {
    if ((unsigned)t >= COST_DT_N || (unsigned)c >= COST_OP_N) return 0;
    return d->peak_gops[t] * d->efficiency[t][c] * cost_device_speedup(d, t, c, threads);
}

double cost_roofline_node_ms(const cost_device *d, const cost_features *f, int threads) {
    double ops = f->macs > 0 ? 2.0 * f->macs : f->flops;
    if (!(ops > 0)) ops = 0;
    double bytes = f->in_bytes + f->out_bytes + f->param_bytes;
    if (!(bytes > 0)) bytes = 0;
    cost_dtype t = (unsigned)f->dtype < COST_DT_N ? f->dtype : COST_DT_FP32;
    cost_op_class c = (unsigned)f->cls < COST_OP_N ? f->cls : COST_OP_ELTWISE;
    double gops = cost_device_gops(d, t, c, threads);
    /* GOP/s = ops per ns; GB/s = bytes per ns; ns -> ms */
    double compute_ms = gops > 0 ? ops / gops * 1e-6 : 0;
    double bw = cost_device_bw_gbs(d, threads);
    double memory_ms = bw > 0 ? bytes / bw * 1e-6 : 0;
    return fmax(compute_ms, memory_ms) + cost_device_overhead_us(d, threads) * 1e-3;
}
