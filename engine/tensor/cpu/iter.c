#include "tensor/cpu/iter.h"

#include "tensor/parallel.h"

void sb_iter_walk(const sb_iter *it, int64_t begin, int64_t end, sb_loop_fn fn, void *ctx)
{
    static const int64_t zero_strides[3] = {0, 0, 0};
    char *p[3];
    if (begin >= end) return;
    if (it->ndim == 0) {
        for (int k = 0; k < it->nops; k++)
            p[k] = it->base[k];
        fn(p, zero_strides, 1, 0, ctx);
        return;
    }
    int nd = it->ndim;
    int64_t idx[SB_MAX_DIMS];
    int64_t rem = begin;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % it->sizes[d];
        rem /= it->sizes[d];
    }
    int64_t inner[3];
    for (int k = 0; k < it->nops; k++)
        inner[k] = it->strides[k][nd - 1];
    int64_t pos = begin;
    while (pos < end) {
        for (int k = 0; k < it->nops; k++) {
            p[k] = it->base[k];
            for (int d = 0; d < nd; d++)
                p[k] += idx[d] * it->strides[k][d];
        }
        int64_t n = it->sizes[nd - 1] - idx[nd - 1];
        if (n > end - pos) n = end - pos;
        fn(p, inner, n, pos, ctx);
        pos += n;
        idx[nd - 1] += n;
        for (int d = nd - 1; d > 0 && idx[d] == it->sizes[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

void sb_iter_init(sb_iter *it, int nops, const sb_operand *ops, int ndim, const int64_t *sizes)
{
    it->nops = nops;
    it->numel = 1;
    for (int d = 0; d < ndim; d++)
        it->numel *= sizes[d];
    for (int k = 0; k < nops; k++)
        it->base[k] = ops[k].data;
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        if (sizes[d] == 1) continue;
        bool merge = nd > 0;
        for (int k = 0; k < nops && merge; k++)
            merge = it->strides[k][nd - 1] == ops[k].strides[d] * (int64_t)ops[k].elsize * sizes[d];
        if (merge) {
            it->sizes[nd - 1] *= sizes[d];
            for (int k = 0; k < nops; k++)
                it->strides[k][nd - 1] = ops[k].strides[d] * (int64_t)ops[k].elsize;
        } else {
            it->sizes[nd] = sizes[d];
            for (int k = 0; k < nops; k++)
                it->strides[k][nd] = ops[k].strides[d] * (int64_t)ops[k].elsize;
            nd++;
        }
    }
    it->ndim = nd;
}

typedef struct foreach_job {
    const sb_iter *it;
    sb_loop_fn fn;
    void *ctx;
} foreach_job;

static void foreach_chunk(void *ctx, int64_t begin, int64_t end)
{
    const foreach_job *job = ctx;
    sb_iter_walk(job->it, begin, end, job->fn, job->ctx);
}

void sb_cpu_foreach(int nops, const sb_operand *ops, int ndim, const int64_t *sizes, sb_loop_fn fn,
                    void *ctx, int64_t parallel_min)
{
    sb_iter it;
    sb_iter_init(&it, nops, ops, ndim, sizes);
    if (it.numel == 0) return;
    if (parallel_min > 0 && it.numel >= parallel_min) {
        foreach_job job = {&it, fn, ctx};
        sb_parallel_for(it.numel, parallel_min / 2, foreach_chunk, &job);
    } else {
        sb_iter_walk(&it, 0, it.numel, fn, ctx);
    }
}
