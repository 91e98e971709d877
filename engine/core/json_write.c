/* Writing JSON text: the streaming writer (core/json.h), and the value tree written
 * through it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

void sb_json_format_double(double value, char *buf, size_t bufsize)
{
    /* "-0" reads back as the integer 0 in readers that keep integers apart (Python's json,
     * this writer's own round trip): the fraction keeps negative zero a float. */
    if (value == 0 && signbit(value)) {
        snprintf(buf, bufsize, "-0.0");
        return;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, bufsize, "%.*g", precision, value);
        if (strtod(buf, NULL) == value) break;
    }
    /* "%g" can give "inf"/"nan" only for values the writer rejects; a bare integer
     * spelling ("3") is a valid JSON number and reads back as the same double. */
}

/* A string with RFC 8259's escapes: the short forms where JSON has them, \u00XX for the
 * other control characters; everything else (valid UTF-8 included) verbatim. */
static sb_status write_string(const char *s, size_t len, sb_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    if (!sb_utf8_valid(s, len)) return sb_fail(SB_EINVAL, "text is not valid UTF-8");
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

/* ---- the streaming writer ------------------------------------------------------------ */

void sb_json_writer_init(sb_json_writer *w, sb_buf *out, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->pretty = pretty;
}

sb_status sb_json_writer_status(const sb_json_writer *w)
{
    return w->status;
}

static void record(sb_json_writer *w, sb_status s)
{
    if (w->status == SB_OK) w->status = s;
}

static void put(sb_json_writer *w, const char *text)
{
    if (w->status == SB_OK) record(w, sb_buf_puts(w->out, text));
}

static void newline_indent(sb_json_writer *w, int depth)
{
    if (!w->pretty) return;
    put(w, "\n");
    if (w->status == SB_OK) record(w, sb_buf_repeat(w->out, ' ', 2 * (size_t)depth));
}

/* Before a key or a value: the comma and indentation of a new item, unless the value
 * completes a key. Returns false once the writer has failed. */
static bool begin_item(sb_json_writer *w)
{
    if (w->status != SB_OK) return false;
    if (w->after_key) {
        w->after_key = false;
        return true;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth]) put(w, ",");
        w->has_items[w->depth] = true;
        newline_indent(w, w->depth);
    }
    return w->status == SB_OK;
}

static void open_container(sb_json_writer *w, const char *bracket)
{
    if (!begin_item(w)) return;
    if (w->depth == SB_JSON_MAX_DEPTH) {
        record(w, sb_fail(SB_EINVAL, "JSON nested more than %d levels", SB_JSON_MAX_DEPTH));
        return;
    }
    put(w, bracket);
    w->has_items[++w->depth] = false;
}

static void close_container(sb_json_writer *w, const char *bracket)
{
    if (w->status != SB_OK || w->depth == 0) return;
    if (w->has_items[w->depth]) newline_indent(w, w->depth - 1);
    w->depth--;
    put(w, bracket);
}

void sb_json_begin_object(sb_json_writer *w)
{
    open_container(w, "{");
}

void sb_json_end_object(sb_json_writer *w)
{
    close_container(w, "}");
}

void sb_json_begin_array(sb_json_writer *w)
{
    open_container(w, "[");
}

void sb_json_end_array(sb_json_writer *w)
{
    close_container(w, "]");
}

void sb_json_key(sb_json_writer *w, const char *key)
{
    if (!begin_item(w)) return;
    record(w, write_string(key, strlen(key), w->out));
    put(w, w->pretty ? ": " : ":");
    w->after_key = true;
}

void sb_json_put_string(sb_json_writer *w, const char *text, size_t len)
{
    if (begin_item(w)) record(w, write_string(text, len, w->out));
}

void sb_json_put_integer(sb_json_writer *w, int64_t value)
{
    if (begin_item(w)) record(w, sb_buf_printf(w->out, "%lld", (long long)value));
}

void sb_json_put_unsigned(sb_json_writer *w, uint64_t value)
{
    if (begin_item(w)) record(w, sb_buf_printf(w->out, "%llu", (unsigned long long)value));
}

void sb_json_put_number(sb_json_writer *w, double value)
{
    if (!begin_item(w)) return;
    if (!isfinite(value)) {
        record(w, sb_fail(SB_EINVAL, "JSON has no spelling for %g", value));
        return;
    }
    char num[40];
    sb_json_format_double(value, num, sizeof num);
    put(w, num);
}

void sb_json_put_bool(sb_json_writer *w, bool value)
{
    if (begin_item(w)) put(w, value ? "true" : "false");
}

void sb_json_put_null(sb_json_writer *w)
{
    if (begin_item(w)) put(w, "null");
}

/* ---- the tree -------------------------------------------------------------------------- */

static void write_value(sb_json_writer *w, const sb_json *v)
{
    switch (v->type) {
    case SB_JSON_NULL:
        sb_json_put_null(w);
        return;
    case SB_JSON_BOOL:
        sb_json_put_bool(w, v->boolean);
        return;
    case SB_JSON_INTEGER:
        sb_json_put_integer(w, v->integer);
        return;
    case SB_JSON_NUMBER:
        sb_json_put_number(w, v->number);
        return;
    case SB_JSON_STRING:
        sb_json_put_string(w, v->string, v->count);
        return;
    case SB_JSON_ARRAY:
        sb_json_begin_array(w);
        for (size_t i = 0; i < v->count; i++)
            write_value(w, v->items[i]);
        sb_json_end_array(w);
        return;
    case SB_JSON_OBJECT:
        sb_json_begin_object(w);
        for (size_t i = 0; i < v->count; i++) {
            sb_json_key(w, v->keys[i]);
            write_value(w, v->items[i]);
        }
        sb_json_end_object(w);
        return;
    }
}

sb_status sb_json_write(const sb_json *value, bool pretty, sb_buf *out)
{
    sb_json_writer w;
    sb_json_writer_init(&w, out, pretty);
    write_value(&w, value);
    return sb_json_writer_status(&w);
}
