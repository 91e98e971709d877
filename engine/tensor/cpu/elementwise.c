/* CPU elementwise kernels: unary ops, binary ops (tensor-tensor and tensor-scalar) and
 * comparisons. The dispatch tables come from the op tables (tensor/op_tables.h). */
#include <math.h>

#include "tensor/cpu/cpu.h"
#include "tensor/parallel.h"

/* ---- unary ------------------------------------------------------------------------- */

#define SB_DEFINE_UNARY_LOOP(NAME, T, EXPR) SB_DEFINE_MAP_LOOP(NAME, T, T, EXPR)

/* Wrapping |x| for integers (|INT64_MIN| stays INT64_MIN, as PyTorch). */
static inline uint64_t sb_abs_wrapping(int64_t a)
{
    return a < 0 ? 0 - (uint64_t)a : (uint64_t)a;
}
#define SB_NEG_FLT(T) (-a)
#define SB_NEG_INT(T) ((T)(0 - (uint64_t)a))
#define SB_ABS_FLT(T) (SB_FABS_##T(a))
#define SB_ABS_INT(T) ((T)sb_abs_wrapping((int64_t)a))
#define SB_FABS_float fabsf /* keeps float precision (and vectorises) */
#define SB_FABS_double fabs
#define SB_DEFINE_UNARY_ALL(D, T, K)                                                               \
    SB_DEFINE_UNARY_LOOP(neg_##T, T, SB_NEG_##K(T))                                                \
    SB_DEFINE_UNARY_LOOP(abs_##T, T, SB_ABS_##K(T))
SB_CPU_DTYPES(SB_DEFINE_UNARY_ALL)
SB_DEFINE_UNARY_LOOP(exp_float, float, expf(a))
SB_DEFINE_UNARY_LOOP(exp_double, double, exp(a))
SB_DEFINE_UNARY_LOOP(log_float, float, logf(a))
SB_DEFINE_UNARY_LOOP(log_double, double, log(a))
SB_DEFINE_UNARY_LOOP(sqrt_float, float, sqrtf(a))
SB_DEFINE_UNARY_LOOP(sqrt_double, double, sqrt(a))

/* [op][dtype]: <name>_<ctype> for each dtype the op's rule allows, NULL elsewhere. */
static const sb_loop_fn unary_loops[SB_UNARY_OP_COUNT][SB_CPU_DTYPE_COUNT] = {
#define SB_UNARY_ROW(E, name, dtype) [SB_UNARY_##E] = SB_CPU_LOOPS_##dtype(name),
    SB_UNARY_OPS(SB_UNARY_ROW)
#undef SB_UNARY_ROW
};

sb_status sb_cpu_unary(sb_unary_op op, sb_tensor *out, const sb_tensor *a)
{
    sb_loop_fn fn = (unsigned)op < SB_UNARY_OP_COUNT && sb_cpu_is_compute_dtype(a->dtype)
                        ? unary_loops[op][a->dtype]
                        : NULL;
    if (!fn) return sb_cpu_unsupported_dtype(sb_unary_op_name(op), a->dtype);
    sb_operand ops[2] = {sb_operand_of(out), sb_operand_of(a)};
    sb_cpu_foreach(2, ops, out->ndim, out->sizes, fn, NULL, SB_PARALLEL_ELEMENTS);
    return SB_OK;
}

/* ---- streaming stores ------------------------------------------------------------------ */

/* Outputs larger than the caches (SB_STREAM_MIN_BYTES in all) are written with
 * non-temporal stores in their long contiguous float32 runs: the result goes to memory
 * without first reading the destination lines into the cache (the "read for ownership"
 * that makes c = a + b move 4 streams of bytes instead of 3) and without evicting the
 * inputs. Smaller outputs keep ordinary stores: the next op will read them from the
 * cache. The kernel passes a non-NULL loop ctx to allow streaming. */
#define SB_STREAM_MIN_BYTES ((int64_t)16 << 20)

#if defined(__SSE2__)
#include <immintrin.h>
#define SB_STREAM_MIN_RUN ((int64_t)1 << 12) /* elements; shorter runs are not worth it */
#define SB_DEFINE_STREAM(NAME, VEC_OP, SCALAR_OP)                                                  \
    static bool NAME(float *o, const float *x, const float *y, int64_t n, void *allowed)           \
    {                                                                                              \
        if (!allowed || n < SB_STREAM_MIN_RUN) return false;                                       \
        int64_t i = 0;                                                                             \
        for (; i < n && ((uintptr_t)(o + i) & 15) != 0; i++)                                       \
            o[i] = x[i] SCALAR_OP y[i];                                                            \
        for (; i + 4 <= n; i += 4)                                                                 \
            _mm_stream_ps(o + i, VEC_OP(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i)));                \
        for (; i < n; i++)                                                                         \
            o[i] = x[i] SCALAR_OP y[i];                                                            \
        _mm_sfence(); /* order the streamed stores before the pool reports the chunk done */       \
        return true;                                                                               \
    }
SB_DEFINE_STREAM(stream_add_float, _mm_add_ps, +)
SB_DEFINE_STREAM(stream_sub_float, _mm_sub_ps, -)
SB_DEFINE_STREAM(stream_mul_float, _mm_mul_ps, *)
SB_DEFINE_STREAM(stream_div_float, _mm_div_ps, /)
#endif

/* ---- binary -------------------------------------------------------------------------- */

/* The common shapes get their own loops so the compiler vectorises them: all contiguous,
 * and one side a broadcast scalar (stride 0). */
#define SB_DEFINE_BINARY_LOOP(NAME, T, TO, EXPR)                                                   \
    SB_DEFINE_BINARY_LOOP_S(NAME, T, TO, EXPR, SB_NO_STREAM)
#define SB_NO_STREAM(o, x, y, n, allowed) false
#define SB_DEFINE_BINARY_LOOP_S(NAME, T, TO, EXPR, STREAM)                                         \
    static void NAME(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)                \
    {                                                                                              \
        (void)pos;                                                                                 \
        (void)ctx;                                                                                 \
        const int64_t e = (int64_t)sizeof(T), eo = (int64_t)sizeof(TO);                            \
        if (s[0] == eo && s[1] == e && s[2] == e) {                                                \
            TO *o = (TO *)p[0];                                                                    \
            const T *x = (const T *)p[1], *y = (const T *)p[2];                                    \
            if (STREAM(o, x, y, n, ctx)) return;                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = x[i], b = y[i];                                                              \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (s[0] == eo && s[1] == e && s[2] == 0) {                                         \
            TO *o = (TO *)p[0];                                                                    \
            const T *x = (const T *)p[1];                                                          \
            const T b = *(const T *)p[2];                                                          \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = x[i];                                                                        \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (s[0] == eo && s[1] == 0 && s[2] == e) {                                         \
            TO *o = (TO *)p[0];                                                                    \
            const T a = *(const T *)p[1];                                                          \
            const T *y = (const T *)p[2];                                                          \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T b = y[i];                                                                        \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = *(const T *)(p[1] + i * s[1]), b = *(const T *)(p[2] + i * s[2]);            \
                *(TO *)(p[0] + i * s[0]) = (TO)(EXPR);                                             \
            }                                                                                      \
        }                                                                                          \
    }

#define SB_ADD_FLT (a + b)
#define SB_SUB_FLT (a - b)
#define SB_MUL_FLT (a * b)
#define SB_ADD_INT ((uint64_t)a + (uint64_t)b)
#define SB_SUB_INT ((uint64_t)a - (uint64_t)b)
#define SB_MUL_INT ((uint64_t)a * (uint64_t)b)
/* NaN propagates: a NaN on either side is the result. */
#define SB_MAXIMUM ((a > b || a != a) ? a : b)
#define SB_MINIMUM ((a < b || a != a) ? a : b)
#define SB_DEFINE_BINARY_ALL(D, T, K)                                                              \
    SB_DEFINE_BINARY_ARITH_##K(T) SB_DEFINE_BINARY_LOOP(maximum_##T, T, T, SB_MAXIMUM)             \
        SB_DEFINE_BINARY_LOOP(minimum_##T, T, T, SB_MINIMUM)
/* float32 add/sub/mul/div stream their long runs; everything else uses plain loops. */
#if defined(__SSE2__)
#define SB_STREAM_FOR(NAME) NAME
#else
#define SB_STREAM_FOR(NAME) SB_NO_STREAM
#endif
#define SB_STREAM_IF_FLOAT_float(NAME) SB_STREAM_FOR(NAME)
#define SB_STREAM_IF_FLOAT_double(NAME) SB_NO_STREAM
#define SB_DEFINE_BINARY_ARITH_FLT(T)                                                              \
    SB_DEFINE_BINARY_LOOP_S(add_##T, T, T, SB_ADD_FLT, SB_STREAM_IF_FLOAT_##T(stream_add_float))   \
    SB_DEFINE_BINARY_LOOP_S(sub_##T, T, T, SB_SUB_FLT, SB_STREAM_IF_FLOAT_##T(stream_sub_float))   \
    SB_DEFINE_BINARY_LOOP_S(mul_##T, T, T, SB_MUL_FLT, SB_STREAM_IF_FLOAT_##T(stream_mul_float))
#define SB_DEFINE_BINARY_ARITH_INT(T)                                                              \
    SB_DEFINE_BINARY_LOOP(add_##T, T, T, SB_ADD_INT)                                               \
    SB_DEFINE_BINARY_LOOP(sub_##T, T, T, SB_SUB_INT)                                               \
    SB_DEFINE_BINARY_LOOP(mul_##T, T, T, SB_MUL_INT)
SB_CPU_DTYPES(SB_DEFINE_BINARY_ALL)
SB_DEFINE_BINARY_LOOP_S(div_float, float, float, a / b, SB_STREAM_FOR(stream_div_float))
SB_DEFINE_BINARY_LOOP(div_double, double, double, a / b)

/* [op][dtype], as unary_loops. */
static const sb_loop_fn binary_loops[SB_BINARY_OP_COUNT][SB_CPU_DTYPE_COUNT] = {
#define SB_BINARY_ROW(E, name, dtype, in_place) [SB_BINARY_##E] = SB_CPU_LOOPS_##dtype(name),
    SB_BINARY_OPS(SB_BINARY_ROW)
#undef SB_BINARY_ROW
};

/* Comparisons are built from the table's operator column, for every dtype. */
#define SB_DEFINE_COMPARE(E, name, OP)                                                             \
    SB_DEFINE_BINARY_LOOP(name##_float, float, uint8_t, a OP b)                                    \
    SB_DEFINE_BINARY_LOOP(name##_double, double, uint8_t, a OP b)                                  \
    SB_DEFINE_BINARY_LOOP(name##_int64_t, int64_t, uint8_t, a OP b)                                \
    SB_DEFINE_BINARY_LOOP(name##_int32_t, int32_t, uint8_t, a OP b)                                \
    SB_DEFINE_BINARY_LOOP(name##_uint8_t, uint8_t, uint8_t, a OP b)
SB_COMPARE_OPS(SB_DEFINE_COMPARE)

static const sb_loop_fn compare_loops[SB_COMPARE_OP_COUNT][SB_CPU_DTYPE_COUNT] = {
#define SB_COMPARE_ROW(E, name, OP) [SB_COMPARE_##E] = SB_CPU_LOOPS_ANY(name),
    SB_COMPARE_OPS(SB_COMPARE_ROW)
#undef SB_COMPARE_ROW
};

static sb_loop_fn binary_loop(sb_binary_op op, sb_dtype d)
{
    if ((unsigned)op >= SB_BINARY_OP_COUNT || !sb_cpu_is_compute_dtype(d)) return NULL;
    return binary_loops[op][d];
}

static sb_loop_fn compare_loop(sb_compare_op op, sb_dtype d)
{
    if ((unsigned)op >= SB_COMPARE_OP_COUNT || !sb_cpu_is_compute_dtype(d)) return NULL;
    return compare_loops[op][d];
}

sb_status sb_cpu_binary(sb_binary_op op, sb_tensor *out, const sb_tensor *a, const sb_tensor *b)
{
    sb_loop_fn fn = binary_loop(op, out->dtype);
    if (!fn) return sb_cpu_unsupported_dtype(sb_binary_op_name(op), out->dtype);
    sb_operand ops[3] = {sb_operand_of(out), sb_operand_of(a), sb_operand_of(b)};
    static const char stream_allowed = 1;
    int64_t bytes = sb_tensor_numel(out) * (int64_t)sb_dtype_size(out->dtype);
    void *ctx = bytes >= SB_STREAM_MIN_BYTES ? (void *)&stream_allowed : NULL;
    sb_cpu_foreach(3, ops, out->ndim, out->sizes, fn, ctx, SB_PARALLEL_ELEMENTS);
    return SB_OK;
}

/* The scalar as a stride-0 operand of the right dtype. */
static sb_operand scalar_operand(char *buf, sb_dtype dtype, double s)
{
    static const int64_t zero[SB_MAX_DIMS] = {0};
    sb_store_double(buf, dtype, s);
    sb_operand op = {buf, zero, sb_dtype_size(dtype)};
    return op;
}

sb_status sb_cpu_binary_scalar(sb_binary_op op, sb_tensor *out, const sb_tensor *a, double s,
                               bool reversed)
{
    sb_loop_fn fn = binary_loop(op, out->dtype);
    if (!fn) return sb_cpu_unsupported_dtype(sb_binary_op_name(op), out->dtype);
    char buf[8];
    sb_operand ops[3] = {sb_operand_of(out), sb_operand_of(a), scalar_operand(buf, a->dtype, s)};
    if (reversed) {
        sb_operand tmp = ops[1];
        ops[1] = ops[2];
        ops[2] = tmp;
    }
    sb_cpu_foreach(3, ops, out->ndim, out->sizes, fn, NULL, SB_PARALLEL_ELEMENTS);
    return SB_OK;
}

sb_status sb_cpu_compare(sb_compare_op op, sb_tensor *out, const sb_tensor *a, const sb_tensor *b)
{
    sb_loop_fn fn = compare_loop(op, a->dtype);
    if (!fn) return sb_cpu_unsupported_dtype("comparison", a->dtype);
    sb_operand ops[3] = {sb_operand_of(out), sb_operand_of(a), sb_operand_of(b)};
    sb_cpu_foreach(3, ops, out->ndim, out->sizes, fn, NULL, SB_PARALLEL_ELEMENTS);
    return SB_OK;
}

sb_status sb_cpu_compare_scalar(sb_compare_op op, sb_tensor *out, const sb_tensor *a, double s)
{
    sb_loop_fn fn = compare_loop(op, a->dtype);
    if (!fn) return sb_cpu_unsupported_dtype("comparison", a->dtype);
    char buf[8];
    sb_operand ops[3] = {sb_operand_of(out), sb_operand_of(a), scalar_operand(buf, a->dtype, s)};
    sb_cpu_foreach(3, ops, out->ndim, out->sizes, fn, NULL, SB_PARALLEL_ELEMENTS);
    return SB_OK;
}
