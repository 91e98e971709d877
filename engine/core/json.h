/* The one JSON writer: a small value tree (BenchmarkResult, the store file) and a streaming
 * writer (the safetensors header, request bodies), both writing the same text.
 *
 * Writing is done here in C so that key order (sotabench's), escaping and number precision
 * are under our control: strings are escaped per RFC 8259 and must be valid UTF-8; numbers
 * must be finite (NaN and infinities have no JSON spelling) and are written with the fewest
 * digits that read back to the same double. Reading JSON is done on the Lua side with
 * lua-cjson (docs/results.md says where); the safetensors header has its own strict reader. */
#ifndef SB_CORE_JSON_H
#define SB_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/utf8.h"

typedef enum sb_json_type {
    SB_JSON_NULL,
    SB_JSON_BOOL,
    SB_JSON_INTEGER, /* written without a fraction: counts, bytes */
    SB_JSON_NUMBER,  /* a finite double */
    SB_JSON_STRING,
    SB_JSON_ARRAY,
    SB_JSON_OBJECT /* keys keep insertion order */
} sb_json_type;

typedef struct sb_json {
    sb_json_type type;
    bool boolean;
    int64_t integer;
    double number;
    char *string; /* NUL-terminated copy */
    size_t count, cap;
    char **keys; /* objects only */
    struct sb_json **items;
} sb_json;

const char *sb_json_type_name(sb_json_type type); /* "null", "boolean", "number", ... */

/* Constructors write a new value to *out. sb_json_number fails (SB_EINVAL) on NaN or an
 * infinity; sb_json_string fails on text that is not valid UTF-8. */
sb_status sb_json_null(sb_json **out);
sb_status sb_json_bool(bool value, sb_json **out);
sb_status sb_json_integer(int64_t value, sb_json **out);
sb_status sb_json_number(double value, sb_json **out);
sb_status sb_json_string(const char *text, size_t len, sb_json **out);
sb_status sb_json_array(sb_json **out);
sb_status sb_json_object(sb_json **out);
sb_status sb_json_clone(const sb_json *value, sb_json **out);
void sb_json_free(sb_json *value); /* NULL is a no-op */

/* Both take ownership of `item`, also when they fail. Setting an existing key replaces
 * its value in place (the key keeps its position). */
sb_status sb_json_array_push(sb_json *array, sb_json *item);
sb_status sb_json_object_set(sb_json *object, const char *key, sb_json *item);
/* The value under `key`, or NULL. */
sb_json *sb_json_object_get(const sb_json *object, const char *key);

bool sb_json_is_number(const sb_json *value); /* INTEGER or NUMBER */

/* Appends the JSON text of `value`. pretty: two-space indentation and ": " as Python's
 * json.dumps(indent=2) writes them; compact: no whitespace at all. */
sb_status sb_json_write(const sb_json *value, bool pretty, sb_buf *out);
/* The shortest "%.*g" spelling (15..17 digits) that reads back to `value` exactly. */
void sb_json_format_double(double value, char *buf, size_t bufsize);

/* ---- streaming ----------------------------------------------------------------------------
 * JSON text written as it is produced, with the tree writer's layout:
 *
 *   sb_json_writer w;
 *   sb_json_writer_init(&w, &buf, false);
 *   sb_json_begin_object(&w);
 *   sb_json_key(&w, "shape");
 *   sb_json_begin_array(&w);
 *   sb_json_put_integer(&w, 3);
 *   sb_json_end_array(&w);
 *   sb_json_end_object(&w);            -> {"shape":[3]}
 *   sb_status s = sb_json_writer_status(&w);
 *
 * The first failure (out of memory, text that is not UTF-8, a NaN, nesting deeper than
 * SB_JSON_MAX_DEPTH) is kept and every later call does nothing, so a writer is checked once
 * at the end. Keys and values must alternate inside objects; the writer does not check. */
#define SB_JSON_MAX_DEPTH 64

typedef struct sb_json_writer {
    sb_buf *out;
    bool pretty;
    bool after_key;                        /* the next value completes a "key": pair */
    int depth;                             /* open containers */
    bool has_items[SB_JSON_MAX_DEPTH + 1]; /* per open container: an item was written */
    sb_status status;
} sb_json_writer;

void sb_json_writer_init(sb_json_writer *w, sb_buf *out, bool pretty);
sb_status sb_json_writer_status(const sb_json_writer *w);
void sb_json_begin_object(sb_json_writer *w);
void sb_json_end_object(sb_json_writer *w);
void sb_json_begin_array(sb_json_writer *w);
void sb_json_end_array(sb_json_writer *w);
void sb_json_key(sb_json_writer *w, const char *key);
void sb_json_put_string(sb_json_writer *w, const char *text, size_t len);
void sb_json_put_integer(sb_json_writer *w, int64_t value);
void sb_json_put_unsigned(sb_json_writer *w, uint64_t value);
void sb_json_put_number(sb_json_writer *w, double value);
void sb_json_put_bool(sb_json_writer *w, bool value);
void sb_json_put_null(sb_json_writer *w);

#endif
