/* What this build of the engine is made of. The GPUs it sees are gpu/cuda.h's. */
#ifndef SB_CORE_BUILDINFO_H
#define SB_CORE_BUILDINFO_H

#include <stdbool.h>

const char *sb_engine_version(void);      /* "0.1.0" */
const char *sb_engine_git_revision(void); /* short hash, "+dirty" suffix, or "unknown" */
/* OpenBLAS's configuration string ("OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell MAX_THREADS=64"). */
const char *sb_blas_info(void);
/* The CUDA plugin was built with this engine (it may still be missing at run time). */
bool sb_built_with_cuda(void);

#endif
