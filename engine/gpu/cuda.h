/* The GPU host layer: the CUDA plugin as the engine sees it, loaded on first need, "no GPU"
 * otherwise. It sits above the tensor and nn cores (it registers the plugin's kernel tables
 * with them) and below the bindings and the DataLoader (pinned memory).
 *
 * Nothing CUDA is loaded at process start. The bindings install this layer's loader in the
 * tensor backend registry (sb_cuda_register_loader, tensor/backend.h's
 * sb_backend_set_loader); the first call that needs CUDA (the facts below, a tensor moved to
 * "cuda", sb.cuda.*) dlopen()s sbengine_cuda.so, found
 *   1. at $SBENGINE_CUDA_PLUGIN (a path) when set,
 *   2. next to the library holding this code: <dir>/sbengine/ (build tree: build/lib;
 *      installed Lua module: <libdir>/lua/5.4/../../sbengine/),
 *   3. next to the executable: <exe dir>/lib/sbengine/ (build tree) or
 *      <exe dir>/../<libdir>/sbengine/ (installed).
 * A missing or unloadable plugin, one built from other headers than this engine (every table
 * the two exchange is checked before the plugin is called, cuda/plugin.h), no driver or no
 * device all mean "no GPU"; the reason is kept for the error message ("CUDA is not available:
 * <reason>"). Asking whether a GPU is there checks first that the plugin file exists and that
 * the NVIDIA driver library (libcuda.so.1) loads, so a machine without a driver never loads
 * the plugin (cuBLAS: ~0.3 s, ~200 MB) just to learn there is no GPU. */
#ifndef SB_GPU_CUDA_H
#define SB_GPU_CUDA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/allocator.h"
#include "core/error.h"

/* Installs the CUDA loader with the tensor backend registry: the first CUDA tensor request
 * then loads the plugin and registers its tensor and nn kernel tables. Loads nothing itself;
 * idempotent. Called when the bindings open (sbengine.core). */
void sb_cuda_register_loader(void);

/* Loads the plugin on first call (even without a driver: the versions of `sbengine
 * --version` come from it); false when it cannot be loaded (the reason is in
 * sb_cuda_plugin_error()). A loaded plugin may still see no device. */
bool sb_cuda_plugin_loaded(void);
/* Why sb_cuda_plugin_loaded() is false ("" when it is true); loads the plugin. */
const char *sb_cuda_plugin_error(void);

/* True when the plugin is loaded and at least one device is visible. */
bool sb_cuda_available(void);
/* Why sb_cuda_available() is false ("" when it is true). */
const char *sb_cuda_unavailable_reason(void);

/* SB_OK when cuda:`device` exists, else fails with SB_EDEVICE and
 * "CUDA is not available: <reason>" or "cuda:3 does not exist (2 CUDA devices visible)". */
sb_status sb_cuda_require(int device);

/* Waits for the engine's work on `device` (-1: all devices). No-op without CUDA. */
sb_status sb_cuda_synchronize(int device);

/* --- facts ------------------------------------------------------------------------------ */

/* All report "no GPU" (count 0) on a build without CUDA, without the plugin or on a machine
 * without a usable driver (sb_cuda_unavailable_reason() says why). Versions are 0 when
 * unknown. The first call loads the CUDA plugin (~80 ms): only ask when needed. Whether the
 * build has CUDA at all is core/buildinfo.h's sb_built_with_cuda(). */
int sb_cuda_device_count(void);
int sb_cuda_runtime_version(void); /* e.g. 13000 */
int sb_cuda_driver_version(void);  /* 0 when no driver */
int sb_cublas_version(void);       /* e.g. 130100 */
/* The cuDNN the plugin uses for convolutions and pooling: its version (91900 for 9.19.0),
 * or 0 with the reason in sb_cudnn_unused_reason() (no plugin, libcudnn.so.9 not found,
 * SBENGINE_CUDNN=0, a build without cudnn.h); the plugin's own kernels run then. The first
 * call loads the plugin and cuDNN's small front library (no GPU needed). */
int sb_cudnn_version(void);
const char *sb_cudnn_version_text(void);  /* "9.19.0"; "" when cuDNN is not used */
const char *sb_cudnn_unused_reason(void); /* "" when cuDNN is in use */
/* Name and total memory of device `index`; false when it does not exist. */
bool sb_cuda_device_info(int index, char *name, size_t name_size, size_t *total_memory);

/* --- memory (engine/gpu/cuda_memory.c) ------------------------------------------------- */

/* CUDA device memory from the caching allocator (core/caching_allocator.h), on the engine
 * stream of the device. Allocating fails with "CUDA is not available: <reason>" when
 * there is no GPU, and with the out-of-memory explanation when the device is full. */
const sb_allocator *sb_cuda_device_allocator(void);
/* Page-locked host memory (cached too), for fast asynchronous copies to the GPU; a block
 * is reused only after the copies queued from it have completed. NULL when CUDA is not
 * available: callers (the DataLoader's pin_memory) then use sb_cpu_allocator(). */
const sb_allocator *sb_cuda_pinned_allocator(void);

typedef struct sb_cuda_memory_stats {
    size_t allocated;     /* bytes of CUDA tensors (and scratch) alive now */
    size_t max_allocated; /* peak of allocated since start or sb_cuda_reset_peak() */
    size_t reserved;      /* bytes held from the device: allocated + cached */
} sb_cuda_memory_stats;

/* Bytes of CUDA tensor storage alive now, over all devices. Never loads the plugin (0 when
 * nothing was allocated): the Lua binding polls it to collect garbage tensors, whose
 * device memory Lua's collector cannot see. */
size_t sb_cuda_storage_bytes(void);

/* Stats of cuda:`device`, or summed over devices when device < 0. All zero without CUDA
 * (nothing was allocated). */
void sb_cuda_memory_stats_get(int device, sb_cuda_memory_stats *out);
/* Out of device memory, after the cache was given back: the caching allocator calls
 * `collect(ctx)` (the bindings: a full Lua garbage collection, so tensors that are dead but not
 * yet collected give their memory back) and tries once more before failing with its
 * statistics. The hook runs only on the thread that installed it (the Lua state's); NULL
 * removes it. */
void sb_cuda_set_collect_hook(void (*collect)(void *ctx), void *ctx);
/* What an out-of-memory cuBLAS/cuDNN call does before its one retry: the collect hook (on its
 * thread), then sb_cuda_empty_cache(). */
sb_status sb_cuda_reclaim(int device);
/* Gives cached, unused device and pinned memory back to the driver. */
sb_status sb_cuda_empty_cache(void);
/* max_allocated = allocated (device < 0: every device). */
void sb_cuda_reset_peak(int device);

/* float32 GEMMs and convolutions use exact fp32 unless TF32 is allowed (PyTorch's
 * torch.backends.cuda.matmul.allow_tf32). Off by default. */
void sb_cuda_set_allow_tf32(bool allow);
bool sb_cuda_tf32_allowed(void);

#endif
