/* Inside the GPU host layer: the loaded plugin's table, the handshake check and the scratch
 * memory handed to the plugin. Included by engine/gpu/ and its tests only; everything else
 * uses gpu/cuda.h. */
#ifndef SB_GPU_CUDA_PLUGIN_H
#define SB_GPU_CUDA_PLUGIN_H

#include <stddef.h>

#include "core/error.h"
#include "cuda/plugin.h"

/* The plugin's table, loading it on first call; NULL when it cannot be loaded. */
const sb_cuda_plugin *sb_cuda_plugin_get(void);

/* The tables this engine exchanges with a plugin, as it was compiled. */
const sb_cuda_tables_abi *sb_cuda_engine_tables(void);
/* SB_OK when `plugin` (what a plugin exports as SB_CUDA_PLUGIN_TABLES) describes the same
 * tables as this engine; otherwise fails with SB_EDEVICE and a message naming the first
 * table that differs and how ("its tensor kernel table (struct sb_backend,
 * engine/tensor/backend.h) is 128 bytes, this engine's 136"). */
sb_status sb_cuda_check_tables(const sb_cuda_tables_abi *plugin);

/* For the plugin (sb_cuda_host): scratch memory on the engine stream of `device`. */
sb_status sb_cuda_scratch_alloc(int device, size_t nbytes, void **out);
void sb_cuda_scratch_free(int device, void *ptr);

#endif
