// Internal to the CUDA plugin: the host's error channel, status checks, the engine
// streams and the cuBLAS handles.
#ifndef SB_CUDA_COMMON_H
#define SB_CUDA_COMMON_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "cuda/plugin.h"

#define SB_CUDA_EXPORT extern "C" __attribute__((visibility("default")))
#define SB_CUDA_MAX_DEVICES 64

// Set once by sb_cuda_plugin_open before anything else runs.
extern const sb_cuda_host *sb_cuda_host_services;

#define sb_cuda_fail(...) (sb_cuda_host_services->fail(__VA_ARGS__))

// Every CUDA runtime status is checked: a failure records "call failed: reason (file:line)".
sb_status sb_cuda_check_status(cudaError_t err, const char *call, const char *file, int line);
sb_status sb_cublas_check_status(cublasStatus_t st, const char *call, const char *file, int line);

#define SB_CUDA_CHECK(call) sb_cuda_check_status((call), #call, __FILE__, __LINE__)
#define SB_CUBLAS_CHECK(call) sb_cublas_check_status((call), #call, __FILE__, __LINE__)
#define SB_CUDA_TRY(call) SB_TRY(SB_CUDA_CHECK(call))
#define SB_CUBLAS_TRY(call) SB_TRY(SB_CUBLAS_CHECK(call))
// After a kernel launch: launch errors (bad configuration) surface here.
#define SB_CUDA_LAUNCH_CHECK() SB_CUDA_CHECK(cudaGetLastError())

// Makes `device` current and returns its engine stream (created on first use).
sb_status sb_cuda_use_device(int device, cudaStream_t *stream);
// The cuBLAS handle of `device`, bound to its engine stream (created on first use).
sb_status sb_cuda_cublas(int device, cublasHandle_t *out);

#endif
