/* net/codec: body compression for Content-Encoding — gzip and deflate
 * (zlib) and zstd (libzstd). Decompression streams into a buffer that only
 * grows up to the caller's cap, and once the cap is reached decodes into a
 * small scratch probe: a compression bomb costs at most max_out bytes (plus
 * zstd's window, itself capped near max_out) and comes back CLEAVE_E_LIMIT. */
#include <string.h>

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "net/v2.h"

#define CHUNK_MAX ((size_t)1 << 30) /* zlib counts in uInt */

/* the n bytes at s equal the lower-case name, ignoring ASCII case */
static int same_name(const char *s, size_t n, const char *name) {
    if (strlen(name) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
        if (c != name[i]) return 0;
    }
    return 1;
}

int net_encoding_parse(const char *s) {
    if (!s) return NET_ENC_IDENTITY;
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    static const struct {
        const char *name;
        net_encoding e;
    } names[] = {{"", NET_ENC_IDENTITY},     {"identity", NET_ENC_IDENTITY}, {"gzip", NET_ENC_GZIP},
                 {"x-gzip", NET_ENC_GZIP},   {"zstd", NET_ENC_ZSTD},         {"deflate", NET_ENC_DEFLATE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (same_name(s, n, names[i].name)) return (int)names[i].e;
    return -1;
}

const char *net_encoding_name(net_encoding e) {
    switch (e) {
    case NET_ENC_IDENTITY: return "identity";
    case NET_ENC_GZIP: return "gzip";
    case NET_ENC_ZSTD: return "zstd";
    case NET_ENC_DEFLATE: return "deflate";
    }
    return NULL;
}

/* ---- compression ---- */

static cleave_status z_compress(cleave_ctx *ctx, int gzip, const uint8_t *in, size_t len, int level, net_buf *out) {
    const char *name = gzip ? "gzip" : "deflate";
    if (level < 0 || level > 9)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: compression level %d out of 1..9", name, level);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 15 + 16 : 15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot initialise the compressor", name);
    cleave_status st = net_buf_reserve(ctx, out, (size_t)deflateBound(&z, (uLong)len));
    size_t left = len;
    const uint8_t *p = in;
    while (st == CLEAVE_OK) {
        if (z.avail_in == 0 && left) {
            size_t c = left < CHUNK_MAX ? left : CHUNK_MAX;
            z.next_in = (Bytef *)p;
            z.avail_in = (uInt)c;
            p += c;
            left -= c;
        }
        if (out->len == out->cap && (st = net_buf_reserve(ctx, out, 1 << 16)) != CLEAVE_OK) break;
        size_t room = out->cap - out->len < CHUNK_MAX ? out->cap - out->len : CHUNK_MAX;
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)room;
        int r = deflate(&z, left ? Z_NO_FLUSH : Z_FINISH);
        out->len += room - z.avail_out;
        if (r == Z_STREAM_END) break;
        if (r != Z_OK && r != Z_BUF_ERROR) st = cv_fail(ctx, CLEAVE_E_INTERNAL, "%s: deflate failed (%d)", name, r);
    }
    deflateEnd(&z);
    return st;
}

static cleave_status zstd_compress(cleave_ctx *ctx, const uint8_t *in, size_t len, int level, net_buf *out) {
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return cv_fail(ctx, CLEAVE_E_INVALID, "zstd: compression level %d out of %d..%d", level, ZSTD_minCLevel(),
                       ZSTD_maxCLevel());
    size_t bound = ZSTD_compressBound(len);
    if (ZSTD_isError(bound)) return cv_fail(ctx, CLEAVE_E_LIMIT, "zstd: %zu bytes are too many to compress", len);
    CV_TRY(net_buf_reserve(ctx, out, bound));
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c) return cv_fail(ctx, CLEAVE_E_NOMEM, "zstd: cannot create a compression context");
    /* one shot: the frame records the content size */
    size_t r = ZSTD_compressCCtx(c, out->data, out->cap, in, len, level ? level : ZSTD_CLEVEL_DEFAULT);
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(r)) return cv_fail(ctx, CLEAVE_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
    out->len = r;
    return CLEAVE_OK;
}

cleave_status net_compress(cleave_ctx *ctx, net_encoding e, const uint8_t *in, size_t len, int level, net_buf *out) {
    out->len = 0;
    if (!in && len) return cv_fail(ctx, CLEAVE_E_INVALID, "compress: no input");
    switch (e) {
    case NET_ENC_IDENTITY: return net_buf_append(ctx, out, in, len);
    case NET_ENC_GZIP: return z_compress(ctx, 1, in, len, level, out);
    case NET_ENC_DEFLATE: return z_compress(ctx, 0, in, len, level, out);
    case NET_ENC_ZSTD: return zstd_compress(ctx, in, len, level, out);
    }
    return cv_fail(ctx, CLEAVE_E_INVALID, "compress: unknown encoding %d", (int)e);
}

/* ---- decompression ---- */

/* Where the next output goes: *room bytes at the end of out, growing out by
 * doubling but never beyond max_out; *room 0 when out holds max_out. */
static cleave_status out_room(cleave_ctx *ctx, net_buf *out, size_t max_out, size_t in_len, size_t *room) {
    size_t lim = out->cap < max_out ? out->cap : max_out;
    if (lim > out->len) {
        *room = lim - out->len;
        return CLEAVE_OK;
    }
    if (out->cap >= max_out) {
        *room = 0;
        return CLEAVE_OK;
    }
    size_t want = out->cap ? out->cap * 2 : (in_len < (SIZE_MAX >> 3) ? in_len * 4 : SIZE_MAX);
    if (want < (1 << 16)) want = 1 << 16;
    if (want > max_out || want < out->cap) want = max_out;
    uint8_t *p = cv_realloc(out->data, want);
    if (!p) return cv_fail(ctx, CLEAVE_E_NOMEM, "decompress: out of memory for %zu bytes", want);
    out->data = p;
    out->cap = want;
    *room = want - out->len;
    return CLEAVE_OK;
}

static cleave_status too_big(cleave_ctx *ctx, const char *name, size_t max_out) {
    return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: decompressed body is larger than %zu bytes", name, max_out);
}

static cleave_status z_decompress(cleave_ctx *ctx, int gzip, const uint8_t *in, size_t len, size_t max_out,
                                  net_buf *out) {
    const char *name = gzip ? "gzip" : "deflate";
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, gzip ? 15 + 16 : 15) != Z_OK)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot initialise the decompressor", name);
    uint8_t probe[64];
    size_t left = len;
    const uint8_t *p = in;
    cleave_status st = CLEAVE_OK;
    for (;;) {
        if (z.avail_in == 0 && left) {
            size_t c = left < CHUNK_MAX ? left : CHUNK_MAX;
            z.next_in = (Bytef *)p;
            z.avail_in = (uInt)c;
            p += c;
            left -= c;
        }
        size_t room = 0;
        if ((st = out_room(ctx, out, max_out, len, &room)) != CLEAVE_OK) break;
        int probing = room == 0; /* at the cap: any further byte is too many */
        if (probing) room = sizeof probe;
        if (room > CHUNK_MAX) room = CHUNK_MAX;
        z.next_out = probing ? probe : out->data + out->len;
        z.avail_out = (uInt)room;
        uInt in0 = z.avail_in;
        int r = inflate(&z, Z_NO_FLUSH);
        size_t got = room - z.avail_out;
        if (probing && got) {
            st = too_big(ctx, name, max_out);
            break;
        }
        if (!probing) out->len += got;
        if (r == Z_STREAM_END) {
            if (z.avail_in == 0 && left == 0) break;
            if (!gzip) {
                st = cv_fail(ctx, CLEAVE_E_PARSE, "deflate: data after the end of the stream");
                break;
            }
            inflateReset(&z); /* concatenated gzip members (RFC 1952 2.2) */
            continue;
        }
        if (r == Z_MEM_ERROR) {
            st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", name);
            break;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: corrupt data: %s", name, z.msg ? z.msg : "bad stream");
            break;
        }
        if (got == 0 && z.avail_in == in0) { /* no progress: the input ran out mid-stream */
            st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: truncated stream (%zu bytes)", name, len);
            break;
        }
    }
    inflateEnd(&z);
    return st;
}

static unsigned ceil_log2(size_t n) {
    unsigned b = 0;
    while (b < 63 && ((size_t)1 << b) < n) b++;
    return b;
}

static cleave_status zstd_decompress(cleave_ctx *ctx, const uint8_t *in, size_t len, size_t max_out, net_buf *out) {
    /* A frame that declares more content than the cap is refused at once. */
    unsigned long long declared = len ? ZSTD_getFrameContentSize(in, len) : ZSTD_CONTENTSIZE_UNKNOWN;
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR && declared > max_out)
        return too_big(ctx, "zstd", max_out);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) return cv_fail(ctx, CLEAVE_E_NOMEM, "zstd: cannot create a decompression context");
    /* The decoder's window (memory) is bounded near the output cap: 2^20
     * (1 MB) at least, 2^27 (zstd's default limit) at most. */
    unsigned wlog = ceil_log2(max_out);
    wlog = wlog < 20 ? 20 : wlog > 27 ? 27 : wlog;
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, (int)wlog);
    ZSTD_inBuffer ib = {in, len, 0};
    uint8_t probe[64];
    cleave_status st = CLEAVE_OK;
    for (;;) {
        size_t room = 0;
        if ((st = out_room(ctx, out, max_out, len, &room)) != CLEAVE_OK) break;
        int probing = room == 0;
        ZSTD_outBuffer ob = {probing ? probe : out->data + out->len, probing ? sizeof probe : room, 0};
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r)) {
            ZSTD_ErrorCode c = ZSTD_getErrorCode(r);
            if (c == ZSTD_error_frameParameter_windowTooLarge)
                st = cv_fail(ctx, CLEAVE_E_LIMIT, "zstd: frame needs a window above 2^%u bytes", wlog);
            else if (c == ZSTD_error_memory_allocation)
                st = cv_fail(ctx, CLEAVE_E_NOMEM, "zstd: out of memory");
            else
                st = cv_fail(ctx, CLEAVE_E_PARSE, "zstd: corrupt data: %s", ZSTD_getErrorName(r));
            break;
        }
        if (probing && ob.pos) {
            st = too_big(ctx, "zstd", max_out);
            break;
        }
        if (!probing) out->len += ob.pos;
        if (r == 0 && ib.pos == ib.size) break; /* last frame complete and flushed */
        if (ib.pos == ib.size && ob.pos < ob.size) {
            /* output had room, input is used up, the frame is unfinished */
            st = cv_fail(ctx, CLEAVE_E_PARSE, "zstd: truncated stream (%zu bytes)", len);
            break;
        }
    }
    ZSTD_freeDCtx(d);
    return st;
}

cleave_status net_decompress(cleave_ctx *ctx, net_encoding e, const uint8_t *in, size_t len, size_t max_out,
                             net_buf *out) {
    out->len = 0;
    if (!in && len) return cv_fail(ctx, CLEAVE_E_INVALID, "decompress: no input");
    cleave_status st;
    switch (e) {
    case NET_ENC_IDENTITY:
        if (len > max_out) return too_big(ctx, "identity", max_out);
        return net_buf_append(ctx, out, in, len);
    case NET_ENC_GZIP: st = z_decompress(ctx, 1, in, len, max_out, out); break;
    case NET_ENC_DEFLATE: st = z_decompress(ctx, 0, in, len, max_out, out); break;
    case NET_ENC_ZSTD: st = zstd_decompress(ctx, in, len, max_out, out); break;
    default: return cv_fail(ctx, CLEAVE_E_INVALID, "decompress: unknown encoding %d", (int)e);
    }
    if (st != CLEAVE_OK) out->len = 0;
    return st;
}
