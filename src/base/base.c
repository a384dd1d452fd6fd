/* base: context, first-error buffer, allocation wrappers, clocks, file I/O
 * and the arena that owns a model's strings and weights. */
#define _POSIX_C_SOURCE 200809L
#include "base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *cleave_status_str(cleave_status s) {
    switch (s) {
    case CLEAVE_OK: return "ok";
    case CLEAVE_E_IO: return "I/O error";
    case CLEAVE_E_PARSE: return "parse error";
    case CLEAVE_E_UNSUPPORTED: return "unsupported";
    case CLEAVE_E_INVALID: return "invalid";
    case CLEAVE_E_NOMEM: return "out of memory";
    case CLEAVE_E_NOT_IMPLEMENTED: return "not implemented";
    case CLEAVE_E_INTERNAL: return "internal error";
    case CLEAVE_E_LIMIT: return "limit exceeded";
    }
    return "unknown status";
}

cleave_status cleave_ctx_create(cleave_ctx **out) {
    cleave_ctx *c = calloc(1, sizeof *c);
    if (!c) return CLEAVE_E_NOMEM;
    c->threads = 1;
    c->fast = 1;
    *out = c;
    return CLEAVE_OK;
}

void cleave_ctx_destroy(cleave_ctx *ctx) { free(ctx); }
void cleave_ctx_set_threads(cleave_ctx *ctx, int n) { ctx->threads = n < 1 ? 1 : n; }
int cleave_ctx_threads(const cleave_ctx *ctx) { return ctx->threads; }
void cleave_ctx_set_fast(cleave_ctx *ctx, int on) { ctx->fast = on != 0; }
int cleave_ctx_fast(const cleave_ctx *ctx) { return ctx->fast; }
void cleave_ctx_set_verbose(cleave_ctx *ctx, int level) { ctx->verbose = level; }
int cleave_ctx_verbose(const cleave_ctx *ctx) { return ctx->verbose; }
const char *cleave_ctx_error(const cleave_ctx *ctx) { return ctx->has_error ? ctx->error : ""; }
void cleave_ctx_clear_error(cleave_ctx *ctx) {
    ctx->has_error = 0;
    ctx->error[0] = 0;
}

cleave_status cv_fail(cleave_ctx *ctx, cleave_status code, const char *fmt, ...) {
    if (ctx && !ctx->has_error) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
        va_end(ap);
        ctx->has_error = 1;
    }
    return code;
}

void *cv_malloc(size_t n) { return malloc(n ? n : 1); }
void *cv_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *cv_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
void cv_free(void *p) { free(p); }
char *cv_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void *cv_aligned_alloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0) return NULL;
    return p;
}
void cv_aligned_free(void *p) { free(p); }

int cv_mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

uint64_t cv_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
double cv_now_ms(void) { return (double)cv_now_ns() / 1e6; }

void cv_sleep_ms(double ms) {
    if (!(ms > 0)) return;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long ns = (long long)end.tv_nsec + (long long)(ms * 1e6);
    end.tv_sec += (time_t)(ns / 1000000000LL);
    end.tv_nsec = (long)(ns % 1000000000LL);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR) {
    }
}

cleave_status cv_read_file(cleave_ctx *ctx, const char *path, size_t max_bytes,
                           uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot seek (not a regular file?)", path);
    }
    long sz = ftell(f);
    if (sz < 0) {
        fclose(f);
        return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot tell size: %s", path, strerror(errno));
    }
    if ((unsigned long)sz > max_bytes) {
        fclose(f);
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: file is %ld bytes, limit is %zu", path, sz,
                       max_bytes);
    }
    rewind(f);
    uint8_t *buf = malloc((size_t)sz + 1);
    if (!buf) {
        fclose(f);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot allocate %ld bytes", path, sz);
    }
    size_t got = fread(buf, 1, (size_t)sz, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != (size_t)sz) {
        free(buf);
        return cv_fail(ctx, CLEAVE_E_IO, "%s: read failed (%zu of %ld bytes)", path, got, sz);
    }
    buf[sz] = 0;
    *data = buf;
    *len = (size_t)sz;
    return CLEAVE_OK;
}

cleave_status cv_write_file(cleave_ctx *ctx, const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t put = fwrite(data, 1, len, f);
    int bad = put != len;
    if (fclose(f) != 0) bad = 1;
    if (bad) return cv_fail(ctx, CLEAVE_E_IO, "%s: write failed: %s", path, strerror(errno));
    return CLEAVE_OK;
}

struct cv_arena_block {
    cv_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
};

void *cv_arena_alloc(cv_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    cv_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->used = 0;
        b->cap = cap;
        /* Big one-off blocks go behind the head so the head keeps its free space. */
        if (a->head && cap == n) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
        a->total += cap;
    }
    void *p = b->mem + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *cv_arena_strdup(cv_arena *a, const char *s) {
    return cv_arena_memdup(a, s, strlen(s) + 1);
}

void *cv_arena_memdup(cv_arena *a, const void *p, size_t n) {
    void *d = cv_arena_alloc(a, n);
    if (d && n) memcpy(d, p, n);
    return d;
}

void cv_arena_destroy(cv_arena *a) {
    cv_arena_block *b = a->head;
    while (b) {
        cv_arena_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
    a->total = 0;
}
