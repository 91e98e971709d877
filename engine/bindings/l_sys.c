/* sbengine.core.sys: build facts and devices (for --version, `sbengine devices`,
 * the `environment` block of stored results), and the system helpers the Lua library
 * needs: a UUID, the host, a file lock, an atomic file write, a folder's files. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/blas.h"
#include "core/buildinfo.h"
#include "core/dir_list.h"
#include "core/sys.h"
#include "gpu/cuda.h"
#include "bindings/l_util.h"

static int sys_version(lua_State *L)
{
    lua_pushstring(L, sb_engine_version());
    return 1;
}

/* build_info([{cuda = false}]): loads the CUDA plugin on a CUDA build (~80 ms and ~200 MB
 * of resident cuBLAS the first time) to report its versions: call it when the facts are
 * needed, not at startup (sys.version is free). {cuda = false} leaves CUDA out, for a run
 * on the CPU that should not pay for the plugin. */
static int sys_build_info(lua_State *L)
{
    int with_cuda = lua_istable(L, 1) ? sbL_optfield_boolean(L, 1, "cuda", 1) : 1;
    lua_newtable(L);
    lua_pushstring(L, sb_engine_version());
    lua_setfield(L, -2, "version");
    lua_pushstring(L, sb_engine_git_revision());
    lua_setfield(L, -2, "git_revision");
    lua_pushstring(L, LUA_RELEASE);
    lua_setfield(L, -2, "lua");
    lua_pushstring(L, sb_blas_info());
    lua_setfield(L, -2, "blas");
    lua_pushstring(L, sb_blas_kernel());
    lua_setfield(L, -2, "blas_kernel");
    lua_pushboolean(L, sb_built_with_cuda());
    lua_setfield(L, -2, "cuda_built");
    if (!with_cuda) return 1;
    if (sb_built_with_cuda() && sb_cuda_plugin_loaded()) {
        lua_pushinteger(L, sb_cuda_runtime_version());
        lua_setfield(L, -2, "cuda_runtime");
        lua_pushinteger(L, sb_cuda_driver_version());
        lua_setfield(L, -2, "cuda_driver");
        lua_pushinteger(L, sb_cublas_version());
        lua_setfield(L, -2, "cublas");
    }
    if (!sb_cuda_available()) {
        lua_pushstring(L, sb_cuda_unavailable_reason());
        lua_setfield(L, -2, "cuda_unavailable");
    }
    return 1;
}

/* { {name="cpu"}, {name="cuda:0", description="NVIDIA H200", memory=...}, ... } */
static int sys_devices(lua_State *L)
{
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, "cpu");
    lua_setfield(L, -2, "name");
    lua_rawseti(L, -2, 1);
    int count = sb_cuda_device_count();
    for (int i = 0; i < count; i++) {
        char name[256];
        size_t memory = 0;
        if (!sb_cuda_device_info(i, name, sizeof name, &memory)) continue;
        lua_newtable(L);
        lua_pushfstring(L, "cuda:%d", i);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, name);
        lua_setfield(L, -2, "description");
        lua_pushinteger(L, (lua_Integer)memory);
        lua_setfield(L, -2, "memory");
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
    return 1;
}

static int sys_cuda_device_count(lua_State *L)
{
    lua_pushinteger(L, sb_cuda_device_count());
    return 1;
}

/* isatty(fd | io stream) -> boolean: progress bars redraw in place only on a terminal. */
static int sys_isatty(lua_State *L)
{
    int fd;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        fd = (int)luaL_checkinteger(L, 1);
    } else {
        luaL_Stream *stream = luaL_checkudata(L, 1, LUA_FILEHANDLE);
        if (!stream->closef) return luaL_error(L, "isatty: file is closed");
        fd = fileno(stream->f);
    }
    lua_pushboolean(L, isatty(fd));
    return 1;
}

/* monotonic() -> seconds (float) on a clock that never jumps: rates and ETAs. */
static int sys_monotonic(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* rusage() -> {cpu = user + system seconds, voluntary = , involuntary = context switches}
 * of the whole process, every thread that ever ran in it included (getrusage RUSAGE_SELF):
 * the perf tools' CPU time and oversubscription figures. */
static int sys_rusage(lua_State *L)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return luaL_error(L, "rusage: getrusage failed");
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (lua_Number)ru.ru_utime.tv_sec + (lua_Number)ru.ru_utime.tv_usec * 1e-6 +
                          (lua_Number)ru.ru_stime.tv_sec + (lua_Number)ru.ru_stime.tv_usec * 1e-6);
    lua_setfield(L, -2, "cpu");
    lua_pushinteger(L, (lua_Integer)ru.ru_nvcsw);
    lua_setfield(L, -2, "voluntary");
    lua_pushinteger(L, (lua_Integer)ru.ru_nivcsw);
    lua_setfield(L, -2, "involuntary");
    return 1;
}

static int sys_uuid4(lua_State *L)
{
    char uuid[37];
    sbL_check(L, sb_uuid4(uuid), "uuid4");
    lua_pushstring(L, uuid);
    return 1;
}

static int sys_host_info(lua_State *L)
{
    char host[256], os[512];
    sb_host_info(host, sizeof host, os, sizeof os);
    lua_pushstring(L, host);
    lua_pushstring(L, os);
    return 2;
}

static int sys_write_file_atomic(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    sbL_check(L, sb_write_file_atomic(path, text, len), "write_file_atomic");
    return 0;
}

/* lock_file(path) -> lock; lock:close() (also __close/__gc) releases it. */
typedef struct file_lock {
    int fd;
} file_lock;

#define FILE_LOCK_MT "sbengine.FileLock"

static int lock_release(lua_State *L)
{
    file_lock *lock = luaL_checkudata(L, 1, FILE_LOCK_MT);
    sb_unlock_file(lock->fd);
    lock->fd = -1;
    return 0;
}

static int sys_lock_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    file_lock *lock = lua_newuserdatauv(L, sizeof *lock, 0);
    lock->fd = -1;
    luaL_setmetatable(L, FILE_LOCK_MT);
    sbL_check(L, sb_lock_file(path, &lock->fd), "lock_file");
    return 1;
}

#define NAMES_GUARD_MT "sbengine.names_guard"

/* Holds the C list of names so that the GC frees it if building the Lua table raises. */
typedef struct names_guard {
    char **names;
    size_t count;
} names_guard;

static int names_guard_gc(lua_State *L)
{
    names_guard *g = lua_touserdata(L, 1);
    sb_free_names(g->names, g->count);
    g->names = NULL;
    g->count = 0;
    return 0;
}

/* list_files(dir, suffix) -> {names}, or nil, message (a missing folder is expected) */
static int sys_list_files(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    const char *suffix = luaL_optstring(L, 2, "");
    names_guard *g = lua_newuserdatauv(L, sizeof *g, 0); /* [guard] */
    g->names = NULL;
    g->count = 0;
    luaL_setmetatable(L, NAMES_GUARD_MT);
    if (sb_list_files(dir, suffix, &g->names, &g->count) != SB_OK) {
        lua_pushnil(L);
        lua_pushstring(L, sb_error_message());
        return 2;
    }
    lua_createtable(L, (int)g->count, 0); /* [guard, list] */
    for (size_t i = 0; i < g->count; i++) {
        lua_pushstring(L, g->names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

int sbL_open_sys(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"version", sys_version},
        {"build_info", sys_build_info},
        {"devices", sys_devices},
        {"cuda_device_count", sys_cuda_device_count},
        {"isatty", sys_isatty},
        {"monotonic", sys_monotonic},
        {"rusage", sys_rusage},
        {"uuid4", sys_uuid4},
        {"host_info", sys_host_info},
        {"write_file_atomic", sys_write_file_atomic},
        {"lock_file", sys_lock_file},
        {"list_files", sys_list_files},
        {NULL, NULL},
    };
    static const luaL_Reg lock_methods[] = {{"close", lock_release}, {NULL, NULL}};
    static const luaL_Reg lock_metamethods[] = {
        {"__gc", lock_release}, {"__close", lock_release}, {NULL, NULL}};
    sbL_new_class(L, FILE_LOCK_MT, lock_methods, lock_metamethods);
    static const luaL_Reg guard_metamethods[] = {{"__gc", names_guard_gc}, {NULL, NULL}};
    sbL_new_class(L, NAMES_GUARD_MT, NULL, guard_metamethods);
    luaL_newlib(L, funcs);
    return 1;
}
