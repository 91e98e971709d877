/* CPU topk: the k largest along a dim, largest first, ties by lower position. */
#include <stdlib.h>
#include <string.h>

#include "tensor/cpu/cpu.h"
#include "tensor/parallel.h"

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

sb_status sb_cpu_topk(sb_tensor *values, sb_tensor *indices, const sb_tensor *a, int64_t k, int dim)
{
    if (!sb_cpu_is_compute_dtype(a->dtype)) return sb_cpu_unsupported_dtype("topk", a->dtype);
    int64_t sizes[SB_MAX_DIMS], strides[3][SB_MAX_DIMS]; /* values, indices, a */
    const sb_tensor *operands[3] = {values, indices, a};
    int nd = sb_drop_dim(a, dim, 3, operands, sizes, strides);
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
    sb_operand ops[3] = {{(char *)sb_tensor_data(values), strides[0], elsize},
                         {(char *)sb_tensor_data(indices), strides[1], 8},
                         {(char *)sb_tensor_data(a), strides[2], elsize}};
    sb_cpu_foreach(3, ops, nd, sizes, topk_run, &c, parallel_min);
    free(c.scratch);
    return SB_OK;
}
