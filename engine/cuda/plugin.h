/* The ABI between the engine and the CUDA plugin (sbengine_cuda.so).
 *
 * Linking libcudart/libcublas into every binary costs ~85 ms at process start (the
 * dynamic loader maps and relocates ~700 MB of cuBLAS), so the CUDA code lives in a
 * plugin that the GPU host layer (engine/gpu/cuda_plugin.c) dlopen()s on first need. The
 * plugin exports two C symbols: SB_CUDA_PLUGIN_TABLES, the size and fingerprint of every
 * table the two sides exchange, which the host compares with its own BEFORE calling
 * anything (a stale plugin is refused with the name of the table that differs), and
 * SB_CUDA_PLUGIN_ENTRY, which receives the host's services (the error channel lives in the
 * engine: the plugin must record messages there, not in a copy of its own) and returns the
 * plugin's table of functions, whose kernel tables the host registers with the tensor and
 * nn backends.
 *
 * Plain C, no CUDA types: included by the host (C) and the plugin (CUDA C++). Bump
 * SB_CUDA_PLUGIN_ABI whenever the handshake changes; the table fingerprints follow the
 * headers by themselves (cmake/plugin_abi.cmake). */
#ifndef SB_CUDA_PLUGIN_H
#define SB_CUDA_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/allocator.h"
#include "core/error.h"
#include "cuda/plugin_abi.h" /* generated: SB_CUDA_FINGERPRINT_* */

#ifdef __cplusplus
extern "C" {
#endif

#define SB_CUDA_PLUGIN_ABI 5
#define SB_CUDA_PLUGIN_ENTRY "sb_cuda_plugin_open"
#define SB_CUDA_PLUGIN_TABLES "sb_cuda_plugin_tables"
#define SB_CUDA_PLUGIN_FILE "sbengine_cuda.so"

/* --- the tables' descriptor: its layout never changes, so any plugin can be checked --- */

typedef enum sb_cuda_table_id {
    SB_CUDA_TABLE_HOST = 0, /* struct sb_cuda_host (below): the engine's services */
    SB_CUDA_TABLE_PLUGIN,   /* struct sb_cuda_plugin (below): the plugin's functions */
    SB_CUDA_TABLE_TENSOR,   /* struct sb_backend (engine/tensor/backend.h): tensor kernels */
    SB_CUDA_TABLE_NN,       /* struct sb_nn_backend (engine/nn/backend.h): nn kernels */
    SB_CUDA_TABLE_COUNT
} sb_cuda_table_id;

typedef struct sb_cuda_table_abi {
    uint64_t size;        /* sizeof the table as that side was compiled */
    uint64_t fingerprint; /* of the header defining it and the engine headers it includes */
} sb_cuda_table_abi;

#define SB_CUDA_TABLES_MAGIC 0x53425442u /* "SBTB" */

typedef struct sb_cuda_tables_abi {
    uint32_t magic; /* SB_CUDA_TABLES_MAGIC */
    uint32_t count; /* SB_CUDA_TABLE_COUNT as that side was compiled */
    sb_cuda_table_abi tables[SB_CUDA_TABLE_COUNT];
} sb_cuda_tables_abi;

/* The descriptor as the including file is compiled. Expand it where struct sb_backend and
 * struct sb_nn_backend are complete (after tensor/backend.h and nn/backend.h). */
#define SB_CUDA_TABLE_ABI(type, fingerprint)                                                       \
    {                                                                                              \
        sizeof(struct type), SB_CUDA_FINGERPRINT_##fingerprint                                     \
    }
#define SB_CUDA_TABLES_ABI_INIT                                                                    \
    {                                                                                              \
        SB_CUDA_TABLES_MAGIC, SB_CUDA_TABLE_COUNT,                                                 \
        {                                                                                          \
            SB_CUDA_TABLE_ABI(sb_cuda_host, PLUGIN), SB_CUDA_TABLE_ABI(sb_cuda_plugin, PLUGIN),    \
                SB_CUDA_TABLE_ABI(sb_backend, TENSOR), SB_CUDA_TABLE_ABI(sb_nn_backend, NN)        \
        }                                                                                          \
    }

typedef struct sb_cuda_host {
    int abi;
    size_t size; /* sizeof(sb_cuda_host) as the engine was compiled */
    sb_status (*fail)(sb_status code, const char *fmt, ...) SB_PRINTF(2, 3);
    /* Scratch device memory (im2col buffers...) from the host's caching allocator, on the
     * engine stream of `device`; freed blocks are reused by later work on that stream. */
    sb_status (*device_alloc)(int device, size_t nbytes, void **out);
    void (*device_free)(int device, void *ptr);
    /* After a library's own allocation failed (cublasCreate, a cuDNN handle): runs the
     * bindings' garbage collection and empties the cache, so that one retry may succeed. */
    sb_status (*reclaim)(int device);
    /* sb.cuda.allow_tf32(): whether float32 GEMMs may use TF32 tensor cores. */
    bool (*tf32_allowed)(void);
    /* The caching allocator for CUDA storages: the tensor table's default allocator. */
    const sb_allocator *device_allocator;
} sb_cuda_host;

struct sb_backend;    /* engine/tensor/backend.h */
struct sb_nn_backend; /* engine/nn/backend.h */

/* Every function that returns sb_status has recorded a message through host->fail
 * ("cudaMalloc(&ptr, 1048576) failed: out of memory (engine/cuda/memory.cu:42)") when it
 * returns anything but SB_OK. `device` is a CUDA ordinal. */
typedef struct sb_cuda_plugin {
    int abi;
    size_t size; /* sizeof(sb_cuda_plugin) as the plugin was compiled */

    /* --- facts (no device needed) ----------------------------------------------------- */
    /* Number of visible devices; 0 with a reason ("no CUDA driver: ...") when none. */
    int (*device_count)(char *reason, size_t reason_size);
    int (*runtime_version)(void); /* 13000 */
    int (*driver_version)(void);  /* 0 when there is no driver */
    int (*cublas_version)(void);  /* 130100 */
    /* The cuDNN in use for convolutions and pooling (91900 for 9.19.0, its text "9.19.0" in
     * `text`), loaded on the first call; 0 with the reason in `text` when none is ("cannot
     * load cuDNN: ...", "disabled by SBENGINE_CUDNN=0", built without cudnn.h). No device
     * needed. */
    int (*cudnn_version)(char *text, size_t text_size);
    bool (*device_info)(int device, char *name, size_t name_size, size_t *total_memory);

    /* --- raw memory; the host's caching allocators sit on top -------------------------- */
    sb_status (*device_malloc)(int device, size_t nbytes, void **out);
    sb_status (*device_free)(int device, void *ptr);
    sb_status (*mem_get_info)(int device, size_t *free_bytes, size_t *total_bytes);
    sb_status (*host_alloc)(size_t nbytes, void **out); /* page-locked (pinned) */
    sb_status (*host_free)(void *ptr);
    /* An event recorded on the engine stream of `device` (-1: of every device in use), to
     * know when the work queued so far (an async copy out of a pinned buffer) is done. */
    sb_status (*event_record)(int device, void **out);
    /* 1 when complete, 0 while pending; a failed query counts as complete after
     * synchronising, so a buffer is never leaked. */
    int (*event_done)(void *event);
    void (*event_destroy)(void *event);

    /* --- streams --------------------------------------------------------------------- */
    /* The engine's stream on `device` (every kernel and async copy goes there). */
    void *(*stream)(int device);
    /* Waits for all work on the engine stream of `device` (-1: every device used). */
    sb_status (*synchronize)(int device);

    /* --- kernels: the tables the host registers for SB_DEVICE_CUDA --------------------- */
    const struct sb_backend *tensor_backend;
    const struct sb_nn_backend *nn_backend;
} sb_cuda_plugin;

typedef const sb_cuda_plugin *(*sb_cuda_plugin_open_fn)(const sb_cuda_host *host);

#ifdef __cplusplus
}
#endif

#endif
