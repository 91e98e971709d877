// How the plugin's files fill the table of engine/cuda/plugin.h.
#ifndef SB_CUDA_INTERNAL_H
#define SB_CUDA_INTERNAL_H

#include "cuda/plugin.h"

void sb_cuda_fill_memory(sb_cuda_plugin *plugin); // memory.cu: memory, events, streams

#endif
