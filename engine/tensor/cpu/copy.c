/* CPU copy and fill: dtype conversion over strided tensors. */
#include <string.h>

#include "tensor/cpu/cpu.h"
#include "tensor/parallel.h"

/* ---- copy --------------------------------------------------------------------------- */

/* SB_CONV_<dst kind><src kind>: float -> int saturates through int64 (no C UB). */
#define SB_CONV_FLTFLT(TD, x) ((TD)(x))
#define SB_CONV_FLTINT(TD, x) ((TD)(x))
#define SB_CONV_INTFLT(TD, x) ((TD)(uint64_t)sb_double_to_int64((double)(x)))
#define SB_CONV_INTINT(TD, x) ((TD)(x))
#define SB_CONV(KD, KS) SB_CONV_##KD##KS

#define SB_DEFINE_COPY_LOOP(DD, TD, KD, DS, TS, KS)                                                \
    SB_DEFINE_MAP_LOOP(copy_##TD##_##TS, TD, TS, SB_CONV(KD, KS)(TD, a))
/* Instantiate for every destination type, nesting the source list. */
#define SB_COPY_FOR_DST(DD, TD, KD)                                                                \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_FLOAT32, float, FLT)                                        \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_FLOAT64, double, FLT)                                       \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_INT64, int64_t, INT)                                        \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_INT32, int32_t, INT)                                        \
    SB_DEFINE_COPY_LOOP(DD, TD, KD, SB_UINT8, uint8_t, INT)
SB_CPU_DTYPES(SB_COPY_FOR_DST)

/* [dst][src] */
static const sb_loop_fn copy_loops[SB_CPU_DTYPE_COUNT][SB_CPU_DTYPE_COUNT] = {
#define SB_COPY_ROW(DD, TD, KD) [DD] = SB_CPU_LOOPS_ANY(copy_##TD),
    SB_CPU_DTYPES(SB_COPY_ROW)
#undef SB_COPY_ROW
};

static sb_loop_fn copy_loop(sb_dtype dst, sb_dtype src)
{
    if (!sb_cpu_is_compute_dtype(dst) || !sb_cpu_is_compute_dtype(src)) return NULL;
    return copy_loops[dst][src];
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

sb_status sb_cpu_copy(sb_tensor *dst, const sb_tensor *src)
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

sb_status sb_cpu_fill(sb_tensor *dst, double value)
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
