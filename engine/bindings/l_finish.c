/* sbengine.core.finish: the end-of-run guard (engine/core/finish_guard.h) for
 * lua/sbengine/results.lua, and the process id for unique rescue-file names.
 *
 *   arm(store, payload, count, {rescue paths})  a second signal saves payload to a rescue path
 *   stored(note)                                the results are stored; a signal prints note
 *   clear()                                     nothing to protect any more
 *   pid() -> integer
 *   json_shape(text) -> top, members | nil, message   strict RFC 8259 check (the store file)
 *       top = the top-level value's first character ("[", "{", ...) */
#include <lauxlib.h>
#include <lua.h>
#include <unistd.h>

#include "bindings/l_util.h"
#include "core/finish_guard.h"
#include "core/json_validate.h"

static int finish_arm(lua_State *L)
{
    const char *store = luaL_checkstring(L, 1);
    size_t len = 0;
    const char *payload = luaL_checklstring(L, 2, &len);
    lua_Integer count = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    const char *rescues[SB_FINISH_MAX_RESCUES + 1] = {0};
    int n = (int)lua_rawlen(L, 4);
    if (n > SB_FINISH_MAX_RESCUES)
        return luaL_error(L, "finish.arm: at most %d rescue paths", SB_FINISH_MAX_RESCUES);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 4, i + 1); /* the strings stay referenced by the table */
        rescues[i] = luaL_checkstring(L, -1);
        lua_pop(L, 1);
    }
    sbL_check(L, sb_finish_guard_arm(store, payload, len, (int)count, rescues), "finish.arm");
    return 0;
}

static int finish_stored(lua_State *L)
{
    sbL_check(L, sb_finish_guard_stored(luaL_checkstring(L, 1)), "finish.stored");
    return 0;
}

static int finish_clear(lua_State *L)
{
    (void)L;
    sb_finish_guard_clear();
    return 0;
}

static int finish_pid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

static int finish_json_shape(lua_State *L)
{
    size_t len = 0;
    const char *text = luaL_checklstring(L, 1, &len);
    sb_json_shape shape;
    if (sb_json_validate(text, len, &shape) != SB_OK) {
        lua_pushnil(L);
        lua_pushstring(L, sb_error_message());
        return 2;
    }
    lua_pushlstring(L, &shape.top, 1);
    lua_pushinteger(L, (lua_Integer)shape.members);
    return 2;
}

int sbL_open_finish(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"arm", finish_arm}, {"stored", finish_stored},         {"clear", finish_clear},
        {"pid", finish_pid}, {"json_shape", finish_json_shape}, {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
