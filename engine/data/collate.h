/* Collation for the Lua-thread path of the DataLoader (Lua datasets, Lua transforms). */
#ifndef SB_DATA_COLLATE_H
#define SB_DATA_COLLATE_H

#include "tensor/tensor.h"

/* A new tensor [n, ...] holding items[0..n-1] (same shape and dtype; device of items[0]).
 * The error names the first item that differs, 1-based. */
sb_status sb_data_stack(const sb_tensor *const *items, int64_t n, sb_tensor **out);

#endif
