/* base: the context internals, first-error reporting, checked allocation
 * and small helpers every module uses. The first error wins: cv_fail()
 * writes "where: what: why" only if no error is recorded yet. */
#ifndef CLEAVE_BASE_H
#define CLEAVE_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/cleave.h"

struct cleave_ctx {
    int threads;
    int fast;
    int verbose;
    int has_error;
    char error[2048];
};

/* Record an error (printf-style) unless one is already recorded; returns code. */
cleave_status cv_fail(cleave_ctx *ctx, cleave_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Propagate a status: return it from the enclosing function if not OK. */
#define CV_TRY(expr)                                                           \
    do {                                                                       \
        cleave_status cv_try_s_ = (expr);                                      \
        if (cv_try_s_ != CLEAVE_OK) return cv_try_s_;                          \
    } while (0)

/* Allocation; return NULL on failure (callers turn it into CLEAVE_E_NOMEM). */
void *cv_malloc(size_t n);
void *cv_calloc(size_t n, size_t size);
void *cv_realloc(void *p, size_t n);
void cv_free(void *p);
char *cv_strdup(const char *s);
/* 64-byte aligned allocation (for kernels); free with cv_aligned_free. */
void *cv_aligned_alloc(size_t n);
void cv_aligned_free(void *p);

/* Overflow-checked size arithmetic: returns 0 on overflow. */
int cv_mul_size(size_t a, size_t b, size_t *out);

/* Monotonic time in nanoseconds / milliseconds. */
uint64_t cv_now_ns(void);
double cv_now_ms(void);
/* Sleep ms (fractions fine; <= 0: return at once) on the monotonic clock,
 * to an absolute deadline, so signals do not cut it short. */
void cv_sleep_ms(double ms);

/* Read a whole file (bounded by max_bytes). Caller frees *data with cv_free. */
cleave_status cv_read_file(cleave_ctx *ctx, const char *path, size_t max_bytes,
                           uint8_t **data, size_t *len);
cleave_status cv_write_file(cleave_ctx *ctx, const char *path, const void *data,
                            size_t len);

/* Growable byte arena: allocations live until cv_arena_destroy. */
typedef struct cv_arena_block cv_arena_block;
typedef struct cv_arena {
    cv_arena_block *head;
    size_t total;
} cv_arena;
void *cv_arena_alloc(cv_arena *a, size_t n); /* 16-byte aligned, zeroed */
char *cv_arena_strdup(cv_arena *a, const char *s);
void *cv_arena_memdup(cv_arena *a, const void *p, size_t n);
void cv_arena_destroy(cv_arena *a);

#endif
