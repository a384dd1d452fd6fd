/* layout.c: data movement ops, dtype-generic by element size. Concat, Split
 * and Gather copy blocks. Slice, Pad, Expand, Tile and Transpose are one
 * "axis table" gather (output index o on axis k -> input offset tab_k[o], or
 * -1 for Pad's fill), built in prepare after merging plain-copy axes; (batched)
 * 2-D transposes such as NCHW<->NHWC use a cache-blocked kernel. */
#include <stdint.h>
#include <string.h>

#include "ops/blocked.h"
#include "ops/op.h"

#define LAY_PAR_MIN 65536 /* output elements before threads pay off */
#define LAY_TBLOCK 32     /* transpose tile */

static cleave_status lay_need_data(op_call *c, int k) {
    CV_TRY(op_need_input(c, k));
    return CLEAVE_OK;
}

/* Read in[k] (int32/int64, 1-D, compile-time known) into v (at most cap). */
static cleave_status lay_read_ints(op_call *c, int k, const char *what, int64_t *v, int *n,
                                   int cap) {
    CV_TRY(op_need_const(c, k, what));
    const cv_tensor *t = c->in[k];
    if ((t->dtype != CV_I64 && t->dtype != CV_I32) || t->ndim > 1)
        return op_fail(c, CLEAVE_E_INVALID, "input %d (%s) must be a 1-D int64 tensor, got %s", k,
                       what, cv_dtype_name(t->dtype));
    int64_t m = cv_numel(t);
    if (m > cap)
        return op_fail(c, CLEAVE_E_INVALID, "input %d (%s) has %lld entries, at most %d", k, what,
                       (long long)m, cap);
    for (int64_t i = 0; i < m; i++)
        v[i] = cv_get_i64(t, i);
    *n = (int)m;
    return CLEAVE_OK;
}

/* ================= axis-table gather (Slice, Pad, Expand, Tile, Transpose) */

typedef enum lay_mode {
    LAY_AFFINE, /* i = start + o*step (step 0: broadcast) */
    LAY_TILE,   /* i = o mod in */
    LAY_PAD_CONST,
    LAY_PAD_EDGE,
    LAY_PAD_REFLECT,
    LAY_PAD_WRAP /* see lay_pad_index */
} lay_mode;

typedef struct lay_axis {
    int64_t in, out;     /* input / output size along this axis */
    int64_t stride;      /* input elements between neighbours along this axis */
    int64_t start, step; /* AFFINE; PAD: start = pads at the beginning (may be < 0) */
    lay_mode mode;
} lay_axis;

typedef struct lay_desc {
    int ndim;
    lay_axis ax[CV_MAX_DIMS];
} lay_desc;

typedef struct lay_plan {
    int ndim;
    int64_t dims[CV_MAX_DIMS];
    int64_t *tab[CV_MAX_DIMS];
    int64_t base; /* offset of dropped size-1 axes */
    int contig;   /* last table is tab[0] + j: rows are memcpy */
    int trans;    /* 1: out[b] = transpose(in[b]) with in[b] of tr_r x tr_c */
    int64_t tr_b, tr_r, tr_c;
    int64_t mem[]; /* the tables */
} lay_plan;

static int64_t lay_mod(int64_t a, int64_t m) {
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

/* PAD axes: negative pads crop first, then the cropped range [lo, lo+len)
 * is padded by max(begin, 0) / max(end, 0) as the mode says (what ONNX
 * Runtime does). Returns the input index or -1 for the fill value. */
static int64_t lay_pad_index(const lay_axis *a, int64_t o) {
    int64_t pb = a->start, pe = a->out - a->in - pb;
    int64_t lo = pb < 0 ? -pb : 0, len = a->in - lo - (pe < 0 ? -pe : 0);
    int64_t j = o - (pb > 0 ? pb : 0);
    if (j >= 0 && j < len) return lo + j;
    if (len <= 0) return -1;
    switch (a->mode) {
    case LAY_PAD_EDGE: return lo + (j < 0 ? 0 : len - 1);
    case LAY_PAD_WRAP: return lo + lay_mod(j, len);
    case LAY_PAD_REFLECT: {
        if (len == 1) return lo;
        int64_t p = 2 * (len - 1);
        j = lay_mod(j, p);
        return lo + (j >= len ? p - j : j);
    }
    default: return -1;
    }
}

static int64_t lay_index(const lay_axis *a, int64_t o) {
    switch (a->mode) {
    case LAY_AFFINE: return a->start + o * a->step;
    case LAY_TILE: return o % a->in;
    default: return lay_pad_index(a, o);
    }
}

static int lay_is_ident(const lay_axis *a) {
    if (a->in != a->out) return 0;
    if (a->mode == LAY_AFFINE) return a->start == 0 && (a->step == 1 || a->in == 1);
    if (a->mode == LAY_TILE) return 1;
    return a->start == 0; /* pad axis with no padding */
}

/* Set row-major input strides for a desc whose axes are in input order. */
static void lay_row_major(lay_desc *d) {
    int64_t s = 1;
    for (int k = d->ndim - 1; k >= 0; k--) {
        d->ax[k].stride = s;
        s *= d->ax[k].in;
    }
}

static void lay_plan_free(void *p) {
    cv_free(p);
}

/* Drop size-1 axes, merge neighbouring plain-copy axes, build the tables. */
static cleave_status lay_plan_build(op_call *c, const lay_desc *d0) {
    lay_desc d = {0};
    int64_t base = 0;
    for (int k = 0; k < d0->ndim; k++) {
        const lay_axis *a = &d0->ax[k];
        if (a->out == 1 && a->in >= 1) {
            int64_t i = lay_index(a, 0);
            if (i >= 0) { /* a constant offset: fold into base */
                base += i * a->stride;
                continue;
            }
        }
        lay_axis *p = d.ndim ? &d.ax[d.ndim - 1] : NULL;
        if (p && lay_is_ident(p) && lay_is_ident(a) && p->stride == a->in * a->stride) {
            p->in *= a->in;
            p->out = p->in;
            p->stride = a->stride;
            p->mode = LAY_AFFINE, p->start = 0, p->step = 1;
            continue;
        }
        d.ax[d.ndim] = *a;
        if (lay_is_ident(a))
            d.ax[d.ndim].mode = LAY_AFFINE, d.ax[d.ndim].start = 0, d.ax[d.ndim].step = 1;
        d.ndim++;
    }
    if (d.ndim == 0) d.ax[d.ndim++] = (lay_axis){1, 1, 1, 0, 1, LAY_AFFINE};
    size_t n = 0;
    for (int k = 0; k < d.ndim; k++)
        n += (size_t)d.ax[k].out;
    lay_plan *p = cv_calloc(1, sizeof *p + n * sizeof(int64_t) + 8);
    if (!p) return op_fail(c, CLEAVE_E_NOMEM, "out of memory for the index tables");
    p->ndim = d.ndim;
    p->base = base;
    int64_t *t = p->mem;
    for (int k = 0; k < d.ndim; k++) {
        const lay_axis *a = &d.ax[k];
        p->dims[k] = a->out;
        p->tab[k] = t;
        for (int64_t o = 0; o < a->out; o++) {
            int64_t i = lay_index(a, o);
            t[o] = i < 0 ? -1 : i * a->stride;
        }
        t += a->out;
    }
    const lay_axis *l = &d.ax[d.ndim - 1];
    p->contig = l->mode == LAY_AFFINE && (l->step * l->stride == 1 || l->out == 1);
    /* (batched) 2-D transpose: out[b][i][j] = in[b][j][i] */
    if (d.ndim == 2 && d.ax[0].stride == 1 && d.ax[1].stride == d.ax[0].in &&
        lay_is_ident(&d.ax[0]) && lay_is_ident(&d.ax[1])) {
        p->trans = 1, p->tr_b = 1, p->tr_r = d.ax[1].in, p->tr_c = d.ax[0].in;
    } else if (d.ndim == 3 && d.ax[1].stride == 1 && d.ax[2].stride == d.ax[1].in &&
               d.ax[0].stride == d.ax[1].in * d.ax[2].in && lay_is_ident(&d.ax[0]) &&
               lay_is_ident(&d.ax[1]) && lay_is_ident(&d.ax[2])) {
        p->trans = 1, p->tr_b = d.ax[0].in, p->tr_r = d.ax[2].in, p->tr_c = d.ax[1].in;
    }
    c->state = p;
    return CLEAVE_OK;
}

/* One output row along the last axis: y[j] = x[base + tab[j]] or fill. */
#define LAY_ROW(T)                                                                                 \
    static void lay_row_##T(T *restrict y, const T *restrict x, const int64_t *restrict tab,       \
                            int64_t n, const void *fillp) {                                        \
        T fill;                                                                                    \
        memcpy(&fill, fillp, sizeof fill);                                                         \
        for (int64_t j = 0; j < n; j++)                                                            \
            y[j] = tab[j] < 0 ? fill : x[tab[j]];                                                  \
    }                                                                                              \
    static void lay_fill_##T(T *restrict y, int64_t n, const void *fillp) {                        \
        T fill;                                                                                    \
        memcpy(&fill, fillp, sizeof fill);                                                         \
        for (int64_t j = 0; j < n; j++)                                                            \
            y[j] = fill;                                                                           \
    }                                                                                              \
    /* y (c x r) = transpose of x (r x c), in LAY_TBLOCK tiles */                                  \
    static void lay_trans_##T(T *restrict y, const T *restrict x, int64_t r, int64_t c) {          \
        for (int64_t i0 = 0; i0 < r; i0 += LAY_TBLOCK)                                             \
            for (int64_t j0 = 0; j0 < c; j0 += LAY_TBLOCK) {                                       \
                int64_t i1 = i0 + LAY_TBLOCK < r ? i0 + LAY_TBLOCK : r;                            \
                int64_t j1 = j0 + LAY_TBLOCK < c ? j0 + LAY_TBLOCK : c;                            \
                for (int64_t j = j0; j < j1; j++)                                                  \
                    for (int64_t i = i0; i < i1; i++)                                              \
                        y[j * r + i] = x[i * c + j];                                               \
            }                                                                                      \
    }
LAY_ROW(uint8_t)
LAY_ROW(uint16_t)
LAY_ROW(uint32_t)
LAY_ROW(uint64_t)

static void lay_row(size_t es, void *y, const void *x, const int64_t *tab, int64_t n,
                    const void *fill) {
    switch (es) {
    case 1: lay_row_uint8_t(y, x, tab, n, fill); break;
    case 2: lay_row_uint16_t(y, x, tab, n, fill); break;
    case 4: lay_row_uint32_t(y, x, tab, n, fill); break;
    default: lay_row_uint64_t(y, x, tab, n, fill); break;
    }
}

static void lay_fill(size_t es, void *y, int64_t n, const void *fill) {
    switch (es) {
    case 1: lay_fill_uint8_t(y, n, fill); break;
    case 2: lay_fill_uint16_t(y, n, fill); break;
    case 4: lay_fill_uint32_t(y, n, fill); break;
    default: lay_fill_uint64_t(y, n, fill); break;
    }
}

static void lay_trans(size_t es, void *y, const void *x, int64_t r, int64_t c) {
    switch (es) {
    case 1: lay_trans_uint8_t(y, x, r, c); break;
    case 2: lay_trans_uint16_t(y, x, r, c); break;
    case 4: lay_trans_uint32_t(y, x, r, c); break;
    default: lay_trans_uint64_t(y, x, r, c); break;
    }
}

/* Run a built plan from in[0] to out[0]; fill = es bytes for -1 entries. */
static cleave_status lay_plan_run(op_call *c, const void *fill) {
    const lay_plan *p = c->state;
    const cv_tensor *x = c->in[0];
    cv_tensor *y = c->out[0];
    size_t es = cv_dtype_size(y->dtype);
    int64_t total = cv_numel(y);
    if (total == 0) return CLEAVE_OK;
    if (!p) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    const unsigned char *xb = (const unsigned char *)x->data + (size_t)p->base * es;
    unsigned char *yb = y->data;
    int nt = c->threads > 1 && total >= LAY_PAR_MIN ? c->threads : 1;
    (void)nt; /* unused without OpenMP */
    if (p->trans) {
        int64_t mat = p->tr_r * p->tr_c;
#pragma omp parallel for num_threads(nt) if (nt > 1 && p->tr_b > 1) schedule(static)
        for (int64_t b = 0; b < p->tr_b; b++)
            lay_trans(es, yb + (size_t)(b * mat) * es, xb + (size_t)(b * mat) * es, p->tr_r,
                      p->tr_c);
        return CLEAVE_OK;
    }
    int last = p->ndim - 1;
    int64_t len = p->dims[last], rows = total / len;
    const int64_t *tl = p->tab[last];
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t off = 0, q = r;
        int hole = 0;
        for (int k = last - 1; k >= 0; k--) {
            int64_t t = p->tab[k][q % p->dims[k]];
            q /= p->dims[k];
            if (t < 0) hole = 1;
            off += t;
        }
        unsigned char *yr = yb + (size_t)(r * len) * es;
        if (hole)
            lay_fill(es, yr, len, fill);
        else if (p->contig)
            memcpy(yr, xb + (size_t)(off + tl[0]) * es, (size_t)len * es);
        else
            lay_row(es, yr, xb + (size_t)off * es, tl, len, fill);
    }
    return CLEAVE_OK;
}

/* Shared infer/prepare for the table ops: describe() gives the axes. */
typedef cleave_status (*lay_describe_fn)(op_call *c, lay_desc *d);

static cleave_status lay_table_infer(op_call *c, lay_describe_fn describe) {
    lay_desc d = {0};
    CV_TRY(lay_need_data(c, 0));
    CV_TRY(describe(c, &d));
    int64_t dims[CV_MAX_DIMS];
    for (int k = 0; k < d.ndim; k++)
        dims[k] = d.ax[k].out;
    op_set_out(c, 0, c->in[0]->dtype, d.ndim, dims);
    return CLEAVE_OK;
}

static cleave_status lay_table_prepare(op_call *c, lay_describe_fn describe) {
    lay_desc d = {0};
    CV_TRY(describe(c, &d));
    return lay_plan_build(c, &d);
}

#define LAY_TABLE_OP(name)                                                                         \
    static cleave_status name##_infer(op_call *c) {                                                \
        return lay_table_infer(c, name##_describe);                                                \
    }                                                                                              \
    static cleave_status name##_prepare(op_call *c) {                                              \
        return lay_table_prepare(c, name##_describe);                                              \
    }

/* ---- Slice ---- */

static cleave_status slice_describe(op_call *c, lay_desc *d) {
    const cv_tensor *x = c->in[0];
    int r = x->ndim;
    int64_t st[CV_MAX_DIMS], en[CV_MAX_DIMS], ax[CV_MAX_DIMS], sp[CV_MAX_DIMS];
    int ns = 0, ne = 0, na = -1, np = -1;
    if (c->node->opset < 10) {
        const int64_t *a;
        ns = ir_attr_ints(c->node, "starts", &a);
        if (ns > r) return op_fail(c, CLEAVE_E_INVALID, "more starts than input dims");
        memcpy(st, a, sizeof(int64_t) * (size_t)ns);
        ne = ir_attr_ints(c->node, "ends", &a);
        if (ne > r) return op_fail(c, CLEAVE_E_INVALID, "more ends than input dims");
        memcpy(en, a, sizeof(int64_t) * (size_t)ne);
        if (ir_node_attr(c->node, "axes")) {
            na = ir_attr_ints(c->node, "axes", &a);
            if (na > r) return op_fail(c, CLEAVE_E_INVALID, "more axes than input dims");
            memcpy(ax, a, sizeof(int64_t) * (size_t)na);
        }
    } else {
        CV_TRY(lay_read_ints(c, 1, "starts", st, &ns, r));
        CV_TRY(lay_read_ints(c, 2, "ends", en, &ne, r));
        if (c->n_in > 3 && c->in[3]) CV_TRY(lay_read_ints(c, 3, "axes", ax, &na, r));
        if (c->n_in > 4 && c->in[4]) CV_TRY(lay_read_ints(c, 4, "steps", sp, &np, r));
    }
    if (ne != ns || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return op_fail(c, CLEAVE_E_INVALID, "starts, ends, axes and steps differ in length");
    d->ndim = r;
    for (int k = 0; k < r; k++)
        d->ax[k] = (lay_axis){x->dims[k], x->dims[k], 0, 0, 1, LAY_AFFINE};
    lay_row_major(d);
    unsigned char seen[CV_MAX_DIMS] = {0};
    for (int i = 0; i < ns; i++) {
        int a = cv_axis(na >= 0 ? ax[i] : i, r);
        if (a < 0) return op_fail(c, CLEAVE_E_INVALID, "axis %lld out of range", (long long)ax[i]);
        if (seen[a]++) return op_fail(c, CLEAVE_E_INVALID, "axis %d is sliced twice", a);
        int64_t dim = x->dims[a], step = np >= 0 ? sp[i] : 1, s = st[i], e = en[i], n;
        if (step == 0) return op_fail(c, CLEAVE_E_INVALID, "step of axis %d is 0", a);
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (step > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            n = e > s ? (e - s + step - 1) / step : 0;
        } else {
            s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            n = s > e ? (s - e + (-step) - 1) / (-step) : 0;
        }
        if (dim == 0) n = 0, s = 0;
        d->ax[a].start = s;
        d->ax[a].step = step;
        d->ax[a].out = n;
    }
    return CLEAVE_OK;
}
LAY_TABLE_OP(slice)

static cleave_status lay_table_run(op_call *c) {
    uint64_t zero = 0;
    return lay_plan_run(c, &zero);
}

/* ---- Pad ---- */

static cleave_status pad_mode(op_call *c, lay_mode *m) {
    const char *s = ir_attr_string(c->node, "mode", "constant");
    if (!strcmp(s, "constant"))
        *m = LAY_PAD_CONST;
    else if (!strcmp(s, "edge"))
        *m = LAY_PAD_EDGE;
    else if (!strcmp(s, "reflect"))
        *m = LAY_PAD_REFLECT;
    else if (!strcmp(s, "wrap") && c->node->opset >= 19)
        *m = LAY_PAD_WRAP;
    else
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "mode '%s' is not supported", s);
    return CLEAVE_OK;
}

static cleave_status pad_describe(op_call *c, lay_desc *d) {
    const cv_tensor *x = c->in[0];
    int r = x->ndim, np = 0, naxes = r;
    int64_t pads[2 * CV_MAX_DIMS], axes[CV_MAX_DIMS];
    lay_mode mode = LAY_PAD_CONST;
    CV_TRY(pad_mode(c, &mode));
    if (c->node->opset < 11) {
        const int64_t *a;
        const char *nm = ir_node_attr(c->node, "pads") ? "pads" : "paddings";
        np = ir_attr_ints(c->node, nm, &a);
        if (np > 2 * r) return op_fail(c, CLEAVE_E_INVALID, "too many pads");
        memcpy(pads, a, sizeof(int64_t) * (size_t)np);
    } else {
        CV_TRY(lay_read_ints(c, 1, "pads", pads, &np, 2 * r));
        if (c->n_in > 2 && c->in[2] && (c->in[2]->dtype != x->dtype || cv_numel(c->in[2]) > 1))
            return op_fail(c, CLEAVE_E_INVALID, "constant_value must be one %s",
                           cv_dtype_name(x->dtype));
        if (c->n_in > 3 && c->in[3]) CV_TRY(lay_read_ints(c, 3, "axes", axes, &naxes, r));
    }
    if (!(c->node->opset >= 11 && c->n_in > 3 && c->in[3]))
        for (int k = 0; k < r; k++)
            axes[k] = k;
    if (np != 2 * naxes)
        return op_fail(c, CLEAVE_E_INVALID, "%d pads for %d axes (need 2 per axis)", np, naxes);
    d->ndim = r;
    for (int k = 0; k < r; k++)
        d->ax[k] = (lay_axis){x->dims[k], x->dims[k], 0, 0, 1, mode};
    lay_row_major(d);
    unsigned char seen[CV_MAX_DIMS] = {0};
    for (int i = 0; i < naxes; i++) {
        int a = cv_axis(axes[i], r);
        if (a < 0 || seen[a]++)
            return op_fail(c, CLEAVE_E_INVALID, "axis %lld out of range or repeated",
                           (long long)axes[i]);
        int64_t b = pads[i], e = pads[i + naxes], n = x->dims[a] + b + e;
        if (n < 0)
            return op_fail(c, CLEAVE_E_INVALID, "pads %lld, %lld leave axis %d negative",
                           (long long)b, (long long)e, a);
        int64_t kept = x->dims[a] - (b < 0 ? -b : 0) - (e < 0 ? -e : 0);
        if (mode != LAY_PAD_CONST && n > 0 && kept <= 0)
            return op_fail(c, CLEAVE_E_INVALID, "mode needs data to pad axis %d from", a);
        d->ax[a].start = b;
        d->ax[a].out = n;
    }
    return CLEAVE_OK;
}
LAY_TABLE_OP(pad)

static cleave_status pad_run(op_call *c) {
    uint64_t fill = 0;
    const cv_tensor *x = c->in[0];
    size_t es = cv_dtype_size(x->dtype);
    if (c->node->opset < 11) {
        cv_tensor t = {.dtype = x->dtype, .ndim = 0, .data = &fill};
        cv_set_f64(&t, 0, ir_attr_float(c->node, "value", 0.0f));
    } else if (c->n_in > 2 && c->in[2] && cv_numel(c->in[2]) == 1) {
        memcpy(&fill, c->in[2]->data, es);
    }
    return lay_plan_run(c, &fill);
}

/* ---- Expand ---- */

static cleave_status expand_describe(op_call *c, lay_desc *d) {
    const cv_tensor *x = c->in[0];
    cv_tensor s = {.dtype = CV_I64};
    int n = 0;
    CV_TRY(lay_read_ints(c, 1, "shape", s.dims, &n, CV_MAX_DIMS));
    s.ndim = n;
    for (int k = 0; k < n; k++)
        if (s.dims[k] < 0)
            return op_fail(c, CLEAVE_E_INVALID, "shape[%d] = %lld", k, (long long)s.dims[k]);
    const cv_tensor *ts[2] = {x, &s};
    int64_t dims[CV_MAX_DIMS];
    int r;
    CV_TRY(op_broadcast_shape(c, 2, ts, &r, dims));
    d->ndim = r;
    int off = r - x->ndim;
    for (int k = 0; k < r; k++) {
        int64_t in = k < off ? 1 : x->dims[k - off];
        d->ax[k] = (lay_axis){in, dims[k], 0, 0, in == dims[k] ? 1 : 0, LAY_AFFINE};
    }
    lay_row_major(d);
    return CLEAVE_OK;
}
LAY_TABLE_OP(expand)

/* ---- Tile ---- */

static cleave_status tile_describe(op_call *c, lay_desc *d) {
    const cv_tensor *x = c->in[0];
    int64_t rep[CV_MAX_DIMS];
    int n = 0;
    CV_TRY(lay_read_ints(c, 1, "repeats", rep, &n, CV_MAX_DIMS));
    if (n != x->ndim) return op_fail(c, CLEAVE_E_INVALID, "%d repeats for rank %d", n, x->ndim);
    d->ndim = n;
    for (int k = 0; k < n; k++) {
        if (rep[k] < 0)
            return op_fail(c, CLEAVE_E_INVALID, "repeats[%d] = %lld", k, (long long)rep[k]);
        if (rep[k] && x->dims[k] > CV_MAX_ELEMS / rep[k])
            return op_fail(c, CLEAVE_E_LIMIT, "output too large");
        d->ax[k] = (lay_axis){x->dims[k], x->dims[k] * rep[k], 0, 0, 1, LAY_TILE};
    }
    lay_row_major(d);
    return CLEAVE_OK;
}
LAY_TABLE_OP(tile)

/* ---- Transpose ---- */

static cleave_status transpose_describe(op_call *c, lay_desc *d) {
    const cv_tensor *x = c->in[0];
    int r = x->ndim;
    int64_t perm[CV_MAX_DIMS], strides[CV_MAX_DIMS];
    const int64_t *a;
    int n = ir_attr_ints(c->node, "perm", &a);
    if (!ir_node_attr(c->node, "perm")) {
        n = r;
        for (int k = 0; k < r; k++)
            perm[k] = r - 1 - k;
    } else {
        if (n != r) return op_fail(c, CLEAVE_E_INVALID, "perm has %d entries for rank %d", n, r);
        memcpy(perm, a, sizeof(int64_t) * (size_t)n);
    }
    unsigned char seen[CV_MAX_DIMS] = {0};
    for (int k = 0; k < r; k++)
        if (perm[k] < 0 || perm[k] >= r || seen[perm[k]]++)
            return op_fail(c, CLEAVE_E_INVALID, "perm is not a permutation of 0..%d", r - 1);
    int64_t s = 1;
    for (int k = r - 1; k >= 0; k--)
        strides[k] = s, s *= x->dims[k];
    d->ndim = r;
    for (int k = 0; k < r; k++) {
        int64_t dim = x->dims[perm[k]];
        d->ax[k] = (lay_axis){dim, dim, strides[perm[k]], 0, 1, LAY_AFFINE};
    }
    return CLEAVE_OK;
}
LAY_TABLE_OP(transpose)

/* ================= block ops: Concat, Split, Gather */

static cleave_status concat_axis(op_call *c, int *axis) {
    const cv_tensor *x = c->in[0];
    int64_t ax = ir_attr_int(c->node, "axis", 1);
    if (!ir_node_attr(c->node, "axis") && c->node->opset >= 4)
        return op_fail(c, CLEAVE_E_INVALID, "attribute 'axis' is required");
    *axis = cv_axis(ax, x->ndim);
    if (*axis < 0)
        return op_fail(c, CLEAVE_E_INVALID, "axis %lld out of range for rank %d", (long long)ax,
                       x->ndim);
    return CLEAVE_OK;
}

static cleave_status concat_infer(op_call *c) {
    for (int k = 0; k < c->n_in; k++)
        CV_TRY(lay_need_data(c, k));
    const cv_tensor *x = c->in[0];
    int axis;
    CV_TRY(concat_axis(c, &axis));
    int64_t dims[CV_MAX_DIMS];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
    dims[axis] = 0;
    for (int k = 0; k < c->n_in; k++) {
        const cv_tensor *t = c->in[k];
        if (t->dtype != x->dtype || t->ndim != x->ndim)
            return op_fail(c, CLEAVE_E_INVALID, "input %d differs in dtype or rank", k);
        for (int i = 0; i < x->ndim; i++)
            if (i != axis && t->dims[i] != x->dims[i])
                return op_fail(c, CLEAVE_E_INVALID, "input %d has dim %d = %lld, expected %lld", k,
                               i, (long long)t->dims[i], (long long)x->dims[i]);
        dims[axis] += t->dims[axis];
    }
    op_set_out(c, 0, x->dtype, x->ndim, dims);
    return CLEAVE_OK;
}

static cleave_status concat_run(op_call *c) {
    if (c->out[0]->block) { /* channel concat of blocked tensors (the executor checks C % B == 0) */
        const float *xs[64];
        int64_t cs[64];
        if (c->n_in > 64) return op_fail(c, CLEAVE_E_INTERNAL, "blocked concat of more than 64 inputs");
        for (int k = 0; k < c->n_in; k++) xs[k] = c->in[k]->data, cs[k] = c->in[k]->dims[1];
        const cv_tensor *y = c->out[0];
        blk_concat_f32(xs, cs, c->n_in, y->data, y->dims[0], y->dims[2] * y->dims[3], y->block,
                       c->threads > 1 ? c->threads : 1);
        return CLEAVE_OK;
    }
    int axis;
    CV_TRY(concat_axis(c, &axis));
    cv_tensor *y = c->out[0];
    size_t es = cv_dtype_size(y->dtype);
    int64_t outer = cv_shape_numel(axis, y->dims);
    size_t row = (size_t)cv_shape_numel(y->ndim - axis, y->dims + axis) * es;
    size_t off = 0;
    for (int k = 0; k < c->n_in; k++) {
        const cv_tensor *t = c->in[k];
        size_t blk = (size_t)cv_shape_numel(t->ndim - axis, t->dims + axis) * es;
        if (blk == 0) continue;
        const unsigned char *src = t->data;
        unsigned char *dst = (unsigned char *)y->data + off;
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + (size_t)o * row, src + (size_t)o * blk, blk);
        off += blk;
    }
    return CLEAVE_OK;
}

/* Split sizes along the axis (n_out entries) from attribute/input. */
static cleave_status split_sizes(op_call *c, int *axis, int64_t *sz) {
    const cv_tensor *x = c->in[0];
    int64_t ax = ir_attr_int(c->node, "axis", 0);
    *axis = cv_axis(ax, x->ndim);
    if (*axis < 0)
        return op_fail(c, CLEAVE_E_INVALID, "axis %lld out of range for rank %d", (long long)ax,
                       x->ndim);
    int64_t dim = x->dims[*axis];
    int n = c->n_out, m = -1;
    if (c->node->opset >= 13 || (c->n_in > 1 && c->in[1])) {
        if (c->n_in > 1 && c->in[1]) {
            CV_TRY(op_need_const(c, 1, "split"));
            if (cv_numel(c->in[1]) != n)
                return op_fail(c, CLEAVE_E_INVALID, "split has %lld entries for %d outputs",
                               (long long)cv_numel(c->in[1]), n);
            for (int k = 0; k < n; k++)
                sz[k] = cv_get_i64(c->in[1], k);
            m = n;
        }
    } else if (ir_node_attr(c->node, "split")) {
        const int64_t *a;
        m = ir_attr_ints(c->node, "split", &a);
        if (m != n)
            return op_fail(c, CLEAVE_E_INVALID, "split has %d entries for %d outputs", m, n);
        memcpy(sz, a, sizeof(int64_t) * (size_t)n);
    }
    if (m < 0) {
        if (c->node->opset >= 18 && ir_node_attr(c->node, "num_outputs") &&
            ir_attr_int(c->node, "num_outputs", 0) != n)
            return op_fail(c, CLEAVE_E_INVALID, "num_outputs differs from the %d outputs", n);
        int64_t chunk = (dim + n - 1) / n;
        if (c->node->opset < 18 && dim % n)
            return op_fail(c, CLEAVE_E_INVALID, "axis size %lld does not split into %d parts",
                           (long long)dim, n);
        for (int k = 0; k < n; k++) {
            int64_t left = dim - chunk * k;
            sz[k] = left < 0 ? 0 : (left < chunk ? left : chunk);
        }
    }
    int64_t sum = 0;
    for (int k = 0; k < n; k++) {
        if (sz[k] < 0) return op_fail(c, CLEAVE_E_INVALID, "split[%d] is negative", k);
        sum += sz[k];
    }
    if (sum != dim)
        return op_fail(c, CLEAVE_E_INVALID, "split sums to %lld, axis size is %lld", (long long)sum,
                       (long long)dim);
    return CLEAVE_OK;
}

static cleave_status split_infer(op_call *c) {
    CV_TRY(lay_need_data(c, 0));
    int64_t sz[256];
    if (c->n_out > 256) return op_fail(c, CLEAVE_E_UNSUPPORTED, "more than 256 outputs");
    int axis;
    CV_TRY(split_sizes(c, &axis, sz));
    const cv_tensor *x = c->in[0];
    for (int k = 0; k < c->n_out; k++) {
        int64_t dims[CV_MAX_DIMS];
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
        dims[axis] = sz[k];
        op_set_out(c, k, x->dtype, x->ndim, dims);
    }
    return CLEAVE_OK;
}

static cleave_status split_run(op_call *c) {
    int64_t sz[256];
    int axis;
    CV_TRY(split_sizes(c, &axis, sz));
    const cv_tensor *x = c->in[0];
    size_t es = cv_dtype_size(x->dtype);
    int64_t outer = cv_shape_numel(axis, x->dims);
    int64_t inner = cv_shape_numel(x->ndim - axis - 1, x->dims + axis + 1);
    size_t row = (size_t)(x->dims[axis] * inner) * es, off = 0;
    for (int k = 0; k < c->n_out; k++) {
        size_t blk = (size_t)(sz[k] * inner) * es;
        if (c->out[k] && blk)
            for (int64_t o = 0; o < outer; o++)
                memcpy((unsigned char *)c->out[k]->data + (size_t)o * blk,
                       (const unsigned char *)x->data + (size_t)o * row + off, blk);
        off += blk;
    }
    return CLEAVE_OK;
}

static cleave_status gather_infer(op_call *c) {
    CV_TRY(lay_need_data(c, 0));
    CV_TRY(lay_need_data(c, 1));
    const cv_tensor *x = c->in[0], *idx = c->in[1];
    if (idx->dtype != CV_I64 && idx->dtype != CV_I32)
        return op_fail(c, CLEAVE_E_INVALID, "indices must be int32 or int64, got %s",
                       cv_dtype_name(idx->dtype));
    int64_t ax = ir_attr_int(c->node, "axis", 0);
    int axis = cv_axis(ax, x->ndim);
    if (axis < 0)
        return op_fail(c, CLEAVE_E_INVALID, "axis %lld out of range for rank %d", (long long)ax,
                       x->ndim);
    int r = x->ndim - 1 + idx->ndim;
    if (r > CV_MAX_DIMS) return op_fail(c, CLEAVE_E_UNSUPPORTED, "output rank %d too large", r);
    if (idx->data)
        for (int64_t i = 0; i < cv_numel(idx); i++) {
            int64_t v = cv_get_i64(idx, i);
            if (v < -x->dims[axis] || v >= x->dims[axis])
                return op_fail(c, CLEAVE_E_INVALID, "index %lld out of range for size %lld",
                               (long long)v, (long long)x->dims[axis]);
        }
    int64_t dims[CV_MAX_DIMS];
    int n = 0;
    for (int k = 0; k < axis; k++)
        dims[n++] = x->dims[k];
    for (int k = 0; k < idx->ndim; k++)
        dims[n++] = idx->dims[k];
    for (int k = axis + 1; k < x->ndim; k++)
        dims[n++] = x->dims[k];
    op_set_out(c, 0, x->dtype, r, dims);
    return CLEAVE_OK;
}

static cleave_status gather_run(op_call *c) {
    const cv_tensor *x = c->in[0], *idx = c->in[1];
    int axis = cv_axis(ir_attr_int(c->node, "axis", 0), x->ndim);
    size_t es = cv_dtype_size(x->dtype);
    int64_t outer = cv_shape_numel(axis, x->dims), dim = x->dims[axis];
    int64_t inner = cv_shape_numel(x->ndim - axis - 1, x->dims + axis + 1);
    int64_t ni = cv_numel(idx);
    size_t blk = (size_t)inner * es;
    const unsigned char *xs = x->data;
    unsigned char *yd = c->out[0]->data;
    if (blk == 0) return CLEAVE_OK;
    for (int64_t i = 0; i < ni; i++) { /* indices may change per run: check all first */
        int64_t v = idx->dtype == CV_I64 ? ((const int64_t *)idx->data)[i]
                                         : ((const int32_t *)idx->data)[i];
        if (v < -dim || v >= dim)
            return op_fail(c, CLEAVE_E_INVALID, "index %lld out of range for size %lld",
                           (long long)v, (long long)dim);
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < ni; i++) {
            int64_t v = idx->dtype == CV_I64 ? ((const int64_t *)idx->data)[i]
                                             : ((const int32_t *)idx->data)[i];
            if (v < 0) v += dim;
            memcpy(yd + (size_t)(o * ni + i) * blk, xs + (size_t)(o * dim + v) * blk, blk);
        }
    return CLEAVE_OK;
}

const op_def op_def_Concat = {"Concat", 1, 4096, 1, 1, concat_infer, NULL, concat_run, NULL, 0};
const op_def op_def_Split = {"Split", 1, 2, 1, 256, split_infer, NULL, split_run, NULL, 0};
const op_def op_def_Gather = {"Gather", 2, 2, 1, 1, gather_infer, NULL, gather_run, NULL, 0};
const op_def op_def_Slice = {"Slice",       1, 5, 1, 1, slice_infer, slice_prepare, lay_table_run,
                             lay_plan_free, 0};
const op_def op_def_Pad = {"Pad", 1, 4, 1, 1, pad_infer, pad_prepare, pad_run, lay_plan_free, 0};
const op_def op_def_Expand = {
    "Expand", 2, 2, 1, 1, expand_infer, expand_prepare, lay_table_run, lay_plan_free, 0};
const op_def op_def_Tile = {"Tile",        2, 2, 1, 1, tile_infer, tile_prepare, lay_table_run,
                            lay_plan_free, 0};
const op_def op_def_Transpose = {
    "Transpose", 1, 1, 1, 1, transpose_infer, transpose_prepare, lay_table_run, lay_plan_free, 0};
