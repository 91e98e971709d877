/* dtypes: names, sizes, promotion, parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"

/* rank: width within its kind (floating or integer), for promotion: wider wins. float16
 * and bfloat16 share a rank: mixing them gives float32, as in PyTorch. */
static const struct {
    const char *name;
    size_t size;
    bool floating;
    int rank;
} dtype_info[SB_DTYPE_COUNT] = {
    [SB_FLOAT32] = {"float32", 4, true, 2},   [SB_FLOAT64] = {"float64", 8, true, 3},
    [SB_INT64] = {"int64", 8, false, 3},      [SB_INT32] = {"int32", 4, false, 2},
    [SB_UINT8] = {"uint8", 1, false, 1},      [SB_FLOAT16] = {"float16", 2, true, 1},
    [SB_BFLOAT16] = {"bfloat16", 2, true, 1},
};

static bool dtype_valid(sb_dtype dtype)
{
    return (unsigned)dtype < SB_DTYPE_COUNT;
}

size_t sb_dtype_size(sb_dtype dtype)
{
    return dtype_valid(dtype) ? dtype_info[dtype].size : 0;
}

const char *sb_dtype_name(sb_dtype dtype)
{
    return dtype_valid(dtype) ? dtype_info[dtype].name : "invalid dtype";
}

bool sb_dtype_is_floating(sb_dtype dtype)
{
    return dtype_valid(dtype) && dtype_info[dtype].floating;
}

sb_status sb_dtype_from_name(const char *name, sb_dtype *out)
{
    static const struct {
        const char *name;
        sb_dtype dtype;
    } names[] = {
        {"float32", SB_FLOAT32},   {"float", SB_FLOAT32},   {"float64", SB_FLOAT64},
        {"double", SB_FLOAT64},    {"int64", SB_INT64},     {"long", SB_INT64},
        {"int32", SB_INT32},       {"int", SB_INT32},       {"uint8", SB_UINT8},
        {"byte", SB_UINT8},        {"float16", SB_FLOAT16}, {"half", SB_FLOAT16},
        {"bfloat16", SB_BFLOAT16},
    };
    if (name) {
        /* "torch.float32" is accepted too: people paste PyTorch spellings. */
        if (strncmp(name, "torch.", 6) == 0) name += 6;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (strcmp(name, names[i].name) == 0) {
                *out = names[i].dtype;
                return SB_OK;
            }
        }
    }
    return sb_fail(SB_EINVAL,
                   "unknown dtype '%s' (expected float32, float64, int64, int32, uint8, float16 "
                   "or bfloat16)",
                   name ? name : "(null)");
}

sb_dtype sb_dtype_promote(sb_dtype a, sb_dtype b)
{
    if (a == b || !dtype_valid(a) || !dtype_valid(b)) return a;
    bool fa = sb_dtype_is_floating(a), fb = sb_dtype_is_floating(b);
    if (fa && !fb) return a;
    if (fb && !fa) return b;
    int ra = dtype_info[a].rank, rb = dtype_info[b].rank;
    if (fa && ra == rb) return SB_FLOAT32; /* float16 with bfloat16 */
    return ra >= rb ? a : b;
}
