/* Reading requests with jansson, and handing jansson's trees to the engine's JSON writer. */
#include <string.h>

#include "server/server.h"

enum { MAX_DEPTH = 64 };

sb_json *sb_json_from_jansson(const json_t *value)
{
    sb_json *out = NULL;
    sb_status st = SB_OK;
    switch (json_typeof(value)) {
    case JSON_NULL:
        st = sb_json_null(&out);
        break;
    case JSON_TRUE:
        st = sb_json_bool(true, &out);
        break;
    case JSON_FALSE:
        st = sb_json_bool(false, &out);
        break;
    case JSON_INTEGER:
        st = sb_json_integer(json_integer_value(value), &out);
        break;
    case JSON_REAL:
        st = sb_json_number(json_real_value(value), &out);
        break;
    case JSON_STRING:
        st = sb_json_string(json_string_value(value), json_string_length(value), &out);
        break;
    case JSON_ARRAY: {
        if ((st = sb_json_array(&out)) != SB_OK) break;
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item)
        {
            sb_json *v = sb_json_from_jansson(item);
            if (!v || sb_json_array_push(out, v) != SB_OK) {
                st = SB_ENOMEM;
                break;
            }
        }
        break;
    }
    case JSON_OBJECT: {
        if ((st = sb_json_object(&out)) != SB_OK) break;
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)value, key, item)
        {
            sb_json *v = sb_json_from_jansson(item);
            if (!v || sb_json_object_set(out, key, v) != SB_OK) {
                st = SB_ENOMEM;
                break;
            }
        }
        break;
    }
    }
    if (st != SB_OK) {
        sb_json_free(out);
        return NULL;
    }
    return out;
}

/* The nesting depth of a text, counted before jansson builds anything, so that a hostile
 * body of a million '[' costs a scan, not a million nested allocations. Strings are skipped. */
static int nesting_depth(const char *s, size_t n)
{
    int depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max) max = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

json_t *sb_json_parse_request(const char *text, size_t len, char *err, size_t err_size)
{
    if (nesting_depth(text, len) > MAX_DEPTH) {
        snprintf(err, err_size, "the body is not accepted: JSON nested deeper than %d levels",
                 MAX_DEPTH);
        return NULL;
    }
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!v)
        snprintf(err, err_size, "the body is not valid JSON: %s (at byte %d)", e.text, e.position);
    return v;
}

const char *sb_jstr(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
