/* CPU reductions: sum, mean, max, min over a dim or over everything, and their
 * positions. */
#include <math.h>
#include <stdlib.h>

#include "tensor/cpu/cpu.h"
#include "tensor/parallel.h"

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
        !sb_cpu_is_compute_dtype(a->dtype) || !sb_tensor_is_contiguous(a) ||
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

sb_status sb_cpu_reduce(sb_reduce_op op, sb_tensor *values, sb_tensor *indices, const sb_tensor *a,
                        int dim)
{
    accum_fn fn = accum_for(a->dtype);
    if (!fn) return sb_cpu_unsupported_dtype("reduction", a->dtype);
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
