/* Devices: "cpu", "cuda", "cuda:N" to and from sb_device (tensor/tensor.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"

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
