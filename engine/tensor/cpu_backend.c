/* The CPU backend: kernels over strided tensors (see backend.h for the contract).
 *
 * One small macro per loop shape, instantiated for the five CPU compute dtypes; float16
 * and bfloat16 are storage types here (copy/fill convert them; arithmetic on them is
 * a CUDA feature). Integer arithmetic wraps like PyTorch's (computed unsigned, so no C
 * undefined behaviour). */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/backend.h"
#include "tensor/cpu_iter.h"
#include "tensor/cpu_types.h"
#include "tensor/parallel.h"

/* X(dtype enum, C type, kind FLT|INT) for the compute dtypes. (Not F/I: OpenBLAS's
 * headers pull in <complex.h>, which defines I.) */
#define SB_CPU_DTYPES(X)                                                                           \
    X(SB_FLOAT32, float, FLT)                                                                      \
    X(SB_FLOAT64, double, FLT)                                                                     \
    X(SB_INT64, int64_t, INT) X(SB_INT32, int32_t, INT) X(SB_UINT8, uint8_t, INT)

static sb_status unsupported_dtype(const char *what, sb_dtype dtype)
{
    return sb_fail(SB_EUNSUPPORTED,
                   "%s is not implemented for %s tensors on the CPU (%s is a storage type "
                   "here: convert with :float() first)",
                   what, sb_dtype_name(dtype), sb_dtype_name(dtype));
}

static bool is_compute_dtype(sb_dtype d)
{
    return d <= SB_UINT8;
}

/* ---- copy --------------------------------------------------------------------------- */

/* SB_CONV_<dst kind><src kind>: float -> int saturates through int64 (no C UB). */
#define SB_CONV_FLTFLT(TD, x) ((TD)(x))
#define SB_CONV_FLTINT(TD, x) ((TD)(x))
#define SB_CONV_INTFLT(TD, x) ((TD)(uint64_t)sb_double_to_int64((double)(x)))
#define SB_CONV_INTINT(TD, x) ((TD)(x))
#define SB_CONV(KD, KS) SB_CONV_##KD##KS

#define SB_DEFINE_COPY_LOOP(DD, TD, KD, DS, TS, KS)                                                \
    static void copy_##TD##_##TS(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)    \
    {                                                                                              \
        (void)pos;                                                                                 \
        (void)ctx;                                                                                 \
        if (s[0] == (int64_t)sizeof(TD) && s[1] == (int64_t)sizeof(TS)) {                          \
            TD *o = (TD *)p[0];                                                                    \
            const TS *x = (const TS *)p[1];                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = SB_CONV(KD, KS)(TD, x[i]);                                                  \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++)                                                        \
                *(TD *)(p[0] + i * s[0]) = SB_CONV(KD, KS)(TD, *(const TS *)(p[1] + i * s[1]));    \
        }                                                                                          \
    }
/* Instantiate for every destination type, nesting the source list. */
#define SB_COPY_FOR_DST(DD, TD, KD)                                                                \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_FLOAT32, float, FLT)                                        \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_FLOAT64, double, FLT)                                       \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_INT64, int64_t, INT)                                        \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_INT32, int32_t, INT)                                        \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_UINT8, uint8_t, INT)
SB_CPU_DTYPES(SB_COPY_FOR_DST)

static sb_loop_fn copy_loop(sb_dtype dst, sb_dtype src)
{
    switch (dst) {
    case SB_FLOAT32:
        switch (src) {
        case SB_FLOAT32:
            return copy_float_float;
        case SB_FLOAT64:
            return copy_float_double;
        case SB_INT64:
            return copy_float_int64_t;
        case SB_INT32:
            return copy_float_int32_t;
        case SB_UINT8:
            return copy_float_uint8_t;
        default:
            return NULL;
        }
    case SB_FLOAT64:
        switch (src) {
        case SB_FLOAT32:
            return copy_double_float;
        case SB_FLOAT64:
            return copy_double_double;
        case SB_INT64:
            return copy_double_int64_t;
        case SB_INT32:
            return copy_double_int32_t;
        case SB_UINT8:
            return copy_double_uint8_t;
        default:
            return NULL;
        }
    case SB_INT64:
        switch (src) {
        case SB_FLOAT32:
            return copy_int64_t_float;
        case SB_FLOAT64:
            return copy_int64_t_double;
        case SB_INT64:
            return copy_int64_t_int64_t;
        case SB_INT32:
            return copy_int64_t_int32_t;
        case SB_UINT8:
            return copy_int64_t_uint8_t;
        default:
            return NULL;
        }
    case SB_INT32:
        switch (src) {
        case SB_FLOAT32:
            return copy_int32_t_float;
        case SB_FLOAT64:
            return copy_int32_t_double;
        case SB_INT64:
            return copy_int32_t_int64_t;
        case SB_INT32:
            return copy_int32_t_int32_t;
        case SB_UINT8:
            return copy_int32_t_uint8_t;
        default:
            return NULL;
        }
    case SB_UINT8:
        switch (src) {
        case SB_FLOAT32:
            return copy_uint8_t_float;
        case SB_FLOAT64:
            return copy_uint8_t_double;
        case SB_INT64:
            return copy_uint8_t_int64_t;
        case SB_INT32:
            return copy_uint8_t_int32_t;
        case SB_UINT8:
            return copy_uint8_t_uint8_t;
        default:
            return NULL;
        }
    default:
        return NULL;
    }
}

/* Same-dtype copy by element size: memcpy for contiguous runs. */
static void copy_bytes_loop(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)
{
    (void)pos;
    size_t elsize = *(const size_t *)ctx;
    if (s[0] == (int64_t)elsize && s[1] == (int64_t)elsize) {
        memcpy(p[0], p[1], (size_t)n * elsize);
        return;
    }
    switch (elsize) {
    case 1:
        for (int64_t i = 0; i < n; i++)
            p[0][i * s[0]] = p[1][i * s[1]];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++)
            memcpy(p[0] + i * s[0], p[1] + i * s[1], 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++)
            memcpy(p[0] + i * s[0], p[1] + i * s[1], 4);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(p[0] + i * s[0], p[1] + i * s[1], elsize);
        break;
    }
}

/* Conversions involving float16/bfloat16: through double, one element at a time. */
typedef struct convert_ctx {
    sb_dtype dst, src;
} convert_ctx;

static void copy_convert_loop(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)
{
    (void)pos;
    const convert_ctx *c = ctx;
    for (int64_t i = 0; i < n; i++)
        sb_store_double(p[0] + i * s[0], c->dst, sb_load_double(p[1] + i * s[1], c->src));
}

static sb_status cpu_copy(sb_tensor *dst, const sb_tensor *src)
{
    sb_operand ops[2] = {sb_operand_of(dst), sb_operand_of(src)};
    if (dst->dtype == src->dtype) {
        size_t elsize = sb_dtype_size(dst->dtype);
        sb_cpu_foreach(2, ops, dst->ndim, dst->sizes, copy_bytes_loop, &elsize,
                       SB_PARALLEL_ELEMENTS);
        return SB_OK;
    }
    sb_loop_fn fn = copy_loop(dst->dtype, src->dtype);
    if (fn) {
        sb_cpu_foreach(2, ops, dst->ndim, dst->sizes, fn, NULL, SB_PARALLEL_ELEMENTS);
    } else {
        convert_ctx c = {dst->dtype, src->dtype};
        sb_cpu_foreach(2, ops, dst->ndim, dst->sizes, copy_convert_loop, &c, SB_PARALLEL_ELEMENTS);
    }
    return SB_OK;
}

static sb_status cpu_fill(sb_tensor *dst, double value)
{
    /* The value converted once, then copied from a stride-0 operand. */
    char scalar[8] = {0};
    static const int64_t zero[SB_MAX_DIMS] = {0};
    sb_store_double(scalar, dst->dtype, value);
    static const char zero_bytes[8] = {0};
    if (sb_tensor_is_contiguous(dst) && memcmp(scalar, zero_bytes, sizeof scalar) == 0) {
        /* zeros(): memset is the fastest fill there is */
        memset(sb_tensor_data(dst), 0, (size_t)sb_tensor_numel(dst) * sb_dtype_size(dst->dtype));
        return SB_OK;
    }
    sb_operand ops[2] = {sb_operand_of(dst), {scalar, zero, sb_dtype_size(dst->dtype)}};
    size_t elsize = sb_dtype_size(dst->dtype);
    sb_cpu_foreach(2, ops, dst->ndim, dst->sizes, copy_bytes_loop, &elsize, SB_PARALLEL_ELEMENTS);
    return SB_OK;
}

/* ---- unary ------------------------------------------------------------------------- */

#define SB_DEFINE_UNARY_LOOP(NAME, T, EXPR)                                                        \
    static void NAME(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)                \
    {                                                                                              \
        (void)pos;                                                                                 \
        (void)ctx;                                                                                 \
        if (s[0] == (int64_t)sizeof(T) && s[1] == (int64_t)sizeof(T)) {                            \
            T *o = (T *)p[0];                                                                      \
            const T *x = (const T *)p[1];                                                          \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = x[i];                                                                        \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T a = *(const T *)(p[1] + i * s[1]);                                               \
                *(T *)(p[0] + i * s[0]) = (EXPR);                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Wrapping |x| for integers (|INT64_MIN| stays INT64_MIN, as PyTorch). */
static inline uint64_t sb_abs_wrapping(int64_t a)
{
    return a < 0 ? 0 - (uint64_t)a : (uint64_t)a;
}
#define SB_NEG_FLT(T) (-a)
#define SB_NEG_INT(T) ((T)(0 - (uint64_t)a))
#define SB_ABS_FLT(T) ((T)fabs((double)a))
#define SB_ABS_INT(T) ((T)sb_abs_wrapping((int64_t)a))
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
/* fabsf keeps float precision (and vectorises) */
SB_DEFINE_UNARY_LOOP(absf_float, float, fabsf(a))

static sb_loop_fn unary_loop(sb_unary_op op, sb_dtype d)
{
#define SB_UNARY_CASE(D, T, K)                                                                     \
    case D:                                                                                        \
        return op == SB_UNARY_NEG ? neg_##T : abs_##T;
    if (op == SB_UNARY_NEG || op == SB_UNARY_ABS) {
        if (op == SB_UNARY_ABS && d == SB_FLOAT32) return absf_float;
        switch (d) {
            SB_CPU_DTYPES(SB_UNARY_CASE)
        default:
            return NULL;
        }
    }
#undef SB_UNARY_CASE
    bool f32 = d == SB_FLOAT32, f64 = d == SB_FLOAT64;
    if (!f32 && !f64) return NULL;
    switch (op) {
    case SB_UNARY_EXP:
        return f32 ? exp_float : exp_double;
    case SB_UNARY_LOG:
        return f32 ? log_float : log_double;
    case SB_UNARY_SQRT:
        return f32 ? sqrt_float : sqrt_double;
    default:
        return NULL;
    }
}

static const char *unary_name(sb_unary_op op)
{
    static const char *names[] = {"neg", "abs", "exp", "log", "sqrt"};
    return (unsigned)op < SB_UNARY_OP_COUNT ? names[op] : "unary op";
}

static sb_status cpu_unary(sb_unary_op op, sb_tensor *out, const sb_tensor *a)
{
    sb_loop_fn fn = unary_loop(op, a->dtype);
    if (!fn) return unsupported_dtype(unary_name(op), a->dtype);
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
        SB_DEFINE_BINARY_LOOP(minimum_##T, T, T, SB_MINIMUM)                                       \
            SB_DEFINE_BINARY_LOOP(eq_##T, T, uint8_t, a == b)                                      \
                SB_DEFINE_BINARY_LOOP(ne_##T, T, uint8_t, a != b)                                  \
                    SB_DEFINE_BINARY_LOOP(gt_##T, T, uint8_t, a > b)                               \
                        SB_DEFINE_BINARY_LOOP(lt_##T, T, uint8_t, a < b)                           \
                            SB_DEFINE_BINARY_LOOP(ge_##T, T, uint8_t, a >= b)                      \
                                SB_DEFINE_BINARY_LOOP(le_##T, T, uint8_t, a <= b)
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

static sb_loop_fn binary_loop(sb_binary_op op, sb_dtype d)
{
#define SB_BINARY_CASE(D, T, K)                                                                    \
    case D:                                                                                        \
        switch (op) {                                                                              \
        case SB_BINARY_ADD:                                                                        \
            return add_##T;                                                                        \
        case SB_BINARY_SUB:                                                                        \
            return sub_##T;                                                                        \
        case SB_BINARY_MUL:                                                                        \
            return mul_##T;                                                                        \
        case SB_BINARY_MAXIMUM:                                                                    \
            return maximum_##T;                                                                    \
        case SB_BINARY_MINIMUM:                                                                    \
            return minimum_##T;                                                                    \
        default:                                                                                   \
            return NULL;                                                                           \
        }
    if (op == SB_BINARY_DIV)
        return d == SB_FLOAT32 ? div_float : d == SB_FLOAT64 ? div_double : NULL;
    switch (d) {
        SB_CPU_DTYPES(SB_BINARY_CASE)
    default:
        return NULL;
    }
#undef SB_BINARY_CASE
}

static sb_loop_fn compare_loop(sb_compare_op op, sb_dtype d)
{
#define SB_COMPARE_CASE(D, T, K)                                                                   \
    case D:                                                                                        \
        switch (op) {                                                                              \
        case SB_COMPARE_EQ:                                                                        \
            return eq_##T;                                                                         \
        case SB_COMPARE_NE:                                                                        \
            return ne_##T;                                                                         \
        case SB_COMPARE_GT:                                                                        \
            return gt_##T;                                                                         \
        case SB_COMPARE_LT:                                                                        \
            return lt_##T;                                                                         \
        case SB_COMPARE_GE:                                                                        \
            return ge_##T;                                                                         \
        case SB_COMPARE_LE:                                                                        \
            return le_##T;                                                                         \
        default:                                                                                   \
            return NULL;                                                                           \
        }
    switch (d) {
        SB_CPU_DTYPES(SB_COMPARE_CASE)
    default:
        return NULL;
    }
#undef SB_COMPARE_CASE
}

static const char *binary_name(sb_binary_op op)
{
    static const char *names[] = {"add", "sub", "mul", "div", "maximum", "minimum"};
    return (unsigned)op < SB_BINARY_OP_COUNT ? names[op] : "binary op";
}

static sb_status cpu_binary(sb_binary_op op, sb_tensor *out, const sb_tensor *a, const sb_tensor *b)
{
    sb_loop_fn fn = binary_loop(op, out->dtype);
    if (!fn) return unsupported_dtype(binary_name(op), out->dtype);
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

static sb_status cpu_binary_scalar(sb_binary_op op, sb_tensor *out, const sb_tensor *a, double s,
                                   bool reversed)
{
    sb_loop_fn fn = binary_loop(op, out->dtype);
    if (!fn) return unsupported_dtype(binary_name(op), out->dtype);
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

static sb_status cpu_compare(sb_compare_op op, sb_tensor *out, const sb_tensor *a,
                             const sb_tensor *b)
{
    sb_loop_fn fn = compare_loop(op, a->dtype);
    if (!fn) return unsupported_dtype("comparison", a->dtype);
    sb_operand ops[3] = {sb_operand_of(out), sb_operand_of(a), sb_operand_of(b)};
    sb_cpu_foreach(3, ops, out->ndim, out->sizes, fn, NULL, SB_PARALLEL_ELEMENTS);
    return SB_OK;
}

static sb_status cpu_compare_scalar(sb_compare_op op, sb_tensor *out, const sb_tensor *a, double s)
{
    sb_loop_fn fn = compare_loop(op, a->dtype);
    if (!fn) return unsupported_dtype("comparison", a->dtype);
    char buf[8];
    sb_operand ops[3] = {sb_operand_of(out), sb_operand_of(a), scalar_operand(buf, a->dtype, s)};
    sb_cpu_foreach(3, ops, out->ndim, out->sizes, fn, NULL, SB_PARALLEL_ELEMENTS);
    return SB_OK;
}

/* ---- reductions ------------------------------------------------------------------------ */

/* One accumulator: sums in double (floats) or wrapping uint64 (ints); the best value and
 * its row-major or along-dim position for max/min. */
typedef struct accum {
    double fsum;
    uint64_t isum;
    double fbest;
    int64_t ibest;
    int64_t best_pos; /* -1 = nothing seen */
} accum;

static void accum_init(accum *a)
{
    a->fsum = 0;
    a->isum = 0;
    a->fbest = 0;
    a->ibest = 0;
    a->best_pos = -1;
}

/* Folds n elements at p (byte stride s) at positions pos, pos+1, ... into acc.
 * Max/min: strictly better replaces (ties keep the first); a NaN is final. */
#define SB_DEFINE_ACCUM(D, T, K)                                                                   \
    static void accum_##T(accum *acc, sb_reduce_op op, const char *p, int64_t s, int64_t n,        \
                          int64_t pos)                                                             \
    {                                                                                              \
        if (op == SB_REDUCE_SUM || op == SB_REDUCE_MEAN) {                                         \
            if (s == (int64_t)sizeof(T)) {                                                         \
                const T *x = (const T *)p;                                                         \
                SB_ACC_SUM_##K(x[i]);                                                              \
            } else {                                                                               \
                SB_ACC_SUM_##K(*(const T *)(p + i * s));                                           \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        bool is_max = op == SB_REDUCE_MAX;                                                         \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = *(const T *)(p + i * s);                                                         \
            SB_ACC_BEST_##K(x, pos + i);                                                           \
        }                                                                                          \
    }
/* Eight partial sums break the dependency chain so the loop vectorises without
 * -ffast-math; they are combined in a fixed order, so results stay deterministic. */
#define SB_ACC_SUM_FLT(EXPR)                                                                       \
    do {                                                                                           \
        double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                 \
        int64_t j = 0;                                                                             \
        for (; j + 8 <= n; j += 8)                                                                 \
            for (int k = 0; k < 8; k++) {                                                          \
                int64_t i = j + k;                                                                 \
                part[k] += (double)(EXPR);                                                         \
            }                                                                                      \
        for (int64_t i = j; i < n; i++)                                                            \
            part[i - j] += (double)(EXPR);                                                         \
        acc->fsum += ((part[0] + part[1]) + (part[2] + part[3])) +                                 \
                     ((part[4] + part[5]) + (part[6] + part[7]));                                  \
    } while (0)
#define SB_ACC_SUM_INT(EXPR)                                                                       \
    do {                                                                                           \
        uint64_t sum = 0;                                                                          \
        for (int64_t i = 0; i < n; i++)                                                            \
            sum += (uint64_t)(int64_t)(EXPR);                                                      \
        acc->isum += sum;                                                                          \
    } while (0)
#define SB_ACC_BEST_FLT(x, at)                                                                     \
    do {                                                                                           \
        if (acc->best_pos >= 0 && acc->fbest != acc->fbest) return;                                \
        double v = (double)(x);                                                                    \
        if (acc->best_pos < 0 || v != v || (is_max ? v > acc->fbest : v < acc->fbest)) {           \
            acc->fbest = v;                                                                        \
            acc->best_pos = (at);                                                                  \
        }                                                                                          \
    } while (0)
#define SB_ACC_BEST_INT(x, at)                                                                     \
    do {                                                                                           \
        int64_t v = (int64_t)(x);                                                                  \
        if (acc->best_pos < 0 || (is_max ? v > acc->ibest : v < acc->ibest)) {                     \
            acc->ibest = v;                                                                        \
            acc->best_pos = (at);                                                                  \
        }                                                                                          \
    } while (0)
SB_CPU_DTYPES(SB_DEFINE_ACCUM)

typedef void (*accum_fn)(accum *, sb_reduce_op, const char *, int64_t, int64_t, int64_t);

static accum_fn accum_for(sb_dtype d)
{
#define SB_ACCUM_CASE(D, T, K)                                                                     \
    case D:                                                                                        \
        return accum_##T;
    switch (d) {
        SB_CPU_DTYPES(SB_ACCUM_CASE)
    default:
        return NULL;
    }
#undef SB_ACCUM_CASE
}

/* Merges b (a later range) into a. */
static void accum_merge(accum *a, const accum *b, sb_reduce_op op, bool floating)
{
    a->fsum += b->fsum;
    a->isum += b->isum;
    if (b->best_pos < 0) return;
    if (a->best_pos < 0) {
        a->fbest = b->fbest;
        a->ibest = b->ibest;
        a->best_pos = b->best_pos;
        return;
    }
    bool is_max = op == SB_REDUCE_MAX, better;
    if (floating) {
        if (a->fbest != a->fbest) return;
        better = b->fbest != b->fbest || (is_max ? b->fbest > a->fbest : b->fbest < a->fbest);
    } else {
        better = is_max ? b->ibest > a->ibest : b->ibest < a->ibest;
    }
    if (better) {
        a->fbest = b->fbest;
        a->ibest = b->ibest;
        a->best_pos = b->best_pos;
    }
}

/* Writes the accumulated result of n elements. */
static void accum_store(const accum *acc, sb_reduce_op op, sb_dtype in_dtype, int64_t n,
                        char *value, sb_dtype value_dtype, int64_t *index)
{
    bool floating = sb_dtype_is_floating(in_dtype);
    switch (op) {
    case SB_REDUCE_SUM:
        if (floating)
            sb_store_double(value, value_dtype, acc->fsum);
        else
            *(int64_t *)value = (int64_t)acc->isum;
        break;
    case SB_REDUCE_MEAN:
        sb_store_double(value, value_dtype, n ? acc->fsum / (double)n : NAN);
        break;
    default:
        if (floating)
            sb_store_double(value, value_dtype, acc->fbest);
        else if (value_dtype == SB_INT64)
            *(int64_t *)value = acc->ibest;
        else if (value_dtype == SB_INT32)
            *(int32_t *)value = (int32_t)acc->ibest;
        else
            *(uint8_t *)value = (uint8_t)acc->ibest;
        if (index) *index = acc->best_pos;
        break;
    }
}

typedef struct reduce_all_job {
    const sb_iter *it;
    accum_fn fn;
    sb_reduce_op op;
    accum *parts;
    int64_t part_len;
} reduce_all_job;

typedef struct reduce_run_ctx {
    accum *acc;
    accum_fn fn;
    sb_reduce_op op;
} reduce_run_ctx;

static void reduce_all_run(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)
{
    const reduce_run_ctx *c = ctx;
    c->fn(c->acc, c->op, p[0], s[0], n, pos);
}

static void reduce_all_parts(void *ctx, int64_t begin, int64_t end)
{
    const reduce_all_job *job = ctx;
    for (int64_t part = begin; part < end; part++) {
        int64_t lo = part * job->part_len;
        int64_t hi = lo + job->part_len < job->it->numel ? lo + job->part_len : job->it->numel;
        reduce_run_ctx run = {&job->parts[part], job->fn, job->op};
        sb_iter_walk(job->it, lo, hi, reduce_all_run, &run);
    }
}

typedef struct reduce_dim_ctx {
    accum_fn fn;
    sb_reduce_op op;
    sb_dtype in_dtype, value_dtype;
    int64_t dim_size, dim_stride; /* bytes */
    bool with_indices;
} reduce_dim_ctx;

/* One run of output elements: p[0] values, p[1] indices, p[2] the slice start in a. */
static void reduce_dim_run(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)
{
    (void)pos;
    const reduce_dim_ctx *c = ctx;
    for (int64_t i = 0; i < n; i++) {
        accum acc;
        accum_init(&acc);
        c->fn(&acc, c->op, p[2] + i * s[2], c->dim_stride, c->dim_size, 0);
        accum_store(&acc, c->op, c->in_dtype, c->dim_size, p[0] + i * s[0], c->value_dtype,
                    c->with_indices ? (int64_t *)(p[1] + i * s[1]) : NULL);
    }
}

/* Sums over a dim that is not the innermost of a contiguous tensor (a batch mean, column
 * sums): viewed as [outer, R, inner], each block of up to COLUMN_BLOCK inner positions is
 * accumulated row by row, so memory is read in order and the inner loop vectorises,
 * instead of walking each output's slice with a large stride. */
#define COLUMN_BLOCK 256

typedef struct column_job {
    sb_reduce_op op;
    sb_dtype dtype, value_dtype;
    const char *a;
    char *values;
    int64_t R, inner, blocks_per_outer;
} column_job;

#define SB_DEFINE_COLUMN_SUM(D, T, K)                                                              \
    static void column_sum_##T(const column_job *job, const char *base, char *out, int64_t n)      \
    {                                                                                              \
        SB_COLUMN_ACC_##K acc[COLUMN_BLOCK];                                                       \
        for (int64_t k = 0; k < n; k++)                                                            \
            acc[k] = 0;                                                                            \
        for (int64_t r = 0; r < job->R; r++) {                                                     \
            const T *row = (const T *)(base + r * job->inner * (int64_t)sizeof(T));                \
            for (int64_t k = 0; k < n; k++)                                                        \
                acc[k] += (SB_COLUMN_ACC_##K)row[k];                                               \
        }                                                                                          \
        SB_COLUMN_STORE_##K(T);                                                                    \
    }
#define SB_COLUMN_ACC_FLT double
#define SB_COLUMN_ACC_INT uint64_t
#define SB_COLUMN_STORE_FLT(T)                                                                     \
    for (int64_t k = 0; k < n; k++)                                                                \
    ((T *)out)[k] = (T)(job->op == SB_REDUCE_MEAN ? acc[k] / (double)job->R : acc[k])
#define SB_COLUMN_STORE_INT(T)                                                                     \
    for (int64_t k = 0; k < n; k++)                                                                \
    ((int64_t *)out)[k] = (int64_t)acc[k]
SB_CPU_DTYPES(SB_DEFINE_COLUMN_SUM)

static void column_blocks(void *ctx, int64_t begin, int64_t end)
{
    const column_job *job = ctx;
    size_t in_size = sb_dtype_size(job->dtype), out_size = sb_dtype_size(job->value_dtype);
    for (int64_t b = begin; b < end; b++) {
        int64_t o = b / job->blocks_per_outer, k0 = (b % job->blocks_per_outer) * COLUMN_BLOCK;
        int64_t n = job->inner - k0 < COLUMN_BLOCK ? job->inner - k0 : COLUMN_BLOCK;
        const char *base = job->a + (o * job->R * job->inner + k0) * (int64_t)in_size;
        char *out = job->values + (o * job->inner + k0) * (int64_t)out_size;
        switch (job->dtype) {
#define SB_COLUMN_CASE(D, T, K)                                                                    \
    case D:                                                                                        \
        column_sum_##T(job, base, out, n);                                                         \
        break;
            SB_CPU_DTYPES(SB_COLUMN_CASE)
#undef SB_COLUMN_CASE
        default:
            break;
        }
    }
}

/* True when it handled the reduction. */
static bool reduce_columns(sb_reduce_op op, sb_tensor *values, const sb_tensor *a, int dim)
{
    if ((op != SB_REDUCE_SUM && op != SB_REDUCE_MEAN) || dim >= a->ndim - 1 ||
        !is_compute_dtype(a->dtype) || !sb_tensor_is_contiguous(a) ||
        !sb_tensor_is_contiguous(values))
        return false;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < dim; i++)
        outer *= a->sizes[i];
    for (int i = dim + 1; i < a->ndim; i++)
        inner *= a->sizes[i];
    if (inner < 2) return false;
    column_job job = {op,
                      a->dtype,
                      values->dtype,
                      sb_tensor_data(a),
                      sb_tensor_data(values),
                      a->sizes[dim],
                      inner,
                      (inner + COLUMN_BLOCK - 1) / COLUMN_BLOCK};
    int64_t blocks = outer * job.blocks_per_outer;
    int64_t per_block = job.R * (inner < COLUMN_BLOCK ? inner : COLUMN_BLOCK);
    int64_t grain = SB_PARALLEL_ELEMENTS / (per_block > 0 ? per_block : 1);
    sb_parallel_for(blocks, grain < 1 ? 1 : grain, column_blocks, &job);
    return true;
}

static sb_status cpu_reduce(sb_reduce_op op, sb_tensor *values, sb_tensor *indices,
                            const sb_tensor *a, int dim)
{
    accum_fn fn = accum_for(a->dtype);
    if (!fn) return unsupported_dtype("reduction", a->dtype);
    bool floating = sb_dtype_is_floating(a->dtype);
    if (dim < 0) {
        sb_operand op_a = sb_operand_of(a);
        sb_iter it;
        sb_iter_init(&it, 1, &op_a, a->ndim, a->sizes);
        int64_t nparts = it.numel / SB_PARALLEL_ELEMENTS;
        int64_t max_parts = 4 * (int64_t)sb_get_num_threads();
        if (nparts > max_parts) nparts = max_parts;
        if (nparts < 1) nparts = 1;
        accum *parts = malloc((size_t)nparts * sizeof *parts);
        if (!parts) return sb_fail(SB_ENOMEM, "out of memory in a reduction");
        for (int64_t i = 0; i < nparts; i++)
            accum_init(&parts[i]);
        reduce_all_job job = {&it, fn, op, parts, (it.numel + nparts - 1) / nparts};
        if (job.part_len == 0) job.part_len = 1;
        sb_parallel_for(nparts, 1, reduce_all_parts, &job);
        for (int64_t i = 1; i < nparts; i++)
            accum_merge(&parts[0], &parts[i], op, floating);
        int64_t index = 0;
        accum_store(&parts[0], op, a->dtype, it.numel, sb_tensor_data(values), values->dtype,
                    &index);
        if (indices) *(int64_t *)sb_tensor_data(indices) = index;
        free(parts);
        return SB_OK;
    }
    if (!indices && reduce_columns(op, values, a, dim)) return SB_OK;
    /* Operands over the output shape: a's strides without `dim`. */
    int64_t a_strides[SB_MAX_DIMS];
    for (int i = 0, j = 0; i < a->ndim; i++)
        if (i != dim) a_strides[j++] = a->strides[i];
    static const int64_t zero[SB_MAX_DIMS] = {0};
    int64_t dummy_index = 0;
    sb_operand ops[3] = {
        sb_operand_of(values),
        indices ? sb_operand_of(indices) : (sb_operand){(char *)&dummy_index, zero, 8},
        {(char *)sb_tensor_data(a), a_strides, sb_dtype_size(a->dtype)},
    };
    reduce_dim_ctx c = {fn,
                        op,
                        a->dtype,
                        values->dtype,
                        a->sizes[dim],
                        a->strides[dim] * (int64_t)sb_dtype_size(a->dtype),
                        indices != NULL};
    int64_t per = a->sizes[dim] > 0 ? a->sizes[dim] : 1;
    int64_t parallel_min = SB_PARALLEL_ELEMENTS / per;
    if (parallel_min < 2) parallel_min = 2;
    sb_cpu_foreach(3, ops, values->ndim, values->sizes, reduce_dim_run, &c, parallel_min);
    return SB_OK;
}

/* ---- topk ------------------------------------------------------------------------------ */

/* An element's value: floats as a double, int64 (and the smaller integers) exactly, since
 * int64 values above 2^53 do not survive a double. The unused field is 0 in both. */
typedef struct ranked {
    double v;
    int64_t iv;
    int64_t i;
} ranked;

static inline ranked ranked_load(const char *p, sb_dtype dtype, int64_t i)
{
    if (dtype == SB_INT64) return (ranked){0, *(const int64_t *)p, i};
    return (ranked){sb_load_double(p, dtype), 0, i};
}

/* Larger first; NaN counts as the largest (as PyTorch); ties by lower position. */
static inline bool ranks_before(const ranked *a, const ranked *b)
{
    bool na = a->v != a->v, nb = b->v != b->v;
    if (na || nb) return na && (!nb || a->i < b->i);
    if (a->v != b->v) return a->v > b->v;
    if (a->iv != b->iv) return a->iv > b->iv;
    return a->i < b->i;
}

static int ranked_compare(const void *pa, const void *pb)
{
    if (ranks_before(pa, pb)) return -1;
    if (ranks_before(pb, pa)) return 1;
    return 0;
}

typedef struct topk_ctx {
    sb_dtype dtype;
    size_t elsize;
    int64_t k, n;
    int64_t a_stride, v_stride, i_stride; /* bytes along dim */
    ranked *scratch;                      /* n entries, for the sorting path (serial) */
} topk_ctx;

/* k is small: keep the best k in order with insertion, one pass over the slice. */
#define SB_TOPK_SMALL 32

static void topk_slice(const topk_ctx *c, const char *a, char *values, char *indices)
{
    ranked best[SB_TOPK_SMALL];
    ranked *top = c->k <= SB_TOPK_SMALL ? best : c->scratch;
    int64_t count = 0;
    if (c->k <= SB_TOPK_SMALL) {
        for (int64_t j = 0; j < c->n; j++) {
            ranked x = ranked_load(a + j * c->a_stride, c->dtype, j);
            if (count == c->k && !ranks_before(&x, &top[count - 1])) continue;
            int64_t at = count < c->k ? count++ : c->k - 1;
            while (at > 0 && ranks_before(&x, &top[at - 1])) {
                top[at] = top[at - 1];
                at--;
            }
            top[at] = x;
        }
    } else {
        for (int64_t j = 0; j < c->n; j++)
            top[j] = ranked_load(a + j * c->a_stride, c->dtype, j);
        qsort(top, (size_t)c->n, sizeof *top, ranked_compare);
    }
    for (int64_t r = 0; r < c->k; r++) {
        memcpy(values + r * c->v_stride, a + top[r].i * c->a_stride, c->elsize);
        *(int64_t *)(indices + r * c->i_stride) = top[r].i;
    }
}

static void topk_run(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)
{
    (void)pos;
    for (int64_t i = 0; i < n; i++)
        topk_slice(ctx, p[2] + i * s[2], p[0] + i * s[0], p[1] + i * s[1]);
}

static sb_status cpu_topk(sb_tensor *values, sb_tensor *indices, const sb_tensor *a, int64_t k,
                          int dim)
{
    if (!is_compute_dtype(a->dtype)) return unsupported_dtype("topk", a->dtype);
    int64_t v_strides[SB_MAX_DIMS], i_strides[SB_MAX_DIMS], a_strides[SB_MAX_DIMS];
    int64_t sizes[SB_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (d == dim) continue;
        sizes[nd] = a->sizes[d];
        v_strides[nd] = values->strides[d];
        i_strides[nd] = indices->strides[d];
        a_strides[nd] = a->strides[d];
        nd++;
    }
    size_t elsize = sb_dtype_size(a->dtype);
    topk_ctx c = {a->dtype,
                  elsize,
                  k,
                  a->sizes[dim],
                  a->strides[dim] * (int64_t)elsize,
                  values->strides[dim] * (int64_t)elsize,
                  indices->strides[dim] * 8,
                  NULL};
    int64_t parallel_min = 0;
    if (k > SB_TOPK_SMALL) {
        c.scratch = malloc((size_t)c.n * sizeof *c.scratch);
        if (!c.scratch) return sb_fail(SB_ENOMEM, "out of memory in topk");
    } else {
        int64_t per = c.n > 0 ? c.n : 1;
        parallel_min = SB_PARALLEL_ELEMENTS / per < 2 ? 2 : SB_PARALLEL_ELEMENTS / per;
    }
    sb_operand ops[3] = {{(char *)sb_tensor_data(values), v_strides, elsize},
                         {(char *)sb_tensor_data(indices), i_strides, 8},
                         {(char *)sb_tensor_data(a), a_strides, elsize}};
    sb_cpu_foreach(3, ops, nd, sizes, topk_run, &c, parallel_min);
    free(c.scratch);
    return SB_OK;
}

/* ---- matrix multiply ------------------------------------------------------------------ */

/* How BLAS can read a rows x cols matrix with element strides (rs, cs) in place:
 * row-major as is, or as the transpose of a row-major matrix. Size-1 dims have
 * meaningless strides, so they never disqualify a layout. */
static bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool *trans,
                        int64_t *ld)
{
    int64_t min_rows_ld = cols > 1 ? cols : 1, min_cols_ld = rows > 1 ? rows : 1;
    if ((cols == 1 || cs == 1) && (rows == 1 || rs >= min_rows_ld)) {
        *trans = false;
        *ld = rows == 1 ? min_rows_ld : rs;
        return *ld <= INT_MAX;
    }
    if ((rows == 1 || rs == 1) && (cols == 1 || cs >= min_cols_ld)) {
        *trans = true;
        *ld = cols == 1 ? min_cols_ld : cs;
        return *ld <= INT_MAX;
    }
    return false;
}

#define SB_DEFINE_NAIVE_MM(D, T, K)                                                                \
    static void naive_mm_##T(char *o, const char *a, const char *b, int64_t M, int64_t N,          \
                             int64_t Kd, int64_t ars, int64_t acs, int64_t brs, int64_t bcs)       \
    {                                                                                              \
        T *out = (T *)o;                                                                           \
        const T *x = (const T *)a, *y = (const T *)b;                                              \
        for (int64_t m = 0; m < M; m++)                                                            \
            for (int64_t n = 0; n < N; n++) {                                                      \
                SB_MM_ACC_##K acc = 0;                                                             \
                for (int64_t k = 0; k < Kd; k++)                                                   \
                    acc +=                                                                         \
                        (SB_MM_ACC_##K)x[m * ars + k * acs] * (SB_MM_ACC_##K)y[k * brs + n * bcs]; \
                out[m * N + n] = (T)acc;                                                           \
            }                                                                                      \
    }
#define SB_MM_ACC_FLT double
#define SB_MM_ACC_INT uint64_t
SB_CPU_DTYPES(SB_DEFINE_NAIVE_MM)

static sb_status cpu_bmm(sb_tensor *out, const sb_tensor *a, const sb_tensor *b)
{
    int64_t B = out->sizes[0], M = out->sizes[1], N = out->sizes[2], K = a->sizes[2];
    size_t elsize = sb_dtype_size(out->dtype);
    if (B == 0 || M == 0 || N == 0) return SB_OK;
    if (K == 0) return cpu_fill(out, 0.0);
    sb_dtype d = out->dtype;
    char *o = sb_tensor_data(out);
    const char *pa = sb_tensor_data(a), *pb = sb_tensor_data(b);
    if (d != SB_FLOAT32 && d != SB_FLOAT64) {
#define SB_NAIVE_CASE(D, T, KIND)                                                                  \
    case D:                                                                                        \
        for (int64_t i = 0; i < B; i++)                                                            \
            naive_mm_##T(o + i * M * N * (int64_t)elsize,                                          \
                         pa + i * a->strides[0] * (int64_t)elsize,                                 \
                         pb + i * b->strides[0] * (int64_t)elsize, M, N, K, a->strides[1],         \
                         a->strides[2], b->strides[1], b->strides[2]);                             \
        return SB_OK;
        switch (d) {
            SB_CPU_DTYPES(SB_NAIVE_CASE)
        default:
            return unsupported_dtype("matmul", d);
        }
#undef SB_NAIVE_CASE
    }
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
        return sb_fail(SB_EUNSUPPORTED, "matrix dims above %d are not supported by BLAS", INT_MAX);
    bool ta = false, tb = false;
    int64_t lda = 0, ldb = 0;
    sb_tensor *ca = NULL, *cb = NULL;
    sb_status st = SB_OK;
    /* A layout BLAS cannot read (e.g. a strided narrow) is compacted once. */
    if (!blas_layout(M, K, a->strides[1], a->strides[2], &ta, &lda)) {
        st = sb_tensor_empty(3, a->sizes, d, SB_CPU, &ca);
        if (st == SB_OK) st = cpu_copy(ca, a);
        if (st != SB_OK) goto done;
        a = ca;
        pa = sb_tensor_data(a);
        blas_layout(M, K, a->strides[1], a->strides[2], &ta, &lda);
    }
    if (!blas_layout(K, N, b->strides[1], b->strides[2], &tb, &ldb)) {
        st = sb_tensor_empty(3, b->sizes, d, SB_CPU, &cb);
        if (st == SB_OK) st = cpu_copy(cb, b);
        if (st != SB_OK) goto done;
        b = cb;
        pb = sb_tensor_data(b);
        blas_layout(K, N, b->strides[1], b->strides[2], &tb, &ldb);
    }
    for (int64_t i = 0; i < B; i++) {
        const char *ai = pa + i * a->strides[0] * (int64_t)elsize;
        const char *bi = pb + i * b->strides[0] * (int64_t)elsize;
        char *oi = o + i * M * N * (int64_t)elsize;
        if (d == SB_FLOAT32)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                        (const float *)ai, (int)lda, (const float *)bi, (int)ldb, 0.0f, (float *)oi,
                        (int)N);
        else
            cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                        (const double *)ai, (int)lda, (const double *)bi, (int)ldb, 0.0,
                        (double *)oi, (int)N);
    }
done:
    sb_tensor_free(ca);
    sb_tensor_free(cb);
    return st;
}

/* ---- the table -------------------------------------------------------------------------- */

static const sb_backend cpu_backend = {
    .name = "cpu",
    .allocator = NULL, /* filled by sb_cpu_backend(): the allocator lives in storage.c */
    .copy = cpu_copy,
    .fill = cpu_fill,
    .unary = cpu_unary,
    .binary = cpu_binary,
    .binary_scalar = cpu_binary_scalar,
    .compare = cpu_compare,
    .compare_scalar = cpu_compare_scalar,
    .reduce = cpu_reduce,
    .topk = cpu_topk,
    .bmm = cpu_bmm,
};

static sb_backend cpu_backend_table;
static pthread_once_t cpu_backend_once = PTHREAD_ONCE_INIT;

static void cpu_backend_init(void)
{
    cpu_backend_table = cpu_backend;
    cpu_backend_table.allocator = sb_cpu_allocator();
}

const sb_backend *sb_cpu_backend(void)
{
    pthread_once(&cpu_backend_once, cpu_backend_init);
    return &cpu_backend_table;
}
