/* ops helpers: error messages naming the node, input checks, broadcasting
 * and the fused-activation epilogue shared by conv/gemm kernels. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"

cleave_status op_fail(op_call *c, cleave_status code, const char *fmt, ...) {
    char msg[1024], b[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cv_fail(c->ctx, code, "%s: %s", ir_node_label(c->node, b, sizeof b), msg);
}

cleave_status op_need_input(op_call *c, int k) {
    if (k >= c->n_in || !c->in[k]) return op_fail(c, CLEAVE_E_INVALID, "input %d is missing", k);
    if (!cv_dtype_supported(c->in[k]->dtype))
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "input %d has unsupported dtype %s", k,
                       cv_dtype_name(c->in[k]->dtype));
    return CLEAVE_OK;
}

cleave_status op_need_const(op_call *c, int k, const char *what) {
    CV_TRY(op_need_input(c, k));
    if (!c->in[k]->data)
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "input %d (%s) must be known when the graph is compiled (a constant or "
                       "computed from shapes)",
                       k, what);
    return CLEAVE_OK;
}

void op_set_out(op_call *c, int k, cv_dtype dt, int ndim, const int64_t *dims) {
    if (k >= c->n_out || !c->out[k]) return;
    cv_tensor *o = c->out[k];
    o->dtype = dt;
    o->ndim = ndim;
    for (int i = 0; i < ndim; i++) o->dims[i] = dims[i];
}

cleave_status op_broadcast_shape(op_call *c, int n, const cv_tensor *const *ts, int *ndim,
                                 int64_t *dims) {
    int r = 0;
    for (int i = 0; i < n; i++)
        if (ts[i]->ndim > r) r = ts[i]->ndim;
    for (int d = 0; d < r; d++) dims[d] = 1;
    for (int i = 0; i < n; i++) {
        const cv_tensor *t = ts[i];
        int off = r - t->ndim;
        for (int d = 0; d < t->ndim; d++) {
            int64_t a = dims[off + d], b = t->dims[d];
            if (b == a || b == 1) continue;
            if (a == 1) {
                dims[off + d] = b;
                continue;
            }
            char s1[128], s2[128];
            return op_fail(c, CLEAVE_E_INVALID, "shapes %s and %s cannot be broadcast",
                           cv_shape_str(ts[0]->ndim, ts[0]->dims, s1, sizeof s1),
                           cv_shape_str(t->ndim, t->dims, s2, sizeof s2));
        }
    }
    *ndim = r;
    return CLEAVE_OK;
}

void op_requant_s32(const int32_t *acc, int64_t n, int32_t bias, float s, const float *svec,
                    int32_t zp, int32_t qlo, int32_t qhi, cv_dtype yt, void *y) {
    const float lo = (float)(qlo - zp), hi = (float)(qhi - zp);
    for (int64_t j = 0; j < n; j++) {
        int32_t a = (int32_t)((uint32_t)acc[j] + (uint32_t)bias);
        float v = (float)a * (svec ? svec[j] : s);
        v = v <= hi ? v : hi; /* fminf / fmaxf (NaN -> hi) without the libm calls */
        v = v >= lo ? v : lo;
        /* round half to even for |v| <= 2^22: the 1.5 * 2^23 trick */
        int32_t q = (int32_t)((v + 12582912.0f) - 12582912.0f) + zp;
        if (yt == CV_U8)
            ((uint8_t *)y)[j] = (uint8_t)q;
        else
            ((int8_t *)y)[j] = (int8_t)q;
    }
}

cleave_status op_int_bounds(op_call *c, cv_dtype yt, int32_t zp, int32_t *lo, int32_t *hi) {
    const int32_t tmin = yt == CV_I8 ? -128 : 0, tmax = yt == CV_I8 ? 127 : 255;
    const ir_act *a = &c->node->act;
    *lo = tmin, *hi = tmax;
    switch (a->kind) {
    case IR_ACT_NONE: return CLEAVE_OK;
    case IR_ACT_RELU:
        if (zp > tmin) *lo = zp > tmax ? tmax : zp;
        return CLEAVE_OK;
    case IR_ACT_CLIP:
        if (!(a->alpha >= (float)tmin && a->beta <= (float)tmax && a->alpha <= a->beta) ||
            a->alpha != (float)(int32_t)a->alpha || a->beta != (float)(int32_t)a->beta)
            return op_fail(c, CLEAVE_E_INVALID,
                           "a fused Clip on %s codes needs integer bounds within %d..%d (got %g, %g)",
                           cv_dtype_name(yt), (int)tmin, (int)tmax, (double)a->alpha, (double)a->beta);
        *lo = (int32_t)a->alpha, *hi = (int32_t)a->beta;
        return CLEAVE_OK;
    default: return op_fail(c, CLEAVE_E_UNSUPPORTED, "fused activation is not supported on this integer op");
    }
}

void op_clamp_codes(void *y, cv_dtype yt, int64_t n, int32_t lo, int32_t hi) {
    if (yt == CV_I8) {
        int8_t *p = (int8_t *)y;
        const int8_t l = (int8_t)lo, h = (int8_t)hi;
        for (int64_t i = 0; i < n; i++) p[i] = p[i] < l ? l : p[i] > h ? h : p[i];
    } else {
        uint8_t *p = (uint8_t *)y;
        const uint8_t l = (uint8_t)lo, h = (uint8_t)hi;
        for (int64_t i = 0; i < n; i++) p[i] = p[i] < l ? l : p[i] > h ? h : p[i];
    }
}

cleave_status op_clamp_out_codes(op_call *c) {
    if (c->node->act.kind != IR_ACT_CLIP) return CLEAVE_OK;
    cv_tensor *y = c->out[0];
    int32_t lo, hi; /* code bounds do not depend on the zero point */
    CV_TRY(op_int_bounds(c, y->dtype, 0, &lo, &hi));
    op_clamp_codes(y->data, y->dtype, cv_numel(y), lo, hi);
    return CLEAVE_OK;
}

void op_apply_act_f32(const ir_act *act, float *x, int64_t n) {
    float a = act->alpha, b = act->beta;
    switch (act->kind) {
    case IR_ACT_NONE: break;
    case IR_ACT_RELU:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
        break;
    case IR_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] < a ? a : (x[i] > b ? b : x[i]);
        break;
    case IR_ACT_LEAKY:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : a * x[i];
        break;
    case IR_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case IR_ACT_HARDSIGMOID:
        for (int64_t i = 0; i < n; i++) {
            float y = a * x[i] + b;
            x[i] = y < 0 ? 0 : (y > 1 ? 1 : y);
        }
        break;
    case IR_ACT_HARDSWISH:
        for (int64_t i = 0; i < n; i++) {
            float y = x[i] / 6.0f + 0.5f;
            x[i] *= y < 0 ? 0 : (y > 1 ? 1 : y);
        }
        break;
    case IR_ACT_TANH:
        for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
        break;
    }
}

cleave_status op_window_attrs(op_call *c, int nsp, int64_t *s, int64_t *d, int64_t *pb,
                              int64_t *pe, int *autopad) {
    const ir_node *n = c->node;
    const int64_t *v;
    int cnt;
    static const char *const names[2] = {"strides", "dilations"};
    for (int a = 0; a < 2; a++) {
        if ((cnt = ir_attr_ints(n, names[a], &v)) == 0) continue;
        if (cnt != nsp)
            return op_fail(c, CLEAVE_E_INVALID, "%s has %d values, expected %d", names[a], cnt, nsp);
        for (int i = 0; i < nsp; i++) {
            if (v[i] < 1 || v[i] > (1 << 20))
                return op_fail(c, CLEAVE_E_INVALID, "%s[%d] = %lld must be >= 1", names[a], i,
                               (long long)v[i]);
            (a ? d : s)[i] = v[i];
        }
    }
    if ((cnt = ir_attr_ints(n, "pads", &v)) != 0) {
        if (cnt != 2 * nsp)
            return op_fail(c, CLEAVE_E_INVALID, "pads has %d values, expected %d", cnt, 2 * nsp);
        for (int i = 0; i < 2 * nsp; i++)
            if (v[i] < 0 || v[i] > (1 << 20))
                return op_fail(c, CLEAVE_E_INVALID, "pads[%d] = %lld must be >= 0", i, (long long)v[i]);
        for (int i = 0; i < nsp; i++) pb[i] = v[i], pe[i] = v[nsp + i];
    }
    const char *ap = ir_attr_string(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "NOTSET") || !ap[0]) *autopad = 0;
    else if (!strcmp(ap, "SAME_UPPER")) *autopad = 1;
    else if (!strcmp(ap, "SAME_LOWER")) *autopad = 2;
    else if (!strcmp(ap, "VALID")) *autopad = 3;
    else
        return op_fail(c, CLEAVE_E_INVALID,
                       "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", ap);
    return CLEAVE_OK;
}

cleave_status op_run_once(const op_def *d, op_call *c) {
    cleave_status st = d->prepare ? d->prepare(c) : CLEAVE_OK;
    void *scratch = NULL;
    if (st == CLEAVE_OK && c->scratch_bytes) {
        scratch = c->scratch = cv_aligned_alloc(c->scratch_bytes);
        if (!scratch) st = op_fail(c, CLEAVE_E_NOMEM, "out of memory (%zu bytes of scratch)", c->scratch_bytes);
    }
    if (st == CLEAVE_OK) st = d->run(c);
    if (d->release && c->state) d->release(c->state);
    c->state = NULL;
    c->scratch = NULL;
    cv_aligned_free(scratch);
    return st;
}
