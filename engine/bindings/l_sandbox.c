/* sbengine.core.sandbox: the kernel half of `sbengine --sandbox` (engine/core/sandbox.h) for
 * lua/sbengine/_sandbox.lua.
 *
 *   apply{read = {paths}, write = {folders}, tcp_port = n}
 *       -> {text, landlock_abi, fs, net, seccomp}   (raises when a protection fails)
 *   status() -> summary | nil   the sandbox this process runs in ("Landlock ABI 7 (files),
 * seccomp") landlock_abi() -> n | 0, why forget_env(name)   overwrite and remove an environment
 * variable (the token) */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#include "bindings/l_util.h"
#include "core/sandbox.h"

#define MAX_PATHS 64

/* Reads the list t[field] into out (strings stay referenced by the table). */
static int path_list(lua_State *L, const char *field, const char **out)
{
    lua_getfield(L, 1, field);
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    if (n > MAX_PATHS) luaL_error(L, "sandbox.apply: at most %d paths in %s", MAX_PATHS, field);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        out[i] = luaL_checkstring(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return n;
}

static int sandbox_apply(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *read[MAX_PATHS], *write[MAX_PATHS];
    sb_sandbox_rules rules = {.read = read, .write = write};
    rules.nread = path_list(L, "read", read);
    rules.nwrite = path_list(L, "write", write);
    lua_getfield(L, 1, "tcp_port");
    rules.tcp_port = (int)luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
    sb_sandbox_report rep;
    sbL_check(L, sb_sandbox_apply(&rules, &rep), "sandbox.apply");
    lua_createtable(L, 0, 5);
    lua_pushstring(L, rep.text);
    lua_setfield(L, -2, "text");
    lua_pushinteger(L, rep.landlock_abi);
    lua_setfield(L, -2, "landlock_abi");
    lua_pushboolean(L, rep.fs_enforced);
    lua_setfield(L, -2, "fs");
    lua_pushboolean(L, rep.net_enforced);
    lua_setfield(L, -2, "net");
    lua_pushboolean(L, rep.seccomp);
    lua_setfield(L, -2, "seccomp");
    return 1;
}

static int sandbox_landlock_abi(lua_State *L)
{
    const char *why = NULL;
    int abi = sb_sandbox_landlock_abi(&why);
    lua_pushinteger(L, abi);
    if (abi > 0) return 1;
    lua_pushstring(L, why);
    return 2;
}

static int sandbox_status(lua_State *L)
{
    const sb_sandbox_report *rep = sb_sandbox_status();
    if (rep)
        lua_pushstring(L, rep->summary);
    else
        lua_pushnil(L);
    return 1;
}

static int sandbox_forget_env(lua_State *L)
{
    sb_sandbox_forget_env(luaL_checkstring(L, 1));
    return 0;
}

int sbL_open_sandbox(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"apply", sandbox_apply},
        {"landlock_abi", sandbox_landlock_abi},
        {"status", sandbox_status},
        {"forget_env", sandbox_forget_env},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
