/* The one byte-count formatter for messages: binary units, "42 bytes" below 1 KiB. */
#ifndef SB_CORE_BYTES_H
#define SB_CORE_BYTES_H

#include <stddef.h>

/* "1.50 GiB", "512.00 KiB", "42 bytes" (two decimals: GPU memory messages). */
void sb_format_bytes(size_t nbytes, char *buf, size_t bufsize);
/* The same with `decimals` digits after the point: "4.0 PiB" with 1. */
void sb_format_bytes_prec(size_t nbytes, int decimals, char *buf, size_t bufsize);

#endif
