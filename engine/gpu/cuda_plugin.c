/* Loads the CUDA plugin on first need (see gpu/cuda.h for why and where from), checks that it
 * was built from this engine's headers and registers its kernel tables with the tensor and
 * nn backends. */
#include "gpu/cuda_plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buildinfo.h"
#include "core/plugin_path.h"
#include "gpu/cuda.h"
#include "nn/backend.h"
#include "tensor/backend.h"

static pthread_once_t load_once = PTHREAD_ONCE_INIT, probe_once = PTHREAD_ONCE_INIT;
static const sb_cuda_plugin *plugin;
static int visible_devices;
static char load_error[1024]; /* why the plugin could not be loaded */
static char reason[1024];     /* why no GPU is available */

/* The engine's services for the plugin; device_allocator is set before the plugin opens. */
static sb_cuda_host host = {
    .abi = SB_CUDA_PLUGIN_ABI,
    .size = sizeof(sb_cuda_host),
    .fail = sb_fail,
    .device_alloc = sb_cuda_scratch_alloc,
    .device_free = sb_cuda_scratch_free,
    .reclaim = sb_cuda_reclaim,
    .tf32_allowed = sb_cuda_tf32_allowed,
};

static bool is_file(const char *path)
{
    return access(path, R_OK) == 0;
}

/* Fills `path` with the plugin to load, or `why` with the reason there is none. Only
 * file-system checks: cheap. */
static bool locate_plugin(char *path, size_t path_size, char *why, size_t why_size)
{
    if (!sb_built_with_cuda()) {
        snprintf(why, why_size,
                 "this build of sbengine has no CUDA support (configured with SBENGINE_CUDA=OFF "
                 "or without nvcc and cuBLAS)");
        return false;
    }
    const char *env = getenv("SBENGINE_CUDA_PLUGIN");
    if (env && *env) {
        if (!is_file(env)) {
            snprintf(why, why_size, "cannot load the CUDA plugin: %s: %s (SBENGINE_CUDA_PLUGIN)",
                     env, strerror(errno));
            return false;
        }
        snprintf(path, path_size, "%s", env);
        return true;
    }
    char tried[2048];
    if (!sb_plugin_find(SB_CUDA_PLUGIN_FILE, (const void *)&sb_cuda_plugin_get, path, path_size,
                        tried, sizeof tried)) {
        snprintf(why, why_size,
                 "the CUDA plugin " SB_CUDA_PLUGIN_FILE " was not found (looked in: %s; "
                 "set SBENGINE_CUDA_PLUGIN to its path)",
                 tried);
        return false;
    }
    return true;
}

/* --- the handshake --------------------------------------------------------------------- */

static const sb_cuda_tables_abi engine_tables = SB_CUDA_TABLES_ABI_INIT;

static const char *const table_names[SB_CUDA_TABLE_COUNT] = {
    [SB_CUDA_TABLE_HOST] = "host callbacks table (struct sb_cuda_host, engine/cuda/plugin.h)",
    [SB_CUDA_TABLE_PLUGIN] = "plugin table (struct sb_cuda_plugin, engine/cuda/plugin.h)",
    [SB_CUDA_TABLE_TENSOR] = "tensor kernel table (struct sb_backend, engine/tensor/backend.h)",
    [SB_CUDA_TABLE_NN] = "nn kernel table (struct sb_nn_backend, engine/nn/backend.h)",
};

const sb_cuda_tables_abi *sb_cuda_engine_tables(void)
{
    return &engine_tables;
}

sb_status sb_cuda_check_tables(const sb_cuda_tables_abi *plugin)
{
    if (plugin->magic != SB_CUDA_TABLES_MAGIC)
        return sb_fail(SB_EDEVICE, "its table descriptor %s is not one this engine reads",
                       SB_CUDA_PLUGIN_TABLES);
    if (plugin->count != SB_CUDA_TABLE_COUNT)
        return sb_fail(SB_EDEVICE, "it exchanges %u tables, this engine %u",
                       (unsigned)plugin->count, (unsigned)SB_CUDA_TABLE_COUNT);
    for (int i = 0; i < SB_CUDA_TABLE_COUNT; i++) {
        const sb_cuda_table_abi *theirs = &plugin->tables[i], *ours = &engine_tables.tables[i];
        if (theirs->size != ours->size)
            return sb_fail(SB_EDEVICE, "its %s is %llu bytes, this engine's %llu", table_names[i],
                           (unsigned long long)theirs->size, (unsigned long long)ours->size);
        if (theirs->fingerprint != ours->fingerprint)
            return sb_fail(SB_EDEVICE,
                           "its %s was compiled from other headers (fingerprint %016llx, this "
                           "engine's %016llx)",
                           table_names[i], (unsigned long long)theirs->fingerprint,
                           (unsigned long long)ours->fingerprint);
    }
    return SB_OK;
}

/* Checks the plugin behind `handle` and opens it; NULL with the reason in `why`. Nothing of
 * the plugin runs before its tables are known to match (besides its static constructors). */
static const sb_cuda_plugin *open_plugin(void *handle, char *why, size_t why_size)
{
    sb_cuda_plugin_open_fn open = (sb_cuda_plugin_open_fn)dlsym(handle, SB_CUDA_PLUGIN_ENTRY);
    const sb_cuda_tables_abi *tables = dlsym(handle, SB_CUDA_PLUGIN_TABLES);
    if (!open) {
        snprintf(why, why_size, "no %s", SB_CUDA_PLUGIN_ENTRY);
        return NULL;
    }
    if (!tables) {
        snprintf(why, why_size, "no %s: built before the tables were checked",
                 SB_CUDA_PLUGIN_TABLES);
        return NULL;
    }
    if (sb_cuda_check_tables(tables) != SB_OK) {
        snprintf(why, why_size, "%s", sb_error_message());
        return NULL;
    }
    host.device_allocator = sb_cuda_device_allocator();
    const sb_cuda_plugin *p = open(&host);
    if (!p || p->abi != SB_CUDA_PLUGIN_ABI || p->size != sizeof(sb_cuda_plugin)) {
        snprintf(why, why_size, "different plugin ABI");
        return NULL;
    }
    if (!p->tensor_backend || !p->nn_backend) {
        snprintf(why, why_size, "it has no %s kernels", p->tensor_backend ? "nn" : "tensor");
        return NULL;
    }
    return p;
}

static void load_plugin(void)
{
    char path[PATH_MAX];
    if (!locate_plugin(path, sizeof path, load_error, sizeof load_error)) return;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof load_error, "cannot load the CUDA plugin: %s", dlerror());
        return;
    }
    char why[768];
    const sb_cuda_plugin *p = open_plugin(handle, why, sizeof why);
    if (!p) {
        snprintf(load_error, sizeof load_error,
                 "the CUDA plugin %s does not match this engine (%s; rebuild or reinstall both)",
                 path, why);
        dlclose(handle);
        return;
    }
    /* The handle stays open for the life of the process: CUDA cannot be unloaded safely. */
    plugin = p;
}

/* Whether the NVIDIA driver's user-space library is installed (SBENGINE_CUDA_DRIVER_LIBRARY
 * names another library to stand in for it: tests reach the paths behind this check). Without it
 * the CUDA runtime can only answer "insufficient driver", and finding that out by loading the
 * plugin costs ~0.3 s and ~200 MB (cuBLAS); dlopen of libcuda alone fails in microseconds. A
 * library present without a working kernel driver is still caught later, by cudaGetDeviceCount. */
static bool driver_present(char *why, size_t why_size)
{
    const char *override = getenv("SBENGINE_CUDA_DRIVER_LIBRARY");
    const char *name = override && *override ? override : "libcuda.so.1";
    /* Kept open when found: the plugin's runtime loads it next anyway. */
    if (dlopen(name, RTLD_LAZY | RTLD_LOCAL)) return true;
    snprintf(why, why_size, "no NVIDIA driver (%s)", dlerror());
    return false;
}

/* Availability: cheap checks first, the plugin only when a GPU may really be there. */
static void probe(void)
{
    char path[PATH_MAX];
    if (!locate_plugin(path, sizeof path, reason, sizeof reason)) return;
    if (!driver_present(reason, sizeof reason)) return;
    if (!sb_cuda_plugin_get()) {
        snprintf(reason, sizeof reason, "%s", load_error);
        return;
    }
    visible_devices = plugin->device_count(reason, sizeof reason);
    if (visible_devices > 0) reason[0] = '\0';
}

const sb_cuda_plugin *sb_cuda_plugin_get(void)
{
    pthread_once(&load_once, load_plugin);
    return plugin;
}

bool sb_cuda_plugin_loaded(void)
{
    return sb_cuda_plugin_get() != NULL;
}

const char *sb_cuda_plugin_error(void)
{
    sb_cuda_plugin_get();
    return load_error;
}

bool sb_cuda_available(void)
{
    pthread_once(&probe_once, probe);
    return visible_devices > 0;
}

const char *sb_cuda_unavailable_reason(void)
{
    pthread_once(&probe_once, probe);
    return reason;
}

sb_status sb_cuda_require(int device)
{
    if (!sb_cuda_available()) return sb_fail(SB_EDEVICE, "CUDA is not available: %s", reason);
    if (device < 0 || device >= visible_devices)
        return sb_fail(SB_EDEVICE, "cuda:%d does not exist (%d CUDA device%s visible)", device,
                       visible_devices, visible_devices == 1 ? "" : "s");
    return SB_OK;
}

/* The tensor backend registry's loader for SB_DEVICE_CUDA: registers the plugin's tables. */
static sb_status load_backends(void)
{
    if (!sb_cuda_available()) return sb_fail(SB_EDEVICE, "CUDA is not available: %s", reason);
    /* nn first: sb_nn_backend_for trusts a registered tensor table to mean both are in. */
    sb_nn_backend_register(SB_DEVICE_CUDA, plugin->nn_backend);
    sb_backend_register(SB_DEVICE_CUDA, plugin->tensor_backend);
    return SB_OK;
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void register_loader(void)
{
    sb_backend_set_loader(SB_DEVICE_CUDA, load_backends);
}

void sb_cuda_register_loader(void)
{
    pthread_once(&register_once, register_loader);
}

sb_status sb_cuda_synchronize(int device)
{
    if (!sb_cuda_available()) return SB_OK;
    return plugin->synchronize(device);
}

/* --- facts ------------------------------------------------------------------------------ */

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

static pthread_once_t cudnn_once = PTHREAD_ONCE_INIT;
static int cudnn_version;
static char cudnn_text[1024]; /* "9.19.0", or why cuDNN is not used */

static void ask_cudnn(void)
{
    if (!sb_cuda_plugin_get()) {
        snprintf(cudnn_text, sizeof cudnn_text, "no CUDA plugin: %s", load_error);
        return;
    }
    cudnn_version = plugin->cudnn_version(cudnn_text, sizeof cudnn_text);
}

int sb_cudnn_version(void)
{
    pthread_once(&cudnn_once, ask_cudnn);
    return cudnn_version;
}

const char *sb_cudnn_version_text(void)
{
    return sb_cudnn_version() > 0 ? cudnn_text : "";
}

const char *sb_cudnn_unused_reason(void)
{
    return sb_cudnn_version() > 0 ? "" : cudnn_text;
}

bool sb_cuda_device_info(int index, char *name, size_t name_size, size_t *total_memory)
{
    if (!sb_cuda_available() || index < 0 || index >= visible_devices) return false;
    return plugin->device_info(index, name, name_size, total_memory);
}
