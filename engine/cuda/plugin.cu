// The plugin's entry point and the facts behind `sbengine --version` / `devices`.
// A machine without an NVIDIA driver makes cudaGetDeviceCount fail ("CUDA driver version
// is insufficient for CUDA runtime version"): that means "no GPU", not an error.
#include <stdio.h>
#include <string.h>

#include "cuda/common.h"
#include "cuda/compat.h"
#include "cuda/dnn.h"
#include "cuda/internal.h"
#include "nn/backend.h"
#include "tensor/backend.h"

const sb_cuda_host *sb_cuda_host_services;

// Read by the engine before it calls anything here (engine/gpu/cuda_plugin.c): a plugin built
// from other headers than the engine is refused, naming the table that differs.
SB_CUDA_EXPORT const sb_cuda_tables_abi sb_cuda_plugin_tables = SB_CUDA_TABLES_ABI_INIT;

const char *sb_cuda_source_path(const char *file)
{
    const char *rel = file ? strstr(file, "/engine/") : NULL;
    return rel ? rel + 1 : file;
}

// The kernel queued last by this thread, for errors reported after it (asynchronously).
static thread_local const char *last_kernel;

// Errors after which the CUDA context cannot be used any more: every later call fails too.
static bool is_sticky(cudaError_t err)
{
    switch (err) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
        return true;
    default:
        return false;
    }
}

sb_status sb_cuda_check_status(cudaError_t err, const char *call, const char *file, int line)
{
    if (err == cudaSuccess) return SB_OK;
    cudaGetLastError(); // reported here, not again by the next unrelated launch
    sb_status code = err == cudaErrorMemoryAllocation ? SB_ENOMEM : SB_EDEVICE;
    const char *path = sb_cuda_source_path(file);
    if (is_sticky(err))
        return sb_cuda_fail(code,
                            "%s failed: %s (%s, %s:%d); the last kernel queued was %s; the CUDA "
                            "context is unusable after this error: restart the process",
                            call, cudaGetErrorString(err), cudaGetErrorName(err), path, line,
                            last_kernel ? last_kernel : "none");
    return sb_cuda_fail(code, "%s failed: %s (%s, %s:%d)", call, cudaGetErrorString(err),
                        cudaGetErrorName(err), path, line);
}

sb_status sb_cuda_launch_check(const char *kernel, const char *file, int line)
{
    last_kernel = kernel;
    cudaError_t err = cudaGetLastError(); // also clears a non-sticky launch error
    if (err == cudaSuccess) return SB_OK;
    const char *path = sb_cuda_source_path(file);
    if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidDeviceFunction)
        return sb_cuda_fail(SB_EDEVICE,
                            "launch of %s failed: %s (%s, %s:%d); this sbengine_cuda.so has no "
                            "code for this GPU (sbengine devices, docs/cuda.md)",
                            kernel, cudaGetErrorString(err), cudaGetErrorName(err), path, line);
    return sb_cuda_fail(SB_EDEVICE, "launch of %s failed: %s (%s, %s:%d)%s", kernel,
                        cudaGetErrorString(err), cudaGetErrorName(err), path, line,
                        is_sticky(err) ? "; the CUDA context is unusable after this error: "
                                         "restart the process"
                                       : "");
}

sb_status sb_cublas_check_status(cublasStatus_t st, const char *call, const char *file, int line)
{
    if (st == CUBLAS_STATUS_SUCCESS) return SB_OK;
    sb_status code = st == CUBLAS_STATUS_ALLOC_FAILED ? SB_ENOMEM : SB_EDEVICE;
    return sb_cuda_fail(code, "%s failed: %s (%s:%d)", call, cublasGetStatusString(st),
                        sb_cuda_source_path(file), line);
}

static int runtime_version(void);
static int driver_version(void);

// "550.54.15", or "" when the kernel module does not say (no driver, or not Linux's).
static void installed_driver(char *out, size_t size)
{
    char text[512] = "";
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    sb_cuda_driver_version_text(text, out, size);
}

// Every visible GPU must be one this plugin has code for (cuda/compat.h): otherwise its first
// kernel fails with "no kernel image is available", long after available() said yes.
static bool devices_supported(int count, char *reason, size_t reason_size)
{
    for (int i = 0; i < count; i++) {
        int major = 0, minor = 0;
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, i) != cudaSuccess ||
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, i) != cudaSuccess) {
            cudaGetLastError();
            continue; // cannot tell: the first kernel's own check (sb_cuda_use_device) will
        }
        if (sb_cuda_arch_runs(SB_CUDA_ARCHITECTURES, major, minor)) continue;
        if (reason && reason_size) {
            char name[256] = "";
            cudaDeviceProp prop;
            if (cudaGetDeviceProperties(&prop, i) == cudaSuccess)
                snprintf(name, sizeof name, "%s", prop.name);
            cudaGetLastError();
            char built[256];
            sb_cuda_arch_describe(SB_CUDA_ARCHITECTURES, built, sizeof built);
            snprintf(reason, reason_size,
                     "unsupported GPU: cuda:%d (%s) has compute capability %d.%d, and this "
                     "sbengine_cuda.so carries code for %s only (rebuild with "
                     "-DCMAKE_CUDA_ARCHITECTURES=%d%d, or hide the device with "
                     "CUDA_VISIBLE_DEVICES)",
                     i, name, major, minor, built, major, minor);
        }
        return false;
    }
    return true;
}

static int device_count(char *reason, size_t reason_size)
{
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        cudaGetLastError(); // not sticky: later calls start clean
        if (!reason || !reason_size) return 0;
        if (err == cudaErrorInsufficientDriver && driver_version() > 0) {
            // A driver is there, older than this runtime needs: say which and what is needed,
            // not "no GPU".
            char installed[64];
            installed_driver(installed, sizeof installed);
            sb_cuda_driver_message(reason, reason_size, runtime_version(), driver_version(),
                                   installed);
        } else {
            snprintf(reason, reason_size, "%s (cudaGetDeviceCount: %s)",
                     err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice
                         ? "no usable CUDA driver or device"
                         : "CUDA initialisation failed",
                     cudaGetErrorString(err));
        }
        return 0;
    }
    if (count == 0 && reason && reason_size)
        snprintf(reason, reason_size, "no CUDA device visible");
    if (count > 0 && !devices_supported(count, reason, reason_size)) return 0;
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
    plugin.cudnn_version = sb_dnn_version;
    plugin.device_info = device_info;
    sb_cuda_fill_memory(&plugin);
    plugin.tensor_backend = sb_cuda_tensor_backend(host->device_allocator);
    plugin.nn_backend = sb_cuda_nn_backend();
    return &plugin;
}
