/* A growable byte buffer (JSON text, HTTP response bodies). */
#ifndef SB_CORE_BUF_H
#define SB_CORE_BUF_H

#include <stddef.h>

#include "core/error.h"

/* Zero-initialise it, free with sb_buf_free. */
typedef struct sb_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap;
} sb_buf;

sb_status sb_buf_append(sb_buf *b, const char *bytes, size_t n);
sb_status sb_buf_puts(sb_buf *b, const char *s);
sb_status sb_buf_printf(sb_buf *b, const char *fmt, ...) SB_PRINTF(2, 3);
void sb_buf_free(sb_buf *b);

#endif
