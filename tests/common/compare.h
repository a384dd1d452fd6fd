/* Test helper: compare a computed tensor with an expected one. Floats use
 * |a-b| <= atol + rtol*|b| (NaN equals NaN, infinities must match exactly);
 * integers and bools must be equal. Writes a description of the worst
 * element into msg. Returns 1 when they match. */
#ifndef CLEAVE_TEST_COMPARE_H
#define CLEAVE_TEST_COMPARE_H

#include <math.h>
#include <stdio.h>

#include "base/tensor.h"

static inline int cv_test_compare(const cv_tensor *got, const cv_tensor *want, double atol,
                                  double rtol, char *msg, size_t len) {
    char a[128], b[128];
    if (got->dtype != want->dtype) {
        snprintf(msg, len, "dtype %s, expected %s", cv_dtype_name(got->dtype),
                 cv_dtype_name(want->dtype));
        return 0;
    }
    if (!cv_shape_eq(got, want)) {
        snprintf(msg, len, "shape %s, expected %s", cv_shape_str(got->ndim, got->dims, a, sizeof a),
                 cv_shape_str(want->ndim, want->dims, b, sizeof b));
        return 0;
    }
    int is_float = got->dtype == CV_F32 || got->dtype == CV_F64 || got->dtype == CV_F16 ||
                   got->dtype == CV_BF16;
    int64_t n = cv_numel(got), bad = 0, worst = -1;
    double worst_err = -1;
    for (int64_t i = 0; i < n; i++) {
        double x = cv_get_f64(got, i), y = cv_get_f64(want, i), err;
        int ok;
        if (is_float) {
            if (isnan(y)) ok = isnan(x), err = ok ? 0 : INFINITY;
            else if (isinf(y)) ok = x == y, err = ok ? 0 : INFINITY;
            else {
                err = fabs(x - y) / (atol + rtol * fabs(y));
                ok = err <= 1.0;
                if (isnan(x)) ok = 0, err = INFINITY;
            }
        } else {
            ok = cv_get_i64(got, i) == cv_get_i64(want, i);
            err = ok ? 0 : 1e300;
        }
        if (!ok) bad++;
        if (err > worst_err) worst_err = err, worst = i;
    }
    if (bad) {
        snprintf(msg, len, "%lld of %lld elements differ; worst at %lld: got %.9g, expected %.9g",
                 (long long)bad, (long long)n, (long long)worst, cv_get_f64(got, worst),
                 cv_get_f64(want, worst));
        return 0;
    }
    snprintf(msg, len, "ok");
    return 1;
}

#endif
