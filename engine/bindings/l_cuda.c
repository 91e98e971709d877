/* sbengine.core.cuda -> sb.cuda: what the CUDA backend sees and its memory.
 * Every function works without a GPU (nothing loads until called; then "no GPU"). */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/cuda.h"
#include "bindings/l_util.h"

/* An optional device argument: nil (all devices, or `dflt`), an ordinal N or "cuda:N". */
static int opt_device(lua_State *L, int idx, int dflt)
{
    if (lua_isnoneornil(L, idx)) return dflt;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Integer n = luaL_checkinteger(L, idx);
        luaL_argcheck(L, n >= 0 && n < 1024, idx, "CUDA device ordinal must be 0 or more");
        return (int)n;
    }
    const char *text = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    if (text && strcmp(text, "cuda") == 0) return 0;
    char *end = NULL;
    long n = text && strncmp(text, "cuda:", 5) == 0 ? strtol(text + 5, &end, 10) : -1;
    if (n < 0 || n >= 1024 || !end || end == text + 5 || *end)
        return luaL_argerror(
            L, idx,
            lua_pushfstring(L, "CUDA device expected (an ordinal, \"cuda\" or \"cuda:N\"), got %s",
                            text ? text : luaL_typename(L, idx)));
    return (int)n;
}

/* available() -> true | false, reason */
static int cuda_available(lua_State *L)
{
    if (sb_cuda_available()) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushstring(L, sb_cuda_unavailable_reason());
    return 2;
}

static int cuda_device_count(lua_State *L)
{
    lua_pushinteger(L, sb_cuda_device_count());
    return 1;
}

static int cuda_synchronize(lua_State *L)
{
    int device = opt_device(L, 1, -1);
    if (device >= 0) sbL_check(L, sb_cuda_require(device), "sb.cuda.synchronize");
    sbL_check(L, sb_cuda_synchronize(device), "sb.cuda.synchronize");
    return 0;
}

static int cuda_memory_stats(lua_State *L)
{
    sb_cuda_memory_stats s;
    sb_cuda_memory_stats_get(opt_device(L, 1, -1), &s);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)s.allocated);
    lua_setfield(L, -2, "allocated");
    lua_pushinteger(L, (lua_Integer)s.max_allocated);
    lua_setfield(L, -2, "max_allocated");
    lua_pushinteger(L, (lua_Integer)s.reserved);
    lua_setfield(L, -2, "reserved");
    return 1;
}

static int cuda_empty_cache(lua_State *L)
{
    sbL_check(L, sb_cuda_empty_cache(), "sb.cuda.empty_cache");
    return 0;
}

static int cuda_reset_peak(lua_State *L)
{
    sb_cuda_reset_peak(opt_device(L, 1, -1));
    return 0;
}

/* allow_tf32([flag]) -> the setting now */
static int cuda_allow_tf32(lua_State *L)
{
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TBOOLEAN);
        sb_cuda_set_allow_tf32(lua_toboolean(L, 1));
    }
    lua_pushboolean(L, sb_cuda_tf32_allowed());
    return 1;
}

/* info() -> what the CUDA backend runs with: versions (as text), cuDNN in use or why not,
 * whether TF32 is allowed, whether a GPU is available (or why not). Loads the plugin. */
static int cuda_info(lua_State *L)
{
    lua_createtable(L, 0, 10);
    lua_pushboolean(L, sb_cuda_available());
    lua_setfield(L, -2, "available");
    if (!sb_cuda_available()) {
        lua_pushstring(L, sb_cuda_unavailable_reason());
        lua_setfield(L, -2, "unavailable");
    }
    lua_pushboolean(L, sb_cuda_tf32_allowed());
    lua_setfield(L, -2, "tf32");
    if (!sb_cuda_plugin_loaded()) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "cudnn");
        lua_pushstring(L, sb_cudnn_unused_reason());
        lua_setfield(L, -2, "cudnn_unused");
        return 1;
    }
    int rt = sb_cuda_runtime_version(), drv = sb_cuda_driver_version(),
        cublas = sb_cublas_version();
    lua_pushfstring(L, "%d.%d", rt / 1000, rt % 1000 / 10);
    lua_setfield(L, -2, "runtime");
    if (drv > 0) {
        lua_pushfstring(L, "%d.%d", drv / 1000, drv % 1000 / 10);
        lua_setfield(L, -2, "driver");
    }
    lua_pushfstring(L, "%d.%d.%d", cublas / 10000, cublas / 100 % 100, cublas % 100);
    lua_setfield(L, -2, "cublas");
    if (sb_cudnn_version() > 0) {
        lua_pushstring(L, sb_cudnn_version_text());
    } else {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "cudnn");
        lua_pushstring(L, sb_cudnn_unused_reason());
        lua_setfield(L, -2, "cudnn_unused");
        return 1;
    }
    lua_setfield(L, -2, "cudnn");
    return 1;
}

/* --- out of memory: collect garbage before giving up ------------------------------------- */

/* Tensors that are dead but not yet collected still hold device memory. The GPU layer calls
 * this when the device is full (after emptying its cache) and tries once more. */
static void collect_garbage(void *ctx)
{
    lua_gc((lua_State *)ctx, LUA_GCCOLLECT);
}

/* The sentinel's __gc: the state is closing, its collector must not be called any more. */
static int forget_collector(lua_State *L)
{
    (void)L;
    sb_cuda_set_collect_hook(NULL, NULL);
    return 0;
}

/* Installs the collector of this state's main thread (the thread that runs the ops), with a
 * registry sentinel that removes it when the state closes. */
static void install_collector(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD); /* [main] */
    lua_State *main = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_newuserdatauv(L, 1, 0); /* [sentinel] */
    lua_newtable(L);            /* [sentinel, mt] */
    lua_pushcfunction(L, forget_collector);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);                                       /* [sentinel] */
    lua_setfield(L, LUA_REGISTRYINDEX, "sbengine.cuda.collector"); /* [] */
    sb_cuda_set_collect_hook(collect_garbage, main);
}

int sbL_open_cuda(lua_State *L)
{
    install_collector(L);
    static const luaL_Reg funcs[] = {
        {"available", cuda_available},
        {"device_count", cuda_device_count},
        {"synchronize", cuda_synchronize},
        {"memory_stats", cuda_memory_stats},
        {"empty_cache", cuda_empty_cache},
        {"reset_peak", cuda_reset_peak},
        {"allow_tf32", cuda_allow_tf32},
        {"info", cuda_info},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
