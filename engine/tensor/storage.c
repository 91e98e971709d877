/* Refcounted storage and the CPU allocator with its byte counters. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "tensor/backend.h"
#include "tensor/tensor.h"

/* ---- CPU allocator ------------------------------------------------------------------- */

/* Process-wide on purpose: every Lua state and worker thread allocates from the same
 * heap, and the GC pressure and "Max Memory Allocated" figures are about that heap. */
static atomic_size_t cpu_allocated;
static atomic_size_t cpu_peak;

/* Large blocks are kept for reuse after they are freed. An evaluation loop allocates the
 * same shapes every batch, and a fresh multi-megabyte block from the kernel costs a page
 * fault (and a zero fill) per 4 KiB on first touch, which halves the speed of
 * elementwise ops on large tensors. Blocks are matched by their rounded size; the cache
 * holds at most CACHE_BYTES and CACHE_SLOTS blocks, and sb_cpu_empty_cache() returns it. */
#define CACHE_MIN_BYTES ((size_t)1 << 20)
#define CACHE_ROUND ((size_t)1 << 16)
#define CACHE_BYTES ((size_t)512 << 20)
#define CACHE_SLOTS 32

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *ptr;
    size_t size;
} cache[CACHE_SLOTS];
static int cache_count;
static size_t cache_bytes;

static size_t block_size(size_t nbytes)
{
    if (nbytes < CACHE_MIN_BYTES) return nbytes ? nbytes : 1;
    return (nbytes + CACHE_ROUND - 1) / CACHE_ROUND * CACHE_ROUND;
}

static void *cache_take(size_t size)
{
    void *ptr = NULL;
    pthread_mutex_lock(&cache_lock);
    for (int i = cache_count - 1; i >= 0; i--) {
        if (cache[i].size != size) continue;
        ptr = cache[i].ptr;
        cache_bytes -= size;
        cache[i] = cache[--cache_count];
        break;
    }
    pthread_mutex_unlock(&cache_lock);
    return ptr;
}

/* Keeps the block when there is room; true when it did. */
static bool cache_put(void *ptr, size_t size)
{
    bool kept = false;
    pthread_mutex_lock(&cache_lock);
    if (cache_count < CACHE_SLOTS && cache_bytes + size <= CACHE_BYTES) {
        cache[cache_count].ptr = ptr;
        cache[cache_count].size = size;
        cache_count++;
        cache_bytes += size;
        kept = true;
    }
    pthread_mutex_unlock(&cache_lock);
    return kept;
}

void sb_cpu_empty_cache(void)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < cache_count; i++)
        free(cache[i].ptr);
    cache_count = 0;
    cache_bytes = 0;
    pthread_mutex_unlock(&cache_lock);
}

/* When sbengine.so is unloaded (Lua's lua_close dlclose()s C modules) the cache's array goes
 * with it: free the blocks it holds first, or they would be lost (a leak LeakSanitizer sees
 * in every Lua spec that freed a large tensor). */
__attribute__((destructor)) static void free_cache_at_unload(void)
{
    sb_cpu_empty_cache();
}

size_t sb_cpu_memory_cached(void)
{
    pthread_mutex_lock(&cache_lock);
    size_t n = cache_bytes;
    pthread_mutex_unlock(&cache_lock);
    return n;
}

static void *cpu_alloc(void *ctx, size_t nbytes, sb_device device)
{
    (void)ctx;
    (void)device;
    size_t size = block_size(nbytes);
    void *ptr = size >= CACHE_MIN_BYTES ? cache_take(size) : NULL;
    /* 64 bytes: a cache line and an AVX-512 vector, so kernels and BLAS get aligned rows. */
    if (!ptr && posix_memalign(&ptr, 64, size) != 0) {
        /* the cache may be what is in the way */
        sb_cpu_empty_cache();
        if (posix_memalign(&ptr, 64, size) != 0) {
            char human[32];
            sb_format_bytes_prec(nbytes, 1, human, sizeof human);
            sb_fail(SB_ENOMEM, "out of memory: cannot allocate %s (%zu bytes) on the CPU", human,
                    nbytes);
            return NULL;
        }
    }
    size_t now = atomic_fetch_add(&cpu_allocated, nbytes) + nbytes;
    size_t peak = atomic_load(&cpu_peak);
    while (now > peak && !atomic_compare_exchange_weak(&cpu_peak, &peak, now)) {
    }
    return ptr;
}

static void cpu_free(void *ctx, void *ptr, size_t nbytes, sb_device device)
{
    (void)ctx;
    (void)device;
    atomic_fetch_sub(&cpu_allocated, nbytes);
    size_t size = block_size(nbytes);
    if (size >= CACHE_MIN_BYTES && cache_put(ptr, size)) return;
    free(ptr);
}

static const sb_allocator cpu_allocator = {"cpu", cpu_alloc, cpu_free, NULL};

const sb_allocator *sb_cpu_allocator(void)
{
    return &cpu_allocator;
}

size_t sb_cpu_memory_allocated(void)
{
    return atomic_load(&cpu_allocated);
}

size_t sb_cpu_memory_peak(void)
{
    return atomic_load(&cpu_peak);
}

void sb_cpu_memory_reset_peak(void)
{
    atomic_store(&cpu_peak, atomic_load(&cpu_allocated));
}

/* ---- storage ------------------------------------------------------------------------ */

/* A storage header with one reference; the bytes are owned by `allocator` or by `release`. */
static sb_status storage_header(void *data, size_t nbytes, sb_device device,
                                const sb_allocator *allocator,
                                void (*release)(void *release_ctx, void *data, size_t nbytes),
                                void *release_ctx, sb_storage **out)
{
    sb_storage *s = malloc(sizeof *s);
    if (!s) return sb_fail(SB_ENOMEM, "out of memory allocating a storage header");
    static uint64_t next_id;
    *s = (sb_storage){.id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED),
                      .refcount = 1,
                      .data = data,
                      .nbytes = nbytes,
                      .device = device,
                      .allocator = allocator,
                      .release = release,
                      .release_ctx = release_ctx};
    *out = s;
    return SB_OK;
}

sb_status sb_storage_new(size_t nbytes, sb_device device, const sb_allocator *allocator,
                         sb_storage **out)
{
    if (nbytes > (size_t)PTRDIFF_MAX)
        return sb_fail(SB_ERANGE, "storage of %zu bytes is larger than the address space", nbytes);
    if (!allocator) {
        const sb_backend *backend = NULL;
        SB_TRY(sb_backend_for(device, &backend));
        allocator = backend->allocator;
    }
    void *data = allocator->alloc(allocator->ctx, nbytes, device);
    if (!data) return SB_ENOMEM; /* the allocator recorded the message */
    sb_status st = storage_header(data, nbytes, device, allocator, NULL, NULL, out);
    if (st != SB_OK) allocator->free(allocator->ctx, data, nbytes, device);
    return st;
}

sb_status sb_storage_wrap(void *data, size_t nbytes, sb_device device,
                          void (*release)(void *release_ctx, void *data, size_t nbytes),
                          void *release_ctx, sb_storage **out)
{
    return storage_header(data, nbytes, device, NULL, release, release_ctx, out);
}

/* The field is a plain int so that C++ (the CUDA plugin) can include tensor.h; the GCC
 * __atomic builtins give it the same semantics as C11 atomic_int. Retain is relaxed (a
 * new reference is made from an existing one); release is acq_rel so the thread that
 * frees sees every write made through other references. */
void sb_storage_retain(sb_storage *storage)
{
    if (storage) __atomic_fetch_add(&storage->refcount, 1, __ATOMIC_RELAXED);
}

void sb_storage_release(sb_storage *storage)
{
    if (!storage) return;
    if (__atomic_sub_fetch(&storage->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (storage->allocator)
        storage->allocator->free(storage->allocator->ctx, storage->data, storage->nbytes,
                                 storage->device);
    else if (storage->release)
        storage->release(storage->release_ctx, storage->data, storage->nbytes);
    free(storage);
}
