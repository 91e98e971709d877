/* The tensor op families, one X-macro table each: the single place where an op of a family
 * is listed. From these rows come the op enums (backend.h), the op names used in messages,
 * the dtype rules the front-ends (ops.c) and both backends apply, the CPU dispatch tables
 * (tensor/cpu/), the CUDA checks (engine/cuda/tensor_backend.cu) and the Lua methods
 * (engine/bindings/l_tensor_math.c). docs/architecture.md lists what else a new op needs.
 *
 * Columns shared by every family:
 *   ENUM   the enum suffix: SB_UNARY_<ENUM>, SB_BINARY_<ENUM>, ...
 *   name   the Lua method, the name in error messages, and the stem of the kernels'
 *          names (the CPU's <name>_<ctype> loops; a bare token, never expanded)
 *   dtype  ANY: computed in every dtype; FLOATING: integer operands are promoted to
 *          float32 by the front-end (unary, binary) or refused (reductions), and the
 *          backends compute it for floating dtypes only.
 * The order of the rows is the enums' order. */
#ifndef SB_TENSOR_OP_TABLES_H
#define SB_TENSOR_OP_TABLES_H

/* Elementwise out = op(a), same dtype as its (promoted) input.
 * X(ENUM, name, dtype) */
#define SB_UNARY_OPS(X)                                                                            \
    X(NEG, neg, ANY) /* uint8 wraps, as PyTorch */                                                 \
    X(ABS, abs, ANY)                                                                               \
    X(EXP, exp, FLOATING)                                                                          \
    X(LOG, log, FLOATING)                                                                          \
    X(SQRT, sqrt, FLOATING)

/* Elementwise out = a op b, with broadcasting, promotion and a scalar form.
 * X(ENUM, name, dtype, in_place): in_place is INPLACE when t:<name>_(x) exists too. */
#define SB_BINARY_OPS(X)                                                                           \
    X(ADD, add, ANY, INPLACE)                                                                      \
    X(SUB, sub, ANY, INPLACE)                                                                      \
    X(MUL, mul, ANY, INPLACE)                                                                      \
    X(DIV, div, FLOATING, INPLACE)       /* true division */                                       \
    X(MAXIMUM, maximum, ANY, NO_INPLACE) /* NaN propagates (clamp's lower bound) */                \
    X(MINIMUM, minimum, ANY, NO_INPLACE) /* NaN propagates (clamp's upper bound) */

/* Elementwise comparisons, uint8 results (1 true, 0 false). The C operator is the kernel:
 * both backends build their loops from this column.
 * X(ENUM, name, operator) */
#define SB_COMPARE_OPS(X)                                                                          \
    X(EQ, eq, ==)                                                                                  \
    X(NE, ne, !=)                                                                                  \
    X(GT, gt, >)                                                                                   \
    X(LT, lt, <)                                                                                   \
    X(GE, ge, >=)                                                                                  \
    X(LE, le, <=)

/* Reductions over a dim or over everything.
 * X(ENUM, name, dtype, kind, noun)
 *   kind  TOTAL: sum-like (int64 values for an integer sum; an empty one is 0, a mean NaN);
 *         BEST: max/min, with 0-based positions; NaN wins, ties keep the lowest position
 *   noun  what the result is called in messages ("an empty tensor [0] has no maximum") */
#define SB_REDUCE_OPS(X)                                                                           \
    X(SUM, sum, ANY, TOTAL, "sum")                                                                 \
    X(MEAN, mean, FLOATING, TOTAL, "mean")                                                         \
    X(MAX, max, ANY, BEST, "maximum")                                                              \
    X(MIN, min, ANY, BEST, "minimum")

/* ---- what the tables give the C code ------------------------------------------------------ */

#define SB_OP_DTYPE_ANY 0
#define SB_OP_DTYPE_FLOATING 1
#define SB_OP_KIND_TOTAL 0
#define SB_OP_KIND_BEST 1

#define SB_X_UNARY_ENUM(E, name, dtype) SB_UNARY_##E,
#define SB_X_BINARY_ENUM(E, name, dtype, in_place) SB_BINARY_##E,
#define SB_X_COMPARE_ENUM(E, name, op) SB_COMPARE_##E,
#define SB_X_REDUCE_ENUM(E, name, dtype, kind, noun) SB_REDUCE_##E,

#define SB_X_UNARY_NAME(E, name, dtype) #name,
#define SB_X_BINARY_NAME(E, name, dtype, in_place) #name,
#define SB_X_COMPARE_NAME(E, name, op) #name,
#define SB_X_REDUCE_NAME(E, name, dtype, kind, noun) #name,

#define SB_X_UNARY_FLOATING(E, name, dtype) SB_OP_DTYPE_##dtype,
#define SB_X_BINARY_FLOATING(E, name, dtype, in_place) SB_OP_DTYPE_##dtype,
#define SB_X_REDUCE_FLOATING(E, name, dtype, kind, noun) SB_OP_DTYPE_##dtype,
#define SB_X_REDUCE_BEST(E, name, dtype, kind, noun) SB_OP_KIND_##kind,
#define SB_X_REDUCE_NOUN(E, name, dtype, kind, noun) noun,

#endif
