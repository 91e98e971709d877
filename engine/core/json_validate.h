/* Strict JSON validation (RFC 8259) for text the engine did not write itself, before it is
 * trusted: the store file before an append (lua-cjson accepts raw control characters,
 * invalid UTF-8, NaN and hexadecimal numbers, which are not JSON).
 *
 * Accepted: exactly one value with optional whitespace around it; strings of valid UTF-8
 * without raw control characters; every \uXXXX escape, lone surrogates included (the
 * grammar allows them); numbers as the grammar spells them. Nesting deeper than
 * SB_JSON_MAX_DEPTH is refused rather than risk the stack. */
#ifndef SB_CORE_JSON_VALIDATE_H
#define SB_CORE_JSON_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SB_JSON_MAX_DEPTH 512

typedef struct sb_json_shape {
    char top;       /* the top-level value's first character: '[', '{', '"', 't', 'n', '0'... */
    size_t members; /* elements of a top-level array, or members of a top-level object */
} sb_json_shape;

/* SB_OK when text[0..len) is valid JSON, with its shape in *shape (may be NULL); else
 * SB_EFORMAT with a message saying what is wrong and at which line and column. */
sb_status sb_json_validate(const char *text, size_t len, sb_json_shape *shape);

#endif
