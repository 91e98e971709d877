#include "bindings/l_util.h"

int sbL_raise(lua_State *L, const char *what)
{
    const char *msg = sb_error_message();
    if (msg[0] == '\0') msg = "unknown error";
    if (what) return luaL_error(L, "%s: %s", what, msg);
    return luaL_error(L, "%s", msg);
}

void sbL_setfuncs(lua_State *L, const luaL_Reg *funcs)
{
    luaL_setfuncs(L, funcs, 0);
}

#define WANT_INTEGER (-1) /* a number with an integer value */

/* Pushes options[field] and returns 1, or returns 0 with nothing pushed when the options
 * table at `idx` is none/nil or has no such field. Raises when the value is not `want` (a
 * Lua type, or WANT_INTEGER), described as `what` in the message. */
static int push_optfield(lua_State *L, int idx, const char *field, int want, const char *what)
{
    idx = lua_absindex(L, idx);
    if (lua_isnoneornil(L, idx)) return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    int type = lua_getfield(L, idx, field);
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int ok = 1;
    if (want == WANT_INTEGER)
        lua_tointegerx(L, -1, &ok);
    else
        ok = type == want;
    if (!ok) {
        lua_pop(L, 1);
        luaL_error(L, "option '%s' must be %s, got %s", field, what, lua_typename(L, type));
    }
    return 1;
}

lua_Integer sbL_optfield_integer(lua_State *L, int idx, const char *field, lua_Integer dflt)
{
    if (!push_optfield(L, idx, field, WANT_INTEGER, "an integer")) return dflt;
    lua_Integer value = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return value;
}

lua_Number sbL_optfield_number(lua_State *L, int idx, const char *field, lua_Number dflt)
{
    if (!push_optfield(L, idx, field, LUA_TNUMBER, "a number")) return dflt;
    lua_Number value = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return value;
}

int sbL_optfield_boolean(lua_State *L, int idx, const char *field, int dflt)
{
    if (!push_optfield(L, idx, field, LUA_TBOOLEAN, "a boolean")) return dflt;
    int value = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return value;
}

const char *sbL_optfield_string(lua_State *L, int idx, const char *field, const char *dflt)
{
    if (!push_optfield(L, idx, field, LUA_TSTRING, "a string")) return dflt;
    const char *value = lua_tostring(L, -1); /* stays alive: the options table holds it */
    lua_pop(L, 1);
    return value;
}

void **sbL_new_box(lua_State *L, const char *mt)
{
    void **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, mt);
    return box;
}

void *sbL_check_box(lua_State *L, int idx, const char *mt, const char *what)
{
    void **box = luaL_checkudata(L, idx, mt);
    if (!*box) luaL_error(L, "%s was freed", what);
    return *box;
}

void *sbL_take_box(lua_State *L, int idx, const char *mt)
{
    void **box = luaL_checkudata(L, idx, mt);
    void *held = *box;
    *box = NULL;
    return held;
}

void sbL_new_class(lua_State *L, const char *mt, const luaL_Reg *methods,
                   const luaL_Reg *metamethods)
{
    if (!luaL_newmetatable(L, mt)) { /* [mt] */
        lua_pop(L, 1);
        return;
    }
    luaL_setfuncs(L, metamethods, 0);
    if (methods) {
        lua_newtable(L); /* [mt, methods] */
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
