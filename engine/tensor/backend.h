/* The backend dispatch point: one table of kernels per device kind.
 *
 * A tensor op has ONE front-end (engine/tensor/ops.c, tensor.c) that checks shapes,
 * promotes dtypes, broadcasts (with sb_tensor_expand: stride-0 dims), allocates the
 * output on the operands' device and then calls the kernel of that device's backend.
 * Kernels therefore receive tensors that are already checked and allocated; they only
 * compute. Adding a device = filling this table; adding an op to a family below (unary,
 * binary, comparison, reduction) = one row in tensor/op_tables.h + its kernel in each
 * backend (docs/architecture.md has the checklist); a new family = a new slot here.
 *
 * The CPU table (tensor/cpu/backend.c) is always there. The CUDA table is the CUDA plugin's:
 * the GPU host layer (engine/gpu/, above this one) installs a loader with
 * sb_backend_set_loader() that runs on the first CUDA request (so a CPU-only run never dlopens
 * CUDA) and registers the table with sb_backend_register(SB_DEVICE_CUDA, &table). Until a
 * table is registered, every
 * CUDA request fails with SB_EDEVICE "CUDA is not available: <why>".
 *
 * The nn ops (engine/nn/) keep a separate table of their own following the same pattern.
 *
 * Conventions for every kernel below:
 *  - all tensor arguments live on the backend's device (except the cross-device case of
 *    `copy`), have at most SB_MAX_DIMS dims and arbitrary strides, including stride 0
 *    for broadcast dims of INPUTS; outputs are freshly allocated contiguous tensors or
 *    the exact same tensor as an input (in-place ops: out == a, same strides);
 *  - dims are 0-based and already validated; numel may be 0;
 *  - a kernel returns SB_OK, or fails with sb_fail() (e.g. a CUDA launch error, or a dtype
 *    the backend does not compute: SB_EUNSUPPORTED naming the dtype). */
#ifndef SB_TENSOR_BACKEND_H
#define SB_TENSOR_BACKEND_H

#include "tensor/op_tables.h"
#include "tensor/tensor.h"

/* The op enums come from the op tables (tensor/op_tables.h): a new op is a row there. */
typedef enum sb_unary_op { SB_UNARY_OPS(SB_X_UNARY_ENUM) SB_UNARY_OP_COUNT } sb_unary_op;
typedef enum sb_binary_op { SB_BINARY_OPS(SB_X_BINARY_ENUM) SB_BINARY_OP_COUNT } sb_binary_op;
typedef enum sb_compare_op { SB_COMPARE_OPS(SB_X_COMPARE_ENUM) SB_COMPARE_OP_COUNT } sb_compare_op;
typedef enum sb_reduce_op { SB_REDUCE_OPS(SB_X_REDUCE_ENUM) SB_REDUCE_OP_COUNT } sb_reduce_op;

/* A lookup function over an op table's rows: fn(op) is the row's value, `fallback` for an
 * op out of range. */
#define SB_OP_TABLE_LOOKUP(T, fn, op_type, count, fallback, ...)                                   \
    static inline T fn(op_type op)                                                                 \
    {                                                                                              \
        static T const values[] = {__VA_ARGS__};                                                   \
        return (unsigned)op < count ? values[op] : fallback;                                       \
    }

/* An op's name ("exp", "add", ...), as in the Lua method and the messages. */
SB_OP_TABLE_LOOKUP(const char *, sb_unary_op_name, sb_unary_op, SB_UNARY_OP_COUNT, "unary op",
                   SB_UNARY_OPS(SB_X_UNARY_NAME))
SB_OP_TABLE_LOOKUP(const char *, sb_binary_op_name, sb_binary_op, SB_BINARY_OP_COUNT, "binary op",
                   SB_BINARY_OPS(SB_X_BINARY_NAME))
SB_OP_TABLE_LOOKUP(const char *, sb_compare_op_name, sb_compare_op, SB_COMPARE_OP_COUNT,
                   "comparison", SB_COMPARE_OPS(SB_X_COMPARE_NAME))
SB_OP_TABLE_LOOKUP(const char *, sb_reduce_op_name, sb_reduce_op, SB_REDUCE_OP_COUNT, "reduction",
                   SB_REDUCE_OPS(SB_X_REDUCE_NAME))
/* The dtype rule: true for the FLOATING ops (computed in floating dtypes only). */
SB_OP_TABLE_LOOKUP(bool, sb_unary_op_floating, sb_unary_op, SB_UNARY_OP_COUNT, false,
                   SB_UNARY_OPS(SB_X_UNARY_FLOATING))
SB_OP_TABLE_LOOKUP(bool, sb_binary_op_floating, sb_binary_op, SB_BINARY_OP_COUNT, false,
                   SB_BINARY_OPS(SB_X_BINARY_FLOATING))
SB_OP_TABLE_LOOKUP(bool, sb_reduce_op_floating, sb_reduce_op, SB_REDUCE_OP_COUNT, false,
                   SB_REDUCE_OPS(SB_X_REDUCE_FLOATING))
/* BEST reductions (max, min) have positions; TOTAL ones (sum, mean) do not. */
SB_OP_TABLE_LOOKUP(bool, sb_reduce_op_best, sb_reduce_op, SB_REDUCE_OP_COUNT, false,
                   SB_REDUCE_OPS(SB_X_REDUCE_BEST))
/* "maximum", "sum": the result's name in messages. */
SB_OP_TABLE_LOOKUP(const char *, sb_reduce_op_noun, sb_reduce_op, SB_REDUCE_OP_COUNT, "result",
                   SB_REDUCE_OPS(SB_X_REDUCE_NOUN))

/* For kernels along one dim (topk): a's sizes without `dim`, and the strides of the `nt`
 * tensors `t` (each of a's rank) without `dim`. Returns the number of dims left. */
static inline int sb_drop_dim(const sb_tensor *a, int dim, int nt, const sb_tensor *const *t,
                              int64_t *sizes, int64_t (*strides)[SB_MAX_DIMS])
{
    int nd = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (d == dim) continue;
        sizes[nd] = a->sizes[d];
        for (int k = 0; k < nt; k++)
            strides[k][nd] = t[k]->strides[d];
        nd++;
    }
    return nd;
}

/* The kernel slots of sb_backend below, for code that fills or checks a whole table
 * (each backend names its kernels <prefix>_<slot>). */
#define SB_BACKEND_KERNELS(X)                                                                      \
    X(copy)                                                                                        \
    X(fill)                                                                                        \
    X(unary)                                                                                       \
    X(binary)                                                                                      \
    X(binary_scalar)                                                                               \
    X(compare)                                                                                     \
    X(compare_scalar)                                                                              \
    X(reduce)                                                                                      \
    X(topk)                                                                                        \
    X(bmm)

typedef struct sb_backend {
    const char *name; /* "cpu", "cuda" */
    /* The device's default allocator (sb_storage_new with allocator NULL). */
    const sb_allocator *allocator;

    /* dst = src, elementwise, same shape (src may have stride-0 dims).
     * Same device: any dtypes (converted as C casts; float -> int truncates toward zero,
     * as PyTorch) and any strides.
     * Cross-device (one side on the CPU, the other on this backend's device): the
     * front-end guarantees the same dtype and both tensors contiguous. */
    sb_status (*copy)(sb_tensor *dst, const sb_tensor *src);
    /* Every element of dst (any strides) = value converted to dst's dtype. */
    sb_status (*fill)(sb_tensor *dst, double value);

    /* out = op(a); same shape, same dtype. */
    sb_status (*unary)(sb_unary_op op, sb_tensor *out, const sb_tensor *a);
    /* out = a op b; a, b and out have out's shape and dtype. */
    sb_status (*binary)(sb_binary_op op, sb_tensor *out, const sb_tensor *a, const sb_tensor *b);
    /* out = a op s, or s op a when `reversed` (2 - t, 1 / t); s already fits the dtype
     * (integral for integer dtypes). */
    sb_status (*binary_scalar)(sb_binary_op op, sb_tensor *out, const sb_tensor *a, double s,
                               bool reversed);
    /* out (uint8: 1 or 0) = a op b; a and b have the same dtype and out's shape. */
    sb_status (*compare)(sb_compare_op op, sb_tensor *out, const sb_tensor *a, const sb_tensor *b);
    sb_status (*compare_scalar)(sb_compare_op op, sb_tensor *out, const sb_tensor *a, double s);

    /* Reduces a over `dim`, or over every element when dim < 0. `values` has a's shape
     * without `dim` (0-dim when dim < 0) and the dtype documented with sb_reduce_op.
     * `indices` (int64, values' shape) is NULL except for MAX/MIN, where it receives the
     * 0-based position along dim (or the flat row-major position when dim < 0). */
    sb_status (*reduce)(sb_reduce_op op, sb_tensor *values, sb_tensor *indices, const sb_tensor *a,
                        int dim);
    /* The k largest along dim, largest first, ties by lower position. values (a's dtype)
     * and indices (int64, 0-based) have a's shape with size k at dim. 0 < k <= size(dim). */
    sb_status (*topk)(sb_tensor *values, sb_tensor *indices, const sb_tensor *a, int64_t k,
                      int dim);
    /* out[i] = a[i] @ b[i] for i < B: out [B,M,N] contiguous, a [B,M,K], b [B,K,N] with
     * any strides (batch stride 0 = broadcast batch). Same dtype everywhere. The CPU
     * backend passes transposed views to BLAS as transpose flags instead of copying. */
    sb_status (*bmm)(sb_tensor *out, const sb_tensor *a, const sb_tensor *b);
} sb_backend;

/* The backend that computes on `device`'s kind: always succeeds for the CPU; for CUDA
 * runs the loader once when no table is registered yet, and fails with SB_EDEVICE
 * "CUDA is not available: <why>" when there is still none. */
sb_status sb_backend_for(sb_device device, const sb_backend **out);
const sb_backend *sb_cpu_backend(void);

/* Installs the table for a device kind (the GPU host layer calls this). NULL unregisters.
 * The table must outlive every tensor of that kind. */
void sb_backend_register(sb_device_kind kind, const sb_backend *backend);

/* A function that tries to make a backend available (dlopen the CUDA plugin and call
 * sb_backend_register); on failure it returns non-OK after sb_fail() with the whole message
 * ("CUDA is not available: <why>"), which every later sb_backend_for() on that kind repeats.
 * Runs at most once per installation. */
typedef sb_status (*sb_backend_loader)(void);
void sb_backend_set_loader(sb_device_kind kind, sb_backend_loader loader);

#endif
