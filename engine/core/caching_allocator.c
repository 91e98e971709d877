/* The caching allocator of caching_allocator.h.
 *
 * A segment is one raw allocation; it is a doubly linked list of blocks (prev/next are
 * the neighbouring pieces of the same segment). A free block sits in one of two pools
 * (small segments, large segments), each an array sorted by (device, stream, size,
 * address), so the best fit is a binary search. Blocks handed out are found again by
 * address through a hash table. A pinned block freed while copies out of it may still be
 * queued waits on a pending list until its event completes. */
#include "core/caching_allocator.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    int device;
    void *stream;
    size_t size;
    char *ptr;
    bool allocated;
    bool small;                /* part of a small segment */
    struct block *prev, *next; /* neighbours in the segment */
    struct block *hash_next;
    struct block *pending_next;
    void *event;
} block;

typedef struct pool {
    block **items;
    size_t n, cap;
} pool;

struct sb_caching_allocator {
    sb_cache_hooks hooks;
    pthread_mutex_t mutex;
    pool small, large;
    block **buckets; /* handed-out blocks by address */
    size_t nbuckets, nallocated;
    block *pending; /* freed, waiting for their event */
    sb_cache_stats stats[SB_CACHE_MAX_DEVICES];
};

/* --- pools ---------------------------------------------------------------------------- */

static int block_cmp(const block *a, int device, void *stream, size_t size, const char *ptr)
{
    if (a->device != device) return a->device < device ? -1 : 1;
    if (a->stream != stream) return (uintptr_t)a->stream < (uintptr_t)stream ? -1 : 1;
    if (a->size != size) return a->size < size ? -1 : 1;
    if (a->ptr != ptr) return (uintptr_t)a->ptr < (uintptr_t)ptr ? -1 : 1;
    return 0;
}

/* Index of the first item not less than the key. */
static size_t pool_lower_bound(const pool *p, int device, void *stream, size_t size,
                               const char *ptr)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (block_cmp(p->items[mid], device, stream, size, ptr) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static sb_status pool_insert(pool *p, block *b)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        block **items = realloc(p->items, cap * sizeof *items);
        if (!items) return sb_fail(SB_ENOMEM, "caching allocator: out of host memory");
        p->items = items;
        p->cap = cap;
    }
    size_t i = pool_lower_bound(p, b->device, b->stream, b->size, b->ptr);
    memmove(p->items + i + 1, p->items + i, (p->n - i) * sizeof *p->items);
    p->items[i] = b;
    p->n++;
    return SB_OK;
}

static void pool_remove(pool *p, block *b)
{
    size_t i = pool_lower_bound(p, b->device, b->stream, b->size, b->ptr);
    if (i < p->n && p->items[i] == b) {
        memmove(p->items + i, p->items + i + 1, (p->n - i - 1) * sizeof *p->items);
        p->n--;
    }
}

static pool *pool_of(sb_caching_allocator *a, const block *b)
{
    return b->small ? &a->small : &a->large;
}

/* --- handed-out blocks by address ------------------------------------------------------ */

static size_t hash_ptr(const void *ptr, size_t nbuckets)
{
    uint64_t x = (uint64_t)(uintptr_t)ptr;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)(x & (nbuckets - 1));
}

static sb_status hash_insert(sb_caching_allocator *a, block *b)
{
    if (a->nallocated + 1 > a->nbuckets) { /* keep the load factor at most 1 */
        size_t n = a->nbuckets ? a->nbuckets * 2 : 256;
        block **buckets = calloc(n, sizeof *buckets);
        if (!buckets) return sb_fail(SB_ENOMEM, "caching allocator: out of host memory");
        for (size_t i = 0; i < a->nbuckets; i++)
            for (block *x = a->buckets[i], *next; x; x = next) {
                next = x->hash_next;
                size_t h = hash_ptr(x->ptr, n);
                x->hash_next = buckets[h];
                buckets[h] = x;
            }
        free(a->buckets);
        a->buckets = buckets;
        a->nbuckets = n;
    }
    size_t h = hash_ptr(b->ptr, a->nbuckets);
    b->hash_next = a->buckets[h];
    a->buckets[h] = b;
    a->nallocated++;
    return SB_OK;
}

static block *hash_remove(sb_caching_allocator *a, const void *ptr)
{
    if (!a->nbuckets) return NULL;
    for (block **link = &a->buckets[hash_ptr(ptr, a->nbuckets)]; *link; link = &(*link)->hash_next)
        if ((*link)->ptr == ptr) {
            block *b = *link;
            *link = b->hash_next;
            a->nallocated--;
            return b;
        }
    return NULL;
}

/* --- allocation ------------------------------------------------------------------------ */

sb_status sb_caching_allocator_new(const sb_cache_hooks *hooks, sb_caching_allocator **out)
{
    if (!hooks || !hooks->raw_alloc || !hooks->raw_free)
        return sb_fail(SB_EINVAL, "caching allocator: raw_alloc and raw_free are required");
    sb_caching_allocator *a = calloc(1, sizeof *a);
    if (!a) return sb_fail(SB_ENOMEM, "caching allocator: out of host memory");
    a->hooks = *hooks;
    if (!a->hooks.what) a->hooks.what = "device";
    pthread_mutex_init(&a->mutex, NULL);
    *out = a;
    return SB_OK;
}

static void release_segment(sb_caching_allocator *a, block *b)
{
    a->hooks.raw_free(a->hooks.ctx, b->device, b->ptr);
    a->stats[b->device].reserved -= b->size;
    a->stats[b->device].segments--;
    free(b);
}

static void return_to_pool(sb_caching_allocator *a, block *b);

/* Moves pending blocks whose event has completed into their pool. */
static void sweep_pending(sb_caching_allocator *a)
{
    for (block **link = &a->pending; *link;) {
        block *b = *link;
        if (a->hooks.event_done(a->hooks.ctx, b->event)) {
            *link = b->pending_next;
            a->hooks.event_destroy(a->hooks.ctx, b->event);
            b->event = NULL;
            b->pending_next = NULL;
            return_to_pool(a, b);
        } else {
            link = &b->pending_next;
        }
    }
}

/* Releases free whole segments of `device` (-1: all) from one pool. */
static sb_status release_cached(sb_caching_allocator *a, pool *p, int device)
{
    sb_status first_error = SB_OK;
    size_t kept = 0;
    for (size_t i = 0; i < p->n; i++) {
        block *b = p->items[i];
        if ((device < 0 || b->device == device) && !b->prev && !b->next) {
            sb_status st = a->hooks.raw_free(a->hooks.ctx, b->device, b->ptr);
            if (st != SB_OK && first_error == SB_OK) first_error = st;
            a->stats[b->device].reserved -= b->size;
            a->stats[b->device].segments--;
            free(b);
        } else {
            p->items[kept++] = b;
        }
    }
    p->n = kept;
    return first_error;
}

static size_t round_size(size_t nbytes)
{
    if (nbytes < SB_CACHE_ROUND) return SB_CACHE_ROUND;
    return (nbytes + SB_CACHE_ROUND - 1) / SB_CACHE_ROUND * SB_CACHE_ROUND;
}

/* The smallest cached block of (device, stream) that holds `size`, removed from its pool. */
static block *take_best_fit(sb_caching_allocator *a, pool *p, int device, void *stream, size_t size)
{
    size_t i = pool_lower_bound(p, device, stream, size, NULL);
    if (i >= p->n) return NULL;
    block *b = p->items[i];
    if (b->device != device || b->stream != stream) return NULL;
    /* Without splitting, a much larger block would waste most of itself on this request. */
    if (!a->hooks.split && b->size > 2 * size) return NULL;
    memmove(p->items + i, p->items + i + 1, (p->n - i - 1) * sizeof *p->items);
    p->n--;
    return b;
}

static sb_status out_of_memory(sb_caching_allocator *a, int device, size_t nbytes, bool reclaimed)
{
    char asked[32], free_s[32], total_s[32], alloc_s[32], reserved_s[32], peak_s[32];
    sb_format_bytes(nbytes, asked, sizeof asked);
    sb_format_bytes(a->stats[device].allocated, alloc_s, sizeof alloc_s);
    sb_format_bytes(a->stats[device].reserved, reserved_s, sizeof reserved_s);
    sb_format_bytes(a->stats[device].max_allocated, peak_s, sizeof peak_s);
    size_t free_bytes = 0, total_bytes = 0;
    char where[64] = "";
    if (a->hooks.mem_info &&
        a->hooks.mem_info(a->hooks.ctx, device, &free_bytes, &total_bytes) == SB_OK) {
        sb_format_bytes(free_bytes, free_s, sizeof free_s);
        sb_format_bytes(total_bytes, total_s, sizeof total_s);
        snprintf(where, sizeof where, "%s free of %s", free_s, total_s);
    } else {
        snprintf(where, sizeof where, "free memory unknown");
    }
    char dev[24] = "";
    if (a->hooks.split) snprintf(dev, sizeof dev, " on cuda:%d", device);
    size_t segments = a->stats[device].segments;
    return sb_fail(SB_ENOMEM,
                   "%s out of memory%s: tried to allocate %s (%s; this engine holds %s in "
                   "tensors, %s reserved in total, peak %s, %zu segment%s, %zu device "
                   "allocations so far; %s)",
                   a->hooks.what, dev, asked, where, alloc_s, reserved_s, peak_s, segments,
                   segments == 1 ? "" : "s", a->stats[device].raw_allocs,
                   reclaimed ? "the cache was emptied and unreachable tensors collected first"
                             : "the cache was emptied first");
}

static sb_status alloc_once(sb_caching_allocator *a, int device, void *stream, size_t nbytes,
                            void **out, bool reclaimed);

sb_status sb_caching_alloc(sb_caching_allocator *a, int device, void *stream, size_t nbytes,
                           void **out)
{
    if (device < 0 || device >= SB_CACHE_MAX_DEVICES)
        return sb_fail(SB_EINVAL, "caching allocator: device %d out of range", device);
    if (nbytes > SIZE_MAX - SB_CACHE_ROUND)
        return sb_fail(SB_ERANGE, "caching allocator: %zu bytes is too large", nbytes);
    sb_status st = alloc_once(a, device, stream, nbytes, out, false);
    /* Still full with the cache released: let the hook free what only it can reach (without
     * the lock: its finalizers release blocks here), then once more. */
    if (st == SB_ENOMEM && a->hooks.reclaim && a->hooks.reclaim(a->hooks.ctx, device))
        st = alloc_once(a, device, stream, nbytes, out, true);
    return st;
}

static sb_status alloc_once(sb_caching_allocator *a, int device, void *stream, size_t nbytes,
                            void **out, bool reclaimed)
{
    size_t size = round_size(nbytes);
    bool small = a->hooks.split && size <= SB_CACHE_SMALL_REQUEST;
    pool *p = small ? &a->small : &a->large;
    sb_status st = SB_OK;

    pthread_mutex_lock(&a->mutex);
    if (a->pending) sweep_pending(a);
    block *b = take_best_fit(a, p, device, stream, size);
    if (!b) {
        size_t segment = small ? SB_CACHE_SMALL_SEGMENT : size;
        void *ptr = NULL;
        st = a->hooks.raw_alloc(a->hooks.ctx, device, segment, &ptr);
        if (st == SB_ENOMEM) { /* give the cache back to the device and try once more */
            release_cached(a, &a->small, device);
            release_cached(a, &a->large, device);
            st = a->hooks.raw_alloc(a->hooks.ctx, device, segment, &ptr);
            if (st == SB_ENOMEM) st = out_of_memory(a, device, nbytes, reclaimed);
        }
        if (st != SB_OK) goto done;
        b = calloc(1, sizeof *b);
        if (!b) {
            a->hooks.raw_free(a->hooks.ctx, device, ptr);
            st = sb_fail(SB_ENOMEM, "caching allocator: out of host memory");
            goto done;
        }
        b->device = device;
        b->stream = stream;
        b->size = segment;
        b->ptr = ptr;
        b->small = small;
        a->stats[device].reserved += segment;
        a->stats[device].segments++;
        a->stats[device].raw_allocs++;
    }
    /* Split off the rest when it is worth keeping: any remainder in a small segment, more
     * than a small segment's worth in a large one. */
    size_t rest = b->size - size;
    if (a->hooks.split && rest >= (small ? SB_CACHE_ROUND : SB_CACHE_SMALL_SEGMENT + 1)) {
        block *r = calloc(1, sizeof *r);
        if (r) {
            *r = (block){.device = device,
                         .stream = stream,
                         .size = rest,
                         .ptr = b->ptr + size,
                         .small = b->small,
                         .prev = b,
                         .next = b->next};
            if (b->next) b->next->prev = r;
            b->next = r;
            b->size = size;
            if (pool_insert(pool_of(a, r), r) != SB_OK) { /* keep it attached, unsplit */
                b->next = r->next;
                if (r->next) r->next->prev = b;
                b->size += rest;
                free(r);
            }
        }
    }
    st = hash_insert(a, b);
    if (st != SB_OK) {
        if (pool_insert(p, b) != SB_OK) release_segment(a, b);
        goto done;
    }
    b->allocated = true;
    sb_cache_stats *s = &a->stats[device];
    s->allocated += b->size;
    if (s->allocated > s->max_allocated) s->max_allocated = s->allocated;
    *out = b->ptr;
done:
    pthread_mutex_unlock(&a->mutex);
    return st;
}

/* Grows `b` over the next block of its segment, which goes (it is in no pool). */
static void absorb_next(block *b)
{
    block *next = b->next;
    b->size += next->size;
    b->next = next->next;
    if (next->next) next->next->prev = b;
    free(next);
}

/* Merges `b` with free neighbours of its segment and puts the result in its pool. */
static void return_to_pool(sb_caching_allocator *a, block *b)
{
    pool *p = pool_of(a, b);
    block *prev = b->prev;
    if (prev && !prev->allocated && !prev->event) {
        pool_remove(p, prev);
        absorb_next(prev);
        b = prev;
    }
    block *next = b->next;
    if (next && !next->allocated && !next->event) {
        pool_remove(p, next);
        absorb_next(b);
    }
    if (pool_insert(p, b) != SB_OK && !b->prev && !b->next) release_segment(a, b);
}

sb_status sb_caching_release(sb_caching_allocator *a, void *ptr)
{
    if (!ptr) return SB_OK;
    pthread_mutex_lock(&a->mutex);
    block *b = hash_remove(a, ptr);
    if (!b) {
        pthread_mutex_unlock(&a->mutex);
        return sb_fail(SB_EINVAL, "caching allocator: %p was not allocated here (double free?)",
                       ptr);
    }
    b->allocated = false;
    a->stats[b->device].allocated -= b->size;
    void *event = NULL;
    if (a->hooks.event_record && a->hooks.event_record(a->hooks.ctx, &event) == SB_OK && event) {
        b->event = event;
        b->pending_next = a->pending;
        a->pending = b;
    } else {
        return_to_pool(a, b);
    }
    pthread_mutex_unlock(&a->mutex);
    return SB_OK;
}

sb_status sb_caching_empty_cache(sb_caching_allocator *a, int device)
{
    pthread_mutex_lock(&a->mutex);
    if (a->pending) sweep_pending(a);
    sb_status st = release_cached(a, &a->small, device);
    sb_status st2 = release_cached(a, &a->large, device);
    pthread_mutex_unlock(&a->mutex);
    return st != SB_OK ? st : st2;
}

void sb_caching_stats(sb_caching_allocator *a, int device, sb_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&a->mutex);
    for (int d = 0; d < SB_CACHE_MAX_DEVICES; d++) {
        if (device >= 0 && d != device) continue;
        const sb_cache_stats *s = &a->stats[d];
        out->allocated += s->allocated;
        out->max_allocated += s->max_allocated;
        out->reserved += s->reserved;
        out->segments += s->segments;
        out->raw_allocs += s->raw_allocs;
    }
    pthread_mutex_unlock(&a->mutex);
}

void sb_caching_reset_peak(sb_caching_allocator *a, int device)
{
    pthread_mutex_lock(&a->mutex);
    for (int d = 0; d < SB_CACHE_MAX_DEVICES; d++)
        if (device < 0 || d == device) a->stats[d].max_allocated = a->stats[d].allocated;
    pthread_mutex_unlock(&a->mutex);
}

void sb_caching_allocator_free(sb_caching_allocator *a)
{
    if (!a) return;
    /* Wait for pending blocks, then walk every segment from its head exactly once. */
    while (a->pending) {
        block *b = a->pending;
        a->pending = b->pending_next;
        while (!a->hooks.event_done(a->hooks.ctx, b->event)) {
        }
        a->hooks.event_destroy(a->hooks.ctx, b->event);
        b->event = NULL;
        if (pool_insert(pool_of(a, b), b) != SB_OK) release_segment(a, b);
    }
    for (size_t i = 0; i < a->nbuckets; i++)
        for (block *b = a->buckets[i], *next; b; b = next) {
            next = b->hash_next;
            b->allocated = false;
            if (pool_insert(pool_of(a, b), b) != SB_OK) { /* out of memory: leak, not crash */
            }
        }
    /* Every block is in a pool now; free each segment through its head, heads first
     * collected so that no freed block is read again. */
    size_t nheads = 0;
    block **heads = malloc((a->small.n + a->large.n + 1) * sizeof *heads);
    pool *pools[2] = {&a->small, &a->large};
    for (int k = 0; k < 2 && heads; k++)
        for (size_t i = 0; i < pools[k]->n; i++)
            if (!pools[k]->items[i]->prev) heads[nheads++] = pools[k]->items[i];
    for (size_t i = 0; i < nheads; i++) {
        a->hooks.raw_free(a->hooks.ctx, heads[i]->device, heads[i]->ptr);
        for (block *x = heads[i], *next; x; x = next) {
            next = x->next;
            free(x);
        }
    }
    free(heads);
    free(a->small.items);
    free(a->large.items);
    free(a->buckets);
    pthread_mutex_destroy(&a->mutex);
    free(a);
}
