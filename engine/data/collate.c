#include "data/collate.h"

#include <stdio.h>

sb_status sb_data_stack(const sb_tensor *const *items, int64_t n, sb_tensor **out)
{
    if (n < 1) return sb_fail(SB_EINVAL, "cannot stack an empty list of tensors");
    const sb_tensor *first = items[0];
    if (first->ndim + 1 > SB_MAX_DIMS)
        return sb_fail(SB_EINVAL, "cannot stack %d-D tensors (at most %d-D)", first->ndim,
                       SB_MAX_DIMS - 1);
    for (int64_t j = 1; j < n; j++) {
        if (items[j]->dtype != first->dtype || !sb_tensor_same_shape(items[j], first)) {
            char a[128], b[128];
            sb_tensor_format_shape(first, a, sizeof a);
            sb_tensor_format_shape(items[j], b, sizeof b);
            return sb_fail(SB_EINVAL,
                           "cannot stack samples of different shapes or dtypes: sample 1 is %s %s, "
                           "sample %lld is %s %s",
                           sb_dtype_name(first->dtype), a, (long long)j + 1,
                           sb_dtype_name(items[j]->dtype), b);
        }
    }
    int64_t sizes[SB_MAX_DIMS];
    sizes[0] = n;
    for (int i = 0; i < first->ndim; i++)
        sizes[i + 1] = first->sizes[i];
    sb_tensor *stacked;
    SB_TRY(
        sb_tensor_empty(first->ndim + 1, sizes, first->dtype, sb_tensor_device(first), &stacked));
    for (int64_t j = 0; j < n; j++) {
        sb_tensor *row;
        sb_status s = sb_tensor_select(stacked, 0, j, &row);
        if (s == SB_OK) {
            s = sb_tensor_copy_(row, items[j]);
            sb_tensor_free(row);
        }
        if (s != SB_OK) {
            sb_tensor_free(stacked);
            return s;
        }
    }
    *out = stacked;
    return SB_OK;
}
