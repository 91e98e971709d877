/* dtypes and devices: names, sizes, promotion, parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"

static const struct {
    const char *name;
    size_t size;
    bool floating;
} dtype_info[SB_DTYPE_COUNT] = {
    [SB_FLOAT32] = {"float32", 4, true},   [SB_FLOAT64] = {"float64", 8, true},
    [SB_INT64] = {"int64", 8, false},      [SB_INT32] = {"int32", 4, false},
    [SB_UINT8] = {"uint8", 1, false},      [SB_FLOAT16] = {"float16", 2, true},
    [SB_BFLOAT16] = {"bfloat16", 2, true},
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

/* Rank within a kind: wider wins. float16 and bfloat16 share a rank: mixing them gives
 * float32, as in PyTorch. */
static int float_rank(sb_dtype d)
{
    switch (d) {
    case SB_FLOAT64:
        return 3;
    case SB_FLOAT32:
        return 2;
    default:
        return 1;
    }
}

static int int_rank(sb_dtype d)
{
    switch (d) {
    case SB_INT64:
        return 3;
    case SB_INT32:
        return 2;
    default:
        return 1;
    }
}

sb_dtype sb_dtype_promote(sb_dtype a, sb_dtype b)
{
    if (a == b) return a;
    bool fa = sb_dtype_is_floating(a), fb = sb_dtype_is_floating(b);
    if (fa && !fb) return a;
    if (fb && !fa) return b;
    if (fa) {
        int ra = float_rank(a), rb = float_rank(b);
        if (ra == rb) return SB_FLOAT32; /* float16 with bfloat16 */
        return ra > rb ? a : b;
    }
    return int_rank(a) >= int_rank(b) ? a : b;
}

sb_status sb_device_parse(const char *text, sb_device *out)
{
    if (text && strcmp(text, "cpu") == 0) {
        *out = SB_CPU;
        return SB_OK;
    }
    if (text && strncmp(text, "cuda", 4) == 0) {
        const char *rest = text + 4;
        if (*rest == '\0') {
            *out = (sb_device){SB_DEVICE_CUDA, 0};
            return SB_OK;
        }
        if (*rest == ':' && rest[1] >= '0' && rest[1] <= '9') {
            char *end = NULL;
            long index = strtol(rest + 1, &end, 10);
            if (*end == '\0' && index >= 0 && index < 1024) {
                *out = (sb_device){SB_DEVICE_CUDA, (int)index};
                return SB_OK;
            }
        }
    }
    return sb_fail(SB_EINVAL, "unknown device '%s' (expected \"cpu\", \"cuda\" or \"cuda:N\")",
                   text ? text : "(null)");
}

void sb_device_format(sb_device device, char *buf, size_t bufsize)
{
    if (device.kind == SB_DEVICE_CPU)
        snprintf(buf, bufsize, "cpu");
    else
        snprintf(buf, bufsize, "cuda:%d", device.index);
}

bool sb_device_equal(sb_device a, sb_device b)
{
    return a.kind == b.kind && (a.kind == SB_DEVICE_CPU || a.index == b.index);
}
