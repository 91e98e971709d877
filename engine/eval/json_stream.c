#include "eval/json_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dynlib.h"
#include "core/sys.h"

#ifdef SBENGINE_HAVE_JANSSON

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static sb_jansson_api api;
static const sb_jansson_api *loaded;
static char load_error[512];

static void load_jansson(void)
{
    void *lib = sb_dynlib_open("libjansson.so.4", "libjansson4", load_error, sizeof load_error);
    const sb_dynlib_symbol symbols[] = {
        SB_DYNLIB_SYMBOL(api.loadb, "json_loadb"),
        SB_DYNLIB_SYMBOL(api.delete_, "json_delete"),
        SB_DYNLIB_SYMBOL(api.object_get, "json_object_get"),
        SB_DYNLIB_SYMBOL(api.array_size, "json_array_size"),
        SB_DYNLIB_SYMBOL(api.array_get, "json_array_get"),
        SB_DYNLIB_SYMBOL(api.integer_value, "json_integer_value"),
        SB_DYNLIB_SYMBOL(api.number_value, "json_number_value"),
        SB_DYNLIB_SYMBOL(api.string_value, "json_string_value"),
        SB_DYNLIB_SYMBOL(api.string_length, "json_string_length"),
        SB_DYNLIB_SYMBOL(api.object_iter, "json_object_iter"),
        SB_DYNLIB_SYMBOL(api.object_iter_next, "json_object_iter_next"),
        SB_DYNLIB_SYMBOL(api.object_iter_key, "json_object_iter_key"),
        SB_DYNLIB_SYMBOL(api.object_iter_value, "json_object_iter_value"),
    };
    if (!lib ||
        !sb_dynlib_resolve(lib, "libjansson.so.4", symbols, sizeof symbols / sizeof *symbols,
                           "libjansson4", load_error, sizeof load_error))
        return;
    loaded = &api;
}

const sb_jansson_api *sb_jansson(void)
{
    pthread_once(&load_once, load_jansson);
    if (!loaded) sb_fail(SB_EUNSUPPORTED, "%s", load_error);
    return loaded;
}

void sb_jstream_free(json_t *json)
{
    /* json_decref, through the loaded library (the header's inline calls json_delete by name) */
    if (json && json->refcount != (size_t)-1 &&
        __atomic_sub_fetch(&json->refcount, 1, __ATOMIC_RELEASE) == 0)
        loaded->delete_(json);
}

json_t *sb_jstream_keep(const json_t *json)
{
    return json_incref((json_t *)json);
}

static size_t skip_space(const char *t, size_t len, size_t i)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* Line and column of byte `pos`, for messages. */
static void position(const char *t, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (t[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static sb_status syntax_error(const char *t, size_t pos, const char *what, const char *expected)
{
    int line, col;
    position(t, pos, &line, &col);
    return sb_fail(SB_EFORMAT, "%s: line %d, column %d: expected %s", what, line, col, expected);
}

/* Parses one value at t[*i]; *i moves past it. */
static sb_status parse_value(const char *t, size_t len, size_t *i, const char *what, json_t **out)
{
    json_error_t err;
    json_t *v = api.loadb(t + *i, len - *i, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &err);
    if (!v) {
        int line, col;
        position(t, *i + (size_t)(err.position > 0 ? err.position : 0), &line, &col);
        return sb_fail(SB_EFORMAT, "%s: line %d, column %d: %s", what, line, col, err.text);
    }
    *i += (size_t)err.position;
    *out = v;
    return SB_OK;
}

/* Who receives the elements: `fn`, or `span` with their bytes. */
typedef struct receiver {
    sb_jstream_element_fn fn;
    sb_jstream_span_fn span;
    void *ctx;
} receiver;

/* The elements of the array starting at t[*i] ('['), each handed to the receiver. */
static sb_status each_in_array(const char *t, size_t len, size_t *i, const char *what,
                               const char *key, const receiver *r)
{
    size_t p = skip_space(t, len, *i);
    if (p >= len || t[p] != '[')
        return key ? sb_fail(SB_EFORMAT, "%s: \"%s\" must be an array", what, key)
                   : syntax_error(t, p, what, "an array '['");
    p = skip_space(t, len, p + 1);
    if (p < len && t[p] == ']') {
        *i = p + 1;
        return SB_OK;
    }
    for (size_t index = 0;; index++) {
        json_t *element = NULL;
        size_t start = p;
        SB_TRY(parse_value(t, len, &p, what, &element));
        sb_status st = r->span ? r->span(r->ctx, key, element, index, start, p)
                               : r->fn(r->ctx, key, element, index);
        sb_jstream_free(element);
        if (st != SB_OK) return st;
        p = skip_space(t, len, p);
        if (p < len && t[p] == ',') {
            p = skip_space(t, len, p + 1);
            continue;
        }
        if (p < len && t[p] == ']') break;
        return syntax_error(t, p, what, "',' or ']' in an array");
    }
    *i = p + 1;
    return SB_OK;
}

/* What to do with the value of member `name` at text[*i]: consume it, moving *i past it. */
typedef sb_status (*member_fn)(void *ctx, const char *name, const char *text, size_t len,
                               size_t *i);

/* Walks the top-level object of `text`, member by member in the file's order. */
static sb_status walk_object(const char *text, size_t len, const char *what, member_fn member,
                             void *ctx)
{
    size_t i = skip_space(text, len, 0);
    if (i >= len || text[i] != '{') return syntax_error(text, i, what, "an object '{'");
    i = skip_space(text, len, i + 1);
    if (i < len && text[i] == '}') {
        i++;
    } else {
        for (;;) {
            json_t *name = NULL;
            size_t at = i;
            SB_TRY(parse_value(text, len, &i, what, &name));
            if (!json_is_string(name)) {
                sb_jstream_free(name);
                return syntax_error(text, at, what, "a member name");
            }
            i = skip_space(text, len, i);
            if (i >= len || text[i] != ':') {
                sb_jstream_free(name);
                return syntax_error(text, i, what, "':'");
            }
            i = skip_space(text, len, i + 1);
            sb_status st = member(ctx, api.string_value(name), text, len, &i);
            sb_jstream_free(name);
            SB_TRY(st);
            i = skip_space(text, len, i);
            if (i < len && text[i] == ',') {
                i = skip_space(text, len, i + 1);
                continue;
            }
            if (i < len && text[i] == '}') {
                i++;
                break;
            }
            return syntax_error(text, i, what, "',' or '}' in an object");
        }
    }
    i = skip_space(text, len, i);
    if (i != len) return syntax_error(text, i, what, "the end of the file");
    return SB_OK;
}

typedef struct keyed_arrays {
    const char *what;
    const char *const *keys;
    bool *found;
    const receiver *r;
} keyed_arrays;

static sb_status keyed_member(void *ctx, const char *name, const char *text, size_t len, size_t *i)
{
    keyed_arrays *k = ctx;
    for (int which = 0; k->keys[which]; which++) {
        if (strcmp(name, k->keys[which]) != 0) continue;
        if (k->found) k->found[which] = true;
        return each_in_array(text, len, i, k->what, k->keys[which], k->r);
    }
    json_t *skipped = NULL;
    SB_TRY(parse_value(text, len, i, k->what, &skipped));
    sb_jstream_free(skipped);
    return SB_OK;
}

static sb_status each(const char *text, size_t len, const char *what, const char *const *keys,
                      bool *found, const receiver *r)
{
    if (!sb_jansson()) return sb_fail_context(SB_EUNSUPPORTED, "%s", what);
    if (!keys) {
        size_t i = 0;
        SB_TRY(each_in_array(text, len, &i, what, NULL, r));
        i = skip_space(text, len, i);
        if (i != len) return syntax_error(text, i, what, "the end of the file");
        return SB_OK;
    }
    keyed_arrays k = {what, keys, found, r};
    return walk_object(text, len, what, keyed_member, &k);
}

sb_status sb_jstream_each(const char *text, size_t len, const char *what, const char *const *keys,
                          bool *found, sb_jstream_element_fn fn, void *ctx)
{
    const receiver r = {fn, NULL, ctx};
    return each(text, len, what, keys, found, &r);
}

sb_status sb_jstream_each_span(const char *text, size_t len, const char *what,
                               const char *const *keys, bool *found, sb_jstream_span_fn fn,
                               void *ctx)
{
    const receiver r = {NULL, fn, ctx};
    return each(text, len, what, keys, found, &r);
}

typedef struct each_value {
    const char *what;
    sb_jstream_element_fn fn;
    void *ctx;
    size_t index;
} each_value;

static sb_status value_member(void *ctx, const char *name, const char *text, size_t len, size_t *i)
{
    each_value *e = ctx;
    json_t *value = NULL;
    SB_TRY(parse_value(text, len, i, e->what, &value));
    sb_status st = e->fn(e->ctx, name, value, e->index++);
    sb_jstream_free(value);
    return st;
}

sb_status sb_jstream_each_member(const char *text, size_t len, const char *what,
                                 sb_jstream_element_fn fn, void *ctx)
{
    if (!sb_jansson()) return sb_fail_context(SB_EUNSUPPORTED, "%s", what);
    each_value e = {what, fn, ctx, 0};
    return walk_object(text, len, what, value_member, &e);
}

sb_status sb_jstream_parse(const char *text, size_t len, const char *what, json_t **out)
{
    if (!sb_jansson()) return sb_fail_context(SB_EUNSUPPORTED, "%s", what);
    size_t i = 0;
    SB_TRY(parse_value(text, len, &i, what, out));
    i = skip_space(text, len, i);
    if (i != len) {
        sb_jstream_free(*out);
        *out = NULL;
        return syntax_error(text, i, what, "the end of the value");
    }
    return SB_OK;
}

sb_status sb_jstream_walk(const json_t *value, const sb_jstream_visitor *v, void *ctx)
{
    json_t *j = (json_t *)value; /* jansson's getters take non-const trees */
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = 0;
        for (void *it = api.object_iter(j); it; it = api.object_iter_next(j, it))
            n++;
        SB_TRY(v->begin(ctx, false, n));
        for (void *it = api.object_iter(j); it; it = api.object_iter_next(j, it)) {
            SB_TRY(sb_jstream_walk(api.object_iter_value(it), v, ctx));
            SB_TRY(v->member(ctx, api.object_iter_key(it)));
        }
        return v->end(ctx, false);
    }
    case JSON_ARRAY: {
        size_t n = api.array_size(j);
        SB_TRY(v->begin(ctx, true, n));
        for (size_t k = 0; k < n; k++) {
            SB_TRY(sb_jstream_walk(api.array_get(j, k), v, ctx));
            SB_TRY(v->element(ctx, k));
        }
        return v->end(ctx, true);
    }
    case JSON_STRING:
        return v->string(ctx, api.string_value(j), api.string_length(j));
    case JSON_INTEGER:
        return v->integer(ctx, (int64_t)api.integer_value(j));
    case JSON_REAL:
        return v->real(ctx, api.number_value(j));
    case JSON_TRUE:
        return v->boolean(ctx, true);
    case JSON_FALSE:
        return v->boolean(ctx, false);
    case JSON_NULL:
        return v->null(ctx);
    }
    return sb_fail(SB_EFORMAT, "a JSON value of an unknown type");
}

bool sb_jstream_is_integer(const json_t *json, int64_t *out)
{
    if (json_is_integer(json)) {
        *out = (int64_t)api.integer_value(json);
        return true;
    }
    if (json_is_real(json)) {
        double v = api.number_value(json);
        if (v >= -9.2e18 && v <= 9.2e18 && v == (double)(int64_t)v) {
            *out = (int64_t)v;
            return true;
        }
    }
    return false;
}

bool sb_jstream_number(const json_t *object, const char *key, double *out)
{
    json_t *v = api.object_get(object, key);
    if (!json_is_number(v)) return false;
    *out = api.number_value(v);
    return true;
}

bool sb_jstream_integer(const json_t *object, const char *key, int64_t *out)
{
    json_t *v = api.object_get(object, key);
    return v && sb_jstream_is_integer(v, out);
}

#else /* built without libjansson-dev */

static sb_status no_jansson(void)
{
    return sb_fail(SB_EUNSUPPORTED, "this sbengine was built without libjansson-dev (the JSON "
                                    "reader of the evaluators); install it (tools/setup) and "
                                    "rebuild");
}

const sb_jansson_api *sb_jansson(void)
{
    no_jansson();
    return NULL;
}

json_t *sb_jstream_keep(const json_t *json)
{
    (void)json;
    return NULL;
}

void sb_jstream_free(json_t *json)
{
    (void)json;
}

sb_status sb_jstream_each(const char *text, size_t len, const char *what, const char *const *keys,
                          bool *found, sb_jstream_element_fn fn, void *ctx)
{
    (void)text, (void)len, (void)what, (void)keys, (void)found, (void)fn, (void)ctx;
    return no_jansson();
}

sb_status sb_jstream_each_span(const char *text, size_t len, const char *what,
                               const char *const *keys, bool *found, sb_jstream_span_fn fn,
                               void *ctx)
{
    (void)text, (void)len, (void)what, (void)keys, (void)found, (void)fn, (void)ctx;
    return no_jansson();
}

sb_status sb_jstream_parse(const char *text, size_t len, const char *what, json_t **out)
{
    (void)text, (void)len, (void)what, (void)out;
    return no_jansson();
}

sb_status sb_jstream_each_member(const char *text, size_t len, const char *what,
                                 sb_jstream_element_fn fn, void *ctx)
{
    (void)text, (void)len, (void)what, (void)fn, (void)ctx;
    return no_jansson();
}

sb_status sb_jstream_walk(const json_t *value, const sb_jstream_visitor *v, void *ctx)
{
    (void)value, (void)v, (void)ctx;
    return no_jansson();
}

bool sb_jstream_is_integer(const json_t *json, int64_t *out)
{
    (void)json, (void)out;
    return false;
}

bool sb_jstream_number(const json_t *object, const char *key, double *out)
{
    (void)object, (void)key, (void)out;
    return false;
}

bool sb_jstream_integer(const json_t *object, const char *key, int64_t *out)
{
    (void)object, (void)key, (void)out;
    return false;
}

#endif

sb_status sb_jstream_read_file(const char *path, char **text, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sb_fail(SB_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sb_fail(SB_EIO, "%s: %s", path, strerror(e));
    }
    uint8_t *data = NULL;
    sb_status s = sb_read_fd(fd, (size_t)st.st_size, path, &data);
    close(fd);
    if (s != SB_OK) return s;
    *text = (char *)data;
    *len = (size_t)st.st_size;
    return SB_OK;
}
