#include "core/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The value tree; writing is in json_write.c. */

const char *sb_json_type_name(sb_json_type type)
{
    static const char *const names[] = {
        [SB_JSON_NULL] = "null",     [SB_JSON_BOOL] = "boolean",  [SB_JSON_INTEGER] = "number",
        [SB_JSON_NUMBER] = "number", [SB_JSON_STRING] = "string", [SB_JSON_ARRAY] = "array",
        [SB_JSON_OBJECT] = "object"};
    return (unsigned)type < sizeof names / sizeof *names ? names[type] : "?";
}

static sb_status new_value(sb_json_type type, sb_json **out)
{
    sb_json *v = calloc(1, sizeof *v);
    if (!v)
        return sb_fail(SB_ENOMEM, "out of memory allocating a JSON %s", sb_json_type_name(type));
    v->type = type;
    *out = v;
    return SB_OK;
}

sb_status sb_json_null(sb_json **out)
{
    return new_value(SB_JSON_NULL, out);
}

sb_status sb_json_bool(bool value, sb_json **out)
{
    SB_TRY(new_value(SB_JSON_BOOL, out));
    (*out)->boolean = value;
    return SB_OK;
}

sb_status sb_json_integer(int64_t value, sb_json **out)
{
    SB_TRY(new_value(SB_JSON_INTEGER, out));
    (*out)->integer = value;
    return SB_OK;
}

sb_status sb_json_number(double value, sb_json **out)
{
    if (isnan(value)) return sb_fail(SB_EINVAL, "expected a finite number, got NaN");
    if (isinf(value))
        return sb_fail(SB_EINVAL, "expected a finite number, got %s", value > 0 ? "inf" : "-inf");
    SB_TRY(new_value(SB_JSON_NUMBER, out));
    (*out)->number = value;
    return SB_OK;
}

sb_status sb_json_string(const char *text, size_t len, sb_json **out)
{
    if (!sb_utf8_valid(text, len)) return sb_fail(SB_EINVAL, "text is not valid UTF-8");
    char *copy = malloc(len + 1);
    if (!copy) return sb_fail(SB_ENOMEM, "out of memory copying a %zu-byte string", len);
    memcpy(copy, text, len);
    copy[len] = '\0';
    sb_status s = new_value(SB_JSON_STRING, out);
    if (s != SB_OK) {
        free(copy);
        return s;
    }
    (*out)->string = copy;
    (*out)->count = len;
    return SB_OK;
}

sb_status sb_json_array(sb_json **out)
{
    return new_value(SB_JSON_ARRAY, out);
}
sb_status sb_json_object(sb_json **out)
{
    return new_value(SB_JSON_OBJECT, out);
}

void sb_json_free(sb_json *v)
{
    if (!v) return;
    free(v->string);
    for (size_t i = 0; i < v->count && v->items; i++) {
        sb_json_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v);
}

static sb_status grow(sb_json *c)
{
    if (c->count < c->cap) return SB_OK;
    size_t cap = c->cap ? 2 * c->cap : 8;
    sb_json **items = realloc(c->items, cap * sizeof *items);
    if (!items)
        return sb_fail(SB_ENOMEM, "out of memory growing a JSON %s", sb_json_type_name(c->type));
    c->items = items;
    if (c->type == SB_JSON_OBJECT) {
        char **keys = realloc(c->keys, cap * sizeof *keys);
        if (!keys) return sb_fail(SB_ENOMEM, "out of memory growing a JSON object");
        c->keys = keys;
    }
    c->cap = cap;
    return SB_OK;
}

sb_status sb_json_array_push(sb_json *array, sb_json *item)
{
    sb_status s =
        array->type == SB_JSON_ARRAY ? grow(array) : sb_fail(SB_EINVAL, "push: not a JSON array");
    if (s != SB_OK) {
        sb_json_free(item);
        return s;
    }
    array->items[array->count++] = item;
    return SB_OK;
}

sb_status sb_json_object_set(sb_json *object, const char *key, sb_json *item)
{
    if (object->type != SB_JSON_OBJECT) {
        sb_json_free(item);
        return sb_fail(SB_EINVAL, "set: not a JSON object");
    }
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) {
            sb_json_free(object->items[i]);
            object->items[i] = item;
            return SB_OK;
        }
    size_t len = strlen(key);
    if (!sb_utf8_valid(key, len)) {
        sb_json_free(item);
        return sb_fail(SB_EINVAL, "key is not valid UTF-8");
    }
    char *copy = malloc(len + 1);
    sb_status s = copy ? grow(object) : sb_fail(SB_ENOMEM, "out of memory copying a key");
    if (s != SB_OK) {
        free(copy);
        sb_json_free(item);
        return s;
    }
    memcpy(copy, key, len + 1);
    object->keys[object->count] = copy;
    object->items[object->count++] = item;
    return SB_OK;
}

sb_json *sb_json_object_get(const sb_json *object, const char *key)
{
    if (!object || object->type != SB_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) return object->items[i];
    return NULL;
}

sb_status sb_json_clone(const sb_json *v, sb_json **out)
{
    switch (v->type) {
    case SB_JSON_NULL:
        return sb_json_null(out);
    case SB_JSON_BOOL:
        return sb_json_bool(v->boolean, out);
    case SB_JSON_INTEGER:
        return sb_json_integer(v->integer, out);
    case SB_JSON_NUMBER:
        return sb_json_number(v->number, out);
    case SB_JSON_STRING:
        return sb_json_string(v->string, v->count, out);
    case SB_JSON_ARRAY:
    case SB_JSON_OBJECT:
        break;
    }
    sb_json *c = NULL;
    SB_TRY(new_value(v->type, &c));
    for (size_t i = 0; i < v->count; i++) {
        sb_json *item = NULL;
        sb_status s = sb_json_clone(v->items[i], &item);
        if (s == SB_OK)
            s = v->type == SB_JSON_ARRAY ? sb_json_array_push(c, item)
                                         : sb_json_object_set(c, v->keys[i], item);
        if (s != SB_OK) {
            sb_json_free(c);
            return s;
        }
    }
    *out = c;
    return SB_OK;
}

bool sb_json_is_number(const sb_json *v)
{
    return v && (v->type == SB_JSON_NUMBER || v->type == SB_JSON_INTEGER);
}
