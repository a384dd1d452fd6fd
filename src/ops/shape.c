/* shape.c: ops that compute shapes or make constants. Reshape, Flatten,
 * Squeeze and Unsqueeze are views (output bytes = input bytes; run is a copy
 * the executor skips when it aliases the buffers). Shape and Size read only
 * the input's shape; Constant, ConstantOfShape and Range make new data from
 * attributes and compile-time-known inputs. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/op.h"

/* ---- helpers ---- */

/* Read in[k] as a 1-D (or scalar) integer list known at compile time. */
static cleave_status shape_read_ints(op_call *c, int k, const char *what, int64_t *v, int *n,
                                     int cap) {
    CV_TRY(op_need_const(c, k, what));
    const cv_tensor *t = c->in[k];
    if (t->dtype != CV_I64 && t->dtype != CV_I32)
        return op_fail(c, CLEAVE_E_INVALID, "input %d (%s) must be int64, got %s", k, what,
                       cv_dtype_name(t->dtype));
    if (t->ndim > 1) return op_fail(c, CLEAVE_E_INVALID, "input %d (%s) must be 1-D", k, what);
    int64_t m = cv_numel(t);
    if (m > cap)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "input %d (%s) has %lld entries, at most %d", k,
                       what, (long long)m, cap);
    for (int64_t i = 0; i < m; i++)
        v[i] = cv_get_i64(t, i);
    *n = (int)m;
    return CLEAVE_OK;
}

/* Copy input 0 to output 0 unless the executor made them share memory. */
static cleave_status shape_copy_run(op_call *c) {
    size_t nb = cv_nbytes(c->out[0]);
    if (nb && c->out[0]->data != c->in[0]->data) memcpy(c->out[0]->data, c->in[0]->data, nb);
    return CLEAVE_OK;
}

/* Axes of Squeeze/Unsqueeze: attribute before opset 13, input 1 after.
 * *given = 0 when none were supplied. */
static cleave_status shape_axes(op_call *c, int64_t *ax, int *n, int *given) {
    *n = 0;
    *given = 0;
    if (c->node->opset >= 13) {
        if (ir_node_attr(c->node, "axes"))
            return op_fail(c, CLEAVE_E_INVALID,
                           "attribute 'axes' is not allowed from opset 13 "
                           "(axes is input 1)");
        if (c->n_in < 2 || !c->in[1]) return CLEAVE_OK;
        CV_TRY(shape_read_ints(c, 1, "axes", ax, n, CV_MAX_DIMS));
    } else {
        if (c->n_in > 1 && c->in[1])
            return op_fail(c, CLEAVE_E_INVALID, "takes one input before opset 13");
        const int64_t *a;
        int m = ir_attr_ints(c->node, "axes", &a);
        if (!ir_node_attr(c->node, "axes")) return CLEAVE_OK;
        if (m > CV_MAX_DIMS)
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "%d axes, at most %d", m, CV_MAX_DIMS);
        for (int i = 0; i < m; i++)
            ax[i] = a[i];
        *n = m;
    }
    *given = 1;
    return CLEAVE_OK;
}

/* ---- Reshape ---- */

static cleave_status reshape_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    int64_t s[CV_MAX_DIMS];
    int n = 0;
    if (c->node->opset < 5) {
        const int64_t *a;
        n = ir_attr_ints(c->node, "shape", &a);
        if (n > CV_MAX_DIMS)
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "target rank %d exceeds %d", n, CV_MAX_DIMS);
        for (int i = 0; i < n; i++)
            s[i] = a[i];
    } else {
        CV_TRY(shape_read_ints(c, 1, "shape", s, &n, CV_MAX_DIMS));
    }
    int allowzero = c->node->opset >= 14 && ir_attr_int(c->node, "allowzero", 0) != 0;
    int64_t dims[CV_MAX_DIMS], known = 1;
    int neg = -1;
    for (int i = 0; i < n; i++) {
        int64_t d = s[i];
        if (d == 0 && !allowzero) {
            if (i >= x->ndim)
                return op_fail(c, CLEAVE_E_INVALID,
                               "shape[%d] = 0 copies a dimension the rank-%d input lacks", i,
                               x->ndim);
            d = x->dims[i];
        }
        if (d == -1) {
            if (neg >= 0) return op_fail(c, CLEAVE_E_INVALID, "shape has more than one -1");
            neg = i;
            continue;
        }
        if (d < 0) return op_fail(c, CLEAVE_E_INVALID, "shape[%d] = %lld", i, (long long)d);
        dims[i] = d;
        known *= d;
    }
    int64_t total = cv_numel(x);
    if (neg >= 0) {
        if (known == 0 || total % known)
            return op_fail(c, CLEAVE_E_INVALID,
                           "cannot infer the -1 dimension: %lld elements "
                           "over %lld",
                           (long long)total, (long long)known);
        dims[neg] = total / known;
    } else if (known != total) {
        char a[128], b[128];
        return op_fail(c, CLEAVE_E_INVALID, "cannot reshape %s to %s",
                       cv_shape_str(x->ndim, x->dims, a, sizeof a),
                       cv_shape_str(n, dims, b, sizeof b));
    }
    op_set_out(c, 0, x->dtype, n, dims);
    return CLEAVE_OK;
}

/* ---- Flatten ---- */

static cleave_status flatten_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    int64_t axis = ir_attr_int(c->node, "axis", 1);
    if (axis < -x->ndim || axis > x->ndim)
        return op_fail(c, CLEAVE_E_INVALID, "axis %lld out of range for rank %d", (long long)axis,
                       x->ndim);
    if (axis < 0) axis += x->ndim;
    int64_t dims[2] = {cv_shape_numel((int)axis, x->dims),
                       cv_shape_numel(x->ndim - (int)axis, x->dims + axis)};
    op_set_out(c, 0, x->dtype, 2, dims);
    return CLEAVE_OK;
}

/* ---- Squeeze / Unsqueeze ---- */

static cleave_status squeeze_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    int64_t ax[CV_MAX_DIMS];
    int n = 0, given = 0;
    CV_TRY(shape_axes(c, ax, &n, &given));
    unsigned char drop[CV_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) {
        int a = cv_axis(ax[i], x->ndim);
        if (a < 0)
            return op_fail(c, CLEAVE_E_INVALID, "axis %lld out of range for rank %d",
                           (long long)ax[i], x->ndim);
        if (x->dims[a] != 1)
            return op_fail(c, CLEAVE_E_INVALID, "cannot squeeze axis %d of size %lld", a,
                           (long long)x->dims[a]);
        drop[a] = 1;
    }
    if (!given || n == 0)
        for (int a = 0; a < x->ndim; a++)
            drop[a] = x->dims[a] == 1;
    int64_t dims[CV_MAX_DIMS];
    int r = 0;
    for (int a = 0; a < x->ndim; a++)
        if (!drop[a]) dims[r++] = x->dims[a];
    op_set_out(c, 0, x->dtype, r, dims);
    return CLEAVE_OK;
}

static cleave_status unsqueeze_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    int64_t ax[CV_MAX_DIMS];
    int n = 0, given = 0;
    CV_TRY(shape_axes(c, ax, &n, &given));
    if (!given) return op_fail(c, CLEAVE_E_INVALID, "axes are required");
    int r = x->ndim + n;
    if (r > CV_MAX_DIMS)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "output rank %d exceeds %d", r, CV_MAX_DIMS);
    unsigned char ins[CV_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) {
        int a = cv_axis(ax[i], r);
        if (a < 0)
            return op_fail(c, CLEAVE_E_INVALID, "axis %lld out of range for output rank %d",
                           (long long)ax[i], r);
        if (ins[a]) return op_fail(c, CLEAVE_E_INVALID, "axis %d is listed twice", a);
        ins[a] = 1;
    }
    int64_t dims[CV_MAX_DIMS];
    for (int a = 0, j = 0; a < r; a++)
        dims[a] = ins[a] ? 1 : x->dims[j++];
    op_set_out(c, 0, x->dtype, r, dims);
    return CLEAVE_OK;
}

/* ---- Shape / Size (shape only: never read input data) ---- */

static void shape_range(op_call *c, int64_t *s, int64_t *e) {
    int r = c->in[0]->ndim;
    *s = 0;
    *e = r;
    if (c->node->opset >= 15) {
        *s = ir_attr_int(c->node, "start", 0);
        *e = ir_attr_int(c->node, "end", r);
    }
    if (*s < 0) *s += r;
    if (*e < 0) *e += r;
    *s = *s < 0 ? 0 : (*s > r ? r : *s);
    *e = *e < 0 ? 0 : (*e > r ? r : *e);
    if (*e < *s) *e = *s;
}

static cleave_status shape_infer(op_call *c) {
    if (!c->in[0]) return op_fail(c, CLEAVE_E_INVALID, "input 0 is missing");
    int64_t s, e;
    shape_range(c, &s, &e);
    int64_t n = e - s;
    op_set_out(c, 0, CV_I64, 1, &n);
    return CLEAVE_OK;
}

static cleave_status shape_run(op_call *c) {
    int64_t s, e, *y = c->out[0]->data;
    shape_range(c, &s, &e);
    for (int64_t i = s; i < e; i++)
        y[i - s] = c->in[0]->dims[i];
    return CLEAVE_OK;
}

static cleave_status size_infer(op_call *c) {
    if (!c->in[0]) return op_fail(c, CLEAVE_E_INVALID, "input 0 is missing");
    op_set_out(c, 0, CV_I64, 0, NULL);
    return CLEAVE_OK;
}

static cleave_status size_run(op_call *c) {
    *(int64_t *)c->out[0]->data = cv_numel(c->in[0]);
    return CLEAVE_OK;
}

/* ---- Constant ---- */

/* The one value attribute of a Constant node. */
static cleave_status const_attr(op_call *c, const ir_attr **out) {
    static const char *const names[] = {"value",         "value_float", "value_floats",
                                        "value_int",     "value_ints",  "value_string",
                                        "value_strings", "sparse_value"};
    const ir_attr *found = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const ir_attr *a = ir_node_attr(c->node, names[i]);
        if (!a) continue;
        if (found)
            return op_fail(c, CLEAVE_E_INVALID, "has both '%s' and '%s'", found->name, a->name);
        found = a;
    }
    if (!found) return op_fail(c, CLEAVE_E_INVALID, "has no value attribute");
    const char *n = found->name;
    if (!strcmp(n, "value_string") || !strcmp(n, "value_strings") || !strcmp(n, "sparse_value"))
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "attribute '%s' is not supported", n);
    ir_attr_kind want = !strcmp(n, "value")          ? IR_ATTR_TENSOR
                        : !strcmp(n, "value_float")  ? IR_ATTR_FLOAT
                        : !strcmp(n, "value_floats") ? IR_ATTR_FLOATS
                        : !strcmp(n, "value_int")    ? IR_ATTR_INT
                                                     : IR_ATTR_INTS;
    if (found->kind != want || (want == IR_ATTR_TENSOR && !found->tensors))
        return op_fail(c, CLEAVE_E_INVALID, "attribute '%s' has the wrong type", n);
    *out = found;
    return CLEAVE_OK;
}

static cleave_status constant_infer(op_call *c) {
    const ir_attr *a = NULL;
    CV_TRY(const_attr(c, &a));
    int64_t n = a->n;
    switch (a->kind) {
    case IR_ATTR_TENSOR: {
        const cv_tensor *t = &a->tensors[0];
        if (!cv_dtype_supported(t->dtype))
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "value has unsupported dtype %s",
                           cv_dtype_name(t->dtype));
        if (!t->data && cv_numel(t) > 0)
            return op_fail(c, CLEAVE_E_INVALID, "value tensor has no data");
        op_set_out(c, 0, t->dtype, t->ndim, t->dims);
        break;
    }
    case IR_ATTR_FLOAT: op_set_out(c, 0, CV_F32, 0, NULL); break;
    case IR_ATTR_FLOATS: op_set_out(c, 0, CV_F32, 1, &n); break;
    case IR_ATTR_INT: op_set_out(c, 0, CV_I64, 0, NULL); break;
    default: op_set_out(c, 0, CV_I64, 1, &n); break;
    }
    return CLEAVE_OK;
}

static cleave_status constant_run(op_call *c) {
    const ir_attr *a = NULL;
    CV_TRY(const_attr(c, &a));
    void *y = c->out[0]->data;
    switch (a->kind) {
    case IR_ATTR_TENSOR:
        if (cv_nbytes(c->out[0])) memcpy(y, a->tensors[0].data, cv_nbytes(c->out[0]));
        break;
    case IR_ATTR_FLOAT: *(float *)y = a->f; break;
    case IR_ATTR_FLOATS:
        if (a->n) memcpy(y, a->floats, sizeof(float) * (size_t)a->n);
        break;
    case IR_ATTR_INT: *(int64_t *)y = a->i; break;
    default:
        if (a->n) memcpy(y, a->ints, sizeof(int64_t) * (size_t)a->n);
        break;
    }
    return CLEAVE_OK;
}

/* ---- ConstantOfShape ---- */

static cleave_status cos_value(op_call *c, const cv_tensor **v) {
    const ir_attr *a = ir_node_attr(c->node, "value");
    *v = NULL;
    if (!a) return CLEAVE_OK;
    if (a->kind != IR_ATTR_TENSOR || !a->tensors)
        return op_fail(c, CLEAVE_E_INVALID, "attribute 'value' must be a tensor");
    const cv_tensor *t = &a->tensors[0];
    if (cv_numel(t) != 1 || !t->data)
        return op_fail(c, CLEAVE_E_INVALID, "attribute 'value' must hold exactly one element");
    if (!cv_dtype_supported(t->dtype))
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "attribute 'value' has unsupported dtype %s",
                       cv_dtype_name(t->dtype));
    *v = t;
    return CLEAVE_OK;
}

static cleave_status cos_infer(op_call *c) {
    int64_t dims[CV_MAX_DIMS];
    int n = 0;
    CV_TRY(shape_read_ints(c, 0, "shape", dims, &n, CV_MAX_DIMS));
    for (int i = 0; i < n; i++)
        if (dims[i] < 0)
            return op_fail(c, CLEAVE_E_INVALID, "shape[%d] = %lld is negative", i,
                           (long long)dims[i]);
    const cv_tensor *v;
    CV_TRY(cos_value(c, &v));
    op_set_out(c, 0, v ? v->dtype : CV_F32, n, dims);
    return CLEAVE_OK;
}

static cleave_status cos_run(op_call *c) {
    const cv_tensor *v;
    CV_TRY(cos_value(c, &v));
    cv_tensor *y = c->out[0];
    int64_t n = cv_numel(y);
    size_t es = cv_dtype_size(y->dtype);
    if (!v || n == 0) {
        if (n) memset(y->data, 0, (size_t)n * es); /* default: float 0 */
        return CLEAVE_OK;
    }
    unsigned char *p = y->data;
    memcpy(p, v->data, es);
    /* Doubling copies: log2(n) memcpy calls, any element size. */
    for (int64_t done = 1; done < n;) {
        int64_t k = done < n - done ? done : n - done;
        memcpy(p + (size_t)done * es, p, (size_t)k * es);
        done += k;
    }
    return CLEAVE_OK;
}

/* ---- Range ---- */

static int range_dtype_ok(cv_dtype t) {
    return t == CV_F32 || t == CV_F64 || t == CV_I16 || t == CV_I32 || t == CV_I64;
}

static cleave_status range_infer(op_call *c) {
    static const char *const what[3] = {"start", "limit", "delta"};
    for (int k = 0; k < 3; k++) {
        CV_TRY(op_need_const(c, k, what[k]));
        if (cv_numel(c->in[k]) != 1 || c->in[k]->ndim > 1)
            return op_fail(c, CLEAVE_E_INVALID, "input %d (%s) must be a scalar", k, what[k]);
        if (c->in[k]->dtype != c->in[0]->dtype)
            return op_fail(c, CLEAVE_E_INVALID, "inputs must share one dtype");
    }
    cv_dtype dt = c->in[0]->dtype;
    if (!range_dtype_ok(dt))
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "dtype %s; supported: float32, float64, int16, "
                       "int32, int64",
                       cv_dtype_name(dt));
    int64_t n;
    if (dt == CV_F32 || dt == CV_F64) {
        double s = cv_get_f64(c->in[0], 0), l = cv_get_f64(c->in[1], 0),
               d = cv_get_f64(c->in[2], 0);
        if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
            return op_fail(c, CLEAVE_E_INVALID,
                           "start, limit and delta must be finite, delta "
                           "non-zero");
        double m = ceil((l - s) / d);
        if (m > (double)CV_MAX_ELEMS)
            return op_fail(c, CLEAVE_E_LIMIT, "range of %.0f elements is too large", m);
        n = m > 0 ? (int64_t)m : 0;
    } else {
        int64_t s = cv_get_i64(c->in[0], 0), l = cv_get_i64(c->in[1], 0),
                d = cv_get_i64(c->in[2], 0);
        if (d == 0) return op_fail(c, CLEAVE_E_INVALID, "delta is 0");
        /* exact count in unsigned arithmetic: l - s may overflow int64 */
        n = 0;
        if ((d > 0 && l > s) || (d < 0 && l < s)) {
            uint64_t span = d > 0 ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
            uint64_t step = d > 0 ? (uint64_t)d : 0 - (uint64_t)d;
            uint64_t m = span / step + (span % step != 0);
            if (m > (uint64_t)CV_MAX_ELEMS)
                return op_fail(c, CLEAVE_E_LIMIT, "range of %llu elements is too large",
                               (unsigned long long)m);
            n = (int64_t)m;
        }
    }
    op_set_out(c, 0, dt, 1, &n);
    return CLEAVE_OK;
}

static cleave_status range_run(op_call *c) {
    cv_tensor *y = c->out[0];
    int64_t n = y->dims[0];
    switch (y->dtype) {
    case CV_F32: {
        float s = *(const float *)c->in[0]->data, d = *(const float *)c->in[2]->data;
        float *o = y->data;
        for (int64_t i = 0; i < n; i++)
            o[i] = s + (float)i * d;
        break;
    }
    case CV_F64: {
        double s = *(const double *)c->in[0]->data, d = *(const double *)c->in[2]->data;
        double *o = y->data;
        for (int64_t i = 0; i < n; i++)
            o[i] = s + (double)i * d;
        break;
    }
    default: {
        int64_t s = cv_get_i64(c->in[0], 0), d = cv_get_i64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d); /* wraps, no UB */
            if (y->dtype == CV_I64)
                ((int64_t *)y->data)[i] = v;
            else if (y->dtype == CV_I32)
                ((int32_t *)y->data)[i] = (int32_t)v;
            else
                ((int16_t *)y->data)[i] = (int16_t)v;
        }
        break;
    }
    }
    return CLEAVE_OK;
}

#define SHAPE_VIEW (OP_F_VIEW)
const op_def op_def_Reshape = {"Reshape",      1,    2,         1, 1, reshape_infer, NULL,
                               shape_copy_run, NULL, SHAPE_VIEW};
const op_def op_def_Flatten = {"Flatten",      1,    1,         1, 1, flatten_infer, NULL,
                               shape_copy_run, NULL, SHAPE_VIEW};
const op_def op_def_Squeeze = {"Squeeze",      1,    2,         1, 1, squeeze_infer, NULL,
                               shape_copy_run, NULL, SHAPE_VIEW};
const op_def op_def_Unsqueeze = {"Unsqueeze",    1,    2,         1, 1, unsqueeze_infer, NULL,
                                 shape_copy_run, NULL, SHAPE_VIEW};
const op_def op_def_Shape = {"Shape",     1,    1,         1,    1,
                             shape_infer, NULL, shape_run, NULL, OP_F_SHAPE_ONLY};
const op_def op_def_Size = {"Size", 1, 1, 1, 1, size_infer, NULL, size_run, NULL, OP_F_SHAPE_ONLY};
const op_def op_def_Constant = {"Constant",   0,    0, 1, 1, constant_infer, NULL,
                                constant_run, NULL, 0};
const op_def op_def_ConstantOfShape = {"ConstantOfShape", 1,    1,       1,    1,
                                       cos_infer,         NULL, cos_run, NULL, 0};
const op_def op_def_Range = {"Range", 3, 3, 1, 1, range_infer, NULL, range_run, NULL, 0};
