/* The nn backend registry: the CPU table is built in, the GPU host layer registers the CUDA
 * plugin's. */
#include <stdio.h>

#include "nn/backend.h"
#include "tensor/backend.h"

static const sb_nn_backend *registered_cuda;

void sb_nn_backend_register(sb_device_kind kind, const sb_nn_backend *backend)
{
    if (kind != SB_DEVICE_CUDA) return; /* the CPU table is fixed */
    __atomic_store_n(&registered_cuda, backend, __ATOMIC_RELEASE);
}

sb_status sb_nn_backend_for(sb_device device, const sb_nn_backend **out)
{
    if (device.kind == SB_DEVICE_CPU) {
        *out = sb_nn_cpu_backend();
        return SB_OK;
    }
    if (device.kind != SB_DEVICE_CUDA)
        return sb_fail(SB_EDEVICE, "unknown device kind %d", (int)device.kind);
    /* The tensor backend owns plugin loading; once it has a table, the plugin has had its
     * chance to register ours too. */
    const sb_backend *tensor_backend;
    SB_TRY(sb_backend_for(device, &tensor_backend));
    const sb_nn_backend *b = __atomic_load_n(&registered_cuda, __ATOMIC_ACQUIRE);
    if (!b) {
        char name[32];
        sb_device_format(device, name, sizeof name);
        return sb_fail(SB_EUNSUPPORTED, "the CUDA backend has no nn kernels (device %s)", name);
    }
    *out = b;
    return SB_OK;
}
