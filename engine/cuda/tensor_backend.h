// Internal to the CUDA plugin: the kernels of the tensor table (engine/tensor/backend.h)
// that live outside tensor_backend.cu, which assembles the table.
#ifndef SB_CUDA_TENSOR_BACKEND_H
#define SB_CUDA_TENSOR_BACKEND_H

#include "tensor/backend.h"

// tensor_reduce.cu
sb_status cuda_reduce(sb_reduce_op op, sb_tensor *values, sb_tensor *indices, const sb_tensor *a,
                      int dim);
sb_status cuda_topk(sb_tensor *values, sb_tensor *indices, const sb_tensor *a, int64_t k, int dim);

#endif
