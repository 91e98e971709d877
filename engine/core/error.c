#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SB_ERROR_MAX 1024

static _Thread_local char error_message[SB_ERROR_MAX];

sb_status sb_fail(sb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

sb_status sb_fail_context(sb_status code, const char *fmt, ...)
{
    char prefix[SB_ERROR_MAX];
    char previous[SB_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(previous, error_message, sizeof previous);
    snprintf(error_message, sizeof error_message, "%s: %s", prefix, previous);
    return code;
}

const char *sb_error_message(void)
{
    return error_message;
}

void sb_error_clear(void)
{
    error_message[0] = '\0';
}

const char *sb_status_name(sb_status code)
{
    static const char *const names[] = {
        [SB_OK] = "ok",
        [SB_EINVAL] = "invalid argument",
        [SB_ENOMEM] = "out of memory",
        [SB_ERANGE] = "out of range",
        [SB_EIO] = "i/o error",
        [SB_EFORMAT] = "malformed data",
        [SB_ENET] = "network error",
        [SB_EDEVICE] = "device error",
        [SB_EUNSUPPORTED] = "unsupported",
        [SB_ESTATE] = "invalid state",
    };
    if ((unsigned)code < sizeof names / sizeof *names && names[code]) return names[code];
    return "unknown error";
}
