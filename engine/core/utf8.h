/* UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Used by the JSON writer (core/json.h) and the safetensors header reader. */
#ifndef SB_CORE_UTF8_H
#define SB_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether the `len` bytes at `text` are valid UTF-8. */
bool sb_utf8_valid(const char *text, size_t len);
/* The length (1..4) of the valid sequence starting at p (p < end), or 0. */
size_t sb_utf8_sequence_length(const unsigned char *p, const unsigned char *end);
/* Writes code point `cp` (at most U+10FFFF) to dst (room for 4 bytes); returns its length. */
size_t sb_utf8_encode(uint32_t cp, char *dst);

#endif
