/* The CUDA plugin as the core sees it: loaded on first need, "no GPU" otherwise.
 *
 * Nothing CUDA is loaded at process start. The first call that needs CUDA (the facts
 * below, a tensor moved to "cuda", sb.cuda.*) dlopen()s sbengine_cuda.so, found
 *   1. at $SBENGINE_CUDA_PLUGIN (a path) when set,
 *   2. next to the library holding this code: <dir>/sbengine/ (build tree: build/lib;
 *      installed Lua module: <libdir>/lua/5.4/../../sbengine/),
 *   3. next to the executable: <exe dir>/lib/sbengine/ (build tree) or
 *      <exe dir>/../<libdir>/sbengine/ (installed).
 * A missing or unloadable plugin, no driver or no device all mean "no GPU"; the reason
 * is kept for the error message ("CUDA is not available: <reason>"). */
#ifndef SB_CORE_CUDA_H
#define SB_CORE_CUDA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "cuda/plugin.h"

/* The plugin's table, loading it on first call; NULL when it cannot be loaded (the
 * reason is in sb_cuda_unavailable_reason()). A loaded plugin may still see no device. */
const sb_cuda_plugin *sb_cuda_plugin_get(void);

/* True when the plugin is loaded and at least one device is visible. */
bool sb_cuda_available(void);
/* Why sb_cuda_available() is false ("" when it is true). */
const char *sb_cuda_unavailable_reason(void);
/* Path of the loaded plugin ("" when none). */
const char *sb_cuda_plugin_path(void);

/* SB_OK when cuda:`device` exists, else fails with SB_EDEVICE and
 * "CUDA is not available: <reason>" or "cuda:3 does not exist (2 CUDA devices visible)". */
sb_status sb_cuda_require(int device);

/* Waits for the engine's work on `device` (-1: all devices). No-op without CUDA. */
sb_status sb_cuda_synchronize(int device);

#endif
