/* The backend registry: the CPU table is built in, others register themselves. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/cuda.h"
#include "tensor/backend.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static const sb_backend *registered[2];
static sb_backend_loader loaders[2];
static bool loader_ran[2];
static char unavailable_reason[2][512];

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
    /* Without an installed loader, CUDA comes from the plugin (core/cuda.h). */
    sb_backend_loader loader = loaders[device.kind] ? loaders[device.kind] : sb_cuda_load_backends;
    if (!registered[device.kind] && !loader_ran[device.kind]) {
        loader_ran[device.kind] = true;
        sb_error_clear();
        if (loader() != SB_OK || !registered[device.kind]) {
            const char *why = sb_error_message();
            snprintf(unavailable_reason[device.kind], sizeof unavailable_reason[device.kind], "%s",
                     why[0] ? why : "the CUDA plugin did not register a backend");
        }
    }
    b = registered[device.kind];
    const char *why = unavailable_reason[device.kind][0] ? unavailable_reason[device.kind]
                      : loaders[device.kind] ? "the CUDA plugin did not register a backend"
                                             : "the CUDA plugin registered no tensor backend";
    char reason[512];
    snprintf(reason, sizeof reason, "%s", why);
    pthread_mutex_unlock(&registry_lock);
    if (b) {
        *out = b;
        return SB_OK;
    }
    /* No tensor kernels: say why CUDA itself is missing when it is (no driver, no
     * plugin), which is the usual reason on a CPU-only machine. */
    if (sb_cuda_require(device.index) != SB_OK) return SB_EDEVICE;
    char name[32];
    sb_device_format(device, name, sizeof name);
    return sb_fail(SB_EDEVICE, "CUDA is not available for tensors on %s: %s", name, reason);
}
