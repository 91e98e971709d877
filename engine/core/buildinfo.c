#include "core/buildinfo.h"

#include <cblas.h>

#include "core/blas.h"
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
    if (sb_blas_load() != SB_OK) return sb_error_message();
    return openblas_get_config();
}

#ifdef SBENGINE_HAVE_CUDA
bool sb_built_with_cuda(void)
{
    return true;
}
#else
bool sb_built_with_cuda(void)
{
    return false;
}
#endif
