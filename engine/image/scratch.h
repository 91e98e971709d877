/* Per-thread scratch buffers for the image steps: each DataLoader worker reuses the same
 * memory for every image instead of allocating (and page-faulting in) fresh buffers per
 * image. A buffer grows as needed and is freed when its thread exits. */
#ifndef SB_IMAGE_SCRATCH_H
#define SB_IMAGE_SCRATCH_H

#include <stddef.h>

enum { SB_SCRATCH_SLOTS = 6 };

/* The calling thread's buffer number `slot` (0..SB_SCRATCH_SLOTS-1) with room for `nbytes`;
 * NULL when out of memory. Valid until the next call for the same slot on this thread. */
void *sb_scratch(int slot, size_t nbytes);

#endif
