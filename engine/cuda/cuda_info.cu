// CUDA facts for `sbengine --version` / `sbengine devices`. A machine without an NVIDIA
// driver makes cudaGetDeviceCount fail ("driver version is insufficient"): that means
// "no GPU", not an error.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <string.h>

extern "C" {
#include "core/buildinfo.h"
}

extern "C" bool sb_built_with_cuda(void) { return true; }

extern "C" int sb_cuda_device_count(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky-free error so later calls start clean
        return 0;
    }
    return count;
}

extern "C" int sb_cuda_runtime_version(void)
{
    int version = 0;
    if (cudaRuntimeGetVersion(&version) != cudaSuccess) return 0;
    return version;
}

extern "C" int sb_cuda_driver_version(void)
{
    int version = 0;
    if (cudaDriverGetVersion(&version) != cudaSuccess) return 0;
    return version;
}

extern "C" int sb_cublas_version(void)
{
    // cublasGetProperty needs no handle (and so no device).
    int major = 0, minor = 0, patch = 0;
    if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS) return 0;
    cublasGetProperty(MINOR_VERSION, &minor);
    cublasGetProperty(PATCH_LEVEL, &patch);
    return major * 10000 + minor * 100 + patch;
}

extern "C" bool sb_cuda_device_info(int index, char *name, size_t name_size,
                                    size_t *total_memory)
{
    if (index < 0 || index >= sb_cuda_device_count()) return false;
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) return false;
    if (name && name_size > 0) {
        strncpy(name, prop.name, name_size - 1);
        name[name_size - 1] = '\0';
    }
    if (total_memory) *total_memory = prop.totalGlobalMem;
    return true;
}
