/* A caching allocator in the spirit of cutorch's THCCachingAllocator.
 *
 * cudaMalloc and cudaFree are slow and synchronise the device, so freed blocks are kept
 * and reused: blocks are cached per device and stream, a request takes the best-fitting
 * cached block (smallest that is large enough) and splits off the rest, requests of at
 * most 1 MiB are carved from 1 MiB segments, and neighbouring free pieces of a segment
 * merge again. When the raw allocation fails, every cached segment of that device is
 * released and the allocation retried once; then, with a reclaim hook, the hook runs (a
 * full Lua GC: dead tensors give their blocks back) and the allocation is tried again; if it
 * still fails, the error says how much was asked, what is free and the allocator's
 * statistics.
 *
 * The bookkeeping is plain C over three hooks (raw allocation, raw release, free-memory
 * query), so it runs and is tested without a GPU; engine/gpu/cuda_memory.c plugs in the
 * CUDA plugin's cudaMalloc/cudaFree (device memory) and cudaHostAlloc/cudaFreeHost with
 * events (pinned host memory, whose blocks are reused only once the copies queued from
 * them have completed). Thread-safe. */
#ifndef SB_CORE_CACHING_ALLOCATOR_H
#define SB_CORE_CACHING_ALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/bytes.h" /* sb_format_bytes, for its messages */

#include "core/error.h"

#define SB_CACHE_MAX_DEVICES 64
#define SB_CACHE_SMALL_REQUEST ((size_t)1 << 20) /* requests up to this use small segments */
#define SB_CACHE_SMALL_SEGMENT ((size_t)1 << 20) /* size of a small segment */
#define SB_CACHE_ROUND ((size_t)512)             /* every block is a multiple of this */

typedef struct sb_cache_hooks {
    /* Allocates a raw segment. SB_ENOMEM (with a message) when the device is full: the
     * allocator then frees its cache and retries; any other failure is returned as is. */
    sb_status (*raw_alloc)(void *ctx, int device, size_t nbytes, void **out);
    sb_status (*raw_free)(void *ctx, int device, void *ptr);
    /* Optional: free and total bytes of the device, for the out-of-memory message. */
    sb_status (*mem_info)(void *ctx, int device, size_t *free_bytes, size_t *total_bytes);
    /* Optional (pinned memory): an event marking the work queued so far, whether it has
     * completed, and its release. A freed block waits for its event before reuse. */
    sb_status (*event_record)(void *ctx, void **event);
    bool (*event_done)(void *ctx, void *event);
    void (*event_destroy)(void *ctx, void *event);
    /* Optional: frees memory this allocator cannot see by itself, called without its lock when
     * the device is still full after the cache was released (the GPU layer runs the bindings'
     * full Lua garbage collection there: dead tensors waiting for the collector give their
     * blocks back). Returns true when it ran; the allocation is then tried once more. */
    bool (*reclaim)(void *ctx, int device);
    void *ctx;
    const char *what; /* "CUDA" or "pinned host": names the memory in messages */
    bool split;       /* carve blocks out of larger ones (device memory) */
} sb_cache_hooks;

typedef struct sb_cache_stats {
    size_t allocated;     /* bytes in blocks handed out (rounded to SB_CACHE_ROUND) */
    size_t max_allocated; /* peak of `allocated` since creation or the last reset */
    size_t reserved;      /* bytes of raw segments held (allocated + cached) */
    size_t segments;      /* raw segments held */
    size_t raw_allocs;    /* raw allocations made so far (a cache miss each) */
} sb_cache_stats;

typedef struct sb_caching_allocator sb_caching_allocator;

sb_status sb_caching_allocator_new(const sb_cache_hooks *hooks, sb_caching_allocator **out);
/* Releases every segment; blocks still handed out become invalid. */
void sb_caching_allocator_free(sb_caching_allocator *a);

/* `device` in [0, SB_CACHE_MAX_DEVICES); `stream` is an opaque key (blocks freed on one
 * stream are reused only by that stream). nbytes 0 gives a valid, unique 512-byte block. */
sb_status sb_caching_alloc(sb_caching_allocator *a, int device, void *stream, size_t nbytes,
                           void **out);
/* Returns `ptr` to the cache. SB_EINVAL when it was not handed out by this allocator. */
sb_status sb_caching_release(sb_caching_allocator *a, void *ptr);
/* Releases the cached (free, whole) segments of `device`, or of all devices when -1. */
sb_status sb_caching_empty_cache(sb_caching_allocator *a, int device);
/* Stats of `device`, or the sum over devices when -1 (max_allocated: sum of the peaks). */
void sb_caching_stats(sb_caching_allocator *a, int device, sb_cache_stats *out);
/* max_allocated = allocated, for `device` or all when -1. */
void sb_caching_reset_peak(sb_caching_allocator *a, int device);

#endif
