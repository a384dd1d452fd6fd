/* ir: the graph as plain data. Values (tensors: graph inputs, initializers,
 * node outputs) and nodes refer to each other by index. Strings, attribute
 * payloads and initializer bytes live in the graph's arena; the node and
 * value arrays grow with realloc. Shapes use -1 for an unknown dimension and
 * keep the symbolic name (dim_param) so a save round-trips. */
#ifndef CLEAVE_IR_GRAPH_H
#define CLEAVE_IR_GRAPH_H

#include <stdint.h>

#include "base/base.h"
#include "base/tensor.h"

/* Attribute kinds: same numbers as ONNX AttributeProto.AttributeType. */
typedef enum ir_attr_kind {
    IR_ATTR_UNDEF = 0,
    IR_ATTR_FLOAT = 1,
    IR_ATTR_INT = 2,
    IR_ATTR_STRING = 3,
    IR_ATTR_TENSOR = 4,
    IR_ATTR_GRAPH = 5,
    IR_ATTR_FLOATS = 6,
    IR_ATTR_INTS = 7,
    IR_ATTR_STRINGS = 8,
    IR_ATTR_TENSORS = 9,
    IR_ATTR_GRAPHS = 10,
    IR_ATTR_SPARSE_TENSOR = 11,
    IR_ATTR_SPARSE_TENSORS = 12,
    IR_ATTR_TYPE_PROTO = 13,
    IR_ATTR_TYPE_PROTOS = 14
} ir_attr_kind;

typedef struct ir_attr {
    const char *name;
    ir_attr_kind kind;
    float f;
    int64_t i;
    const char *s; /* STRING: bytes (NUL-terminated copy), length s_len */
    size_t s_len;
    int n;                /* element count for FLOATS/INTS/STRINGS/TENSORS */
    const float *floats;
    const int64_t *ints;
    const char **strings;
    const size_t *string_lens;
    cv_tensor *tensors; /* TENSOR (n = 1) / TENSORS */
    const char **tensor_names;
    /* Kinds we do not interpret (graphs, sparse tensors, type protos) are
     * kept as their serialized protobuf bytes so a save round-trips. */
    const uint8_t *raw;
    size_t raw_len;
    const char *ref_attr_name;
} ir_attr;

/* Activation fused into a producing node by ir_pass_fuse_activations. */
typedef enum ir_act_kind {
    IR_ACT_NONE = 0,
    IR_ACT_RELU,
    IR_ACT_CLIP,      /* min = alpha, max = beta */
    IR_ACT_LEAKY,     /* alpha */
    IR_ACT_SIGMOID,
    IR_ACT_HARDSIGMOID, /* alpha, beta */
    IR_ACT_HARDSWISH,
    IR_ACT_TANH
} ir_act_kind;

typedef struct ir_act {
    ir_act_kind kind;
    float alpha, beta;
} ir_act;

typedef struct ir_node {
    const char *name;
    const char *op_type;
    const char *domain; /* "" for the default ONNX domain */
    int op;             /* ops enum (OP_*), -1 when unsupported */
    int opset;          /* opset version of the node's domain */
    int n_in, n_out;
    int *in;  /* value ids, -1 = omitted optional input */
    int *out; /* value ids, -1 = omitted optional output */
    int n_attrs;
    ir_attr *attrs;
    ir_act act;      /* fused activation applied to out[0] */
    int dead;        /* removed by a pass; compacted by ir_graph_compact */
    const char *doc; /* doc_string, may be NULL */
} ir_node;

typedef struct ir_value {
    const char *name;
    cv_dtype dtype;
    int ndim;                 /* -1 = unknown rank */
    int64_t dims[CV_MAX_DIMS]; /* -1 = unknown */
    const char *dim_param[CV_MAX_DIMS];
    void *data;        /* constant payload (initializer), NULL otherwise */
    int producer;      /* node index, -1 for graph inputs / initializers */
    unsigned is_input : 1;      /* listed in graph.input */
    unsigned is_output : 1;     /* listed in graph.output */
    unsigned is_initializer : 1;
    unsigned has_info : 1;      /* listed in value_info */
    unsigned external : 1;      /* initializer came from an external file */
} ir_value;

typedef struct ir_opset {
    const char *domain;
    int64_t version;
} ir_opset;

typedef struct ir_graph {
    cv_arena arena;
    ir_node *nodes;
    int n_nodes, cap_nodes;
    ir_value *values;
    int n_values, cap_values;
    int *inputs, n_inputs;   /* graph.input order (may include initializers) */
    int *outputs, n_outputs; /* graph.output order */
    /* model metadata kept for save */
    int64_t ir_version;
    ir_opset *opsets;
    int n_opsets;
    const char *producer_name, *producer_version, *domain, *graph_name, *doc;
    int64_t model_version;
    const char *source_path; /* file it was loaded from (for messages) */
    /* hash map name -> value id */
    int *name_index;
    int name_cap;
} ir_graph;

cleave_status ir_graph_create(ir_graph **out);
void ir_graph_destroy(ir_graph *g);

/* A copy that can be rewritten (nodes, values, attributes added or changed)
 * without touching src. Strings, attribute payloads and constant data are
 * shared with src, which must outlive the copy and stay unchanged. */
cleave_status ir_graph_clone(cleave_ctx *ctx, const ir_graph *src, ir_graph **out);

/* Find a value by name; -1 if none. */
int ir_graph_find_value(const ir_graph *g, const char *name);
/* Find or add a value with this name; returns its id or -1 on OOM. */
int ir_graph_intern_value(ir_graph *g, const char *name);
/* Add a fresh value with a unique name derived from hint. */
int ir_graph_new_value(ir_graph *g, const char *hint);
/* Append a node; in/out arrays are copied; returns node index or -1. */
int ir_graph_add_node(ir_graph *g, const char *name, const char *op_type, const char *domain,
                      const int *in, int n_in, const int *out, int n_out);
/* Remove dead nodes, renumber, recompute producers. */
cleave_status ir_graph_compact(cleave_ctx *ctx, ir_graph *g);
/* Recompute every value's producer; fails on a value produced twice. */
cleave_status ir_graph_link(cleave_ctx *ctx, ir_graph *g);
/* Sort nodes topologically (stable: keeps file order when valid); fails
 * naming a node on a cycle or an input that nothing produces. */
cleave_status ir_graph_toposort(cleave_ctx *ctx, ir_graph *g);
/* Default-domain opset version (0 if none). */
int64_t ir_graph_opset(const ir_graph *g, const char *domain);
/* Count consumers of each value (array of n_values, caller frees). */
int *ir_graph_consumer_counts(const ir_graph *g);
/* The one live node reading value v, or -1 (no reader, several, v < 0, or
 * v a graph output); a node reading v twice counts once. */
int ir_graph_sole_consumer(const ir_graph *g, int v);

/* Give a value a constant payload (copied into the arena). */
cleave_status ir_value_set_data(cleave_ctx *ctx, ir_graph *g, int v, cv_dtype dt, int ndim,
                                const int64_t *dims, const void *data);
/* A cv_tensor view of a value (data NULL unless constant). */
cv_tensor ir_value_tensor(const ir_graph *g, int v);
/* 1 with *out set when value v (>= 0) is a constant float32 scalar. */
int ir_value_scalar_f32(const ir_graph *g, int v, float *out);
/* 1 if every dimension is known. */
int ir_value_shape_known(const ir_value *v);

/* Attribute lookup. Getters return the default when absent. */
const ir_attr *ir_node_attr(const ir_node *n, const char *name);
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt);
float ir_attr_float(const ir_node *n, const char *name, float dflt);
/* Returns the string or dflt. */
const char *ir_attr_string(const ir_node *n, const char *name, const char *dflt);
/* Returns element count (0 if absent) and the array through *out. */
int ir_attr_ints(const ir_node *n, const char *name, const int64_t **out);
int ir_attr_floats(const ir_node *n, const char *name, const float **out);
/* Set or replace an INT / INTS / FLOAT attribute (payload copied to arena). */
cleave_status ir_node_set_attr_int(ir_graph *g, ir_node *n, const char *name, int64_t v);
cleave_status ir_node_set_attr_ints(ir_graph *g, ir_node *n, const char *name,
                                    const int64_t *v, int count);
cleave_status ir_node_set_attr_float(ir_graph *g, ir_node *n, const char *name, float v);
/* Drop an attribute if present. */
void ir_node_del_attr(ir_node *n, const char *name);

/* "node 'conv1' (Conv)" for messages. */
const char *ir_node_label(const ir_node *n, char *buf, size_t len);

#endif
