/* A stale CUDA plugin for tests/cli/cuda_plugin.sh: it describes its tables as a plugin built
 * from other headers would (FAKE_CUDA_PLUGIN_STALE names one: "tensor", "nn", "host" or
 * "plugin"; "tensor" by default, its size one pointer larger, as after an op was added). The
 * engine must refuse it from SB_CUDA_PLUGIN_TABLES alone: calling its entry point aborts.
 * Plain C; needs neither CUDA nor a GPU. */
#include <stdlib.h>
#include <string.h>

#include "cuda/plugin.h"
#include "nn/backend.h"
#include "tensor/backend.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT sb_cuda_tables_abi sb_cuda_plugin_tables = SB_CUDA_TABLES_ABI_INIT;

__attribute__((constructor)) static void make_stale(void)
{
    static const char *const names[SB_CUDA_TABLE_COUNT] = {
        [SB_CUDA_TABLE_HOST] = "host",
        [SB_CUDA_TABLE_PLUGIN] = "plugin",
        [SB_CUDA_TABLE_TENSOR] = "tensor",
        [SB_CUDA_TABLE_NN] = "nn",
    };
    const char *which = getenv("FAKE_CUDA_PLUGIN_STALE");
    for (int i = 0; i < SB_CUDA_TABLE_COUNT; i++)
        if (strcmp(which && *which ? which : "tensor", names[i]) == 0)
            sb_cuda_plugin_tables.tables[i].size += sizeof(void *);
}

EXPORT const sb_cuda_plugin *sb_cuda_plugin_open(const sb_cuda_host *host)
{
    (void)host;
    abort(); /* a stale plugin must never be called */
}
