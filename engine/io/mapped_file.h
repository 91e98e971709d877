/* A whole file mapped into memory as a CPU storage, for the weight readers (safetensors,
 * PyTorch checkpoints) whose tensors view the file in place. */
#ifndef SB_IO_MAPPED_FILE_H
#define SB_IO_MAPPED_FILE_H

#include <stddef.h>

#include "tensor/tensor.h"

/* Maps the regular file at `path` privately and writably (copy-on-write: writes to a
 * tensor never reach the file) as a storage of its size (*out, refcount 1; the mapping goes
 * away with the last reference). A file shorter than `min_size` bytes fails with
 * SB_EFORMAT and "PATH: <too_short>" before anything is mapped. */
sb_status sb_map_file(const char *path, size_t min_size, const char *too_short, sb_storage **out);

#endif
