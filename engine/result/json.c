#include "result/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sb_json_type_name(sb_json_type type)
{
    switch (type) {
    case SB_JSON_NULL:
        return "null";
    case SB_JSON_BOOL:
        return "boolean";
    case SB_JSON_INTEGER:
    case SB_JSON_NUMBER:
        return "number";
    case SB_JSON_STRING:
        return "string";
    case SB_JSON_ARRAY:
        return "array";
    case SB_JSON_OBJECT:
        return "object";
    }
    return "?";
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

bool sb_utf8_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (i + n >= len) return false; /* truncated sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
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

double sb_json_to_double(const sb_json *v)
{
    return v->type == SB_JSON_INTEGER ? (double)v->integer : v->number;
}

void sb_json_format_double(double value, char *buf, size_t bufsize)
{
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, bufsize, "%.*g", precision, value);
        if (strtod(buf, NULL) == value) break;
    }
    /* "%g" can give "inf"/"nan" only for values the constructors reject; a bare integer
     * spelling ("3") is a valid JSON number and reads back as the same double. */
}

static sb_status write_string(const char *s, size_t len, sb_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    SB_TRY(sb_buf_append(out, "\"", 1));
    size_t run = 0; /* bytes copied verbatim in one append */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            if (c < 0x20) {
                u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4],
                u[5] = hex[c & 15], u[6] = '\0';
                esc = u;
            }
        }
        if (!esc) continue;
        SB_TRY(sb_buf_append(out, s + run, i - run));
        SB_TRY(sb_buf_puts(out, esc));
        run = i + 1;
    }
    SB_TRY(sb_buf_append(out, s + run, len - run));
    return sb_buf_append(out, "\"", 1);
}

static sb_status write_indent(bool pretty, int depth, sb_buf *out)
{
    if (!pretty) return SB_OK;
    SB_TRY(sb_buf_append(out, "\n", 1));
    for (int i = 0; i < depth; i++)
        SB_TRY(sb_buf_append(out, "  ", 2));
    return SB_OK;
}

static sb_status write_value(const sb_json *v, bool pretty, int depth, sb_buf *out)
{
    char num[40];
    switch (v->type) {
    case SB_JSON_NULL:
        return sb_buf_puts(out, "null");
    case SB_JSON_BOOL:
        return sb_buf_puts(out, v->boolean ? "true" : "false");
    case SB_JSON_INTEGER:
        return sb_buf_printf(out, "%lld", (long long)v->integer);
    case SB_JSON_NUMBER:
        if (!isfinite(v->number))
            return sb_fail(SB_EINVAL, "JSON has no spelling for %g", v->number);
        sb_json_format_double(v->number, num, sizeof num);
        return sb_buf_puts(out, num);
    case SB_JSON_STRING:
        return write_string(v->string, v->count, out);
    case SB_JSON_ARRAY:
    case SB_JSON_OBJECT:
        break;
    }
    bool object = v->type == SB_JSON_OBJECT;
    SB_TRY(sb_buf_puts(out, object ? "{" : "["));
    for (size_t i = 0; i < v->count; i++) {
        if (i > 0) SB_TRY(sb_buf_puts(out, ","));
        SB_TRY(write_indent(pretty, depth + 1, out));
        if (object) {
            SB_TRY(write_string(v->keys[i], strlen(v->keys[i]), out));
            SB_TRY(sb_buf_puts(out, pretty ? ": " : ":"));
        }
        SB_TRY(write_value(v->items[i], pretty, depth + 1, out));
    }
    if (v->count > 0) SB_TRY(write_indent(pretty, depth, out));
    return sb_buf_puts(out, object ? "}" : "]");
}

sb_status sb_json_write(const sb_json *value, bool pretty, sb_buf *out)
{
    return write_value(value, pretty, 0, out);
}
