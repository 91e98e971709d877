#include "core/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sb_status reserve(sb_buf *b, size_t n)
{
    if (b->failed) return SB_ENOMEM; /* the message of the first failure stays */
    if (b->len + n + 1 <= b->cap) return SB_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        b->failed = true;
        return sb_fail(SB_ENOMEM, "out of memory growing a %zu-byte buffer", b->len);
    }
    b->data = data;
    b->cap = cap;
    return SB_OK;
}

sb_status sb_buf_append(sb_buf *b, const char *bytes, size_t n)
{
    SB_TRY(reserve(b, n));
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SB_OK;
}

sb_status sb_buf_repeat(sb_buf *b, char c, size_t n)
{
    SB_TRY(reserve(b, n));
    memset(b->data + b->len, c, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SB_OK;
}

sb_status sb_buf_puts(sb_buf *b, const char *s)
{
    return sb_buf_append(b, s, strlen(s));
}

sb_status sb_buf_printf(sb_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return sb_fail(SB_EINVAL, "bad format '%s'", fmt);
    if ((size_t)n < sizeof small) return sb_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return sb_fail(SB_ENOMEM, "out of memory formatting %d bytes", n);
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_status s = sb_buf_append(b, big, (size_t)n);
    free(big);
    return s;
}

void sb_buf_free(sb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

bool sb_array_reserve(void **items, size_t *cap, size_t need, size_t item_size)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / item_size) return false;
    void *grown = realloc(*items, n * item_size);
    if (!grown) return false;
    *items = grown;
    *cap = n;
    return true;
}
