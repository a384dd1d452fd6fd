/* ops/dnnl: fast_qconv_* / fast_qgemm_* on oneDNN 2.x. Placeholder until
 * the int8 primitives land: create answers FAST_NO. */
#include "ops/fast.h"

int fast_qconv_create(const fast_qconv_desc *d, void **state) {
    (void)d;
    *state = NULL;
    return FAST_NO;
}
size_t fast_qconv_scratch_bytes(const void *state) {
    (void)state;
    return 0;
}
int fast_qconv_run(void *state, const void *src, void *dst, void *scratch) {
    (void)state, (void)src, (void)dst, (void)scratch;
    return -1;
}
void fast_qconv_destroy(void *state) {
    (void)state;
}

int fast_qgemm_create(const fast_qgemm_desc *d, void **state) {
    (void)d;
    *state = NULL;
    return FAST_NO;
}
size_t fast_qgemm_scratch_bytes(const void *state) {
    (void)state;
    return 0;
}
int fast_qgemm_run(void *state, const void *a, void *y, void *scratch) {
    (void)state, (void)a, (void)y, (void)scratch;
    return -1;
}
void fast_qgemm_destroy(void *state) {
    (void)state;
}
