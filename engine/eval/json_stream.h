/* Large JSON files (COCO's annotations: 25 MB for val2017, 450 MB for train) read one array
 * element at a time with jansson, so memory stays near the file's own size: jansson builds a
 * small tree for one element, the caller copies what it needs and the tree is freed.
 *
 * libjansson is dlopen()ed on first use (a run that evaluates nothing never loads it), so
 * callers reach its functions through sb_jansson(), never by name. */
#ifndef SB_EVAL_JSON_STREAM_H
#define SB_EVAL_JSON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#ifdef SBENGINE_HAVE_JANSSON
#include <jansson.h>
#else
/* Built without libjansson-dev: sb_jstream_each fails before any element is handed over, so
 * the readers' element code never runs; these let it compile. */
typedef struct json_t json_t;
#define json_is_object(j) ((void)(j), 0)
#define json_is_array(j) ((void)(j), 0)
#define json_is_string(j) ((void)(j), 0)
#define json_is_number(j) ((void)(j), 0)
#define json_is_integer(j) ((void)(j), 0)
#define json_is_real(j) ((void)(j), 0)
#define json_is_boolean(j) ((void)(j), 0)
#define json_is_true(j) ((void)(j), 0)
#define json_is_null(j) ((void)(j), 0)
#endif

/* The jansson entry points the evaluators use. */
typedef struct sb_jansson_api {
    json_t *(*loadb)(const char *buffer, size_t buflen, size_t flags, void *error);
    void (*delete_)(json_t *json);
    json_t *(*object_get)(const json_t *object, const char *key);
    size_t (*array_size)(const json_t *array);
    json_t *(*array_get)(const json_t *array, size_t index);
    long long (*integer_value)(const json_t *integer);
    double (*number_value)(const json_t *json);
    const char *(*string_value)(const json_t *string);
    size_t (*string_length)(const json_t *string);
    void *(*object_iter)(json_t *object);
    void *(*object_iter_next)(json_t *object, void *iter);
    const char *(*object_iter_key)(void *iter);
    json_t *(*object_iter_value)(void *iter);
} sb_jansson_api;

/* The loaded library, or NULL with the reason recorded (sb_fail). */
const sb_jansson_api *sb_jansson(void);

/* Frees a tree that sb_jstream_each handed over (json_decref). */
void sb_jstream_free(json_t *json);
/* Keeps (a part of) an element past its callback (json_incref); sb_jstream_free releases it. */
json_t *sb_jstream_keep(const json_t *json);

/* Called for each element of an array; `key` is the top-level key that holds the array (NULL
 * for a top-level array), `index` the element's 0-based position. The element is freed after
 * the call. */
typedef sb_status (*sb_jstream_element_fn)(void *ctx, const char *key, const json_t *element,
                                           size_t index);

/* Walks `text`: a top-level object whose members named in `keys` (NULL-terminated) are arrays,
 * each element handed to `fn`; other members are parsed and skipped. With keys == NULL the top
 * level must be an array and every element goes to `fn`. `what` names the file in messages
 * ("instances_val2017.json: ..."). *found (optional, one per key) says which keys were seen. */
sb_status sb_jstream_each(const char *text, size_t len, const char *what, const char *const *keys,
                          bool *found, sb_jstream_element_fn fn, void *ctx);

/* As sb_jstream_each, and each element's bytes in `text` are [start, end): a reader can keep
 * the text and parse one element again later (sb_jstream_parse) instead of holding its tree. */
typedef sb_status (*sb_jstream_span_fn)(void *ctx, const char *key, const json_t *element,
                                        size_t index, size_t start, size_t end);
sb_status sb_jstream_each_span(const char *text, size_t len, const char *what,
                               const char *const *keys, bool *found, sb_jstream_span_fn fn,
                               void *ctx);

/* Parses the one JSON value in text[0, len) into *out (freed with sb_jstream_free). */
sb_status sb_jstream_parse(const char *text, size_t len, const char *what, json_t **out);

/* Hands a parsed value to a consumer that builds its own copy (a Lua table), depth first:
 * a container is begun, then each of its values followed by `member` (objects: the key) or
 * `element` (arrays: the 0-based position), then ended. Any callback may fail the walk. */
typedef struct sb_jstream_visitor {
    sb_status (*begin)(void *ctx, bool array, size_t size);
    sb_status (*end)(void *ctx, bool array);
    sb_status (*member)(void *ctx, const char *key);
    sb_status (*element)(void *ctx, size_t index);
    sb_status (*integer)(void *ctx, int64_t v);
    sb_status (*real)(void *ctx, double v);
    sb_status (*string)(void *ctx, const char *s, size_t len);
    sb_status (*boolean)(void *ctx, bool v);
    sb_status (*null)(void *ctx);
} sb_jstream_visitor;
sb_status sb_jstream_walk(const json_t *value, const sb_jstream_visitor *v, void *ctx);

/* Walks `text`, a top-level object, handing each member's value to `fn` in the file's order
 * (`key` its name, `index` its position); a name given twice comes twice. */
sb_status sb_jstream_each_member(const char *text, size_t len, const char *what,
                                 sb_jstream_element_fn fn, void *ctx);

/* Reads a whole file into a malloc()ed buffer of *len bytes (core/sys.h's sb_read_fd). */
sb_status sb_jstream_read_file(const char *path, char **text, size_t *len);

/* Helpers over one element (an object): a member as a number / an integer (a real with an
 * integral value counts, as Python compares 42.0 == 42). false when absent or mistyped. */
bool sb_jstream_number(const json_t *object, const char *key, double *out);
bool sb_jstream_integer(const json_t *object, const char *key, int64_t *out);
bool sb_jstream_is_integer(const json_t *json, int64_t *out);

#endif
