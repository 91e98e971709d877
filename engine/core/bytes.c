#include "core/bytes.h"

#include <stdio.h>

void sb_format_bytes_prec(size_t nbytes, int decimals, char *buf, size_t bufsize)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (nbytes < 1024) {
        snprintf(buf, bufsize, "%zu bytes", nbytes);
        return;
    }
    double v = (double)nbytes / 1024;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, bufsize, "%.*f %s", decimals, v, units[u]);
}

void sb_format_bytes(size_t nbytes, char *buf, size_t bufsize)
{
    sb_format_bytes_prec(nbytes, 2, buf, bufsize);
}
