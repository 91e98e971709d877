/* CUDA device and pinned host memory: the caching allocators of caching_allocator.h over
 * the CUDA plugin's raw cudaMalloc/cudaHostAlloc, as sb_allocator vtables for storages,
 * plus the statistics behind sb.cuda.memory_stats(). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/caching_allocator.h"
#include "gpu/cuda.h"
#include "gpu/cuda_plugin.h"

static pthread_once_t create_once = PTHREAD_ONCE_INIT;
static sb_caching_allocator *device_cache, *pinned_cache;
static sb_status create_status = SB_OK;
static char create_message[512];
static atomic_bool allow_tf32;
static atomic_size_t storage_bytes; /* CUDA storages alive (not scratch), for the Lua GC */

/* The bindings' collector (sb_cuda_set_collect_hook): the Lua state it collects belongs to one
 * thread, so it runs only there (a DataLoader worker out of pinned memory just fails). */
static pthread_mutex_t hook_mutex = PTHREAD_MUTEX_INITIALIZER;
static void (*collect_hook)(void *ctx);
static void *collect_ctx;
static pthread_t collect_thread;
static _Thread_local bool collecting; /* a finalizer that allocates must not collect again */

void sb_cuda_set_collect_hook(void (*collect)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&hook_mutex);
    collect_hook = collect;
    collect_ctx = ctx;
    collect_thread = pthread_self();
    pthread_mutex_unlock(&hook_mutex);
}

/* The caching allocator's reclaim hook: a full collection, on the hook's own thread only. */
static bool collect_garbage(void *ctx, int device)
{
    (void)ctx, (void)device;
    pthread_mutex_lock(&hook_mutex);
    void (*collect)(void *) = collect_hook;
    void *cctx = collect_ctx;
    bool mine = collect && pthread_equal(collect_thread, pthread_self());
    pthread_mutex_unlock(&hook_mutex);
    if (!mine || collecting) return false;
    collecting = true;
    collect(cctx);
    collecting = false;
    /* Blocks the finalizers freed may still be read by queued kernels: they go back to the
     * cache, which only reuses them on the same stream, in order. */
    return true;
}

sb_status sb_cuda_reclaim(int device)
{
    (void)device;
    collect_garbage(NULL, device);
    return sb_cuda_empty_cache();
}

void sb_cuda_set_allow_tf32(bool allow)
{
    atomic_store(&allow_tf32, allow);
}

bool sb_cuda_tf32_allowed(void)
{
    return atomic_load(&allow_tf32);
}

/* --- hooks over the plugin -------------------------------------------------------------- */

static sb_status raw_device_alloc(void *ctx, int device, size_t nbytes, void **out)
{
    (void)ctx;
    return sb_cuda_plugin_get()->device_malloc(device, nbytes, out);
}

static sb_status raw_device_free(void *ctx, int device, void *ptr)
{
    (void)ctx;
    return sb_cuda_plugin_get()->device_free(device, ptr);
}

static sb_status device_mem_info(void *ctx, int device, size_t *free_bytes, size_t *total)
{
    (void)ctx;
    return sb_cuda_plugin_get()->mem_get_info(device, free_bytes, total);
}

static sb_status raw_host_alloc(void *ctx, int device, size_t nbytes, void **out)
{
    (void)ctx, (void)device;
    return sb_cuda_plugin_get()->host_alloc(nbytes, out);
}

static sb_status raw_host_free(void *ctx, int device, void *ptr)
{
    (void)ctx, (void)device;
    return sb_cuda_plugin_get()->host_free(ptr);
}

static sb_status host_event_record(void *ctx, void **event)
{
    (void)ctx;
    return sb_cuda_plugin_get()->event_record(-1, event);
}

static bool host_event_done(void *ctx, void *event)
{
    (void)ctx;
    return sb_cuda_plugin_get()->event_done(event) != 0;
}

static void host_event_destroy(void *ctx, void *event)
{
    (void)ctx;
    sb_cuda_plugin_get()->event_destroy(event);
}

static void create_caches(void)
{
    sb_cache_hooks device_hooks = {.raw_alloc = raw_device_alloc,
                                   .raw_free = raw_device_free,
                                   .mem_info = device_mem_info,
                                   .reclaim = collect_garbage,
                                   .what = "CUDA",
                                   .split = true};
    sb_cache_hooks pinned_hooks = {.raw_alloc = raw_host_alloc,
                                   .raw_free = raw_host_free,
                                   .event_record = host_event_record,
                                   .event_done = host_event_done,
                                   .event_destroy = host_event_destroy,
                                   .reclaim = collect_garbage,
                                   .what = "pinned host"};
    create_status = sb_caching_allocator_new(&device_hooks, &device_cache);
    if (create_status == SB_OK)
        create_status = sb_caching_allocator_new(&pinned_hooks, &pinned_cache);
    if (create_status != SB_OK)
        snprintf(create_message, sizeof create_message, "%s", sb_error_message());
}

/* The caches exist once a device is visible; fails like sb_cuda_require otherwise. */
static sb_status caches_ready(int device)
{
    SB_TRY(sb_cuda_require(device));
    pthread_once(&create_once, create_caches);
    if (create_status != SB_OK) return sb_fail(create_status, "%s", create_message);
    return SB_OK;
}

static bool caches_exist(void)
{
    if (!sb_cuda_available()) return false;
    pthread_once(&create_once, create_caches);
    return create_status == SB_OK;
}

/* --- allocators ------------------------------------------------------------------------- */

static void *device_alloc(void *ctx, size_t nbytes, sb_device device)
{
    (void)ctx;
    if (device.kind != SB_DEVICE_CUDA) {
        sb_fail(SB_EINVAL, "the CUDA allocator cannot allocate on the CPU");
        return NULL;
    }
    void *ptr = NULL;
    if (sb_cuda_scratch_alloc(device.index, nbytes, &ptr) != SB_OK) return NULL;
    atomic_fetch_add(&storage_bytes, nbytes);
    return ptr;
}

static void device_free(void *ctx, void *ptr, size_t nbytes, sb_device device)
{
    (void)ctx;
    if (!ptr) return;
    atomic_fetch_sub(&storage_bytes, nbytes);
    sb_cuda_scratch_free(device.index, ptr);
}

size_t sb_cuda_storage_bytes(void)
{
    return atomic_load(&storage_bytes);
}

sb_status sb_cuda_scratch_alloc(int device, size_t nbytes, void **out)
{
    SB_TRY(caches_ready(device));
    void *stream = sb_cuda_plugin_get()->stream(device);
    if (!stream) return SB_EDEVICE; /* the plugin recorded why */
    return sb_caching_alloc(device_cache, device, stream, nbytes, out);
}

void sb_cuda_scratch_free(int device, void *ptr)
{
    (void)device;
    if (ptr && device_cache) sb_caching_release(device_cache, ptr);
}

static void *pinned_alloc(void *ctx, size_t nbytes, sb_device device)
{
    (void)ctx, (void)device;
    void *ptr = NULL;
    if (caches_ready(0) != SB_OK) return NULL;
    if (sb_caching_alloc(pinned_cache, 0, NULL, nbytes, &ptr) != SB_OK) return NULL;
    return ptr;
}

static void pinned_free(void *ctx, void *ptr, size_t nbytes, sb_device device)
{
    (void)ctx, (void)nbytes, (void)device;
    if (ptr && pinned_cache) sb_caching_release(pinned_cache, ptr);
}

static const sb_allocator cuda_device_allocator = {
    .name = "cuda", .alloc = device_alloc, .free = device_free};
static const sb_allocator cuda_pinned_allocator = {
    .name = "cuda-pinned", .alloc = pinned_alloc, .free = pinned_free};

const sb_allocator *sb_cuda_device_allocator(void)
{
    return &cuda_device_allocator;
}

const sb_allocator *sb_cuda_pinned_allocator(void)
{
    return sb_cuda_available() ? &cuda_pinned_allocator : NULL;
}

/* --- statistics ------------------------------------------------------------------------- */

void sb_cuda_memory_stats_get(int device, sb_cuda_memory_stats *out)
{
    *out = (sb_cuda_memory_stats){0};
    if (!caches_exist()) return;
    sb_cache_stats s;
    sb_caching_stats(device_cache, device, &s);
    out->allocated = s.allocated;
    out->max_allocated = s.max_allocated;
    out->reserved = s.reserved;
}

sb_status sb_cuda_empty_cache(void)
{
    if (!caches_exist()) return SB_OK;
    /* Blocks freed by queued work must not go back while kernels may still use them. */
    SB_TRY(sb_cuda_synchronize(-1));
    SB_TRY(sb_caching_empty_cache(device_cache, -1));
    return sb_caching_empty_cache(pinned_cache, -1);
}

void sb_cuda_reset_peak(int device)
{
    if (caches_exist()) sb_caching_reset_peak(device_cache, device);
}
