// The plugin's entry point and the facts behind `sbengine --version` / `devices`.
// A machine without an NVIDIA driver makes cudaGetDeviceCount fail ("CUDA driver version
// is insufficient for CUDA runtime version"): that means "no GPU", not an error.
#include <stdio.h>
#include <string.h>

#include "cuda/common.h"
#include "cuda/internal.h"
#include "nn/backend.h"
#include "tensor/backend.h"

const sb_cuda_host *sb_cuda_host_services;

// Read by the engine before it calls anything here (engine/gpu/cuda_plugin.c): a plugin built
// from other headers than the engine is refused, naming the table that differs.
SB_CUDA_EXPORT const sb_cuda_tables_abi sb_cuda_plugin_tables = SB_CUDA_TABLES_ABI_INIT;

sb_status sb_cuda_check_status(cudaError_t err, const char *call, const char *file, int line)
{
    if (err == cudaSuccess) return SB_OK;
    sb_status code = err == cudaErrorMemoryAllocation ? SB_ENOMEM : SB_EDEVICE;
    return sb_cuda_fail(code, "%s failed: %s (%s, %s:%d)", call, cudaGetErrorString(err),
                        cudaGetErrorName(err), file, line);
}

sb_status sb_cublas_check_status(cublasStatus_t st, const char *call, const char *file, int line)
{
    if (st == CUBLAS_STATUS_SUCCESS) return SB_OK;
    sb_status code = st == CUBLAS_STATUS_ALLOC_FAILED ? SB_ENOMEM : SB_EDEVICE;
    return sb_cuda_fail(code, "%s failed: %s (%s:%d)", call, cublasGetStatusString(st), file, line);
}

static int device_count(char *reason, size_t reason_size)
{
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        cudaGetLastError(); // not sticky: later calls start clean
        if (reason && reason_size)
            snprintf(reason, reason_size, "%s (cudaGetDeviceCount: %s)",
                     err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice
                         ? "no usable CUDA driver or device"
                         : "CUDA initialisation failed",
                     cudaGetErrorString(err));
        return 0;
    }
    if (count == 0 && reason && reason_size)
        snprintf(reason, reason_size, "no CUDA device visible");
    return count;
}

static int runtime_version(void)
{
    int version = 0;
    if (cudaRuntimeGetVersion(&version) != cudaSuccess) return 0;
    return version;
}

static int driver_version(void)
{
    int version = 0;
    if (cudaDriverGetVersion(&version) != cudaSuccess) return 0;
    return version;
}

static int cublas_version(void)
{
    // cublasGetProperty needs no handle (and so no device).
    int major = 0, minor = 0, patch = 0;
    if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS) return 0;
    cublasGetProperty(MINOR_VERSION, &minor);
    cublasGetProperty(PATCH_LEVEL, &patch);
    return major * 10000 + minor * 100 + patch;
}

static bool device_info(int index, char *name, size_t name_size, size_t *total_memory)
{
    if (index < 0 || index >= device_count(NULL, 0)) return false;
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) return false;
    if (name && name_size > 0) {
        strncpy(name, prop.name, name_size - 1);
        name[name_size - 1] = '\0';
    }
    if (total_memory) *total_memory = prop.totalGlobalMem;
    return true;
}

SB_CUDA_EXPORT const sb_cuda_plugin *sb_cuda_plugin_open(const sb_cuda_host *host)
{
    static sb_cuda_plugin plugin;
    if (!host || host->abi != SB_CUDA_PLUGIN_ABI || host->size != sizeof(sb_cuda_host)) return NULL;
    sb_cuda_host_services = host;
    plugin.abi = SB_CUDA_PLUGIN_ABI;
    plugin.size = sizeof plugin;
    plugin.device_count = device_count;
    plugin.runtime_version = runtime_version;
    plugin.driver_version = driver_version;
    plugin.cublas_version = cublas_version;
    plugin.device_info = device_info;
    sb_cuda_fill_memory(&plugin);
    plugin.tensor_backend = sb_cuda_tensor_backend(host->device_allocator);
    plugin.nn_backend = sb_cuda_nn_backend();
    return &plugin;
}
