/* ops/nofast: the fast kernel interface (ops/fast.h) for builds without a
 * fast library. Every create answers FAST_NO, so callers always run their
 * reference kernels; the other entry points are never reached. */
#include "ops/fast.h"

int fast_conv_create(const fast_conv_desc *d, void **state) {
    (void)d;
    *state = NULL;
    return FAST_NO;
}
size_t fast_conv_scratch_bytes(const void *state) {
    (void)state;
    return 0;
}
int fast_conv_run(void *state, const float *src, float *dst, void *scratch) {
    (void)state, (void)src, (void)dst, (void)scratch;
    return -1;
}
int fast_conv_run_sum(void *state, const float *src, float *dst, const float *sum,
                      void *scratch) {
    (void)state, (void)src, (void)dst, (void)sum, (void)scratch;
    return -1;
}
void fast_conv_destroy(void *state) {
    (void)state;
}

int fast_gemm_create(const fast_gemm_desc *d, void **state) {
    (void)d;
    *state = NULL;
    return FAST_NO;
}
size_t fast_gemm_scratch_bytes(const void *state) {
    (void)state;
    return 0;
}
int fast_gemm_run(void *state, const float *a, float *y, void *scratch) {
    (void)state, (void)a, (void)y, (void)scratch;
    return -1;
}
void fast_gemm_destroy(void *state) {
    (void)state;
}

int fast_pool_create(const fast_pool_desc *d, void **state) {
    (void)d;
    *state = NULL;
    return FAST_NO;
}
size_t fast_pool_scratch_bytes(const void *state) {
    (void)state;
    return 0;
}
int fast_pool_run(void *state, const float *src, float *dst, void *scratch) {
    (void)state, (void)src, (void)dst, (void)scratch;
    return -1;
}
void fast_pool_destroy(void *state) {
    (void)state;
}

void fast_set_deterministic(int on) { (void)on; }
void fast_set_winograd(int mode) { (void)mode; }
int fast_winograd_enabled(void) { return 0; }

int fast_block_size(void) {
    return 0;
}

const char *fast_impl_name(const void *state) {
    (void)state;
    return "none";
}
size_t fast_held_bytes(const void *state) {
    (void)state;
    return 0;
}
const char *fast_backend_name(void) {
    return "none";
}
