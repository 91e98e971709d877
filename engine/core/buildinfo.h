/* What this build of the engine is made of and what hardware it sees. */
#ifndef SB_CORE_BUILDINFO_H
#define SB_CORE_BUILDINFO_H

#include <stdbool.h>
#include <stddef.h>

const char *sb_engine_version(void);      /* "0.1.0" */
const char *sb_engine_git_revision(void); /* short hash, "+dirty" suffix, or "unknown" */
/* OpenBLAS's configuration string ("OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell MAX_THREADS=64"),
 * or why it cannot be loaded. Loads OpenBLAS (core/blas.h). */
const char *sb_blas_info(void);
/* The CUDA plugin was built with this engine (it may still be missing at run time). */
bool sb_built_with_cuda(void);

/* CUDA facts; all report "no GPU" (count 0) on a build without CUDA, without the plugin
 * or on a machine without a usable driver (core/cuda.h says why). Versions are 0 when
 * unknown. The first call loads the CUDA plugin (~80 ms): only ask when needed. */
int sb_cuda_device_count(void);
int sb_cuda_runtime_version(void); /* e.g. 13000 */
int sb_cuda_driver_version(void);  /* 0 when no driver */
int sb_cublas_version(void);       /* e.g. 130100 */
/* Name and total memory of device `index`; false when it does not exist. */
bool sb_cuda_device_info(int index, char *name, size_t name_size, size_t *total_memory);

#endif
