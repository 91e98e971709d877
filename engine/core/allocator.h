/* The allocator interface behind tensor storage (tensor/tensor.h): the CPU allocator lives
 * in the tensor core, the CUDA device and pinned-host ones in the GPU host layer
 * (gpu/cuda.h), and the CUDA plugin receives the device one through its host table. */
#ifndef SB_CORE_ALLOCATOR_H
#define SB_CORE_ALLOCATOR_H

#include <stddef.h>

#include "core/device.h"

/* An allocator: CPU (aligned malloc), CPU pinned (cudaHostAlloc), CUDA (caching). */
typedef struct sb_allocator {
    const char *name;
    /* Returns NULL on failure after recording a message with sb_fail(). */
    void *(*alloc)(void *ctx, size_t nbytes, sb_device device);
    void (*free)(void *ctx, void *ptr, size_t nbytes, sb_device device);
    void *ctx;
} sb_allocator;

#endif
