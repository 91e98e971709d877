/* sbengine.core.tensor: the tensor userdata (metatable "sbengine.Tensor").
 *
 * liolib's layout: a boxed pointer (NULL once freed), method and metamethod arrays, one
 * idempotent close shared by t:free(), __close and __gc. Lua is 1-based: dims and
 * positions are converted here (negative ones count from the end, as string.sub), and
 * positions returned by argmax/max/min/topk are made 1-based. The math is in core C
 * (engine/tensor/); errors come back as "op: message". */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_modules.h"
#include "gpu/cuda.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "tensor/cpu_types.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

#define SB_SIZE_MT "sbengine.Size"

typedef struct tensor_box {
    sb_tensor *t;
} tensor_box;

/* ---- GC pressure ------------------------------------------------------------------------ */

/* Lua's collector only sees the small boxes, not the tensor bytes behind them (Torch7's
 * heap-tracking problem). When host tensor memory passes a threshold we run a full
 * collection, then set the next threshold to twice what survived, so a loop making
 * temporaries stays bounded and a large live working set does not collect constantly.
 * Process-wide like the counter it watches. */
#define GC_MIN_THRESHOLD ((size_t)64 << 20)
static atomic_size_t gc_threshold = GC_MIN_THRESHOLD;
#define GPU_GC_MIN_THRESHOLD ((size_t)256 << 20)
static atomic_size_t gpu_gc_threshold = GPU_GC_MIN_THRESHOLD;

static void track_memory(lua_State *L)
{
    size_t now = sb_cpu_memory_allocated();
    if (now > atomic_load(&gc_threshold)) {
        lua_gc(L, LUA_GCCOLLECT);
        now = sb_cpu_memory_allocated();
        size_t next = now > GC_MIN_THRESHOLD / 2 ? 2 * now : GC_MIN_THRESHOLD;
        atomic_store(&gc_threshold, next);
    }
    /* The same for GPU memory (CUDA tensors are as invisible to the collector). */
    size_t gpu = sb_cuda_storage_bytes();
    if (gpu > atomic_load(&gpu_gc_threshold)) {
        lua_gc(L, LUA_GCCOLLECT);
        gpu = sb_cuda_storage_bytes();
        atomic_store(&gpu_gc_threshold,
                     gpu > GPU_GC_MIN_THRESHOLD / 2 ? 2 * gpu : GPU_GC_MIN_THRESHOLD);
    }
}

/* ---- the userdata ----------------------------------------------------------------------- */

void sbL_push_tensor(lua_State *L, sb_tensor *t)
{
    tensor_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->t = t;
    luaL_setmetatable(L, SB_TENSOR_MT);
    track_memory(L);
}

sb_tensor *sbL_test_tensor(lua_State *L, int idx)
{
    tensor_box *box = luaL_testudata(L, idx, SB_TENSOR_MT);
    return box ? box->t : NULL;
}

sb_tensor *sbL_check_tensor(lua_State *L, int idx)
{
    tensor_box *box = luaL_testudata(L, idx, SB_TENSOR_MT);
    if (!box) {
        const char *msg = lua_pushfstring(L, "tensor expected, got %s", luaL_typename(L, idx));
        luaL_argerror(L, idx, msg);
        return NULL;
    }
    if (!box->t) luaL_error(L, "tensor was freed (t:free() or <close>) and cannot be used");
    return box->t;
}

/* Pushes *t, the result of a core call, or raises with `op` (core functions leave *out
 * untouched on failure, so nothing is held). A pointer because C leaves the order of
 * argument evaluation open: `push_result(L, f(&v), &v, op)` reads v after f ran. */
static int push_result(lua_State *L, sb_status st, sb_tensor **t, const char *op)
{
    sbL_check(L, st, op);
    sbL_push_tensor(L, *t);
    return 1;
}

static int tensor_free(lua_State *L)
{
    tensor_box *box = luaL_checkudata(L, 1, SB_TENSOR_MT);
    sb_tensor_free(box->t);
    box->t = NULL;
    return 0;
}

/* ---- argument helpers -------------------------------------------------------------------- */

static void shape_text(const sb_tensor *t, char *buf, size_t size)
{
    sb_tensor_format_shape(t, buf, size);
}

/* A Lua dim (1-based; -1 is the last) of a tensor with `ndim` dims -> 0-based. */
static int to_dim(lua_State *L, const sb_tensor *t, lua_Integer d, int ndim, const char *op)
{
    if (d >= 1 && d <= ndim) return (int)d - 1;
    if (d < 0 && -d <= ndim) return ndim + (int)d;
    char shape[256];
    shape_text(t, shape, sizeof shape);
    if (ndim == 0)
        return luaL_error(L, "%s: dim %I is out of range for a 0-D tensor %s (it has no dims)", op,
                          (LUAI_UACINT)d, shape);
    return luaL_error(L,
                      "%s: dim %I is out of range for a %d-D tensor %s (expected 1..%d or "
                      "-%d..-1)",
                      op, (LUAI_UACINT)d, t->ndim, shape, ndim, ndim);
}

static lua_Integer check_int(lua_State *L, int arg, const char *op, const char *what)
{
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, arg, &isnum);
    if (!isnum) {
        if (lua_type(L, arg) == LUA_TNUMBER)
            luaL_error(L, "%s: %s must be an integer, got %s", op, what, lua_tostring(L, arg));
        luaL_error(L, "%s: %s must be an integer, got %s", op, what, luaL_typename(L, arg));
    }
    return v;
}

static int check_dim_arg(lua_State *L, const sb_tensor *t, int arg, const char *op)
{
    return to_dim(L, t, check_int(L, arg, op, "dim"), t->ndim, op);
}

/* A Lua position (1-based; negative from the end) along a dim of `size` -> 0-based. */
static int64_t to_index(lua_State *L, lua_Integer i, int64_t size, int dim0, const char *op)
{
    if (i >= 1 && i <= size) return i - 1;
    if (i < 0 && -i <= size) return size + i;
    return luaL_error(L,
                      "%s: index %I is out of range for dim %d of size %I (expected 1..%I or "
                      "-%I..-1)",
                      op, (LUAI_UACINT)i, dim0 + 1, (LUAI_UACINT)size, (LUAI_UACINT)size,
                      (LUAI_UACINT)size);
}

static bool is_options_table(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE) return false;
    bool seq = lua_rawgeti(L, idx, 1) != LUA_TNIL;
    lua_pop(L, 1);
    return !seq && !luaL_testudata(L, idx, SB_SIZE_MT) && lua_rawlen(L, idx) == 0 &&
           (lua_pushnil(L), lua_next(L, idx) != 0 ? (lua_pop(L, 2), true) : false);
}

/* A shape given as numbers from `first` or one table at `first`. Returns the index after
 * the shape (where an options table may be). An empty table is a 0-D shape. */
static int parse_shape(lua_State *L, int first, int *ndim, int64_t *sizes, const char *op)
{
    int n = 0;
    if (lua_type(L, first) == LUA_TTABLE && !is_options_table(L, first)) {
        lua_Integer len = (lua_Integer)lua_rawlen(L, first);
        if (len > SB_MAX_DIMS)
            return luaL_error(L, "%s: a tensor has at most %d dims, got a shape of %I", op,
                              SB_MAX_DIMS, (LUAI_UACINT)len);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_rawgeti(L, first, i);
            int isnum = 0;
            lua_Integer v = lua_tointegerx(L, -1, &isnum);
            if (!isnum)
                return luaL_error(L, "%s: shape entry %I must be an integer, got %s", op,
                                  (LUAI_UACINT)i, luaL_typename(L, -1));
            lua_pop(L, 1);
            sizes[n++] = v;
        }
        *ndim = n;
        return first + 1;
    }
    int arg = first;
    while (lua_type(L, arg) == LUA_TNUMBER) {
        if (n == SB_MAX_DIMS)
            return luaL_error(L, "%s: a tensor has at most %d dims", op, SB_MAX_DIMS);
        int isnum = 0;
        lua_Integer v = lua_tointegerx(L, arg, &isnum);
        if (!isnum)
            return luaL_error(L, "%s: size %d must be an integer, got %s", op, n + 1,
                              lua_tostring(L, arg));
        sizes[n++] = v;
        arg++;
    }
    if (!lua_isnoneornil(L, arg) && !is_options_table(L, arg))
        return luaL_error(L,
                          "%s: bad argument #%d (expected a size, a shape table or an options "
                          "table, got %s)",
                          op, arg, luaL_typename(L, arg));
    *ndim = n;
    return arg;
}

static sb_dtype dtype_of_string(lua_State *L, const char *name, const char *op)
{
    sb_dtype d;
    if (sb_dtype_from_name(name, &d) != SB_OK) sbL_raise(L, op);
    return d;
}

/* {dtype=, device=} at idx (none/nil = defaults). */
static void parse_options(lua_State *L, int idx, sb_dtype *dtype, sb_device *device, const char *op)
{
    if (lua_isnoneornil(L, idx)) return;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "%s: options must be a table {dtype=, device=}, got %s", op,
                   luaL_typename(L, idx));
    if (lua_getfield(L, idx, "dtype") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: option 'dtype' must be a string such as \"float32\", got %s", op,
                       luaL_typename(L, -1));
        *dtype = dtype_of_string(L, lua_tostring(L, -1), op);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "device") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L,
                       "%s: option 'device' must be a string such as \"cpu\" or \"cuda:0\", "
                       "got %s",
                       op, luaL_typename(L, -1));
        if (sb_device_parse(lua_tostring(L, -1), device) != SB_OK) sbL_raise(L, op);
    }
    lua_pop(L, 1);
}

/* ---- creation ----------------------------------------------------------------------------- */

typedef enum { CREATE_FULL, CREATE_EMPTY, CREATE_RAND, CREATE_RANDN } create_kind;

/* zeros/ones/empty/rand/randn(shape... [, opts]): one shape and options parser for all. */
static int create(lua_State *L, const char *op, create_kind kind, double value)
{
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    int opts = parse_shape(L, 1, &ndim, sizes, op);
    sb_dtype dtype = SB_FLOAT32;
    sb_device device = SB_CPU;
    parse_options(L, opts, &dtype, &device, op);
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
    return push_result(L, st, &t, op);
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
    int next = parse_shape(L, 1, &ndim, sizes, "full");
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
    parse_options(L, value_arg + 1, &dtype, &device, "full");
    sb_tensor *t = NULL;
    return push_result(L, sb_tensor_full(ndim, sizes, value, dtype, device, &t), &t, "full");
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
    lua_Integer seed = check_int(L, 1, "manual_seed", "seed");
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
    parse_options(L, nums + 1, &dtype, &device, "arange");
    sb_tensor *t = NULL;
    return push_result(L, sb_tensor_arange(start, stop, step, dtype, device, &t), &t, "arange");
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
        parse_options(L, 2, &dtype, &device, "tensor");
        sb_tensor *t = NULL;
        sb_status st = sb_tensor_empty(src->ndim, src->sizes, dtype, device, &t);
        if (st == SB_OK) {
            st = sb_tensor_copy_(t, src);
            if (st != SB_OK) sb_tensor_free(t);
        }
        return push_result(L, st, &t, "tensor");
    }
    if (lua_type(L, 1) == LUA_TNUMBER) return create(L, "tensor", CREATE_FULL, 0.0);
    if (lua_type(L, 1) != LUA_TTABLE && lua_type(L, 1) != LUA_TNUMBER)
        return luaL_error(L,
                          "tensor: expected a nested table of numbers, a tensor or sizes, got "
                          "%s",
                          luaL_typename(L, 1));
    parse_options(L, 2, &dtype, &device, "tensor");
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
        return push_result(L, sb_tensor_to_device(t, device, &moved), &moved, "tensor");
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
    parse_shape(L, 2, &ndim, sizes, "from_bytes");
    sb_dtype dtype = SB_FLOAT32;
    if (!lua_isnoneornil(L, 3)) dtype = dtype_of_string(L, luaL_checkstring(L, 3), "from_bytes");
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
        lua_Integer d = check_int(L, 2, op, "dim");
        if (d >= 1 && d <= ndim)
            dim = (int)d - 1;
        else if (d < 0 && -d <= ndim)
            dim = ndim + (int)d;
        else {
            char shape[256];
            shape_text(list[0], shape, sizeof shape);
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
    return push_result(L, st, &res, op);
}

static int l_cat(lua_State *L)
{
    return concat(L, false);
}
static int l_stack(lua_State *L)
{
    return concat(L, true);
}

/* ---- facts -------------------------------------------------------------------------------- */

static void push_size_table(lua_State *L, const sb_tensor *t)
{
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, (lua_Integer)t->sizes[i]);
        lua_rawseti(L, -2, i + 1);
    }
    luaL_setmetatable(L, SB_SIZE_MT);
}

static int m_size(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        push_size_table(L, t);
        return 1;
    }
    int d = check_dim_arg(L, t, 2, "size");
    lua_pushinteger(L, (lua_Integer)t->sizes[d]);
    return 1;
}

static int m_stride(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_createtable(L, t->ndim, 0);
        for (int i = 0; i < t->ndim; i++) {
            lua_pushinteger(L, (lua_Integer)t->strides[i]);
            lua_rawseti(L, -2, i + 1);
        }
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)t->strides[check_dim_arg(L, t, 2, "stride")]);
    return 1;
}

static int m_dim(lua_State *L)
{
    lua_pushinteger(L, sbL_check_tensor(L, 1)->ndim);
    return 1;
}

static int m_numel(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sb_tensor_numel(sbL_check_tensor(L, 1)));
    return 1;
}

static int m_dtype(lua_State *L)
{
    lua_pushstring(L, sb_dtype_name(sbL_check_tensor(L, 1)->dtype));
    return 1;
}

static int m_device(lua_State *L)
{
    char buf[32];
    sb_device_format(sb_tensor_device(sbL_check_tensor(L, 1)), buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

static int m_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, sb_tensor_is_contiguous(sbL_check_tensor(L, 1)));
    return 1;
}

static int m_len(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    if (t->ndim == 0) return luaL_error(L, "#: a 0-D tensor has no length (use :item())");
    lua_pushinteger(L, (lua_Integer)t->sizes[0]);
    return 1;
}

static int m_tostring(lua_State *L)
{
    tensor_box *box = luaL_checkudata(L, 1, SB_TENSOR_MT);
    if (!box->t) {
        lua_pushstring(L, "tensor(<freed>)");
        return 1;
    }
    char *text = NULL;
    sbL_check(L, sb_tensor_format(box->t, &text), "tostring");
    lua_pushstring(L, text);
    free(text);
    return 1;
}

/* ---- views and copies ------------------------------------------------------------------ */

static int m_view_or_reshape(lua_State *L, bool reshape)
{
    const char *op = reshape ? "reshape" : "view";
    sb_tensor *t = sbL_check_tensor(L, 1);
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    parse_shape(L, 2, &ndim, sizes, op);
    sb_tensor *v = NULL;
    sb_status st =
        reshape ? sb_tensor_reshape(t, ndim, sizes, &v) : sb_tensor_view(t, ndim, sizes, &v);
    return push_result(L, st, &v, op);
}

static int m_view(lua_State *L)
{
    return m_view_or_reshape(L, false);
}
static int m_reshape(lua_State *L)
{
    return m_view_or_reshape(L, true);
}

static int m_narrow(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int d = check_dim_arg(L, t, 2, "narrow");
    lua_Integer start = check_int(L, 3, "narrow", "start");
    lua_Integer length = check_int(L, 4, "narrow", "length");
    int64_t size = t->sizes[d];
    int64_t s0 = start < 0 ? size + start : start - 1;
    if (start == 0 || s0 < 0 || s0 > size || length < 0 || length > size - s0) {
        char shape[256];
        shape_text(t, shape, sizeof shape);
        return luaL_error(L,
                          "narrow: start %I length %I is out of range for dim %d of size %I in "
                          "%s",
                          (LUAI_UACINT)start, (LUAI_UACINT)length, d + 1, (LUAI_UACINT)size, shape);
    }
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_narrow(t, d, s0, length, &v), &v, "narrow");
}

static int m_select(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int d = check_dim_arg(L, t, 2, "select");
    int64_t i = to_index(L, check_int(L, 3, "select", "index"), t->sizes[d], d, "select");
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_select(t, d, i, &v), &v, "select");
}

static int m_transpose(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int d0 = check_dim_arg(L, t, 2, "transpose");
    int d1 = check_dim_arg(L, t, 3, "transpose");
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_transpose(t, d0, d1, &v), &v, "transpose");
}

static int m_t(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    if (t->ndim > 2) {
        char shape[256];
        shape_text(t, shape, sizeof shape);
        return luaL_error(L,
                          "t: expects a tensor with at most 2 dims, got %d-D %s (use "
                          "transpose(d1, d2))",
                          t->ndim, shape);
    }
    sb_tensor *v = NULL;
    sb_status st = t->ndim < 2 ? sb_tensor_alias(t, &v) : sb_tensor_transpose(t, 0, 1, &v);
    return push_result(L, st, &v, "t");
}

static int m_permute(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int ndim = 0;
    int64_t given[SB_MAX_DIMS];
    parse_shape(L, 2, &ndim, given, "permute");
    if (ndim != t->ndim) {
        char shape[256];
        shape_text(t, shape, sizeof shape);
        return luaL_error(L, "permute: expected %d dims for a tensor %s, got %d", t->ndim, shape,
                          ndim);
    }
    int dims[SB_MAX_DIMS];
    bool seen[SB_MAX_DIMS] = {false};
    for (int i = 0; i < ndim; i++) {
        dims[i] = to_dim(L, t, given[i], t->ndim, "permute");
        /* checked here, not left to the core, so that the message names the 1-based dim */
        if (seen[dims[i]]) {
            char shape[256];
            shape_text(t, shape, sizeof shape);
            return luaL_error(L,
                              "permute: dims must be a permutation of the %d dims of a tensor "
                              "%s (dim %d is repeated)",
                              t->ndim, shape, dims[i] + 1);
        }
        seen[dims[i]] = true;
    }
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_permute(t, dims, &v), &v, "permute");
}

static int m_expand(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    parse_shape(L, 2, &ndim, sizes, "expand");
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_expand(t, ndim, sizes, &v), &v, "expand");
}

static int m_unsqueeze(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int d = to_dim(L, t, check_int(L, 2, "unsqueeze", "dim"), t->ndim + 1, "unsqueeze");
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_unsqueeze(t, d, &v), &v, "unsqueeze");
}

static int m_squeeze(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int64_t sizes[SB_MAX_DIMS];
    int n = 0;
    if (lua_isnoneornil(L, 2)) {
        for (int i = 0; i < t->ndim; i++)
            if (t->sizes[i] != 1) sizes[n++] = t->sizes[i];
    } else {
        int d = check_dim_arg(L, t, 2, "squeeze");
        for (int i = 0; i < t->ndim; i++)
            if (i != d || t->sizes[i] != 1) sizes[n++] = t->sizes[i];
    }
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_view(t, n, sizes, &v), &v, "squeeze");
}

static int m_contiguous(lua_State *L)
{
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_contiguous(sbL_check_tensor(L, 1), &v), &v, "contiguous");
}

static int m_clone(lua_State *L)
{
    sb_tensor *v = NULL;
    return push_result(L, sb_tensor_clone(sbL_check_tensor(L, 1), &v), &v, "clone");
}

static int m_copy(lua_State *L)
{
    sb_tensor *dst = sbL_check_tensor(L, 1);
    sb_tensor *src = sbL_check_tensor(L, 2);
    sbL_check(L, sb_tensor_copy_(dst, src), "copy");
    lua_settop(L, 1);
    return 1;
}

static int m_fill(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "fill: the value must be a number, got %s", luaL_typename(L, 2));
    sbL_check(L, sb_tensor_fill_(t, lua_tonumber(L, 2)), "fill");
    lua_settop(L, 1);
    return 1;
}

static int m_zero(lua_State *L)
{
    sbL_check(L, sb_tensor_fill_(sbL_check_tensor(L, 1), 0.0), "zero");
    lua_settop(L, 1);
    return 1;
}

/* to(dtype | device [, dtype | device]) or to{dtype=, device=} */
static int m_to(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    sb_dtype dtype = t->dtype;
    sb_device device = sb_tensor_device(t);
    if (lua_type(L, 2) == LUA_TTABLE) {
        parse_options(L, 2, &dtype, &device, "to");
    } else {
        int top = lua_gettop(L);
        if (top < 2) return luaL_error(L, "to: expected a dtype or a device");
        for (int arg = 2; arg <= top && arg <= 3; arg++) {
            const char *what = lua_tostring(L, arg);
            if (lua_type(L, arg) != LUA_TSTRING)
                return luaL_error(L, "to: expected a dtype or a device name, got %s",
                                  luaL_typename(L, arg));
            if (sb_dtype_from_name(what, &dtype) == SB_OK) continue;
            if (sb_device_parse(what, &device) == SB_OK) continue;
            return luaL_error(L,
                              "to: '%s' is neither a dtype (float32, float64, int64, int32, "
                              "uint8, float16, bfloat16) nor a device (cpu, cuda, cuda:N)",
                              what);
        }
    }
    sb_tensor *moved = NULL, *res = NULL;
    sbL_check(L, sb_tensor_to_device(t, device, &moved), "to");
    sb_status st = sb_tensor_to_dtype(moved, dtype, &res);
    sb_tensor_free(moved);
    return push_result(L, st, &res, "to");
}

static int convert_to(lua_State *L, sb_dtype dtype, const char *op)
{
    sb_tensor *res = NULL;
    return push_result(L, sb_tensor_to_dtype(sbL_check_tensor(L, 1), dtype, &res), &res, op);
}

static int m_float(lua_State *L)
{
    return convert_to(L, SB_FLOAT32, "float");
}
static int m_double(lua_State *L)
{
    return convert_to(L, SB_FLOAT64, "double");
}
static int m_long(lua_State *L)
{
    return convert_to(L, SB_INT64, "long");
}
static int m_int(lua_State *L)
{
    return convert_to(L, SB_INT32, "int");
}
static int m_byte(lua_State *L)
{
    return convert_to(L, SB_UINT8, "byte");
}

static int move_to(lua_State *L, sb_device device, const char *op)
{
    sb_tensor *res = NULL;
    return push_result(L, sb_tensor_to_device(sbL_check_tensor(L, 1), device, &res), &res, op);
}

static int m_cpu(lua_State *L)
{
    return move_to(L, SB_CPU, "cpu");
}

static int m_cuda(lua_State *L)
{
    sb_device device = {SB_DEVICE_CUDA, 0};
    if (!lua_isnoneornil(L, 2)) device.index = (int)check_int(L, 2, "cuda", "device index");
    return move_to(L, device, "cuda");
}

/* ---- element access ------------------------------------------------------------------- */

static void push_element(lua_State *L, const sb_tensor *t, const int64_t *index)
{
    double v = 0;
    sbL_check(L, sb_tensor_get(t, index, &v), "index");
    if (t->dtype == SB_INT64) {
        /* exact beyond 2^53 */
        int64_t off = t->offset;
        for (int d = 0; d < t->ndim; d++)
            off += index[d] * t->strides[d];
        lua_pushinteger(L, (lua_Integer)((const int64_t *)t->storage->data)[off]);
    } else if (!sb_dtype_is_floating(t->dtype)) {
        lua_pushinteger(L, (lua_Integer)v);
    } else {
        lua_pushnumber(L, v);
    }
}

static int m_item(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int64_t n = sb_tensor_numel(t);
    if (n != 1) {
        char shape[256];
        shape_text(t, shape, sizeof shape);
        return luaL_error(L, "item: needs a tensor with exactly one element, got %I elements %s",
                          (LUAI_UACINT)n, shape);
    }
    sb_tensor *host = NULL;
    sbL_check(L, sb_tensor_to_device(t, SB_CPU, &host), "item");
    int64_t index[SB_MAX_DIMS] = {0};
    double v = 0;
    sb_status st = sb_tensor_get(host, index, &v);
    int64_t exact = 0;
    if (st == SB_OK && host->dtype == SB_INT64) exact = *(const int64_t *)sb_tensor_data(host);
    sb_dtype dtype = host->dtype;
    sb_tensor_free(host);
    sbL_check(L, st, "item");
    if (dtype == SB_INT64)
        lua_pushinteger(L, (lua_Integer)exact);
    else if (!sb_dtype_is_floating(dtype))
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
    return 1;
}

static void push_table_rec(lua_State *L, const sb_tensor *t, int dim, int64_t *index)
{
    if (dim == t->ndim) {
        push_element(L, t, index);
        return;
    }
    lua_createtable(L, (int)t->sizes[dim], 0);
    for (int64_t i = 0; i < t->sizes[dim]; i++) {
        index[dim] = i;
        push_table_rec(L, t, dim + 1, index);
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_totable(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    sb_tensor *host = NULL;
    sbL_check(L, sb_tensor_to_device(t, SB_CPU, &host), "totable");
    sbL_push_tensor(L, host); /* keeps it alive (and freed) across errors */
    int64_t index[SB_MAX_DIMS] = {0};
    luaL_checkstack(L, host->ndim + 4, "totable");
    push_table_rec(L, host, 0, index);
    return 1;
}

/* t[i]: a number for 1-D tensors (Torch7), else the view select(1, i). */
static int m_index(lua_State *L)
{
    /* Method lookup works on a freed tensor too (t:free() twice is fine); the methods
     * themselves check. */
    luaL_checkudata(L, 1, SB_TENSOR_MT);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        sb_tensor *t = sbL_check_tensor(L, 1);
        lua_Integer i = check_int(L, 2, "index", "index");
        if (t->ndim == 0)
            return luaL_error(L, "index: a 0-D tensor cannot be indexed (use :item())");
        int64_t at = to_index(L, i, t->sizes[0], 0, "index");
        if (t->ndim == 1) {
            if (sb_tensor_device(t).kind != SB_DEVICE_CPU) {
                sb_tensor *v = NULL, *host = NULL;
                sbL_check(L, sb_tensor_narrow(t, 0, at, 1, &v), "index");
                sb_status st = sb_tensor_to_device(v, SB_CPU, &host);
                sb_tensor_free(v);
                sbL_check(L, st, "index");
                sbL_push_tensor(L, host);
                int64_t zero = 0;
                push_element(L, host, &zero);
                return 1;
            }
            push_element(L, t, &at);
            return 1;
        }
        sb_tensor *v = NULL;
        return push_result(L, sb_tensor_select(t, 0, at, &v), &v, "index");
    }
    /* methods */
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static int m_newindex(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "index: tensors take integer positions (t[i] = v), got a %s key",
                          luaL_typename(L, 2));
    lua_Integer i = check_int(L, 2, "index", "index");
    if (t->ndim == 0) return luaL_error(L, "index: a 0-D tensor cannot be indexed (use :fill())");
    int64_t at = to_index(L, i, t->sizes[0], 0, "index");
    if (luaL_testudata(L, 3, SB_TENSOR_MT)) sbL_check_tensor(L, 3); /* raise before holding */
    sb_tensor *slot = NULL;
    sbL_check(L, sb_tensor_select(t, 0, at, &slot), "index");
    sb_status st;
    sb_tensor *src = sbL_test_tensor(L, 3);
    if (src)
        st = sb_tensor_copy_(slot, src);
    else if (lua_type(L, 3) == LUA_TNUMBER || lua_type(L, 3) == LUA_TBOOLEAN)
        st = sb_tensor_fill_(slot, lua_type(L, 3) == LUA_TBOOLEAN ? lua_toboolean(L, 3)
                                                                  : lua_tonumber(L, 3));
    else {
        sb_tensor_free(slot);
        return luaL_error(L, "index: the assigned value must be a number or a tensor, got %s",
                          luaL_typename(L, 3));
    }
    sb_tensor_free(slot);
    sbL_check(L, st, "index");
    return 0;
}

/* ---- arithmetic ------------------------------------------------------------------------- */

/* a op b where either side may be a number (metamethods pass numbers on the left). */
static int arith(lua_State *L, sb_binary_op op, const char *name)
{
    /* a freed tensor on either side raises "tensor was freed", not a type error */
    if (luaL_testudata(L, 1, SB_TENSOR_MT)) sbL_check_tensor(L, 1);
    if (luaL_testudata(L, 2, SB_TENSOR_MT)) sbL_check_tensor(L, 2);
    sb_tensor *a = sbL_test_tensor(L, 1), *b = sbL_test_tensor(L, 2);
    sb_tensor *res = NULL;
    sb_status st;
    if (a && b) {
        st = sb_tensor_binary(op, a, b, &res);
    } else if (a && lua_type(L, 2) == LUA_TNUMBER) {
        st = sb_tensor_binary_scalar(op, a, lua_tonumber(L, 2), false, &res);
    } else if (b && lua_type(L, 1) == LUA_TNUMBER) {
        st = sb_tensor_binary_scalar(op, b, lua_tonumber(L, 1), true, &res);
    } else {
        if (!a && !b) sbL_check_tensor(L, 1); /* raises the precise message (freed?) */
        int bad = a ? 2 : 1;
        return luaL_error(L, "%s: expected a tensor or a number, got %s", name,
                          luaL_typename(L, bad));
    }
    return push_result(L, st, &res, name);
}

static int m_add(lua_State *L)
{
    return arith(L, SB_BINARY_ADD, "add");
}
static int m_sub(lua_State *L)
{
    return arith(L, SB_BINARY_SUB, "sub");
}
static int m_mul(lua_State *L)
{
    return arith(L, SB_BINARY_MUL, "mul");
}
static int m_div(lua_State *L)
{
    return arith(L, SB_BINARY_DIV, "div");
}
static int m_maximum(lua_State *L)
{
    return arith(L, SB_BINARY_MAXIMUM, "maximum");
}
static int m_minimum(lua_State *L)
{
    return arith(L, SB_BINARY_MINIMUM, "minimum");
}

static int arith_(lua_State *L, sb_binary_op op, const char *name)
{
    sb_tensor *self = sbL_check_tensor(L, 1);
    if (luaL_testudata(L, 2, SB_TENSOR_MT)) sbL_check_tensor(L, 2);
    sb_tensor *b = sbL_test_tensor(L, 2);
    sb_status st;
    if (b)
        st = sb_tensor_binary_(op, self, b);
    else if (lua_type(L, 2) == LUA_TNUMBER)
        st = sb_tensor_binary_scalar_(op, self, lua_tonumber(L, 2));
    else
        return luaL_error(L, "%s: expected a tensor or a number, got %s", name,
                          luaL_typename(L, 2));
    sbL_check(L, st, name);
    lua_settop(L, 1);
    return 1;
}

static int m_add_(lua_State *L)
{
    return arith_(L, SB_BINARY_ADD, "add_");
}
static int m_sub_(lua_State *L)
{
    return arith_(L, SB_BINARY_SUB, "sub_");
}
static int m_mul_(lua_State *L)
{
    return arith_(L, SB_BINARY_MUL, "mul_");
}
static int m_div_(lua_State *L)
{
    return arith_(L, SB_BINARY_DIV, "div_");
}

static int unary(lua_State *L, sb_unary_op op, const char *name)
{
    sb_tensor *res = NULL;
    return push_result(L, sb_tensor_unary(op, sbL_check_tensor(L, 1), &res), &res, name);
}

static int m_neg(lua_State *L)
{
    return unary(L, SB_UNARY_NEG, "neg");
}
static int m_abs(lua_State *L)
{
    return unary(L, SB_UNARY_ABS, "abs");
}
static int m_exp(lua_State *L)
{
    return unary(L, SB_UNARY_EXP, "exp");
}
static int m_log(lua_State *L)
{
    return unary(L, SB_UNARY_LOG, "log");
}
static int m_sqrt(lua_State *L)
{
    return unary(L, SB_UNARY_SQRT, "sqrt");
}

/* clamp(min, max) with nil for an open side, or clamp{min=, max=} */
static int m_clamp(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    double lo = NAN, hi = NAN;
    if (lua_type(L, 2) == LUA_TTABLE) {
        lo = sbL_optfield_number(L, 2, "min", NAN);
        hi = sbL_optfield_number(L, 2, "max", NAN);
    } else {
        if (!lua_isnoneornil(L, 2)) lo = luaL_checknumber(L, 2);
        if (!lua_isnoneornil(L, 3)) hi = luaL_checknumber(L, 3);
    }
    sb_tensor *res = NULL;
    return push_result(L, sb_tensor_clamp(t, lo, hi, &res), &res, "clamp");
}

static int compare(lua_State *L, sb_compare_op op, const char *name)
{
    sb_tensor *a = sbL_check_tensor(L, 1);
    if (luaL_testudata(L, 2, SB_TENSOR_MT)) sbL_check_tensor(L, 2);
    sb_tensor *b = sbL_test_tensor(L, 2);
    sb_tensor *res = NULL;
    sb_status st;
    if (b)
        st = sb_tensor_compare(op, a, b, &res);
    else if (lua_type(L, 2) == LUA_TNUMBER)
        st = sb_tensor_compare_scalar(op, a, lua_tonumber(L, 2), &res);
    else
        return luaL_error(L, "%s: expected a tensor or a number, got %s", name,
                          luaL_typename(L, 2));
    return push_result(L, st, &res, name);
}

static int m_eq(lua_State *L)
{
    return compare(L, SB_COMPARE_EQ, "eq");
}
static int m_ne(lua_State *L)
{
    return compare(L, SB_COMPARE_NE, "ne");
}
static int m_gt(lua_State *L)
{
    return compare(L, SB_COMPARE_GT, "gt");
}
static int m_lt(lua_State *L)
{
    return compare(L, SB_COMPARE_LT, "lt");
}
static int m_ge(lua_State *L)
{
    return compare(L, SB_COMPARE_GE, "ge");
}
static int m_le(lua_State *L)
{
    return compare(L, SB_COMPARE_LE, "le");
}

/* ---- reductions ----------------------------------------------------------------------------- */

/* Optional dim at arg 2 (nil = all) and {keepdim=} after it. */
static int reduce_args(lua_State *L, sb_tensor *t, bool *keepdim, const char *op)
{
    int dim = -1, opts = 2;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        dim = check_dim_arg(L, t, 2, op);
        opts = 3;
    } else if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TTABLE) {
        luaL_error(L, "%s: dim must be an integer, got %s", op, luaL_typename(L, 2));
    }
    *keepdim = sbL_optfield_boolean(L, opts, "keepdim", 0);
    return dim;
}

/* Positions from core are 0-based: make them Lua's. */
static sb_status one_based(sb_tensor *indices)
{
    return sb_tensor_binary_scalar_(SB_BINARY_ADD, indices, 1.0);
}

static int reduce(lua_State *L, sb_reduce_op op, const char *name)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    bool keepdim = false;
    int dim = reduce_args(L, t, &keepdim, name);
    bool with_indices = (op == SB_REDUCE_MAX || op == SB_REDUCE_MIN) && dim >= 0;
    sb_tensor *values = NULL, *indices = NULL;
    sb_status st = sb_tensor_reduce(op, t, dim, keepdim, &values, with_indices ? &indices : NULL);
    if (st == SB_OK && indices) st = one_based(indices);
    if (st != SB_OK) {
        sb_tensor_free(values);
        sb_tensor_free(indices);
        sbL_raise(L, name);
    }
    sbL_push_tensor(L, values);
    if (!indices) return 1;
    sbL_push_tensor(L, indices);
    return 2;
}

static int m_sum(lua_State *L)
{
    return reduce(L, SB_REDUCE_SUM, "sum");
}
static int m_mean(lua_State *L)
{
    return reduce(L, SB_REDUCE_MEAN, "mean");
}
static int m_max(lua_State *L)
{
    return reduce(L, SB_REDUCE_MAX, "max");
}
static int m_min(lua_State *L)
{
    return reduce(L, SB_REDUCE_MIN, "min");
}

static int arg_best(lua_State *L, bool is_max)
{
    const char *name = is_max ? "argmax" : "argmin";
    sb_tensor *t = sbL_check_tensor(L, 1);
    bool keepdim = false;
    int dim = reduce_args(L, t, &keepdim, name);
    sb_tensor *res = NULL;
    sb_status st =
        is_max ? sb_tensor_argmax(t, dim, keepdim, &res) : sb_tensor_argmin(t, dim, keepdim, &res);
    if (st == SB_OK) {
        st = one_based(res);
        if (st != SB_OK) sb_tensor_free(res);
    }
    return push_result(L, st, &res, name);
}

static int m_argmax(lua_State *L)
{
    return arg_best(L, true);
}
static int m_argmin(lua_State *L)
{
    return arg_best(L, false);
}

/* topk(k [, d = last]) -> values, positions (1-based) */
static int m_topk(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    lua_Integer k = check_int(L, 2, "topk", "k");
    if (t->ndim == 0) return luaL_error(L, "topk: needs a tensor with at least 1 dim, got 0-D");
    int dim = lua_isnoneornil(L, 3) ? t->ndim - 1 : check_dim_arg(L, t, 3, "topk");
    if (k < 0 || k > t->sizes[dim]) {
        char shape[256];
        shape_text(t, shape, sizeof shape);
        return luaL_error(L,
                          "topk: k = %I is out of range for dim %d of size %I in %s (expected "
                          "0..%I)",
                          (LUAI_UACINT)k, dim + 1, (LUAI_UACINT)t->sizes[dim], shape,
                          (LUAI_UACINT)t->sizes[dim]);
    }
    sb_tensor *values = NULL, *indices = NULL;
    sb_status st = sb_tensor_topk(t, k, dim, &values, &indices);
    if (st == SB_OK) st = one_based(indices);
    if (st != SB_OK) {
        sb_tensor_free(values);
        sb_tensor_free(indices);
        sbL_raise(L, "topk");
    }
    sbL_push_tensor(L, values);
    sbL_push_tensor(L, indices);
    return 2;
}

static int m_matmul(lua_State *L)
{
    sb_tensor *res = NULL;
    sb_tensor *a = sbL_check_tensor(L, 1), *b = sbL_check_tensor(L, 2);
    return push_result(L, sb_tensor_matmul(a, b, &res), &res, "matmul");
}

static int m_mm(lua_State *L)
{
    sb_tensor *res = NULL;
    sb_tensor *a = sbL_check_tensor(L, 1), *b = sbL_check_tensor(L, 2);
    return push_result(L, sb_tensor_mm(a, b, &res), &res, "mm");
}

static int m_bmm(lua_State *L)
{
    sb_tensor *res = NULL;
    sb_tensor *a = sbL_check_tensor(L, 1), *b = sbL_check_tensor(L, 2);
    return push_result(L, sb_tensor_bmm(a, b, &res), &res, "bmm");
}

/* ---- engine settings --------------------------------------------------------------------- */

static int l_set_num_threads(lua_State *L)
{
    lua_Integer n = check_int(L, 1, "set_num_threads", "n");
    if (n < 1 || n > 1024)
        return luaL_error(L, "set_num_threads: n must be between 1 and 1024, got %I",
                          (LUAI_UACINT)n);
    sbL_check(L, sb_set_num_threads((int)n), "set_num_threads");
    return 0;
}

static int l_get_num_threads(lua_State *L)
{
    lua_pushinteger(L, sb_get_num_threads());
    return 1;
}

static int l_memory_stats(lua_State *L)
{
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)sb_cpu_memory_allocated());
    lua_setfield(L, -2, "allocated");
    lua_pushinteger(L, (lua_Integer)sb_cpu_memory_peak());
    lua_setfield(L, -2, "max_allocated");
    lua_pushinteger(L, (lua_Integer)sb_cpu_memory_cached());
    lua_setfield(L, -2, "cached");
    return 1;
}

static int l_empty_cache(lua_State *L)
{
    (void)L;
    sb_cpu_empty_cache();
    return 0;
}

static int l_reset_peak_memory_stats(lua_State *L)
{
    (void)L;
    sb_cpu_memory_reset_peak();
    return 0;
}

/* ---- Size: the table t:size() returns ------------------------------------------------ */

static int size_tostring(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '[');
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1) luaL_addstring(&b, ", ");
        lua_rawgeti(L, 1, i);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, ']');
    luaL_pushresult(&b);
    return 1;
}

static int size_eq(lua_State *L)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    bool same = n == (lua_Integer)lua_rawlen(L, 2);
    for (lua_Integer i = 1; same && i <= n; i++) {
        lua_rawgeti(L, 1, i);
        lua_rawgeti(L, 2, i);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, same);
    return 1;
}

int sbL_open_tensor(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"size", m_size},
        {"stride", m_stride},
        {"dim", m_dim},
        {"numel", m_numel},
        {"dtype", m_dtype},
        {"device", m_device},
        {"is_contiguous", m_is_contiguous},
        {"view", m_view},
        {"reshape", m_reshape},
        {"narrow", m_narrow},
        {"select", m_select},
        {"transpose", m_transpose},
        {"t", m_t},
        {"permute", m_permute},
        {"expand", m_expand},
        {"unsqueeze", m_unsqueeze},
        {"squeeze", m_squeeze},
        {"contiguous", m_contiguous},
        {"clone", m_clone},
        {"copy", m_copy},
        {"fill", m_fill},
        {"zero", m_zero},
        {"to", m_to},
        {"float", m_float},
        {"double", m_double},
        {"long", m_long},
        {"int", m_int},
        {"byte", m_byte},
        {"cpu", m_cpu},
        {"cuda", m_cuda},
        {"item", m_item},
        {"totable", m_totable},
        {"add", m_add},
        {"sub", m_sub},
        {"mul", m_mul},
        {"div", m_div},
        {"maximum", m_maximum},
        {"minimum", m_minimum},
        {"add_", m_add_},
        {"sub_", m_sub_},
        {"mul_", m_mul_},
        {"div_", m_div_},
        {"neg", m_neg},
        {"abs", m_abs},
        {"exp", m_exp},
        {"log", m_log},
        {"sqrt", m_sqrt},
        {"clamp", m_clamp},
        {"eq", m_eq},
        {"ne", m_ne},
        {"gt", m_gt},
        {"lt", m_lt},
        {"ge", m_ge},
        {"le", m_le},
        {"sum", m_sum},
        {"mean", m_mean},
        {"max", m_max},
        {"min", m_min},
        {"argmax", m_argmax},
        {"argmin", m_argmin},
        {"topk", m_topk},
        {"matmul", m_matmul},
        {"mm", m_mm},
        {"bmm", m_bmm},
        {"free", tensor_free},
        {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {
        {"__newindex", m_newindex}, {"__len", m_len}, {"__tostring", m_tostring},
        {"__add", m_add},           {"__sub", m_sub}, {"__mul", m_mul},
        {"__div", m_div},           {"__unm", m_neg}, {"__gc", tensor_free},
        {"__close", tensor_free},   {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
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
        {"set_num_threads", l_set_num_threads},
        {"get_num_threads", l_get_num_threads},
        {"memory_stats", l_memory_stats},
        {"reset_peak_memory_stats", l_reset_peak_memory_stats},
        {"empty_cache", l_empty_cache},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, SB_SIZE_MT)) { /* [Size] */
        lua_pushcfunction(L, size_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, size_eq);
        lua_setfield(L, -2, "__eq");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);              /* [module] */
    luaL_newmetatable(L, SB_TENSOR_MT); /* [module, mt] */
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);         /* [module, mt, methods] */
    lua_pushvalue(L, -1);            /* [module, mt, methods, methods] */
    lua_pushcclosure(L, m_index, 1); /* [module, mt, methods, __index] */
    lua_setfield(L, -3, "__index");  /* [module, mt, methods] */
    /* Lua code may add methods here (lua/sbengine/tensor.lua, the nn library). */
    lua_setfield(L, -3, "methods"); /* [module, mt] */
    lua_pop(L, 1);                  /* [module] */
    return 1;
}
