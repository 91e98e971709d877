/* Tensor ops: the front-ends. Each checks shapes and devices, promotes dtypes (as
 * PyTorch: float beats int, wider beats narrower), broadcasts, allocates the result on
 * the operands' device and calls that device's backend kernel (backend.h).
 *
 * Error messages name the arguments and shapes but not the op: the caller (a Lua
 * binding, an nn op) prefixes its own name, e.g. "add: cannot broadcast [2, 3] with [4]".
 * Dims are 0-based; dim = -1 in reductions means "over all elements". */
#ifndef SB_TENSOR_OPS_H
#define SB_TENSOR_OPS_H

#include "tensor/backend.h"
#include "tensor/tensor.h"

/* The broadcast shape of two shapes (numpy rules: align trailing dims; 1 stretches). */
sb_status sb_broadcast_shapes(int andim, const int64_t *asizes, int bndim, const int64_t *bsizes,
                              int *ndim, int64_t *sizes);

/* neg/abs keep the dtype; exp/log/sqrt of an integer tensor give float32. */
sb_status sb_tensor_unary(sb_unary_op op, const sb_tensor *a, sb_tensor **out);

/* a op b with broadcasting and promotion. div is true division: integers give float32. */
sb_status sb_tensor_binary(sb_binary_op op, const sb_tensor *a, const sb_tensor *b,
                           sb_tensor **out);
/* a op s (or s op a when reversed). A non-integral s with an integer tensor, or div on
 * an integer tensor, gives float32 (PyTorch's rule for Python numbers). */
sb_status sb_tensor_binary_scalar(sb_binary_op op, const sb_tensor *a, double s, bool reversed,
                                  sb_tensor **out);
/* In place: self = self op b, b broadcast to self's shape; self keeps its dtype, so b must
 * promote to it (an int tensor cannot take a float operand in place). */
sb_status sb_tensor_binary_(sb_binary_op op, sb_tensor *self, const sb_tensor *b);
sb_status sb_tensor_binary_scalar_(sb_binary_op op, sb_tensor *self, double s);

/* Elementwise comparisons; the result is uint8 (1 true, 0 false), Torch7's ByteTensor and
 * PyTorch's bool stored as bytes. Operands are promoted to a common dtype first. */
sb_status sb_tensor_compare(sb_compare_op op, const sb_tensor *a, const sb_tensor *b,
                            sb_tensor **out);
sb_status sb_tensor_compare_scalar(sb_compare_op op, const sb_tensor *a, double s, sb_tensor **out);

/* min(max(a, lo), hi); a bound given as NaN is absent. At least one bound is required. */
sb_status sb_tensor_clamp(const sb_tensor *a, double lo, double hi, sb_tensor **out);

/* Reduces over dim (0-based) or over everything (dim = -1). values: a's dtype (sum of an
 * integer tensor: int64; mean needs a floating tensor). indices (0-based int64, may be
 * NULL) only for MAX/MIN. keepdim keeps the reduced dim with size 1. */
sb_status sb_tensor_reduce(sb_reduce_op op, const sb_tensor *a, int dim, bool keepdim,
                           sb_tensor **values, sb_tensor **indices);
/* 0-based positions of the maximum (first one on ties) along dim, or the flat position
 * over everything when dim = -1. int64. */
sb_status sb_tensor_argmax(const sb_tensor *a, int dim, bool keepdim, sb_tensor **out);
sb_status sb_tensor_argmin(const sb_tensor *a, int dim, bool keepdim, sb_tensor **out);
/* The k largest along dim: values (a's dtype) and 0-based int64 indices, largest first,
 * ties by lower index. */
sb_status sb_tensor_topk(const sb_tensor *a, int64_t k, int dim, sb_tensor **values,
                         sb_tensor **indices);

/* PyTorch's matmul: 1-D x 1-D (dot, 0-dim result), 2-D x 2-D, 1-D/2-D mixes, and batched
 * N-D with broadcast batch dims. Operands are promoted to one dtype. */
sb_status sb_tensor_matmul(const sb_tensor *a, const sb_tensor *b, sb_tensor **out);
/* Strict forms: mm needs two 2-D tensors, bmm two 3-D tensors with the same batch. */
sb_status sb_tensor_mm(const sb_tensor *a, const sb_tensor *b, sb_tensor **out);
sb_status sb_tensor_bmm(const sb_tensor *a, const sb_tensor *b, sb_tensor **out);

/* Concatenation along an existing dim (0 <= dim < ndim): every tensor has the same ndim,
 * device and sizes except at `dim`; the result has the promoted dtype. Built from copies
 * into views of the result, so every backend has it. */
sb_status sb_tensor_cat(int n, const sb_tensor *const *tensors, int dim, sb_tensor **out);
/* Stacking along a new dim (0 <= dim <= ndim): every tensor has the same shape. */
sb_status sb_tensor_stack(int n, const sb_tensor *const *tensors, int dim, sb_tensor **out);

/* start, start+step, ... < end (> end for a negative step). */
sb_status sb_tensor_arange(double start, double end, double step, sb_dtype dtype, sb_device device,
                           sb_tensor **out);

/* The default generator (core/rng.h) is process-wide and guarded by a lock; seed it with
 * sb_manual_seed for reproducible runs. */
void sb_manual_seed(uint64_t seed);
/* Uniform in [0, 1) (rand) or standard normal (randn), from the default generator;
 * floating dtypes only. Generated on the host, then moved to `device`, so a seed gives
 * the same numbers on every device. */
sb_status sb_tensor_rand(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                         sb_tensor **out);
sb_status sb_tensor_randn(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                          sb_tensor **out);

#endif
