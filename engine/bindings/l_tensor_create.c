/* sbengine.core.tensor, construction: sb.tensor, zeros/ones/empty/full, rand/randn,
 * arange, from_bytes, cat/stack, manual_seed, is_tensor. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_tensor.h"
#include "bindings/l_tensor_internal.h"
#include "bindings/l_util.h"
#include "tensor/cpu_types.h"
#include "tensor/ops.h"

/* ---- creation ----------------------------------------------------------------------------- */

typedef enum { CREATE_FULL, CREATE_EMPTY, CREATE_RAND, CREATE_RANDN } create_kind;

/* zeros/ones/empty/rand/randn(shape... [, opts]): one shape and options parser for all. */
static int create(lua_State *L, const char *op, create_kind kind, double value)
{
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    int opts = sbL_parse_shape(L, 1, &ndim, sizes, op);
    sb_dtype dtype = SB_FLOAT32;
    sb_device device = SB_CPU;
    sbL_parse_tensor_options(L, opts, &dtype, &device, op);
    sb_tensor *t = NULL;
    sb_status st = SB_OK;
    switch (kind) {
    case CREATE_FULL:
        st = sb_tensor_full(ndim, sizes, value, dtype, device, &t);
        break;
    case CREATE_EMPTY:
        st = sb_tensor_empty(ndim, sizes, dtype, device, &t);
        break;
    case CREATE_RAND:
        st = sb_tensor_rand(ndim, sizes, dtype, device, &t);
        break;
    case CREATE_RANDN:
        st = sb_tensor_randn(ndim, sizes, dtype, device, &t);
        break;
    }
    return sbL_tensor_result(L, st, &t, op);
}

static int l_zeros(lua_State *L)
{
    return create(L, "zeros", CREATE_FULL, 0.0);
}
static int l_ones(lua_State *L)
{
    return create(L, "ones", CREATE_FULL, 1.0);
}
static int l_empty(lua_State *L)
{
    return create(L, "empty", CREATE_EMPTY, 0.0);
}

static int l_full(lua_State *L)
{
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    int next = sbL_parse_shape(L, 1, &ndim, sizes, "full");
    /* full(shape_table, value, opts) or full(n1, n2, ..., value, opts): with plain numbers
     * the last number is the value. */
    int value_arg = next;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        if (ndim == 0) return luaL_error(L, "full: expected a shape and a value");
        ndim--;
        value_arg = next - 1;
    }
    if (lua_type(L, value_arg) != LUA_TNUMBER)
        return luaL_error(L, "full: the fill value must be a number, got %s",
                          luaL_typename(L, value_arg));
    double value = lua_tonumber(L, value_arg);
    sb_dtype dtype = SB_FLOAT32;
    sb_device device = SB_CPU;
    sbL_parse_tensor_options(L, value_arg + 1, &dtype, &device, "full");
    sb_tensor *t = NULL;
    return sbL_tensor_result(L, sb_tensor_full(ndim, sizes, value, dtype, device, &t), &t, "full");
}

static int l_rand(lua_State *L)
{
    return create(L, "rand", CREATE_RAND, 0.0);
}
static int l_randn(lua_State *L)
{
    return create(L, "randn", CREATE_RANDN, 0.0);
}

static int l_manual_seed(lua_State *L)
{
    lua_Integer seed = sbL_check_integer(L, 1, "manual_seed", "seed");
    sb_manual_seed((uint64_t)seed);
    return 0;
}

/* arange(n) | arange(start, stop [, step]) [, opts]: int64 when every number is an integer,
 * else float32 (PyTorch's rule). */
static int l_arange(lua_State *L)
{
    int nums = 0;
    while (nums < 3 && lua_type(L, nums + 1) == LUA_TNUMBER)
        nums++;
    if (nums == 0)
        return luaL_error(L,
                          "arange: expected arange(n), arange(start, stop) or arange(start, "
                          "stop, step), got %s",
                          luaL_typename(L, 1));
    double start = 0, stop, step = 1;
    bool integral = true;
    for (int i = 1; i <= nums; i++)
        integral &= lua_isinteger(L, i);
    if (nums == 1) {
        stop = lua_tonumber(L, 1);
    } else {
        start = lua_tonumber(L, 1);
        stop = lua_tonumber(L, 2);
        if (nums == 3) step = lua_tonumber(L, 3);
    }
    sb_dtype dtype = integral ? SB_INT64 : SB_FLOAT32;
    sb_device device = SB_CPU;
    sbL_parse_tensor_options(L, nums + 1, &dtype, &device, "arange");
    sb_tensor *t = NULL;
    return sbL_tensor_result(L, sb_tensor_arange(start, stop, step, dtype, device, &t), &t,
                             "arange");
}

/* Nested tables: the shape comes from the first elements, every row is checked. */
static void nested_shape(lua_State *L, int idx, int *ndim, int64_t *sizes)
{
    int n = 0;
    lua_pushvalue(L, idx);
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (n == SB_MAX_DIMS) luaL_error(L, "tensor: nested tables deeper than %d", SB_MAX_DIMS);
        sizes[n++] = (int64_t)lua_rawlen(L, -1);
        if (sizes[n - 1] == 0) break;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    *ndim = n;
}

static void fill_nested(lua_State *L, int idx, sb_tensor *t, int dim, int64_t *pos, char *path,
                        size_t pathlen)
{
    int64_t len = (int64_t)lua_rawlen(L, idx);
    if (len != t->sizes[dim])
        luaL_error(L, "tensor: ragged nested table: %s has %I entries, expected %I",
                   pathlen ? path : "the table", (LUAI_UACINT)len, (LUAI_UACINT)t->sizes[dim]);
    luaL_checkstack(L, 4, "tensor: nested table");
    char *data = sb_tensor_data(t);
    size_t elsize = sb_dtype_size(t->dtype);
    for (int64_t i = 1; i <= len; i++) {
        int type = lua_rawgeti(L, idx, i);
        size_t plen =
            pathlen + (size_t)snprintf(path + pathlen, 256 - pathlen, "[%lld]", (long long)i);
        if (plen >= 256) plen = 255;
        if (dim + 1 < t->ndim) {
            if (type != LUA_TTABLE)
                luaL_error(L, "tensor: %s must be a table (a row of the nested table), got %s",
                           path, lua_typename(L, type));
            fill_nested(L, lua_gettop(L), t, dim + 1, pos, path, plen);
        } else {
            char *p = data + *pos * (int64_t)elsize;
            if (type == LUA_TNUMBER && t->dtype == SB_INT64 && lua_isinteger(L, -1))
                *(int64_t *)p = (int64_t)lua_tointeger(L, -1); /* exact beyond 2^53 */
            else if (type == LUA_TNUMBER)
                sb_store_double(p, t->dtype, lua_tonumber(L, -1));
            else if (type == LUA_TBOOLEAN)
                sb_store_double(p, t->dtype, lua_toboolean(L, -1) ? 1.0 : 0.0);
            else
                luaL_error(L, "tensor: %s must be a number, got %s", path, lua_typename(L, type));
            (*pos)++;
        }
        path[pathlen] = '\0';
        lua_pop(L, 1);
    }
}

/* sb.tensor(nested_table | tensor | n1, n2, ... [, opts]) */
static int l_tensor(lua_State *L)
{
    sb_dtype dtype = SB_FLOAT32;
    sb_device device = SB_CPU;
    sb_tensor *src = sbL_test_tensor(L, 1);
    if (src) {
        dtype = src->dtype;
        device = sb_tensor_device(src);
        sbL_parse_tensor_options(L, 2, &dtype, &device, "tensor");
        sb_tensor *t = NULL;
        sb_status st = sb_tensor_empty(src->ndim, src->sizes, dtype, device, &t);
        if (st == SB_OK) {
            st = sb_tensor_copy_(t, src);
            if (st != SB_OK) sb_tensor_free(t);
        }
        return sbL_tensor_result(L, st, &t, "tensor");
    }
    if (lua_type(L, 1) == LUA_TNUMBER) return create(L, "tensor", CREATE_FULL, 0.0);
    if (lua_type(L, 1) != LUA_TTABLE && lua_type(L, 1) != LUA_TNUMBER)
        return luaL_error(L,
                          "tensor: expected a nested table of numbers, a tensor or sizes, got "
                          "%s",
                          luaL_typename(L, 1));
    sbL_parse_tensor_options(L, 2, &dtype, &device, "tensor");
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    nested_shape(L, 1, &ndim, sizes);
    sb_tensor *t = NULL;
    sbL_check(L, sb_tensor_empty(ndim, sizes, dtype, SB_CPU, &t), "tensor");
    sbL_push_tensor(L, t); /* owned by Lua from here: errors below cannot leak it */
    int64_t pos = 0;
    char path[256] = "";
    if (ndim > 0) fill_nested(L, 1, t, 0, &pos, path, 0);
    if (device.kind != SB_DEVICE_CPU) {
        sb_tensor *moved = NULL;
        return sbL_tensor_result(L, sb_tensor_to_device(t, device, &moved), &moved, "tensor");
    }
    return 1;
}

/* from_bytes(string, shape, dtype): copies the bytes (little-endian, row-major). */
static int l_from_bytes(lua_State *L)
{
    size_t len = 0;
    const char *bytes = luaL_checklstring(L, 1, &len);
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    if (lua_type(L, 2) != LUA_TTABLE)
        return luaL_error(L, "from_bytes: the shape must be a table such as {2, 3}, got %s",
                          luaL_typename(L, 2));
    sbL_parse_shape(L, 2, &ndim, sizes, "from_bytes");
    sb_dtype dtype = SB_FLOAT32;
    if (!lua_isnoneornil(L, 3)) dtype = sbL_dtype_arg(L, luaL_checkstring(L, 3), "from_bytes");
    int64_t numel = 0;
    sbL_check(L, sb_shape_check(ndim, sizes, dtype, &numel), "from_bytes");
    size_t need = (size_t)numel * sb_dtype_size(dtype);
    if (need != len) {
        char shape[256];
        sb_shape_format(ndim, sizes, shape, sizeof shape);
        return luaL_error(L, "from_bytes: %I bytes do not make a %s tensor %s (it needs %I bytes)",
                          (LUAI_UACINT)len, sb_dtype_name(dtype), shape, (LUAI_UACINT)need);
    }
    sb_tensor *t = NULL;
    sbL_check(L, sb_tensor_empty(ndim, sizes, dtype, SB_CPU, &t), "from_bytes");
    if (need) memcpy(sb_tensor_data(t), bytes, need);
    sbL_push_tensor(L, t);
    return 1;
}

static int l_is_tensor(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, SB_TENSOR_MT) != NULL);
    return 1;
}

/* cat({t1, t2, ...} [, d = 1]) / stack({t1, t2, ...} [, d = 1]) */
static int concat(lua_State *L, bool stack)
{
    const char *op = stack ? "stack" : "cat";
    lua_settop(L, 2); /* [list, dim]: scratch values go above */
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "%s: expected a table of tensors, got %s", op, luaL_typename(L, 1));
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if (n < 1) return luaL_error(L, "%s: expected a non-empty table of tensors", op);
    if (n > 1 << 20) return luaL_error(L, "%s: too many tensors (%I)", op, (LUAI_UACINT)n);
    /* the list is a userdata block: freed by the GC even when an error is raised below */
    const sb_tensor **list = lua_newuserdatauv(L, (size_t)n * sizeof *list, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        list[i - 1] = sbL_test_tensor(L, -1);
        if (!list[i - 1]) {
            if (luaL_testudata(L, -1, SB_TENSOR_MT)) sbL_check_tensor(L, -1);
            return luaL_error(L, "%s: entry %I must be a tensor, got %s", op, (LUAI_UACINT)i,
                              luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    int ndim = list[0]->ndim + (stack ? 1 : 0);
    int dim = 0;
    if (!lua_isnoneornil(L, 2)) {
        lua_Integer d = sbL_check_integer(L, 2, op, "dim");
        if (d >= 1 && d <= ndim)
            dim = (int)d - 1;
        else if (d < 0 && -d <= ndim)
            dim = ndim + (int)d;
        else {
            char shape[256];
            sb_tensor_format_shape(list[0], shape, sizeof shape);
            return luaL_error(L,
                              "%s: dim %I is out of range for %s tensors %s (expected 1..%d or "
                              "-%d..-1)",
                              op, (LUAI_UACINT)d, stack ? "stacking" : "concatenating", shape, ndim,
                              ndim);
        }
    }
    sb_tensor *res = NULL;
    sb_status st =
        stack ? sb_tensor_stack((int)n, list, dim, &res) : sb_tensor_cat((int)n, list, dim, &res);
    if (st != SB_OK && strncmp(sb_error_message(), "tensor ", 7) == 0) {
        /* positions in the message are 0-based in core: say them the Lua way */
        int index = atoi(sb_error_message() + 7);
        const char *rest = strchr(sb_error_message() + 7, ' ');
        char msg[1024];
        snprintf(msg, sizeof msg, "entry %d%s", index + 1, rest ? rest : "");
        sb_fail(st, "%s", msg);
    }
    return sbL_tensor_result(L, st, &res, op);
}

static int l_cat(lua_State *L)
{
    return concat(L, false);
}
static int l_stack(lua_State *L)
{
    return concat(L, true);
}

const luaL_Reg sbL_tensor_create_funcs[] = {
    {"tensor", l_tensor},
    {"zeros", l_zeros},
    {"ones", l_ones},
    {"empty", l_empty},
    {"full", l_full},
    {"rand", l_rand},
    {"randn", l_randn},
    {"arange", l_arange},
    {"from_bytes", l_from_bytes},
    {"cat", l_cat},
    {"stack", l_stack},
    {"manual_seed", l_manual_seed},
    {"is_tensor", l_is_tensor},
    {NULL, NULL},
};
