/* External data: a model whose weights live in weights.bin next to it
 * (made by tools/make_external_data_model.py) loads, runs and matches
 * numpy's output; a missing data file or a location escaping the model's
 * folder are refused with the file named. */
#include <stdio.h>
#include <string.h>

#include "../common/compare.h"
#include "base/npy.h"
#include "check.h"
#include "onnx/onnx.h"
#include "runtime/optimize.h"
#include "runtime/runtime.h"

#define DIR CLEAVE_SOURCE_DIR "/tests/data/external"

int main(void) {
    cleave_ctx *ctx;
    cleave_ctx_create(&ctx);
    ir_graph *g = NULL;
    CHECK(onnx_load_file(ctx, DIR "/model.onnx", &g) == CLEAVE_OK);
    if (g) {
        int w = ir_graph_find_value(g, "W");
        CHECK(w >= 0 && g->values[w].external && g->values[w].data);
        cv_tensor x, want;
        CHECK(cv_npy_load(ctx, DIR "/input.npy", &x) == CLEAVE_OK);
        CHECK(cv_npy_load(ctx, DIR "/expected.npy", &want) == CLEAVE_OK);
        rt_plan *p = NULL;
        CHECK(rt_graph_optimize(ctx, g, NULL) == CLEAVE_OK);
        CHECK(rt_plan_create(ctx, g, NULL, 0, NULL, 0, &x, NULL, &p) == CLEAVE_OK);
        if (p) {
            char msg[256];
            CHECK(rt_plan_run(p, &x) == CLEAVE_OK);
            CHECK(cv_test_compare(rt_plan_output(p, 0), &want, 1e-5, 1e-5, msg, sizeof msg));
            rt_plan_destroy(p);
        }
        /* saving writes the weights inline; the copy loads without weights.bin */
        CHECK(onnx_save_file(ctx, g, "external_inline.onnx") == CLEAVE_OK);
        ir_graph *h = NULL;
        CHECK(onnx_load_file(ctx, "external_inline.onnx", &h) == CLEAVE_OK);
        ir_graph_destroy(h);
        remove("external_inline.onnx");
        cv_aligned_free(x.data);
        cv_aligned_free(want.data);
        ir_graph_destroy(g);
        g = NULL;
    }
    /* the same model file in a folder without weights.bin */
    uint8_t *buf;
    size_t len;
    if (cv_read_file(ctx, DIR "/model.onnx", 1 << 20, &buf, &len) == CLEAVE_OK) {
        CHECK(onnx_load_bytes(ctx, buf, len, "/nonexistent-dir/model.onnx", &g) == CLEAVE_E_IO);
        CHECK(strstr(cleave_ctx_error(ctx), "weights.bin") != NULL);
        cleave_ctx_clear_error(ctx);
        /* a location that leaves the model's folder is refused */
        uint8_t *hit = NULL;
        for (size_t i = 0; i + 11 <= len; i++)
            if (!memcmp(buf + i, "weights.bin", 11)) hit = buf + i;
        if (hit) {
            memcpy(hit, "../eights.b", 11);
            CHECK(onnx_load_bytes(ctx, buf, len, DIR "/model.onnx", &g) == CLEAVE_E_INVALID);
            CHECK(strstr(cleave_ctx_error(ctx), "relative path") != NULL);
            cleave_ctx_clear_error(ctx);
        }
        cv_free(buf);
    }
    cleave_ctx_destroy(ctx);
    return check_summary("external data");
}
