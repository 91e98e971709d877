/* Loads the CUDA plugin on first need (see cuda.h for why and where from). */
#define _GNU_SOURCE /* dladdr */
#include "core/cuda.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buildinfo.h"
#include "nn/backend.h"
#include "tensor/backend.h"

#ifndef SBENGINE_INSTALL_LIBDIR
#define SBENGINE_INSTALL_LIBDIR "lib"
#endif

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const sb_cuda_plugin *plugin;
static int visible_devices;
static char plugin_path[PATH_MAX];
static char reason[1024];

static sb_cuda_host host = {
    .abi = SB_CUDA_PLUGIN_ABI,
    .size = sizeof(sb_cuda_host),
    .fail = sb_fail,
    .device_alloc = sb_cuda_scratch_alloc,
    .device_free = sb_cuda_scratch_free,
    .tf32_allowed = sb_cuda_tf32_allowed,
};

static void fill_host(void)
{
    host.device_allocator = sb_cuda_device_allocator();
}

static bool is_file(const char *path)
{
    return access(path, R_OK) == 0;
}

/* Copies the directory part of `file` into `dir`; false when there is none. */
static bool dir_of(const char *file, char *dir, size_t size)
{
    const char *slash = strrchr(file, '/');
    if (!slash || (size_t)(slash - file) >= size) return false;
    memcpy(dir, file, (size_t)(slash - file));
    dir[slash - file] = '\0';
    return true;
}

/* Fills `found` with the first existing candidate; lists what was tried in `tried`. */
static bool find_plugin(char *found, size_t found_size, char *tried, size_t tried_size)
{
    char dirs[2][PATH_MAX];
    int ndirs = 0;
    Dl_info info;
    /* The object holding this code: sbengine.so under plain lua, else the executable. */
    char real[PATH_MAX];
    /* A relative name (LUA_CPATH "lib/?.so") is relative to the directory it was loaded
     * from, normally still the current one. */
    if (dladdr((void *)&sb_cuda_plugin_get, &info) && info.dli_fname &&
        (info.dli_fname[0] == '/' || realpath(info.dli_fname, real)) &&
        dir_of(info.dli_fname[0] == '/' ? info.dli_fname : real, dirs[ndirs], sizeof dirs[ndirs]))
        ndirs++;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (dir_of(exe, dirs[ndirs], sizeof dirs[ndirs])) ndirs++;
    }
    static const char *const layouts[] = {
        "%s/sbengine/" SB_CUDA_PLUGIN_FILE,                                /* build/lib */
        "%s/../../sbengine/" SB_CUDA_PLUGIN_FILE,                          /* lib/lua/5.4 */
        "%s/lib/sbengine/" SB_CUDA_PLUGIN_FILE,                            /* build tree exe */
        "%s/../" SBENGINE_INSTALL_LIBDIR "/sbengine/" SB_CUDA_PLUGIN_FILE, /* bin/ */
    };
    tried[0] = '\0';
    size_t used = 0;
    for (int d = 0; d < ndirs; d++) {
        if (d == 1 && strcmp(dirs[0], dirs[1]) == 0) break;
        for (size_t k = 0; k < sizeof layouts / sizeof *layouts; k++) {
            char candidate[PATH_MAX + 64];
            snprintf(candidate, sizeof candidate, layouts[k], dirs[d]);
            char resolved[PATH_MAX];
            if (is_file(candidate) && realpath(candidate, resolved)) {
                snprintf(found, found_size, "%s", resolved);
                return true;
            }
            if (used < tried_size)
                used += (size_t)snprintf(tried + used, tried_size - used, "%s%s", used ? ", " : "",
                                         candidate);
        }
    }
    return false;
}

static void load_plugin(void)
{
    if (!sb_built_with_cuda()) {
        snprintf(reason, sizeof reason,
                 "this build of sbengine has no CUDA support (configured with SBENGINE_CUDA=OFF "
                 "or without nvcc and cuBLAS)");
        return;
    }
    const char *env = getenv("SBENGINE_CUDA_PLUGIN");
    if (env && *env) {
        snprintf(plugin_path, sizeof plugin_path, "%s", env);
    } else {
        char tried[2048];
        if (!find_plugin(plugin_path, sizeof plugin_path, tried, sizeof tried)) {
            snprintf(reason, sizeof reason,
                     "the CUDA plugin " SB_CUDA_PLUGIN_FILE " was not found (looked in: %s; "
                     "set SBENGINE_CUDA_PLUGIN to its path)",
                     tried);
            plugin_path[0] = '\0';
            return;
        }
    }
    fill_host();
    void *handle = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(reason, sizeof reason, "cannot load the CUDA plugin: %s", dlerror());
        plugin_path[0] = '\0';
        return;
    }
    sb_cuda_plugin_open_fn open = (sb_cuda_plugin_open_fn)dlsym(handle, SB_CUDA_PLUGIN_ENTRY);
    const sb_cuda_plugin *p = open ? open(&host) : NULL;
    if (!p || p->abi != SB_CUDA_PLUGIN_ABI || p->size != sizeof(sb_cuda_plugin)) {
        snprintf(reason, sizeof reason,
                 "the CUDA plugin %s does not match this engine (%s; rebuild or reinstall both)",
                 plugin_path, open ? "different plugin ABI" : "no " SB_CUDA_PLUGIN_ENTRY);
        dlclose(handle);
        plugin_path[0] = '\0';
        return;
    }
    /* The handle stays open for the life of the process: CUDA cannot be unloaded safely. */
    plugin = p;
    visible_devices = plugin->device_count(reason, sizeof reason);
    if (visible_devices > 0) reason[0] = '\0';
}

const sb_cuda_plugin *sb_cuda_plugin_get(void)
{
    pthread_once(&load_once, load_plugin);
    return plugin;
}

bool sb_cuda_available(void)
{
    sb_cuda_plugin_get();
    return visible_devices > 0;
}

const char *sb_cuda_unavailable_reason(void)
{
    sb_cuda_plugin_get();
    return reason;
}

const char *sb_cuda_plugin_path(void)
{
    sb_cuda_plugin_get();
    return plugin_path;
}

sb_status sb_cuda_require(int device)
{
    if (!sb_cuda_available()) return sb_fail(SB_EDEVICE, "CUDA is not available: %s", reason);
    if (device < 0 || device >= visible_devices)
        return sb_fail(SB_EDEVICE, "cuda:%d does not exist (%d CUDA device%s visible)", device,
                       visible_devices, visible_devices == 1 ? "" : "s");
    return SB_OK;
}

sb_status sb_cuda_load_backends(void)
{
    if (!sb_cuda_available()) return sb_fail(SB_EDEVICE, "CUDA is not available: %s", reason);
    if (!plugin->tensor_backend)
        return sb_fail(SB_EDEVICE, "the CUDA plugin %s has no tensor kernels", plugin_path);
    /* nn first: sb_nn_backend_for trusts a registered tensor table to mean both are in. */
    if (plugin->nn_backend) sb_nn_backend_register(SB_DEVICE_CUDA, plugin->nn_backend);
    sb_backend_register(SB_DEVICE_CUDA, plugin->tensor_backend);
    return SB_OK;
}

sb_status sb_cuda_synchronize(int device)
{
    if (!sb_cuda_available()) return SB_OK;
    return plugin->synchronize(device);
}

/* --- the facts of core/buildinfo.h ------------------------------------------------------- */

int sb_cuda_device_count(void)
{
    return sb_cuda_available() ? visible_devices : 0;
}

int sb_cuda_runtime_version(void)
{
    return sb_cuda_plugin_get() ? plugin->runtime_version() : 0;
}

int sb_cuda_driver_version(void)
{
    return sb_cuda_plugin_get() ? plugin->driver_version() : 0;
}

int sb_cublas_version(void)
{
    return sb_cuda_plugin_get() ? plugin->cublas_version() : 0;
}

bool sb_cuda_device_info(int index, char *name, size_t name_size, size_t *total_memory)
{
    if (!sb_cuda_available() || index < 0 || index >= visible_devices) return false;
    return plugin->device_info(index, name, name_size, total_memory);
}
