/* cleave public API: status codes and the context that carries options,
 * threads and the first-error buffer. Every call that can fail returns a
 * cleave_status; objects come back through out-parameters. */
#ifndef CLEAVE_CLEAVE_H
#define CLEAVE_CLEAVE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cleave_status {
    CLEAVE_OK = 0,
    CLEAVE_E_IO = 1,              /* file unreadable / unwritable */
    CLEAVE_E_PARSE = 2,           /* malformed file (protobuf, npy, json) */
    CLEAVE_E_UNSUPPORTED = 3,     /* valid input we do not handle (op, dtype) */
    CLEAVE_E_INVALID = 4,         /* inconsistent input (shapes, attributes, args) */
    CLEAVE_E_NOMEM = 5,
    CLEAVE_E_NOT_IMPLEMENTED = 6,
    CLEAVE_E_INTERNAL = 7,
    CLEAVE_E_LIMIT = 8            /* a size/count cap was exceeded */
} cleave_status;

typedef struct cleave_ctx cleave_ctx;

const char *cleave_status_str(cleave_status s);

/* Create a context. Threads default to 1; log level 0 = quiet. */
cleave_status cleave_ctx_create(cleave_ctx **out);
void cleave_ctx_destroy(cleave_ctx *ctx);
void cleave_ctx_set_threads(cleave_ctx *ctx, int n);
int cleave_ctx_threads(const cleave_ctx *ctx);
/* 1 = use the fast library kernels when present (default), 0 = reference C only. */
void cleave_ctx_set_fast(cleave_ctx *ctx, int on);
int cleave_ctx_fast(const cleave_ctx *ctx);
void cleave_ctx_set_verbose(cleave_ctx *ctx, int level);
int cleave_ctx_verbose(const cleave_ctx *ctx);

/* The first error recorded since the last clear ("where: what: why"). */
const char *cleave_ctx_error(const cleave_ctx *ctx);
void cleave_ctx_clear_error(cleave_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
