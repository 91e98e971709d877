/* The one growable byte buffer: JSON text, HTTP response bodies, printed tensors. */
#ifndef SB_CORE_BUF_H
#define SB_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* Zero-initialise it, free with sb_buf_free. Every append returns its status; a writer that
 * makes many small appends may instead ignore them and check `failed` once at the end:
 * after a failed append every later one does nothing and fails too. */
typedef struct sb_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap;
    bool failed; /* an append ran out of memory: the text is incomplete */
} sb_buf;

sb_status sb_buf_append(sb_buf *b, const char *bytes, size_t n);
sb_status sb_buf_puts(sb_buf *b, const char *s);
sb_status sb_buf_printf(sb_buf *b, const char *fmt, ...) SB_PRINTF(2, 3);
/* `n` copies of the byte `c` (indentation). */
sb_status sb_buf_repeat(sb_buf *b, char c, size_t n);
void sb_buf_free(sb_buf *b);

/* Grows the malloc()ed array *items (*cap items of item_size bytes) to hold at least `need`
 * items, doubling; false when out of memory (the array is then unchanged). */
bool sb_array_reserve(void **items, size_t *cap, size_t need, size_t item_size);

#endif
