#include "data/loader.h"

#include "core/rng.h"
#include "gpu/cuda.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- permutation ----------------------------------------------------------------------- */

void sb_permutation(int64_t n, uint64_t seed, uint64_t pass, int64_t *out)
{
    sb_generator g;
    sb_generator_seed(&g, seed ^ (pass * 0xd1b54a32d192ed03ULL));
    for (int64_t i = 0; i < n; i++)
        out[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)sb_generator_below(&g, (uint64_t)i + 1), tmp = out[i];
        out[i] = out[j];
        out[j] = tmp;
    }
}

/* --- buffer pool ------------------------------------------------------------------------- */

/* Batch buffers of one size. Shared by the iteration and by every tensor still wrapping one
 * of its buffers (refcount), so a batch kept past the end of the loop stays valid. */
typedef struct buffer_pool {
    pthread_mutex_t mu;
    int refcount;
    size_t nbytes;
    int nfree, max_free;
    void **free_list;
    const sb_allocator *allocator; /* CPU, or pinned host memory */
} buffer_pool;

/* Pinned buffers are not kept here (max_free 0): the pinned caching allocator reuses a
 * block only once the asynchronous copies queued from it are done, which a plain free list
 * could not know. */
static buffer_pool *pool_new(size_t nbytes, int max_free, const sb_allocator *allocator)
{
    buffer_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->allocator = allocator;
    p->free_list = calloc((size_t)(max_free ? max_free : 1), sizeof(void *));
    if (!p->free_list) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->refcount = 1;
    p->nbytes = nbytes ? nbytes : 1;
    p->max_free = max_free;
    return p;
}

static void pool_unref(buffer_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    int left = --p->refcount;
    pthread_mutex_unlock(&p->mu);
    if (left) return;
    const sb_allocator *a = p->allocator;
    for (int i = 0; i < p->nfree; i++)
        a->free(a->ctx, p->free_list[i], p->nbytes, SB_CPU);
    free(p->free_list);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* A batch buffer: plain pool memory, or (pinned) a storage of the pinned allocator, so the
 * tensor keeps the allocator and copies from it to the GPU can be asynchronous. */
typedef struct batch_buf {
    void *data;
    sb_storage *storage;
} batch_buf;

static void *pool_get_raw(buffer_pool *p)
{
    pthread_mutex_lock(&p->mu);
    void *buf = p->nfree ? p->free_list[--p->nfree] : NULL;
    pthread_mutex_unlock(&p->mu);
    if (buf) return buf;
    const sb_allocator *a = p->allocator;
    return a->alloc(a->ctx, p->nbytes, SB_CPU);
}

static void pool_put(buffer_pool *p, void *buf)
{
    if (!buf) return;
    pthread_mutex_lock(&p->mu);
    if (p->nfree < p->max_free) {
        p->free_list[p->nfree++] = buf;
        buf = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    if (buf) {
        const sb_allocator *a = p->allocator;
        a->free(a->ctx, buf, p->nbytes, SB_CPU);
    }
}

static sb_status pool_get(buffer_pool *p, batch_buf *out)
{
    out->storage = NULL;
    if (p->max_free == 0 && p->allocator != sb_cpu_allocator()) {
        SB_TRY(sb_storage_new(p->nbytes, SB_CPU, p->allocator, &out->storage));
        out->data = out->storage->data;
        return SB_OK;
    }
    out->data = pool_get_raw(p);
    return out->data ? SB_OK : SB_ENOMEM;
}

static void pool_discard(buffer_pool *p, batch_buf *b)
{
    if (b->storage)
        sb_storage_release(b->storage);
    else
        pool_put(p, b->data);
    b->data = NULL;
    b->storage = NULL;
}

/* Storage release callback: the buffer goes back to its pool. */
static void batch_storage_release(void *ctx, void *data, size_t nbytes)
{
    (void)nbytes;
    buffer_pool *p = ctx;
    pool_put(p, data);
    pool_unref(p);
}

/* --- loader ------------------------------------------------------------------------------ */

struct sb_loader {
    sb_dataset *ds;
    sb_transform *tf;
    sb_loader_options opts;
    sb_sample_spec input_spec; /* after the transform */
    size_t input_bytes, target_bytes;
    int64_t nbatches, first_batch; /* this shard's */
    uint64_t passes;
    const sb_allocator *allocator; /* batch buffers */
    bool pinned;
    char pin_why[512];
};

sb_status sb_loader_new(sb_dataset *ds, const sb_transform *tf, const sb_loader_options *opts,
                        sb_loader **out)
{
    if (opts->batch_size < 1)
        return sb_fail(SB_EINVAL, "batch_size must be >= 1, got %lld", (long long)opts->batch_size);
    if (opts->num_workers < 0 || opts->num_workers > 256)
        return sb_fail(SB_EINVAL, "num_workers must be in 0..256, got %d", opts->num_workers);
    if (opts->prefetch < 1 || opts->prefetch > 64)
        return sb_fail(SB_EINVAL, "prefetch must be in 1..64, got %d", opts->prefetch);
    if (opts->shards < 0 || (opts->shards > 1 && (opts->shard < 0 || opts->shard >= opts->shards)))
        return sb_fail(SB_EINVAL, "shard must be in 0..%lld (shards = %lld), got %lld",
                       (long long)opts->shards - 1, (long long)opts->shards,
                       (long long)opts->shard);
    sb_sample_spec spec = ds->input;
    sb_transform *copy = NULL;
    if (tf) SB_TRY(sb_transform_output_spec(tf, &ds->input, &spec));
    if (!sb_sample_spec_known(&spec)) {
        char shape[128];
        sb_sample_spec_format(&spec, shape, sizeof shape);
        return sb_fail(SB_EINVAL,
                       "%s's samples differ in size (%s, -1 = varies)%s: batches need one size; "
                       "add a transform that gives it, such as CenterCrop(224) or "
                       "Resize({224, 224})",
                       ds->name, shape, tf ? " after the transform" : "");
    }
    if (tf) SB_TRY(sb_transform_clone(tf, &copy));
    sb_loader *l = calloc(1, sizeof *l);
    if (!l) {
        sb_transform_free(copy);
        return sb_fail(SB_ENOMEM, "cannot allocate a DataLoader");
    }
    sb_dataset_retain(ds);
    l->ds = ds;
    l->tf = copy;
    l->opts = *opts;
    l->input_spec = spec;
    l->input_bytes = sb_sample_spec_nbytes(&spec);
    l->target_bytes = ds->has_target ? sb_sample_spec_nbytes(&ds->target) : 0;
    int64_t bs = opts->batch_size;
    l->nbatches = opts->drop_last ? ds->length / bs : (ds->length + bs - 1) / bs;
    if (opts->shards > 1) {
        /* Contiguous parts, the last (nbatches mod shards) one batch longer: the one short
         * batch, the dataset's last, then evens out the samples per part. With fewer batches
         * than shards the first shards get one each (shard 0 always has the first batch).
         * data.lua's shard_range cuts the same way. */
        int64_t shard = opts->shard, shards = opts->shards;
        int64_t per = l->nbatches / shards, extra = l->nbatches % shards;
        if (per == 0) {
            l->first_batch = shard < extra ? shard : extra;
            l->nbatches = shard < extra ? 1 : 0;
        } else {
            int64_t shorter = shards - extra; /* the parts of `per` batches, first */
            l->first_batch = shard * per + (shard > shorter ? shard - shorter : 0);
            l->nbatches = per + (shard >= shorter ? 1 : 0);
        }
    }
    l->allocator = sb_cpu_allocator();
    if (opts->pin_memory) {
        /* Page-locked buffers only exist (and only pay off) with a GPU to copy to. */
        const sb_allocator *pinned = sb_cuda_pinned_allocator();
        if (pinned) {
            l->allocator = pinned;
            l->pinned = true;
        } else {
            snprintf(l->pin_why, sizeof l->pin_why,
                     "CUDA is not available (%s): batches are in ordinary host memory",
                     sb_cuda_unavailable_reason());
        }
    }
    *out = l;
    return SB_OK;
}

void sb_loader_free(sb_loader *l)
{
    if (!l) return;
    sb_dataset_release(l->ds);
    sb_transform_free(l->tf);
    free(l);
}

int64_t sb_loader_num_batches(const sb_loader *l)
{
    return l->nbatches;
}

int64_t sb_loader_first_batch(const sb_loader *l)
{
    return l->first_batch;
}

bool sb_loader_pinned(const sb_loader *l, const char **why)
{
    if (why) *why = l->pin_why[0] ? l->pin_why : NULL;
    return l->pinned;
}

/* --- one pass ---------------------------------------------------------------------------- */

enum { SLOT_EMPTY, SLOT_READY, SLOT_FAILED };

typedef struct slot {
    int64_t batch;
    int state;
    batch_buf input, target;
    sb_status status;
    char error[1024];
} slot;

struct sb_loader_iter {
    sb_dataset *ds;
    sb_transform *tf; /* NULL = identity */
    sb_sample_spec input_spec;
    size_t input_bytes, target_bytes;
    int64_t batch_size, nbatches;
    int64_t first_batch; /* batch k of the pass is batch first_batch + k of the dataset */
    int64_t *order;
    buffer_pool *input_pool, *target_pool;

    pthread_mutex_t mu;
    pthread_cond_t ready, space;
    slot *slots;
    int nslots;
    int64_t next_claim, next_consume;
    bool stop, finished;
    pthread_t *threads;
    int nthreads;
    sb_sample_buf main_buf; /* num_workers = 0: the calling thread's sample buffer */
};

static int64_t batch_count(const sb_loader_iter *it, int64_t k)
{
    int64_t left = it->ds->length - (it->first_batch + k) * it->batch_size;
    return left < it->batch_size ? left : it->batch_size;
}

static bool same_spec(const sb_sample_spec *a, const sb_sample_spec *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->sizes[i] != b->sizes[i]) return false;
    return true;
}

/* Reads sample `index` of a dataset whose samples differ in size into `buf` and checks that
 * the transform makes it the size of the batch. */
static sb_status get_sized(sb_loader_iter *it, int64_t index, sb_sample_buf *buf, const void **tg)
{
    const sb_dataset *ds = it->ds;
    SB_TRY(ds->ops->get_sized(ds, index, buf, tg));
    sb_sample_spec out = buf->spec;
    if (it->tf) SB_TRY(sb_transform_output_spec(it->tf, &buf->spec, &out));
    if (!same_spec(&out, &it->input_spec)) {
        char got[128], want[128];
        sb_sample_spec_format(&out, got, sizeof got);
        sb_sample_spec_format(&it->input_spec, want, sizeof want);
        return sb_fail(SB_EINVAL,
                       "the sample is %s after the transform but the batch holds %s (samples of "
                       "different sizes cannot be batched)",
                       got, want);
    }
    return SB_OK;
}

/* Fills batch k into the two buffers; on failure the message names the dataset index. */
static sb_status fill_batch(sb_loader_iter *it, int64_t k, uint8_t *input, uint8_t *target,
                            void *scratch, sb_sample_buf *buf)
{
    int64_t count = batch_count(it, k);
    const sb_dataset *ds = it->ds;
    for (int64_t j = 0; j < count; j++) {
        int64_t index = it->order[(it->first_batch + k) * it->batch_size + j];
        const void *in, *tg;
        const sb_sample_spec *spec = &ds->input;
        sb_status s;
        if (ds->ops->get_sized) {
            s = get_sized(it, index, buf, &tg);
            in = buf->data;
            spec = &buf->spec;
        } else {
            s = ds->ops->get(ds, index, &in, &tg, scratch);
        }
        uint8_t *dst = input + (size_t)j * it->input_bytes;
        if (s == SB_OK) {
            if (it->tf)
                s = sb_transform_apply(it->tf, spec, in, dst);
            else
                memcpy(dst, in, it->input_bytes);
        }
        if (s != SB_OK)
            return sb_fail_context(s, "%s: dataset index %lld", ds->name, (long long)index + 1);
        if (target) memcpy(target + (size_t)j * it->target_bytes, tg, it->target_bytes);
    }
    return SB_OK;
}

/* Gets buffers from the pools and fills batch k. */
static sb_status produce(sb_loader_iter *it, int64_t k, void *scratch, sb_sample_buf *buf,
                         batch_buf *input, batch_buf *target)
{
    if (pool_get(it->input_pool, input) != SB_OK ||
        (it->target_pool && pool_get(it->target_pool, target) != SB_OK))
        return sb_fail(SB_ENOMEM, "%s: cannot allocate the buffers of batch %lld", it->ds->name,
                       (long long)(it->first_batch + k) + 1);
    return fill_batch(it, k, input->data, it->target_pool ? target->data : NULL, scratch, buf);
}

static void *worker_main(void *arg)
{
    sb_loader_iter *it = arg;
    void *scratch = it->ds->input_scratch ? malloc(it->ds->input_scratch) : NULL;
    sb_sample_buf buf = {0};
    for (;;) {
        pthread_mutex_lock(&it->mu);
        while (!it->stop && it->next_claim < it->nbatches &&
               it->next_claim >= it->next_consume + it->nslots)
            pthread_cond_wait(&it->space, &it->mu);
        if (it->stop || it->next_claim >= it->nbatches) {
            pthread_mutex_unlock(&it->mu);
            break;
        }
        int64_t k = it->next_claim++;
        pthread_mutex_unlock(&it->mu);

        batch_buf input = {0}, target = {0};
        sb_status s = (it->ds->input_scratch && !scratch)
                          ? sb_fail(SB_ENOMEM, "%s: cannot allocate worker scratch", it->ds->name)
                          : produce(it, k, scratch, &buf, &input, &target);

        pthread_mutex_lock(&it->mu);
        slot *sl = &it->slots[k % it->nslots];
        sl->batch = k;
        sl->input = input;
        sl->target = target;
        sl->status = s;
        sl->state = s == SB_OK ? SLOT_READY : SLOT_FAILED;
        if (s != SB_OK) snprintf(sl->error, sizeof sl->error, "%s", sb_error_message());
        pthread_cond_broadcast(&it->ready);
        pthread_mutex_unlock(&it->mu);
    }
    free(scratch);
    sb_sample_buf_free(&buf);
    return NULL;
}

static void stop_workers(sb_loader_iter *it)
{
    if (!it->nthreads) return;
    pthread_mutex_lock(&it->mu);
    it->stop = true;
    pthread_cond_broadcast(&it->space);
    pthread_cond_broadcast(&it->ready);
    pthread_mutex_unlock(&it->mu);
    for (int i = 0; i < it->nthreads; i++)
        pthread_join(it->threads[i], NULL);
    it->nthreads = 0;
    for (int i = 0; i < it->nslots; i++) {
        slot *sl = &it->slots[i];
        if (sl->state == SLOT_EMPTY) continue;
        pool_discard(it->input_pool, &sl->input);
        if (it->target_pool) pool_discard(it->target_pool, &sl->target);
        sl->state = SLOT_EMPTY;
    }
}

void sb_loader_iter_free(sb_loader_iter *it)
{
    if (!it) return;
    stop_workers(it);
    pthread_mutex_destroy(&it->mu);
    pthread_cond_destroy(&it->ready);
    pthread_cond_destroy(&it->space);
    free(it->threads);
    free(it->slots);
    free(it->order);
    sb_sample_buf_free(&it->main_buf);
    pool_unref(it->input_pool);
    pool_unref(it->target_pool);
    sb_transform_free(it->tf);
    sb_dataset_release(it->ds);
    free(it);
}

sb_status sb_loader_iter_new(sb_loader *l, sb_loader_iter **out)
{
    sb_loader_iter *it = calloc(1, sizeof *it);
    if (!it) return sb_fail(SB_ENOMEM, "cannot allocate a DataLoader pass");
    pthread_mutex_init(&it->mu, NULL);
    pthread_cond_init(&it->ready, NULL);
    pthread_cond_init(&it->space, NULL);
    sb_dataset_retain(l->ds);
    it->ds = l->ds;
    it->input_spec = l->input_spec;
    it->input_bytes = l->input_bytes;
    it->target_bytes = l->target_bytes;
    it->batch_size = l->opts.batch_size;
    it->nbatches = l->nbatches;
    it->first_batch = l->first_batch;
    int workers = l->opts.num_workers;
    it->nslots = workers ? workers * l->opts.prefetch : 1;
    sb_status s = SB_OK;
    if (l->tf) s = sb_transform_clone(l->tf, &it->tf);
    if (s == SB_OK) {
        it->order = malloc(sizeof(int64_t) * (size_t)(l->ds->length ? l->ds->length : 1));
        it->slots = calloc((size_t)it->nslots, sizeof(slot));
        it->threads = calloc((size_t)(workers ? workers : 1), sizeof(pthread_t));
        /* Enough free buffers for every slot plus the batches the consumer holds. */
        int keep = l->pinned ? 0 : it->nslots + 4;
        it->input_pool = pool_new((size_t)it->batch_size * it->input_bytes, keep, l->allocator);
        if (l->ds->has_target)
            it->target_pool =
                pool_new((size_t)it->batch_size * it->target_bytes, keep, l->allocator);
        if (!it->order || !it->slots || !it->threads || !it->input_pool ||
            (l->ds->has_target && !it->target_pool))
            s = sb_fail(SB_ENOMEM, "cannot allocate a DataLoader pass over %lld samples",
                        (long long)l->ds->length);
    }
    if (s != SB_OK) {
        sb_loader_iter_free(it);
        return s;
    }
    for (int i = 0; i < it->nslots; i++)
        it->slots[i].batch = -1;
    if (l->opts.shuffle)
        sb_permutation(l->ds->length, l->opts.seed, l->passes, it->order);
    else
        for (int64_t i = 0; i < l->ds->length; i++)
            it->order[i] = i;
    l->passes++;
    for (int i = 0; i < workers; i++) {
        int rc = pthread_create(&it->threads[i], NULL, worker_main, it);
        if (rc != 0) {
            sb_loader_iter_free(it);
            return sb_fail(SB_ENOMEM, "cannot start DataLoader worker %d of %d: %s", i + 1, workers,
                           strerror(rc));
        }
        it->nthreads++;
    }
    *out = it;
    return SB_OK;
}

/* A tensor [count, ...spec] over a batch buffer; a pool buffer returns to the pool when the
 * tensor's storage is released. Consumes `b` in every case. */
static sb_status wrap_batch(buffer_pool *pool, batch_buf *b, int64_t count,
                            const sb_sample_spec *spec, sb_tensor **out)
{
    int64_t sizes[SB_MAX_DIMS], strides[SB_MAX_DIMS];
    int ndim = spec->ndim + 1;
    if (ndim > SB_MAX_DIMS) {
        pool_discard(pool, b);
        return sb_fail(SB_EINVAL, "a batch of %d-D samples has too many dimensions", spec->ndim);
    }
    sizes[0] = count;
    for (int i = 0; i < spec->ndim; i++)
        sizes[i + 1] = spec->sizes[i];
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= sizes[i];
    }
    if (b->storage) {
        sb_status s = sb_tensor_from_storage(b->storage, spec->dtype, ndim, sizes, strides, 0, out);
        sb_storage_release(b->storage);
        b->storage = NULL;
        return s;
    }
    void *buf = b->data;
    b->data = NULL;
    pthread_mutex_lock(&pool->mu);
    pool->refcount++;
    pthread_mutex_unlock(&pool->mu);
    sb_storage *storage;
    size_t nbytes = (size_t)stride * sb_dtype_size(spec->dtype);
    /* Wrapped rather than allocator-owned so the buffer goes back to the pool. */
    sb_status s = sb_storage_wrap(buf, nbytes, SB_CPU, batch_storage_release, pool, &storage);
    if (s != SB_OK) {
        batch_storage_release(pool, buf, nbytes);
        return s;
    }
    s = sb_tensor_from_storage(storage, spec->dtype, ndim, sizes, strides, 0, out);
    sb_storage_release(storage);
    return s;
}

sb_status sb_loader_iter_next(sb_loader_iter *it, sb_tensor **input, sb_tensor **target, bool *done)
{
    *input = NULL;
    if (target) *target = NULL;
    *done = false;
    if (it->finished || it->next_consume >= it->nbatches) {
        it->finished = true;
        stop_workers(it);
        *done = true;
        return SB_OK;
    }
    int64_t k = it->next_consume;
    batch_buf in_buf = {0}, tg_buf = {0};
    sb_status s = SB_OK;
    if (it->nthreads == 0) {
        s = produce(it, k, NULL, &it->main_buf, &in_buf, &tg_buf);
        it->next_consume++;
    } else {
        pthread_mutex_lock(&it->mu);
        slot *sl = &it->slots[k % it->nslots];
        while (!(sl->batch == k && sl->state != SLOT_EMPTY))
            pthread_cond_wait(&it->ready, &it->mu);
        in_buf = sl->input;
        tg_buf = sl->target;
        s = sl->status;
        if (s != SB_OK) sb_fail(s, "%s", sl->error);
        sl->input = (batch_buf){0};
        sl->target = (batch_buf){0};
        sl->state = SLOT_EMPTY;
        it->next_consume++;
        pthread_cond_broadcast(&it->space);
        pthread_mutex_unlock(&it->mu);
    }
    if (s != SB_OK) {
        pool_discard(it->input_pool, &in_buf);
        if (it->target_pool) pool_discard(it->target_pool, &tg_buf);
        it->finished = true;
        stop_workers(it);
        return s;
    }
    int64_t count = batch_count(it, k);
    s = wrap_batch(it->input_pool, &in_buf, count, &it->input_spec, input);
    if (it->target_pool) {
        if (s == SB_OK && target)
            s = wrap_batch(it->target_pool, &tg_buf, count, &it->ds->target, target);
        else
            pool_discard(it->target_pool, &tg_buf);
    }
    if (s != SB_OK) {
        sb_tensor_free(*input);
        *input = NULL;
        it->finished = true;
        stop_workers(it);
        return s;
    }
    if (it->next_consume >= it->nbatches) {
        /* The last batch is out: let the workers go now rather than at the next call. */
        it->finished = true;
        stop_workers(it);
    }
    return SB_OK;
}

int sb_loader_iter_outstanding(sb_loader_iter *it)
{
    pthread_mutex_lock(&it->input_pool->mu);
    int held = it->input_pool->refcount - 1; /* one reference is the pass's own */
    pthread_mutex_unlock(&it->input_pool->mu);
    return held;
}
