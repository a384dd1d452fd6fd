/* npycompare GOT.npy WANT.npy [--rtol R]: whole-model output check.
 * Passes when the relative L2 error ||got-want|| / ||want|| <= R and the
 * largest absolute error <= 10*R*max|want| (default R = 1e-4). Prints the
 * figures either way. Exit 0 pass, 1 fail, 2 usage/IO error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/npy.h"

int main(int argc, char **argv) {
    double rtol = 1e-4;
    const char *f[2] = {0};
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rtol") && i + 1 < argc) rtol = atof(argv[++i]);
        else if (nf < 2) f[nf++] = argv[i];
    }
    if (nf != 2) {
        fprintf(stderr, "usage: npycompare GOT.npy WANT.npy [--rtol R]\n");
        return 2;
    }
    cleave_ctx *ctx;
    cleave_ctx_create(&ctx);
    cv_tensor a, b;
    if (cv_npy_load(ctx, f[0], &a) || cv_npy_load(ctx, f[1], &b)) {
        fprintf(stderr, "npycompare: %s\n", cleave_ctx_error(ctx));
        return 2;
    }
    if (!cv_shape_eq(&a, &b)) {
        char s1[128], s2[128];
        printf("FAIL: shape %s vs %s\n", cv_shape_str(a.ndim, a.dims, s1, sizeof s1),
               cv_shape_str(b.ndim, b.dims, s2, sizeof s2));
        return 1;
    }
    double num = 0, den = 0, maxerr = 0, maxref = 0;
    int64_t n = cv_numel(&a);
    for (int64_t i = 0; i < n; i++) {
        double x = cv_get_f64(&a, i), y = cv_get_f64(&b, i), d = fabs(x - y);
        num += d * d;
        den += y * y;
        if (!(d <= maxerr)) maxerr = d; /* NaN propagates */
        if (fabs(y) > maxref) maxref = fabs(y);
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    int ok = rel <= rtol && maxerr <= 10 * rtol * (maxref > 0 ? maxref : 1);
    printf("%s: rel L2 error %.3g, max abs error %.3g (max |ref| %.3g), tolerance %.1g\n",
           ok ? "PASS" : "FAIL", rel, maxerr, maxref, rtol);
    cv_aligned_free(a.data);
    cv_aligned_free(b.data);
    cleave_ctx_destroy(ctx);
    return ok ? 0 : 1;
}
