// Raw device and pinned memory, events and the engine streams. No caching here: the host's
// caching allocators (engine/gpu/cuda_memory.c over engine/core/caching_allocator.c) call
// these for whole segments.
#include <atomic>
#include <mutex>
#include <new>

#include "cuda/common.h"
#include "cuda/internal.h"

namespace
{
// Created once under devices_mutex, then read without it: the flags are atomic so that a
// thread seeing `ready` (or a handle) also sees what was stored before it (DataLoader
// workers record events on the streams while the main thread launches work).
struct device_state {
    std::atomic<bool> ready;
    cudaStream_t stream;
    std::atomic<cublasHandle_t> cublas;
};
device_state devices[SB_CUDA_MAX_DEVICES];
std::mutex devices_mutex;

sb_status check_ordinal(int device)
{
    if (device < 0 || device >= SB_CUDA_MAX_DEVICES)
        return sb_cuda_fail(SB_EINVAL, "CUDA device ordinal %d is out of range", device);
    return SB_OK;
}

__global__ void probe_kernel() {}

// The check of plugin.cu's device_count by the runtime itself, once per device: whether this
// plugin has code the GPU can run. Catches what the list of architectures cannot (a driver that
// refuses to JIT the PTX), before the first real kernel fails.
sb_status check_kernel_image(int device)
{
    cudaFuncAttributes attr;
    cudaError_t err = cudaFuncGetAttributes(&attr, probe_kernel);
    if (err == cudaSuccess) return SB_OK;
    cudaGetLastError();
    if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidDeviceFunction ||
        err == cudaErrorUnsupportedPtxVersion)
        return sb_cuda_fail(SB_EDEVICE,
                            "cuda:%d cannot run this sbengine_cuda.so's kernels: %s (built for "
                            "%s; rebuild with -DCMAKE_CUDA_ARCHITECTURES set for this GPU)",
                            device, cudaGetErrorString(err), SB_CUDA_ARCHITECTURES);
    return SB_CUDA_CHECK(err);
}
} // namespace

sb_status sb_cuda_use_device(int device, cudaStream_t *stream)
{
    SB_TRY(check_ordinal(device));
    SB_CUDA_TRY(cudaSetDevice(device));
    device_state &d = devices[device];
    if (!d.ready) {
        std::lock_guard<std::mutex> lock(devices_mutex);
        if (!d.ready) {
            SB_TRY(check_kernel_image(device));
            // Non-blocking: the engine never uses the legacy default stream, so nothing
            // (another library's work) serialises against it.
            SB_CUDA_TRY(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking));
            d.ready = true;
        }
    }
    if (stream) *stream = d.stream;
    return SB_OK;
}

// cuBLAS's workspace (PyTorch's default on Hopper), from the host's caching allocator rather
// than cuBLAS's own cudaMalloc: it is counted in the memory statistics and, when the device is
// full, the allocator's garbage collection and retry apply to it too.
static const size_t kCublasWorkspace = (size_t)32 << 20;

// A handle bound to `stream` with its workspace; without holding devices_mutex, because the
// retry after an allocation failure runs the Lua collector, whose finalizers may call back.
static sb_status create_cublas(int device, cudaStream_t stream, cublasHandle_t *out,
                               void **workspace)
{
    cublasHandle_t handle;
    cublasStatus_t created = cublasCreate(&handle);
    if (created ==
        CUBLAS_STATUS_ALLOC_FAILED) { // out of memory: collect, empty the cache, once more
        SB_TRY(sb_cuda_host_services->reclaim(device));
        created = cublasCreate(&handle);
    }
    SB_TRY(sb_cublas_check_status(created, "cublasCreate(&handle)", __FILE__, __LINE__));
    sb_status st = SB_CUBLAS_CHECK(cublasSetStream(handle, stream));
    void *ws = NULL;
    if (st == SB_OK) st = sb_cuda_host_services->device_alloc(device, kCublasWorkspace, &ws);
    if (st == SB_OK) st = SB_CUBLAS_CHECK(cublasSetWorkspace(handle, ws, kCublasWorkspace));
    if (st != SB_OK) {
        if (ws) sb_cuda_host_services->device_free(device, ws);
        cublasDestroy(handle);
        return st;
    }
    *out = handle;
    *workspace = ws;
    return SB_OK;
}

sb_status sb_cuda_cublas(int device, cublasHandle_t *out)
{
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device, &stream));
    device_state &d = devices[device];
    if (!d.cublas) {
        cublasHandle_t handle;
        void *workspace;
        SB_TRY(create_cublas(device, stream, &handle, &workspace));
        std::lock_guard<std::mutex> lock(devices_mutex);
        if (!d.cublas) {
            d.cublas = handle; // kept, with its workspace, for the life of the process
        } else {               // another thread was first
            cublasDestroy(handle);
            sb_cuda_host_services->device_free(device, workspace);
        }
    }
    *out = d.cublas.load();
    return SB_OK;
}

static sb_status device_malloc(int device, size_t nbytes, void **out)
{
    SB_TRY(sb_cuda_use_device(device, NULL));
    cudaError_t err = cudaMalloc(out, nbytes);
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError(); // out of memory is not sticky; the caller may free and retry
        return sb_cuda_fail(SB_ENOMEM, "cudaMalloc of %zu bytes on cuda:%d failed: out of memory",
                            nbytes, device);
    }
    return SB_CUDA_CHECK(err);
}

static sb_status device_free(int device, void *ptr)
{
    SB_TRY(sb_cuda_use_device(device, NULL));
    return SB_CUDA_CHECK(cudaFree(ptr));
}

static sb_status mem_get_info(int device, size_t *free_bytes, size_t *total_bytes)
{
    SB_TRY(sb_cuda_use_device(device, NULL));
    return SB_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
}

static sb_status host_alloc(size_t nbytes, void **out)
{
    // Portable: usable for copies to any device, not just the current one.
    return SB_CUDA_CHECK(cudaHostAlloc(out, nbytes, cudaHostAllocPortable));
}

static sb_status host_free(void *ptr)
{
    return SB_CUDA_CHECK(cudaFreeHost(ptr));
}

// An event per device whose engine stream has been used: a pinned buffer may feed copies
// to any of them.
struct multi_event {
    int n;
    cudaEvent_t events[SB_CUDA_MAX_DEVICES];
};

static void multi_event_destroy(multi_event *m)
{
    for (int i = 0; i < m->n; i++)
        cudaEventDestroy(m->events[i]);
    delete m;
}

static sb_status record_on(int device, multi_event *m)
{
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device, &stream));
    cudaEvent_t event;
    SB_CUDA_TRY(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    m->events[m->n++] = event;
    return SB_CUDA_CHECK(cudaEventRecord(event, stream));
}

static sb_status event_record(int device, void **out)
{
    multi_event *m = new (std::nothrow) multi_event();
    if (!m) return sb_cuda_fail(SB_ENOMEM, "event_record: out of host memory");
    sb_status st = SB_OK;
    for (int d = 0; d < SB_CUDA_MAX_DEVICES && st == SB_OK; d++)
        if (d == device || (device < 0 && devices[d].ready)) st = record_on(d, m);
    if (st != SB_OK) {
        multi_event_destroy(m);
        return st;
    }
    *out = m;
    return SB_OK;
}

static int event_done(void *event)
{
    multi_event *m = (multi_event *)event;
    for (int i = 0; i < m->n; i++) {
        cudaError_t err = cudaEventQuery(m->events[i]);
        if (err == cudaErrorNotReady) return 0;
        if (err != cudaSuccess) {
            cudaGetLastError();
            cudaEventSynchronize(m->events[i]);
        }
    }
    return 1;
}

static void event_destroy(void *event)
{
    multi_event_destroy((multi_event *)event);
}

static void *engine_stream(int device)
{
    cudaStream_t stream = NULL;
    if (sb_cuda_use_device(device, &stream) != SB_OK) return NULL;
    return stream;
}

static sb_status synchronize(int device)
{
    if (device >= 0) {
        cudaStream_t stream;
        SB_TRY(sb_cuda_use_device(device, &stream));
        return SB_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    for (int d = 0; d < SB_CUDA_MAX_DEVICES; d++)
        if (devices[d].ready) {
            SB_CUDA_TRY(cudaSetDevice(d));
            SB_CUDA_TRY(cudaStreamSynchronize(devices[d].stream));
        }
    return SB_OK;
}

void sb_cuda_fill_memory(sb_cuda_plugin *plugin)
{
    plugin->device_malloc = device_malloc;
    plugin->device_free = device_free;
    plugin->mem_get_info = mem_get_info;
    plugin->host_alloc = host_alloc;
    plugin->host_free = host_free;
    plugin->event_record = event_record;
    plugin->event_done = event_done;
    plugin->event_destroy = event_destroy;
    plugin->stream = engine_stream;
    plugin->synchronize = synchronize;
}
