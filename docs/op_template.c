/* <family>: what this file owns, in 2-5 lines (template for a new op
 * family; copy to src/ops/<family>.c and list the ops in op_list.inc). */
#include "ops/op.h"

/* Output = f(input 0), same shape and dtype (float32 only here). */
static cleave_status myop_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    if (x->dtype != CV_F32)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "dtype %s is not supported", cv_dtype_name(x->dtype));
    op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return CLEAVE_OK;
}

/* Reference kernel: dense row-major f32, n elements, x and y may not alias. */
static void myop_f32_ref(const float *restrict x, float *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i];
}

static cleave_status myop_run(op_call *c) {
    myop_f32_ref(c->in[0]->data, c->out[0]->data, cv_numel(c->in[0]));
    return CLEAVE_OK;
}

const op_def op_def_MyOp = {
    .name = "MyOp", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = myop_infer, .run = myop_run,
};
