/* ir extract: the part of a graph that computes given values from given
 * values, as a graph of its own (the head or the tail of a split model).
 * The kept nodes are the ancestors of the requested outputs, the walk
 * stopping at the requested inputs and at constants. */
#ifndef CLEAVE_IR_EXTRACT_H
#define CLEAVE_IR_EXTRACT_H

#include "base/base.h"
#include "ir/graph.h"

/* A new graph whose inputs are g's values inputs[0..n_in) and whose outputs
 * are outputs[0..n_out) (value ids of g; each list without repeats), with
 * the nodes of g needed to compute those outputs from those inputs (in g's
 * order, so a sorted g gives a sorted result) and only the initializers they
 * read. Values keep their names, dtypes and shapes; an input may be any
 * value of g (a node's output becomes a graph input) and an output may also
 * be an input. Fails, naming the value and the node that reads it, when an
 * output needs a value that is neither an input, a constant nor computable
 * from them (e.g. a graph input of g left out of inputs). Like
 * ir_graph_clone, the result shares attribute payloads, constant data and
 * metadata strings with g, which must outlive it; ops are not bound. */
cleave_status ir_graph_extract(cleave_ctx *ctx, const ir_graph *g, const int *inputs, int n_in,
                               const int *outputs, int n_out, ir_graph **out);

/* Per value of g (n_values bytes, cv_free it): 1 when it is computable from
 * the values given[0..n) and the initializers, by a forward pass over g's
 * live nodes (g topologically sorted). NULL when out of memory. */
uint8_t *ir_graph_computable(const ir_graph *g, const int *given, int n);

#endif
