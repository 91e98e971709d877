// How the plugin's files fill the table of engine/cuda/plugin.h.
#ifndef SB_CUDA_INTERNAL_H
#define SB_CUDA_INTERNAL_H

#include "cuda/plugin.h"

void sb_cuda_fill_memory(sb_cuda_plugin *plugin); // memory.cu: memory, events, streams

struct sb_backend;
struct sb_nn_backend;
// tensor_backend.cu: the kernels of engine/tensor/backend.h, allocating with `allocator`.
const struct sb_backend *sb_cuda_tensor_backend(const sb_allocator *allocator);
// nn_backend.cu: the kernels of engine/nn/backend.h.
const struct sb_nn_backend *sb_cuda_nn_backend(void);

#endif
