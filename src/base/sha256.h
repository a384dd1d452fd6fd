/* sha256: FIPS 180-4 SHA-256, used to tie profiles, statistics and plans
 * to the exact model file they were made from. */
#ifndef CLEAVE_SHA256_H
#define CLEAVE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct cv_sha256 {
    uint32_t h[8];
    uint64_t len;      /* bytes hashed so far */
    uint8_t buf[64];
    size_t fill;
} cv_sha256;

void cv_sha256_init(cv_sha256 *s);
void cv_sha256_update(cv_sha256 *s, const void *data, size_t n);
void cv_sha256_final(cv_sha256 *s, uint8_t out[32]);
/* Lower-case hex digest (64 chars + NUL) of a buffer. */
void cv_sha256_hex(const void *data, size_t n, char out[65]);
/* Digest of a whole file, streamed. */
cleave_status cv_sha256_file(cleave_ctx *ctx, const char *path, char out[65]);

#endif
