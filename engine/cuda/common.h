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

// Every CUDA runtime status is checked: a failure records "call failed: reason (file:line)",
// with the path relative to the source tree (engine/cuda/memory.cu), and clears the runtime's
// last error, so that the next, unrelated launch does not report it again. An error that leaves
// the context unusable (an illegal address in a kernel: "sticky", reported by whatever call
// comes next) names the kernel queued last on this thread and says to restart the process.
sb_status sb_cuda_check_status(cudaError_t err, const char *call, const char *file, int line);
sb_status sb_cublas_check_status(cublasStatus_t st, const char *call, const char *file, int line);
// After a kernel launch: records `kernel` as the last one queued on this thread and reports a
// launch error (a bad configuration, no code for this GPU) naming it.
sb_status sb_cuda_launch_check(const char *kernel, const char *file, int line);
// "engine/cuda/memory.cu" for the absolute path __FILE__ gives in a CMake build.
const char *sb_cuda_source_path(const char *file);

#define SB_CUDA_CHECK(call) sb_cuda_check_status((call), #call, __FILE__, __LINE__)
#define SB_CUBLAS_CHECK(call) sb_cublas_check_status((call), #call, __FILE__, __LINE__)
#define SB_CUDA_TRY(call) SB_TRY(SB_CUDA_CHECK(call))
#define SB_CUBLAS_TRY(call) SB_TRY(SB_CUBLAS_CHECK(call))
#define SB_CUDA_LAUNCH_CHECK(kernel) sb_cuda_launch_check((kernel), __FILE__, __LINE__)

// Makes `device` current and returns its engine stream (created on first use).
sb_status sb_cuda_use_device(int device, cudaStream_t *stream);
// The cuBLAS handle of `device`, bound to its engine stream (created on first use).
sb_status sb_cuda_cublas(int device, cublasHandle_t *out);

#endif
