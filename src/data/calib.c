/* calib: a deterministic calibration subset. Floyd's algorithm (Bentley &
 * Floyd, "Programming Pearls: A Sample of Brilliance", CACM 30(9), 1987)
 * draws n distinct indices with n random numbers; splitmix64 (Steele, Lea
 * & Flood, OOPSLA 2014) supplies them; a bitmap marks the chosen indices
 * and a scan returns them sorted. Integer arithmetic only: the same subset
 * on every platform and compiler. */
#include <string.h>

#include "data/data.h"

static uint64_t splitmix64_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, range) without modulo bias: reject the 2^64 mod range
 * smallest values (as OpenBSD's arc4random_uniform). range >= 1. */
static uint64_t uniform_below(uint64_t *state, uint64_t range) {
    uint64_t threshold = (0 - range) % range;
    for (;;) {
        uint64_t x = splitmix64_next(state);
        if (x >= threshold) return x % range;
    }
}

cleave_status data_calib_indices(cleave_ctx *ctx, int n_total, int n, uint64_t seed, int *out) {
    if (n_total < 0 || n_total > DATA_CALIB_MAX_TOTAL || n < 0 || n > n_total || (n > 0 && !out))
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "data_calib_indices: cannot pick %d of %d indices (0 <= n <= total <= %d)", n,
                       n_total, DATA_CALIB_MAX_TOTAL);
    if (n == 0) return CLEAVE_OK;
    size_t words = ((size_t)n_total + 63) / 64;
    uint64_t *taken = cv_calloc(words, sizeof *taken);
    if (!taken)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "data_calib_indices: cannot allocate a %d-bit map",
                       n_total);
    uint64_t state = seed;
    /* Floyd: for j = N-n .. N-1, t = uniform in [0, j]; take t, or j if t is taken. */
    for (int j = n_total - n; j < n_total; j++) {
        uint64_t t = uniform_below(&state, (uint64_t)j + 1);
        if (taken[t / 64] >> (t % 64) & 1) t = (uint64_t)j;
        taken[t / 64] |= (uint64_t)1 << (t % 64);
    }
    int k = 0;
    for (int i = 0; i < n_total; i++)
        if (taken[i / 64] >> (i % 64) & 1) out[k++] = i;
    cv_free(taken);
    return k == n ? CLEAVE_OK
                  : cv_fail(ctx, CLEAVE_E_INTERNAL, "data_calib_indices: picked %d of %d", k, n);
}
