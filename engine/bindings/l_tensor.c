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
#include "bindings/l_tensor_internal.h"
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
 * argument evaluation open: `sbL_tensor_result(L, f(&v), &v, op)` reads v after f ran. */
int sbL_tensor_result(lua_State *L, sb_status st, sb_tensor **t, const char *op)
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

/* A Lua dim (1-based; -1 is the last) of a tensor with `ndim` dims -> 0-based. */
int sbL_tensor_dim(lua_State *L, const sb_tensor *t, lua_Integer d, int ndim, const char *op)
{
    if (d >= 1 && d <= ndim) return (int)d - 1;
    if (d < 0 && -d <= ndim) return ndim + (int)d;
    char shape[256];
    sb_tensor_format_shape(t, shape, sizeof shape);
    if (ndim == 0)
        return luaL_error(L, "%s: dim %I is out of range for a 0-D tensor %s (it has no dims)", op,
                          (LUAI_UACINT)d, shape);
    return luaL_error(L,
                      "%s: dim %I is out of range for a %d-D tensor %s (expected 1..%d or "
                      "-%d..-1)",
                      op, (LUAI_UACINT)d, t->ndim, shape, ndim, ndim);
}

lua_Integer sbL_check_integer(lua_State *L, int arg, const char *op, const char *what)
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

int sbL_tensor_dim_arg(lua_State *L, const sb_tensor *t, int arg, const char *op)
{
    return sbL_tensor_dim(L, t, sbL_check_integer(L, arg, op, "dim"), t->ndim, op);
}

/* A Lua position (1-based; negative from the end) along a dim of `size` -> 0-based. */
int64_t sbL_tensor_index(lua_State *L, lua_Integer i, int64_t size, int dim0, const char *op)
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
int sbL_parse_shape(lua_State *L, int first, int *ndim, int64_t *sizes, const char *op)
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

sb_dtype sbL_dtype_arg(lua_State *L, const char *name, const char *op)
{
    sb_dtype d;
    if (sb_dtype_from_name(name, &d) != SB_OK) sbL_raise(L, op);
    return d;
}

/* {dtype=, device=} at idx (none/nil = defaults). */
void sbL_parse_tensor_options(lua_State *L, int idx, sb_dtype *dtype, sb_device *device,
                              const char *op)
{
    if (lua_isnoneornil(L, idx)) return;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "%s: options must be a table {dtype=, device=}, got %s", op,
                   luaL_typename(L, idx));
    if (lua_getfield(L, idx, "dtype") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: option 'dtype' must be a string such as \"float32\", got %s", op,
                       luaL_typename(L, -1));
        *dtype = sbL_dtype_arg(L, lua_tostring(L, -1), op);
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
    int d = sbL_tensor_dim_arg(L, t, 2, "size");
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
    lua_pushinteger(L, (lua_Integer)t->strides[sbL_tensor_dim_arg(L, t, 2, "stride")]);
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
        sb_tensor_format_shape(t, shape, sizeof shape);
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
        lua_Integer i = sbL_check_integer(L, 2, "index", "index");
        if (t->ndim == 0)
            return luaL_error(L, "index: a 0-D tensor cannot be indexed (use :item())");
        int64_t at = sbL_tensor_index(L, i, t->sizes[0], 0, "index");
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
        return sbL_tensor_result(L, sb_tensor_select(t, 0, at, &v), &v, "index");
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
    lua_Integer i = sbL_check_integer(L, 2, "index", "index");
    if (t->ndim == 0) return luaL_error(L, "index: a 0-D tensor cannot be indexed (use :fill())");
    int64_t at = sbL_tensor_index(L, i, t->sizes[0], 0, "index");
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

/* ---- engine settings --------------------------------------------------------------------- */

static int l_set_num_threads(lua_State *L)
{
    lua_Integer n = sbL_check_integer(L, 1, "set_num_threads", "n");
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
        {"item", m_item},
        {"totable", m_totable},
        {"free", tensor_free},
        {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {
        {"__newindex", m_newindex}, {"__len", m_len},         {"__tostring", m_tostring},
        {"__gc", tensor_free},      {"__close", tensor_free}, {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
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
    luaL_newlib(L, funcs);                        /* [module] */
    luaL_setfuncs(L, sbL_tensor_create_funcs, 0); /* [module] */
    luaL_newmetatable(L, SB_TENSOR_MT);           /* [module, mt] */
    luaL_setfuncs(L, metamethods, 0);
    luaL_setfuncs(L, sbL_tensor_math_metamethods, 0);
    luaL_newlib(L, methods); /* [module, mt, methods] */
    luaL_setfuncs(L, sbL_tensor_view_methods, 0);
    luaL_setfuncs(L, sbL_tensor_math_methods, 0);
    lua_pushvalue(L, -1);            /* [module, mt, methods, methods] */
    lua_pushcclosure(L, m_index, 1); /* [module, mt, methods, __index] */
    lua_setfield(L, -3, "__index");  /* [module, mt, methods] */
    /* Lua code may add methods here (lua/sbengine/tensor.lua, the nn library). */
    lua_setfield(L, -3, "methods"); /* [module, mt] */
    lua_pop(L, 1);                  /* [module] */
    return 1;
}
