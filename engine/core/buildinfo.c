#include "core/buildinfo.h"

#include <cblas.h>

#include "core/version.h"

const char *sb_engine_version(void)
{
    return SBENGINE_VERSION;
}
const char *sb_engine_git_revision(void)
{
    return SBENGINE_GIT_REVISION;
}
const char *sb_blas_info(void)
{
    return openblas_get_config();
}

#ifndef SBENGINE_HAVE_CUDA
/* Without CUDA these are the whole truth, not placeholders: there is no GPU to see. */
bool sb_built_with_cuda(void)
{
    return false;
}
int sb_cuda_device_count(void)
{
    return 0;
}
int sb_cuda_runtime_version(void)
{
    return 0;
}
int sb_cuda_driver_version(void)
{
    return 0;
}
int sb_cublas_version(void)
{
    return 0;
}
bool sb_cuda_device_info(int index, char *name, size_t name_size, size_t *total_memory)
{
    (void)index, (void)name, (void)name_size, (void)total_memory;
    return false;
}
#endif
