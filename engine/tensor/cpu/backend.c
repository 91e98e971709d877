/* The CPU backend's table (tensor/backend.h): the kernels of the files beside this one. */
#include <pthread.h>

#include "tensor/cpu/cpu.h"

sb_status sb_cpu_unsupported_dtype(const char *what, sb_dtype dtype)
{
    return sb_fail(SB_EUNSUPPORTED,
                   "%s is not implemented for %s tensors on the CPU (%s is a storage type "
                   "here: convert with :float() first)",
                   what, sb_dtype_name(dtype), sb_dtype_name(dtype));
}

static const sb_backend cpu_backend = {
    .name = "cpu",
    .allocator = NULL, /* filled by sb_cpu_backend(): the allocator lives in storage.c */
#define SB_CPU_SLOT(slot) .slot = sb_cpu_##slot,
    SB_BACKEND_KERNELS(SB_CPU_SLOT)
#undef SB_CPU_SLOT
};

static sb_backend cpu_backend_table;
static pthread_once_t cpu_backend_once = PTHREAD_ONCE_INIT;

static void cpu_backend_init(void)
{
    cpu_backend_table = cpu_backend;
    cpu_backend_table.allocator = sb_cpu_allocator();
}

const sb_backend *sb_cpu_backend(void)
{
    pthread_once(&cpu_backend_once, cpu_backend_init);
    return &cpu_backend_table;
}
