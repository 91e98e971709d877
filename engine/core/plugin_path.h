/* Where the engine's plugins (sbengine_cuda.so, sbengine_mpi.so) are found: next to the code
 * that asks, in the build tree's and the installed layouts. */
#ifndef SB_CORE_PLUGIN_PATH_H
#define SB_CORE_PLUGIN_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Fills `found` with the real path of the first existing candidate for the plugin `file`,
 * looking in `sbengine/` beside the object that holds `anchor` (sbengine.so under plain lua,
 * else the executable) and beside the executable: build/lib/sbengine/, lib/sbengine/ from
 * lib/lua/5.4, <bin>/lib/sbengine/ and <prefix>/<libdir>/sbengine/. false when none exists,
 * with the candidates tried, comma-separated, in `tried`. */
bool sb_plugin_find(const char *file, const void *anchor, char *found, size_t found_size,
                    char *tried, size_t tried_size);

#endif
