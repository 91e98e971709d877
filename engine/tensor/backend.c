/* The backend registry: the CPU table is built in; the CUDA table comes from the loader that
 * the GPU host layer installs (engine/gpu/, which sits above this file: nothing here calls it
 * by name). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tensor/backend.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static const sb_backend *registered[2];
static sb_backend_loader loaders[2];
static bool loader_ran[2];
static char unavailable_reason[2][1024]; /* as long as an error message (core/error.c) */

void sb_backend_register(sb_device_kind kind, const sb_backend *backend)
{
    if (kind != SB_DEVICE_CUDA) return; /* the CPU table is fixed */
    pthread_mutex_lock(&registry_lock);
    __atomic_store_n(&registered[kind], backend, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&registry_lock);
}

void sb_backend_set_loader(sb_device_kind kind, sb_backend_loader loader)
{
    if (kind != SB_DEVICE_CUDA) return;
    pthread_mutex_lock(&registry_lock);
    loaders[kind] = loader;
    loader_ran[kind] = false;
    unavailable_reason[kind][0] = '\0';
    pthread_mutex_unlock(&registry_lock);
}

sb_status sb_backend_for(sb_device device, const sb_backend **out)
{
    if (device.kind == SB_DEVICE_CPU) {
        *out = sb_cpu_backend();
        return SB_OK;
    }
    if (device.kind != SB_DEVICE_CUDA)
        return sb_fail(SB_EDEVICE, "unknown device kind %d", (int)device.kind);
    const sb_backend *b = __atomic_load_n(&registered[device.kind], __ATOMIC_ACQUIRE);
    if (b) {
        *out = b;
        return SB_OK;
    }
    pthread_mutex_lock(&registry_lock);
    sb_backend_loader loader = loaders[device.kind];
    if (!registered[device.kind] && !loader_ran[device.kind]) {
        loader_ran[device.kind] = true;
        sb_error_clear();
        /* The loader's message is the whole answer ("CUDA is not available: <why>"). */
        if (!loader)
            snprintf(unavailable_reason[device.kind], sizeof unavailable_reason[device.kind],
                     "CUDA is not available: no CUDA loader is installed (engine/gpu/)");
        else if (loader() != SB_OK || !registered[device.kind]) {
            const char *why = sb_error_message();
            snprintf(unavailable_reason[device.kind], sizeof unavailable_reason[device.kind], "%s",
                     why[0] ? why : "CUDA is not available: the CUDA loader registered no backend");
        }
    }
    b = registered[device.kind];
    char reason[sizeof unavailable_reason[0]];
    snprintf(reason, sizeof reason, "%s", unavailable_reason[device.kind]);
    pthread_mutex_unlock(&registry_lock);
    if (b) {
        *out = b;
        return SB_OK;
    }
    return sb_fail(SB_EDEVICE, "%s", reason);
}
