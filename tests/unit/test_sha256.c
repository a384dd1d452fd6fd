/* sha256: FIPS 180-4 example vectors, chunked updates equal one update, and
 * the file digest equals the one tools/ recorded for a committed model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "unit/check.h"

static void check_hex(const char *msg, const char *want) {
    char got[65];
    cv_sha256_hex(msg, strlen(msg), got);
    CHECK(!strcmp(got, want));
    if (strcmp(got, want)) fprintf(stderr, "  '%s': got %s\n", msg, got);
}

int main(void) {
    check_hex("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_hex("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in uneven chunks */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    cv_sha256 s;
    cv_sha256_init(&s);
    size_t off = 0, step = 1;
    while (off < 1000000) {
        size_t n = step < 1000000 - off ? step : 1000000 - off;
        cv_sha256_update(&s, a + off, n);
        off += n;
        step = step * 3 % 997 + 1;
    }
    uint8_t d[32];
    cv_sha256_final(&s, d);
    static const uint8_t want[32] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92,
                                     0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
                                     0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e,
                                     0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
    CHECK(!memcmp(d, want, 32));
    free(a);
    /* the checksum tools/ recorded (by Python's hashlib) in the model's json */
    char path[1024], meta[1024], hex[65] = {0}, ref[65] = {0};
    snprintf(path, sizeof path, "%s/models/fmnist-cnn.onnx", CLEAVE_SOURCE_DIR);
    snprintf(meta, sizeof meta, "%s/models/fmnist-cnn.json", CLEAVE_SOURCE_DIR);
    cleave_ctx ctx = {0};
    FILE *f = fopen(meta, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *q = strstr(line, "\"onnx_sha256\": \"");
        if (q) sscanf(q + strlen("\"onnx_sha256\": \""), "%64[0-9a-f]", ref);
    }
    if (f) fclose(f);
    CHECK(strlen(ref) == 64);
    CHECK(cv_sha256_file(&ctx, path, hex) == CLEAVE_OK);
    CHECK(!strcmp(hex, ref));
    CHECK(cv_sha256_file(&ctx, "/nonexistent/x.onnx", hex) == CLEAVE_E_IO);
    CHECK(strstr(ctx.error, "/nonexistent/x.onnx") != NULL);
    return check_summary("test_sha256");
}
