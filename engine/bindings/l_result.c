/* sbengine.core.result: the BenchmarkResult userdata and the run hash.
 *
 *   core.result.new(fields, environment, [idempotency_key]) -> result   (validates; no I/O)
 *   core.result.from_dict(dict)        -> result   (a stored object, as decoded by cjson)
 *   core.result.array_json(list, pretty) -> string (a JSON array of results)
 *   core.result.encode_json(value, pretty) -> string (any JSON-able value, by the C writer)
 *   core.result.methods                -> the method table (Lua adds check/submit to it)
 *   core.result.run_hash(output, metrics) -> 64 hex digits
 * The public constructor is sb.BenchmarkResult (lua/sbengine/results.lua). */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/sys.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "core/json.h"
#include "result/result.h"
#include "result/run_hash.h"

#define SB_RESULT_MT "sbengine.BenchmarkResult"
#define MAX_DEPTH 32

/* A box (l_util.h) holding an sb_result. */
static sb_result *check_result(lua_State *L, int idx)
{
    return sbL_check_box(L, idx, SB_RESULT_MT, "BenchmarkResult");
}

/* cjson.null is a light userdata NULL. */
static int is_json_null(lua_State *L, int idx)
{
    return lua_islightuserdata(L, idx) && lua_touserdata(L, idx) == NULL;
}

/* The Lua value at idx as JSON. A failure returns its status with the message (naming
 * `path`) in sb_error_message() instead of raising, which would leak the partly built tree. */
static sb_status to_json_value(lua_State *L, int idx, const char *path, int depth, sb_json **out);

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static sb_status table_to_json(lua_State *L, int idx, const char *path, int depth, sb_json **out)
{
    if (depth > MAX_DEPTH)
        return sb_fail(SB_EINVAL, "%s: nested more than %d levels (a cycle?)", path, MAX_DEPTH);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    size_t count = 0;
    int only_strings = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (lua_type(L, -2) != LUA_TSTRING) only_strings = 0;
        lua_pop(L, 1);
    }
    char sub[512];
    if (count == (size_t)n) { /* a sequence (or empty): a JSON array */
        SB_TRY(sb_json_array(out));
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            snprintf(sub, sizeof sub, "%s[%lld]", path, (long long)i);
            sb_json *item = NULL;
            sb_status s = to_json_value(L, lua_gettop(L), sub, depth + 1, &item);
            lua_pop(L, 1);
            if (s == SB_OK) s = sb_json_array_push(*out, item);
            if (s != SB_OK) {
                sb_json_free(*out);
                return s;
            }
        }
        return SB_OK;
    }
    if (!only_strings)
        return sb_fail(SB_EINVAL, "%s: keys must all be strings (a record) or 1..n (a list)", path);
    /* Lua tables have no order: write keys sorted so the JSON is reproducible. */
    const char **keys = malloc(count * sizeof *keys);
    if (!keys) return sb_fail(SB_ENOMEM, "out of memory");
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        keys[k++] = lua_tostring(L, -2); /* stays alive: the table holds it */
        lua_pop(L, 1);
    }
    qsort(keys, count, sizeof *keys, compare_keys);
    sb_status s = sb_json_object(out);
    for (k = 0; k < count && s == SB_OK; k++) {
        lua_getfield(L, idx, keys[k]);
        snprintf(sub, sizeof sub, "%s[\"%s\"]", path, keys[k]);
        sb_json *item = NULL;
        s = to_json_value(L, lua_gettop(L), sub, depth + 1, &item);
        lua_pop(L, 1);
        if (s == SB_OK) s = sb_json_object_set(*out, keys[k], item);
    }
    free(keys);
    if (s != SB_OK) {
        sb_json_free(*out);
        *out = NULL;
    }
    return s;
}

static sb_status to_json_value(lua_State *L, int idx, const char *path, int depth, sb_json **out)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return sb_json_null(out);
    case LUA_TBOOLEAN:
        return sb_json_bool(lua_toboolean(L, idx), out);
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return sb_json_integer(lua_tointeger(L, idx), out);
        if (sb_json_number(lua_tonumber(L, idx), out) != SB_OK)
            return sb_fail_context(SB_EINVAL, "%s", path);
        return SB_OK;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (sb_json_string(s, len, out) != SB_OK) return sb_fail_context(SB_EINVAL, "%s", path);
        return SB_OK;
    }
    case LUA_TTABLE:
        return table_to_json(L, idx, path, depth, out);
    case LUA_TLIGHTUSERDATA:
        if (is_json_null(L, idx)) return sb_json_null(out);
        break;
    default:
        break;
    }
    /* Objects that print themselves (transforms, modules) are stored as their text. */
    if (luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
        lua_pop(L, 1);
        size_t len;
        const char *s = luaL_tolstring(L, idx, &len);
        sb_status st = sb_json_string(s, len, out);
        lua_pop(L, 1);
        if (st != SB_OK) return sb_fail_context(st, "%s", path);
        return SB_OK;
    }
    return sb_fail(SB_EINVAL,
                   "%s: a %s cannot be stored in JSON (use a string, number, "
                   "boolean or table)",
                   path, luaL_typename(L, idx));
}

/* An optional string field of the table at idx; raises when present but not a string. */
static const char *string_field(lua_State *L, int idx, const char *key, const char *name)
{
    int t = lua_getfield(L, idx, key);
    const char *s = NULL;
    if (t == LUA_TSTRING)
        s = lua_tostring(L, -1);
    else if (t != LUA_TNIL && !is_json_null(L, -1)) {
        luaL_error(L, "BenchmarkResult: %s: expected a string, got %s", name, luaL_typename(L, -1));
    }
    lua_pop(L, 1); /* the table keeps the string alive */
    return s;
}

typedef struct json_field {
    const char *key;
    sb_json **slot;
} json_field;

/* Converts the JSON-valued fields; on failure frees what was built and raises. */
static void convert_json_fields(lua_State *L, int idx, sb_result_fields *f, int env_idx)
{
    json_field fields[] = {{"results", &f->results},
                           {"speed_mem_metrics", &f->speed_mem_metrics},
                           {"paper_results", &f->paper_results},
                           {"config", &f->config},
                           {"extra", &f->extra},
                           {"environment", &f->environment}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        int from = idx;
        if (strcmp(fields[i].key, "environment") == 0) {
            if (env_idx == 0) continue;
            from = env_idx;
            lua_pushvalue(L, env_idx);
        } else {
            lua_getfield(L, from, fields[i].key);
        }
        sb_status s = SB_OK;
        if (!lua_isnil(L, -1)) s = to_json_value(L, -1, fields[i].key, 0, fields[i].slot);
        lua_pop(L, 1);
        if (s != SB_OK) {
            sb_result_fields_release(f);
            sbL_raise(L, "BenchmarkResult");
        }
    }
}

static void push_result(lua_State *L, sb_result *r)
{
    *sbL_new_box(L, SB_RESULT_MT) = r;
}

static const char *const constructor_fields[] = {"model",         "model_description",
                                                 "task",          "dataset",
                                                 "results",       "speed_mem_metrics",
                                                 "config",        "extra",
                                                 "arxiv_id",      "pytorch_hub_id",
                                                 "paper_results", "run_hash",
                                                 "pwc_id",        NULL};

static void reject_unknown_keys(lua_State *L, int idx, const char *const *allowed, const char *what)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int ok = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (const char *const *a = allowed; *a; a++)
                if (strcmp(*a, lua_tostring(L, -1)) == 0) ok = 1;
        if (!ok) {
            luaL_Buffer b;
            lua_pushfstring(L, "%s: unknown field '%s' (fields: ", what,
                            luaL_tolstring(L, -1, NULL));
            luaL_buffinit(L, &b);
            for (const char *const *a = allowed; *a; a++) {
                luaL_addstring(&b, *a);
                luaL_addstring(&b, a[1] ? ", " : ")");
            }
            luaL_pushresult(&b);
            lua_concat(L, 2);
            lua_error(L);
        }
    }
}

/* The string fields of the table at `idx`; the dataset is under `dataset_key` ("dataset" in
 * the constructor, "dataset_name" in a stored result). */
static void string_fields(lua_State *L, int idx, const char *dataset_key, sb_result_fields *f)
{
    f->model = string_field(L, idx, "model", "model");
    f->model_description = string_field(L, idx, "model_description", "model_description");
    f->task = string_field(L, idx, "task", "task");
    f->dataset = string_field(L, idx, dataset_key, dataset_key);
    f->arxiv_id = string_field(L, idx, "arxiv_id", "arxiv_id");
    f->pwc_id = string_field(L, idx, "pwc_id", "pwc_id");
    f->pytorch_hub_id = string_field(L, idx, "pytorch_hub_id", "pytorch_hub_id");
    f->run_hash = string_field(L, idx, "run_hash", "run_hash");
}

/* new(fields, environment, [key]) */
static int result_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    const char *key = luaL_optstring(L, 3, NULL);
    reject_unknown_keys(L, 1, constructor_fields, "BenchmarkResult");
    sb_result_fields f = {0};
    string_fields(L, 1, "dataset", &f);
    char uuid[37];
    if (!key) {
        sbL_check(L, sb_uuid4(uuid), "BenchmarkResult");
        key = uuid;
    }
    f.idempotency_key = key;
    convert_json_fields(L, 1, &f, lua_isnoneornil(L, 2) ? 0 : 2);
    sb_result *r = NULL;
    sbL_check(L, sb_result_new(&f, &r), "BenchmarkResult");
    push_result(L, r);
    return 1;
}

/* from_dict(dict): an object of the store file (keys as written by to_json). */
static int result_from_dict(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    reject_unknown_keys(L, 1, sb_result_keys, "stored result");
    sb_result_fields f = {0};
    string_fields(L, 1, "dataset_name", &f);
    f.idempotency_key = string_field(L, 1, "idempotency_key", "idempotency_key");
    lua_getfield(L, 1, "environment");
    int env = lua_istable(L, -1) ? lua_gettop(L) : 0;
    convert_json_fields(L, 1, &f, env);
    sb_result *r = NULL;
    sbL_check(L, sb_result_new(&f, &r), "stored result");
    push_result(L, r);
    return 1;
}

static void push_json(lua_State *L, const sb_json *v)
{
    luaL_checkstack(L, 4, "JSON nested too deeply");
    switch (v->type) {
    case SB_JSON_NULL:
        lua_pushnil(L);
        return;
    case SB_JSON_BOOL:
        lua_pushboolean(L, v->boolean);
        return;
    case SB_JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)v->integer);
        return;
    case SB_JSON_NUMBER:
        lua_pushnumber(L, v->number);
        return;
    case SB_JSON_STRING:
        lua_pushlstring(L, v->string, v->count);
        return;
    case SB_JSON_ARRAY:
        lua_createtable(L, (int)v->count, 0);
        for (size_t i = 0; i < v->count; i++) {
            push_json(L, v->items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return;
    case SB_JSON_OBJECT:
        lua_createtable(L, 0, (int)v->count);
        for (size_t i = 0; i < v->count; i++) {
            push_json(L, v->items[i]);
            lua_setfield(L, -2, v->keys[i]);
        }
        return;
    }
}

static int result_to_dict(lua_State *L)
{
    push_json(L, check_result(L, 1)->dict);
    return 1;
}

static void push_buf_or_raise(lua_State *L, sb_status s, sb_buf *b, const char *what)
{
    if (s != SB_OK) {
        sb_buf_free(b);
        sbL_raise(L, what);
    }
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    sb_buf_free(b);
}

static int result_to_json(lua_State *L)
{
    sb_result *r = check_result(L, 1);
    int pretty = sbL_optfield_boolean(L, 2, "pretty", 0);
    sb_buf b = {0};
    push_buf_or_raise(L, sb_result_to_json(r, pretty, &b), &b, "to_json");
    return 1;
}

static int result_save(lua_State *L)
{
    sb_result *r = check_result(L, 1);
    const char *path = luaL_checkstring(L, 2);
    sb_buf b = {0};
    sb_status s = sb_result_to_json(r, 1, &b);
    if (s == SB_OK) s = sb_buf_append(&b, "\n", 1);
    if (s == SB_OK) s = sb_write_file_atomic(path, b.data, b.len);
    sb_buf_free(&b);
    sbL_check(L, s, "save");
    lua_pushvalue(L, 1);
    return 1;
}

static int result_tostring(lua_State *L)
{
    sb_buf b = {0};
    push_buf_or_raise(L, sb_result_format_table(check_result(L, 1), &b), &b, "tostring");
    return 1;
}

static int result_gc(lua_State *L)
{
    sb_result_free(sbL_take_box(L, 1, SB_RESULT_MT));
    return 0;
}

/* r.method, then r.field (r.dataset is the dataset_name). */
static int result_index(lua_State *L)
{
    sb_result *r = check_result(L, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    const char *key = lua_tostring(L, 2);
    if (!key) return 0;
    if (strcmp(key, "dataset") == 0) key = "dataset_name";
    const sb_json *v = sb_result_get(r, key);
    if (!v) return 0;
    push_json(L, v);
    return 1;
}

static int result_newindex(lua_State *L)
{
    return luaL_error(L, "BenchmarkResult is read-only (build a new one with sb.BenchmarkResult)");
}

static int result_array_json(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int pretty = lua_toboolean(L, 2);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        check_result(L, -1);
        lua_pop(L, 1);
    }
    sb_json *array = NULL;
    sb_status s = sb_json_array(&array);
    for (lua_Integer i = 1; i <= n && s == SB_OK; i++) {
        lua_rawgeti(L, 1, i);
        sb_json *copy = NULL;
        s = sb_json_clone((*(sb_result **)lua_touserdata(L, -1))->dict, &copy);
        lua_pop(L, 1);
        if (s == SB_OK) s = sb_json_array_push(array, copy);
    }
    sb_buf b = {0};
    if (s == SB_OK) s = sb_json_write(array, pretty, &b);
    sb_json_free(array);
    push_buf_or_raise(L, s, &b, "array_json");
    return 1;
}

/* encode_json(value, pretty): a JSON-able Lua value (cjson.null for null) as JSON text, by the
 * C writer (its number spelling; record keys sorted), for the command line's --json output. */
static int result_encode_json(lua_State *L)
{
    luaL_checkany(L, 1);
    int pretty = lua_toboolean(L, 2);
    sb_json *v = NULL;
    if (to_json_value(L, 1, "value", 0, &v) != SB_OK) sbL_raise(L, "encode_json");
    sb_buf b = {0};
    sb_status s = sb_json_write(v, pretty, &b);
    sb_json_free(v);
    push_buf_or_raise(L, s, &b, "encode_json");
    return 1;
}

/* Flattens a nested table of numbers (a rectangular array) into values + shape. */
typedef struct flat {
    double *values;
    size_t n, cap;
    int ndim;
    int64_t shape[8];
} flat;

static sb_status flatten(lua_State *L, int idx, int depth, flat *f)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (depth != f->ndim)
            return sb_fail(SB_EINVAL,
                           "output: ragged nested table (a number at depth %d, "
                           "expected depth %d)",
                           depth, f->ndim);
        if (f->n == f->cap) {
            size_t cap = f->cap ? 2 * f->cap : 256;
            double *p = realloc(f->values, cap * sizeof *p);
            if (!p) return sb_fail(SB_ENOMEM, "out of memory");
            f->values = p;
            f->cap = cap;
        }
        f->values[f->n++] = lua_tonumber(L, idx);
        return SB_OK;
    }
    if (lua_type(L, idx) != LUA_TTABLE)
        return sb_fail(SB_EINVAL,
                       "output: expected a tensor or a nested table of numbers, "
                       "found a %s",
                       luaL_typename(L, idx));
    int64_t len = (int64_t)lua_rawlen(L, idx);
    if (depth >= 8) return sb_fail(SB_EINVAL, "output: more than 8 dimensions");
    if (depth == f->ndim && f->n == 0) { /* first descent defines the shape */
        f->shape[depth] = len;
        f->ndim = depth + 1;
    } else if (depth >= f->ndim || f->shape[depth] != len) {
        return sb_fail(SB_EINVAL, "output: ragged nested table (length %lld at depth %d)",
                       (long long)len, depth + 1);
    }
    for (int64_t i = 1; i <= len; i++) {
        lua_rawgeti(L, idx, i);
        sb_status s = flatten(L, -1, depth + 1, f);
        lua_pop(L, 1);
        if (s != SB_OK) return s;
    }
    return SB_OK;
}

/* run_hash(output, metrics): output a number or nested table of numbers. */
static int result_run_hash(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TTABLE);
    /* metrics: collect names and values first (raises before any C memory is held) */
    size_t nm = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "run_hash: metrics: keys must be metric names (strings)");
        if (lua_type(L, -1) != LUA_TNUMBER)
            return luaL_error(L, "run_hash: metrics[\"%s\"]: expected a number, got %s",
                              lua_tostring(L, -2), luaL_typename(L, -1));
        nm++;
        lua_pop(L, 1);
    }
    const char **names = lua_newuserdatauv(L, (nm ? nm : 1) * sizeof *names, 0);
    double *values = lua_newuserdatauv(L, (nm ? nm : 1) * sizeof *values, 0);
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        names[k] = lua_tostring(L, -2);
        values[k++] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    flat f = {0};
    sb_status s = SB_OK;
    sb_run_hasher h;
    char hex[65];
    sb_tensor *t = sbL_test_tensor(L, 1);
    if (t) {
        s = sb_run_hash_tensor(&h, t);
        if (s == SB_OK) s = sb_run_hash_finish(&h, names, values, nm, hex);
        sbL_check(L, s, "run_hash");
        lua_pushstring(L, hex);
        return 1;
    }
    if (lua_type(L, 1) == LUA_TNUMBER) {
        f.ndim = 0;
        f.values = malloc(sizeof *f.values);
        if (!f.values)
            s = sb_fail(SB_ENOMEM, "out of memory");
        else
            f.values[f.n++] = lua_tonumber(L, 1);
    } else {
        s = flatten(L, 1, 0, &f);
    }
    if (s == SB_OK) s = sb_run_hash_begin(&h, f.ndim, f.shape);
    if (s == SB_OK) {
        sb_run_hash_values(&h, f.values, f.n);
        s = sb_run_hash_finish(&h, names, values, nm, hex);
    }
    free(f.values);
    sbL_check(L, s, NULL);
    lua_pushstring(L, hex);
    return 1;
}

int sbL_open_result(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"to_dict", result_to_dict},
        {"to_json", result_to_json},
        {"save", result_save},
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"new", result_new},
        {"from_dict", result_from_dict},
        {"array_json", result_array_json},
        {"encode_json", result_encode_json},
        {"run_hash", result_run_hash},
        {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {{"__newindex", result_newindex},
                                           {"__tostring", result_tostring},
                                           {"__gc", result_gc},
                                           {NULL, NULL}};
    luaL_newlib(L, funcs);                    /* [mod] */
    luaL_newlib(L, methods);                  /* [mod, methods] */
    if (luaL_newmetatable(L, SB_RESULT_MT)) { /* [mod, methods, mt] */
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, result_index, 1);
        lua_setfield(L, -2, "__index");
        luaL_setfuncs(L, metamethods, 0);
        lua_pushliteral(L, "BenchmarkResult");
        lua_setfield(L, -2, "__name");
        lua_pop(L, 1); /* [mod, methods] */
        lua_setfield(L, -2, "methods");
    } else { /* opened twice in one state: keep the methods table the metatable uses */
        lua_getfield(L, -1, "__index"); /* [mod, methods, mt, index] */
        lua_getupvalue(L, -1, 1);       /* [mod, methods, mt, index, first_methods] */
        lua_setfield(L, -5, "methods"); /* [mod, methods, mt, index] */
        lua_pop(L, 3);                  /* [mod] */
    }
    return 1;
}
