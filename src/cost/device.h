/* cost/device: a device description (devices/NAME.json, "cleave-device" v1,
 * documented in docs/devices.md): cores, peak throughput per compute dtype,
 * achieved fraction of that peak per op class, memory bandwidth, memory
 * available to the model and the fixed cost of one node. The roofline
 * predictor and the edge emulation read it; `cleave profile
 * --calibrate-device` fills one by micro-benchmarks on this machine. */
#ifndef CLEAVE_COST_DEVICE_H
#define CLEAVE_COST_DEVICE_H

#include "cost/cost.h"

#define COST_DEVICE_VERSION 1

typedef struct cost_device {
    char name[64];
    char kind[16];          /* "edge", "cloud" or "host" */
    char description[256];
    int cores;              /* cores the model may use */
    double freq_ghz;        /* nominal clock (informative; 0 = unknown) */
    /* Peak arithmetic per core: GFLOP/s for fp32 (2 per MAC), GOP/s for int8. */
    double peak_gops[COST_DT_N];
    /* Fraction of peak real kernels reach, per dtype and op class (0 < e <= 1). */
    double efficiency[COST_DT_N][COST_OP_N];
    double mem_bw_gbs;      /* sustained memory bandwidth, GB/s (all cores) */
    double mem_bytes;       /* memory available to the model (weights + activations) */
    double op_overhead_us;  /* fixed cost per executed node */
    int winograd;           /* runs fp32 3x3 convs by a fast algorithm: the file
                             * lists efficiency.fp32.wconv (else wconv = conv) */
    /* Thread scaling (optional "parallel" object; without it every class
     * scales linearly in cores at mem_bw_gbs and no extra cost):
     * speedup(T) = 1 + (T - 1) x par_eff[dtype][class] for T <= cores;
     * memory bandwidth and per-node cost interpolate linearly in T between
     * one core and all cores. */
    int has_parallel;
    double par_eff[COST_DT_N][COST_OP_N]; /* 0..1 per extra core (1 = linear) */
    double mem_bw_1core_gbs;              /* one core's bandwidth (0 = mem_bw_gbs) */
    double par_overhead_us;               /* extra fixed cost per node on all cores */
    char sources[1024];     /* where the figures come from (free text) */
    char calibrated[128];   /* "" or how/when measured ("cleave 0.x micro-benchmarks, <date>") */
} cost_device;

/* Load and validate: every required field present and in range; errors
 * name the file and the field ("devices/x.json: peak_gops.fp32: must be > 0"). */
cleave_status cost_device_load(cleave_ctx *ctx, const char *path, cost_device *d);
cleave_status cost_device_save(cleave_ctx *ctx, const char *path, const cost_device *d);
cleave_status cost_device_validate(cleave_ctx *ctx, const char *where, const cost_device *d);
/* Efficiency a loaded file gets for an op class it does not list. */
double cost_device_default_efficiency(cost_op_class c);
/* "262144", "256KiB", "4MiB", "1GiB", "1.5GB" -> bytes (K/Ki = 1024, KB = 1000);
 * 0 when s is not a size. */
int cost_parse_bytes(const char *s, double *out);

/* Achieved throughput in GOP/s of class c at dtype t with `threads` threads
 * (peak x efficiency x cost_device_speedup; threads <= 0 means all cores). */
double cost_device_gops(const cost_device *d, cost_dtype t, cost_op_class c, int threads);

/* Speedup of class c at dtype t on `threads` threads over one core
 * (1 + (T - 1) x par_eff; T on linearly without a "parallel" object). */
double cost_device_speedup(const cost_device *d, cost_dtype t, cost_op_class c, int threads);
/* Memory bandwidth (GB/s) and fixed per-node cost (us) on `threads` threads. */
double cost_device_bw_gbs(const cost_device *d, int threads);
double cost_device_overhead_us(const cost_device *d, int threads);

/* Roofline time of one node in ms: max(arithmetic / achieved throughput,
 * bytes moved / bandwidth) + per-node overhead. Arithmetic = 2 x MACs when
 * the node has MACs (conv, dwconv, gemm), else its flops; bytes = input +
 * output + parameter bytes. What it ignores: see src/cost/roofline.c. */
double cost_roofline_node_ms(const cost_device *d, const cost_features *f, int threads);

/* Micro-benchmarks on the current machine (a few seconds): fills cores,
 * peaks, efficiencies, bandwidth and overhead of d; progress on stderr
 * when progress != 0. threads <= 0: the context's thread count. Method in
 * docs/devices.md. */
cleave_status cost_device_calibrate(cleave_ctx *ctx, int threads, int progress, cost_device *d);
/* The same with a time budget in seconds (cost_device_calibrate: 4 s; the
 * time to compile the benchmark graphs comes on top). Under 1 s the shapes
 * and buffers shrink (a smoke test, not a calibration). */
cleave_status cost_device_calibrate_budget(cleave_ctx *ctx, int threads, int progress, double seconds,
                                           cost_device *d);

#endif
