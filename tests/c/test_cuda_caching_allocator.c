/* The caching allocator's bookkeeping, on a fake device made of malloc'd memory with a
 * capacity: reuse, best fit, splitting, merging, streams, out-of-memory retry and message,
 * statistics, and pinned-style event-guarded reuse. Needs no GPU. */
#include <stdint.h>
#include <stdlib.h>

#include "core/caching_allocator.h"
#include "sbtest.h"

#define MiB ((size_t)1 << 20)

typedef struct fake_device {
    size_t capacity, used;
    int outstanding; /* raw segments not yet freed */
    int raw_allocs, raw_frees;
    long clock; /* events complete when clock >= their stamp */
    int events_live;
    size_t sizes[4096];
    void *ptrs[4096];
} fake_device;

static sb_status fake_alloc(void *ctx, int device, size_t nbytes, void **out)
{
    fake_device *f = ctx;
    (void)device;
    if (f->used + nbytes > f->capacity) return sb_fail(SB_ENOMEM, "fake device full");
    void *p = malloc(nbytes);
    if (!p) return sb_fail(SB_ENOMEM, "host full");
    for (int i = 0; i < 4096; i++)
        if (!f->ptrs[i]) {
            f->ptrs[i] = p;
            f->sizes[i] = nbytes;
            break;
        }
    f->used += nbytes;
    f->outstanding++;
    f->raw_allocs++;
    *out = p;
    return SB_OK;
}

static sb_status fake_free(void *ctx, int device, void *ptr)
{
    fake_device *f = ctx;
    (void)device;
    for (int i = 0; i < 4096; i++)
        if (f->ptrs[i] == ptr) {
            f->used -= f->sizes[i];
            f->ptrs[i] = NULL;
        }
    free(ptr);
    f->outstanding--;
    f->raw_frees++;
    return SB_OK;
}

static sb_status fake_info(void *ctx, int device, size_t *free_bytes, size_t *total)
{
    fake_device *f = ctx;
    (void)device;
    *free_bytes = f->capacity - f->used;
    *total = f->capacity;
    return SB_OK;
}

static sb_status fake_event_record(void *ctx, void **event)
{
    fake_device *f = ctx;
    long *stamp = malloc(sizeof *stamp);
    if (!stamp) return sb_fail(SB_ENOMEM, "no memory");
    *stamp = f->clock + 1; /* completes at the next tick */
    f->events_live++;
    *event = stamp;
    return SB_OK;
}

static bool fake_event_done(void *ctx, void *event)
{
    fake_device *f = ctx;
    return f->clock >= *(long *)event;
}

static void fake_event_destroy(void *ctx, void *event)
{
    fake_device *f = ctx;
    f->events_live--;
    free(event);
}

/* A device allocator over `f`; `reclaim` (may be NULL) is its garbage-collection hook. */
static sb_caching_allocator *device_allocator_reclaiming(fake_device *f, size_t capacity,
                                                         bool (*reclaim)(void *, int))
{
    memset(f, 0, sizeof *f);
    f->capacity = capacity;
    sb_cache_hooks hooks = {.raw_alloc = fake_alloc,
                            .raw_free = fake_free,
                            .mem_info = fake_info,
                            .reclaim = reclaim,
                            .ctx = f,
                            .what = "CUDA",
                            .split = true};
    sb_caching_allocator *a = NULL;
    SB_CHECK(sb_caching_allocator_new(&hooks, &a) == SB_OK);
    return a;
}

static sb_caching_allocator *device_allocator(fake_device *f, size_t capacity)
{
    return device_allocator_reclaiming(f, capacity, NULL);
}

static void *must_alloc(sb_caching_allocator *a, int device, void *stream, size_t n)
{
    void *p = NULL;
    sb_status st = sb_caching_alloc(a, device, stream, n, &p);
    if (st != SB_OK) fprintf(stderr, "alloc %zu: %s\n", n, sb_error_message());
    SB_CHECK(st == SB_OK && p != NULL);
    return p;
}

static void test_small_requests_share_a_1mib_segment(void)
{
    fake_device f;
    sb_caching_allocator *a = device_allocator(&f, 64 * MiB);
    void *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = must_alloc(a, 0, NULL, 1000);
    sb_cache_stats s;
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.reserved == MiB);
    SB_CHECK(s.segments == 1);
    SB_CHECK(s.allocated == 10 * 1024); /* 1000 rounds up to 1024 */
    for (int i = 1; i < 10; i++)
        SB_CHECK((char *)p[i] - (char *)p[i - 1] == 1024);
    for (int i = 0; i < 10; i++)
        SB_CHECK(sb_caching_release(a, p[i]) == SB_OK);
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.allocated == 0 && s.reserved == MiB);
    /* Merged back: a 1 MiB request fits the same segment without a raw allocation. */
    void *whole = must_alloc(a, 0, NULL, MiB);
    SB_CHECK(whole == p[0]);
    SB_CHECK(f.raw_allocs == 1);
    sb_caching_release(a, whole);
    sb_caching_allocator_free(a);
    SB_CHECK(f.outstanding == 0);
}

static void test_best_fit_and_split(void)
{
    fake_device f;
    sb_caching_allocator *a = device_allocator(&f, 256 * MiB);
    void *p8 = must_alloc(a, 0, NULL, 8 * MiB);
    void *p4 = must_alloc(a, 0, NULL, 4 * MiB);
    sb_caching_release(a, p8);
    sb_caching_release(a, p4);
    SB_CHECK(f.raw_allocs == 2);
    /* 3 MiB: the 4 MiB block is the best fit; the 1 MiB rest is not worth splitting off. */
    void *q = must_alloc(a, 0, NULL, 3 * MiB);
    SB_CHECK(q == p4);
    sb_cache_stats s;
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.allocated == 4 * MiB);
    /* 2 MiB from the 8 MiB block: split, the 6 MiB rest serves the next request. */
    void *r = must_alloc(a, 0, NULL, 2 * MiB);
    SB_CHECK(r == p8);
    void *t = must_alloc(a, 0, NULL, 6 * MiB);
    SB_CHECK(t == (char *)p8 + 2 * MiB);
    SB_CHECK(f.raw_allocs == 2);
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.allocated == 12 * MiB && s.reserved == 12 * MiB);
    /* Freed in any order, the pieces merge: 8 MiB fits again at the same address. */
    sb_caching_release(a, r);
    sb_caching_release(a, t);
    void *again = must_alloc(a, 0, NULL, 8 * MiB);
    SB_CHECK(again == p8);
    SB_CHECK(f.raw_allocs == 2);
    sb_caching_release(a, again);
    sb_caching_release(a, q);
    sb_caching_allocator_free(a);
    SB_CHECK(f.outstanding == 0);
}

static void test_blocks_stay_with_their_device_and_stream(void)
{
    fake_device f;
    sb_caching_allocator *a = device_allocator(&f, 64 * MiB);
    int stream_a, stream_b;
    void *p = must_alloc(a, 0, &stream_a, 2 * MiB);
    sb_caching_release(a, p);
    void *q = must_alloc(a, 0, &stream_b, 2 * MiB);
    SB_CHECK(q != p);
    void *r = must_alloc(a, 1, &stream_a, 2 * MiB);
    SB_CHECK(r != p);
    void *s = must_alloc(a, 0, &stream_a, 2 * MiB);
    SB_CHECK(s == p);
    SB_CHECK(f.raw_allocs == 3);
    sb_cache_stats st;
    sb_caching_stats(a, 1, &st);
    SB_CHECK(st.allocated == 2 * MiB);
    sb_caching_stats(a, -1, &st);
    SB_CHECK(st.allocated == 6 * MiB);
    sb_caching_release(a, q);
    sb_caching_release(a, r);
    sb_caching_release(a, s);
    sb_caching_allocator_free(a);
    SB_CHECK(f.outstanding == 0);
}

static void test_out_of_memory_frees_cache_retries_then_explains(void)
{
    fake_device f;
    sb_caching_allocator *a = device_allocator(&f, 16 * MiB);
    void *p = must_alloc(a, 0, NULL, 12 * MiB);
    sb_caching_release(a, p); /* cached: the fake device has 4 MiB left */
    void *q = must_alloc(a, 0, NULL, 13 * MiB);
    SB_CHECK(f.raw_frees == 1); /* the cached 12 MiB went back before the retry */
    sb_cache_stats s;
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.reserved == 13 * MiB && s.allocated == 13 * MiB);

    void *big = NULL;
    SB_CHECK(sb_caching_alloc(a, 0, NULL, 100 * MiB, &big) == SB_ENOMEM);
    SB_CHECK(big == NULL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "CUDA out of memory on cuda:0");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "tried to allocate 100.00 MiB");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "3.00 MiB free of 16.00 MiB");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "13.00 MiB in tensors");

    /* The allocator keeps working after the failure. */
    sb_caching_release(a, q);
    void *r = must_alloc(a, 0, NULL, 4 * MiB);
    sb_caching_release(a, r);
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.allocated == 0);
    sb_caching_allocator_free(a);
    SB_CHECK(f.outstanding == 0);
}

/* A dead tensor the garbage collector has not reached yet holds a block; the reclaim hook
 * (the GPU layer's full Lua GC) releases it. */
typedef struct dead_tensors {
    sb_caching_allocator *a;
    void *held;
    int calls;
    bool enough; /* whether releasing `held` makes room */
} dead_tensors;

static dead_tensors dead;

static bool collect_garbage(void *ctx, int device)
{
    (void)ctx, (void)device;
    dead.calls++;
    if (dead.held) sb_caching_release(dead.a, dead.held); /* takes the allocator's lock */
    dead.held = NULL;
    return true;
}

static void test_out_of_memory_collects_garbage_then_retries(void)
{
    fake_device f;
    sb_caching_allocator *a = device_allocator_reclaiming(&f, 16 * MiB, collect_garbage);
    dead = (dead_tensors){.a = a};
    dead.held = must_alloc(a, 0, NULL, 10 * MiB);
    /* 6 MiB free, 10 MiB in a tensor only the collector knows is dead: the first try fails,
     * the cache is empty, the hook frees the tensor, the second try reuses its block. */
    void *p = must_alloc(a, 0, NULL, 8 * MiB);
    SB_CHECK(dead.calls == 1 && dead.held == NULL);
    SB_CHECK(f.raw_allocs == 1); /* the dead tensor's block was reused, not a new segment */
    /* Nothing left to collect: the hook runs, then the error with the allocator's figures. */
    void *q = NULL;
    SB_CHECK(sb_caching_alloc(a, 0, NULL, 12 * MiB, &q) == SB_ENOMEM && q == NULL);
    SB_CHECK(dead.calls == 2);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "tried to allocate 12.00 MiB");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "peak 10.00 MiB, 1 segment, 1 device allocations");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "unreachable tensors collected first");
    /* An allocation that fits never calls the hook. */
    sb_caching_release(a, p);
    void *r = must_alloc(a, 0, NULL, 4 * MiB);
    SB_CHECK(dead.calls == 2);
    sb_caching_release(a, r);
    sb_caching_allocator_free(a);
    SB_CHECK(f.outstanding == 0);
}

static void test_stats_peak_and_empty_cache(void)
{
    fake_device f;
    sb_caching_allocator *a = device_allocator(&f, 256 * MiB);
    void *p = must_alloc(a, 0, NULL, 10 * MiB);
    void *q = must_alloc(a, 0, NULL, 5 * MiB);
    sb_caching_release(a, p);
    sb_cache_stats s;
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.allocated == 5 * MiB && s.max_allocated == 15 * MiB && s.reserved == 15 * MiB);
    sb_caching_reset_peak(a, -1);
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.max_allocated == 5 * MiB);
    SB_CHECK(sb_caching_empty_cache(a, -1) == SB_OK);
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.reserved == 5 * MiB && s.segments == 1); /* the block in use stays */
    SB_CHECK(f.outstanding == 1);
    sb_caching_release(a, q);
    sb_caching_empty_cache(a, 0);
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.reserved == 0 && s.segments == 0);
    SB_CHECK(f.outstanding == 0);
    sb_caching_allocator_free(a);
}

static void test_many_cycles_keep_reserved_bounded(void)
{
    fake_device f;
    sb_caching_allocator *a = device_allocator(&f, (size_t)1 << 40);
    uint64_t rng = 12345;
    void *live[16] = {0};
    size_t peak_live = 0, live_bytes = 0, sizes[16] = {0};
    for (int i = 0; i < 20000; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int slot = (int)(rng >> 60);
        if (live[slot]) {
            SB_CHECK(sb_caching_release(a, live[slot]) == SB_OK);
            live[slot] = NULL;
            live_bytes -= sizes[slot];
        } else {
            /* A mix like a model's activations: a few shapes, small and large. */
            static const size_t shapes[] = {4096, 200000, 3 * MiB, 3 * MiB + 512, 17 * MiB};
            sizes[slot] = shapes[(rng >> 40) % 5];
            live[slot] = must_alloc(a, 0, NULL, sizes[slot]);
            live_bytes += sizes[slot];
            if (live_bytes > peak_live) peak_live = live_bytes;
        }
    }
    sb_cache_stats s;
    sb_caching_stats(a, 0, &s);
    /* Reuse, not growth: the cache stays within a small multiple of the live peak and
     * nearly every request was served from it. */
    SB_CHECK(s.reserved <= 3 * peak_live);
    SB_CHECK(s.raw_allocs < 200);
    for (int i = 0; i < 16; i++)
        sb_caching_release(a, live[i]);
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.allocated == 0);
    sb_caching_allocator_free(a);
    SB_CHECK(f.outstanding == 0);
}

static void test_pinned_blocks_wait_for_their_event(void)
{
    fake_device f;
    memset(&f, 0, sizeof f);
    f.capacity = 64 * MiB;
    sb_cache_hooks hooks = {.raw_alloc = fake_alloc,
                            .raw_free = fake_free,
                            .event_record = fake_event_record,
                            .event_done = fake_event_done,
                            .event_destroy = fake_event_destroy,
                            .ctx = &f,
                            .what = "pinned host"};
    sb_caching_allocator *a = NULL;
    SB_CHECK(sb_caching_allocator_new(&hooks, &a) == SB_OK);
    void *p = must_alloc(a, 0, NULL, 3 * MiB);
    sb_caching_release(a, p); /* a copy out of p may still be queued */
    void *q = must_alloc(a, 0, NULL, 3 * MiB);
    SB_CHECK(q != p);
    f.clock++; /* the copy completed */
    sb_caching_release(a, q);
    void *r = must_alloc(a, 0, NULL, 3 * MiB);
    SB_CHECK(r == p);
    /* No splitting for pinned memory, and no block much larger than asked is handed out. */
    void *tiny = must_alloc(a, 0, NULL, 1000);
    SB_CHECK(tiny != q);
    sb_cache_stats s;
    sb_caching_stats(a, 0, &s);
    SB_CHECK(s.raw_allocs == 3);
    sb_caching_release(a, r);
    sb_caching_release(a, tiny);
    f.clock += 2;
    sb_caching_allocator_free(a);
    SB_CHECK(f.outstanding == 0);
    SB_CHECK(f.events_live == 0);
}

static void test_foreign_pointer_is_refused(void)
{
    fake_device f;
    sb_caching_allocator *a = device_allocator(&f, 64 * MiB);
    int x;
    SB_CHECK(sb_caching_release(a, &x) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "was not allocated here");
    void *p = must_alloc(a, 0, NULL, 10);
    SB_CHECK(sb_caching_release(a, p) == SB_OK);
    SB_CHECK(sb_caching_release(a, p) == SB_EINVAL);
    SB_CHECK(sb_caching_release(a, NULL) == SB_OK);
    SB_CHECK(sb_caching_alloc(a, -1, NULL, 10, &p) == SB_EINVAL);
    sb_caching_allocator_free(a);
    SB_CHECK(f.outstanding == 0);
}

static void test_format_bytes(void)
{
    char buf[32];
    sb_format_bytes(42, buf, sizeof buf);
    SB_CHECK(strcmp(buf, "42 bytes") == 0);
    sb_format_bytes(3 * MiB / 2, buf, sizeof buf);
    SB_CHECK(strcmp(buf, "1.50 MiB") == 0);
    sb_format_bytes((size_t)140 << 30, buf, sizeof buf);
    SB_CHECK(strcmp(buf, "140.00 GiB") == 0);
}

int main(void)
{
    SB_RUN(test_small_requests_share_a_1mib_segment);
    SB_RUN(test_best_fit_and_split);
    SB_RUN(test_blocks_stay_with_their_device_and_stream);
    SB_RUN(test_out_of_memory_frees_cache_retries_then_explains);
    SB_RUN(test_out_of_memory_collects_garbage_then_retries);
    SB_RUN(test_stats_peak_and_empty_cache);
    SB_RUN(test_many_cycles_keep_reserved_bounded);
    SB_RUN(test_pinned_blocks_wait_for_their_event);
    SB_RUN(test_foreign_pointer_is_refused);
    SB_RUN(test_format_bytes);
    return sb_test_summary();
}
