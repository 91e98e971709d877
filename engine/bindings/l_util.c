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

static int push_optfield(lua_State *L, int idx, const char *field)
{
    if (lua_isnoneornil(L, idx)) return LUA_TNIL;
    luaL_checktype(L, idx, LUA_TTABLE);
    return lua_getfield(L, idx, field);
}

lua_Integer sbL_optfield_integer(lua_State *L, int idx, const char *field, lua_Integer dflt)
{
    idx = lua_absindex(L, idx);
    int type = push_optfield(L, idx, field);
    if (lua_isnoneornil(L, idx)) return dflt;
    lua_Integer value = dflt;
    if (type != LUA_TNIL) {
        int isnum = 0;
        value = lua_tointegerx(L, -1, &isnum);
        if (!isnum) {
            lua_pop(L, 1);
            return luaL_error(L, "option '%s' must be an integer, got %s", field,
                              lua_typename(L, type));
        }
    }
    lua_pop(L, 1);
    return value;
}

lua_Number sbL_optfield_number(lua_State *L, int idx, const char *field, lua_Number dflt)
{
    idx = lua_absindex(L, idx);
    int type = push_optfield(L, idx, field);
    if (lua_isnoneornil(L, idx)) return dflt;
    lua_Number value = dflt;
    if (type != LUA_TNIL) {
        if (type != LUA_TNUMBER) {
            lua_pop(L, 1);
            return luaL_error(L, "option '%s' must be a number, got %s", field,
                              lua_typename(L, type));
        }
        value = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return value;
}

int sbL_optfield_boolean(lua_State *L, int idx, const char *field, int dflt)
{
    idx = lua_absindex(L, idx);
    int type = push_optfield(L, idx, field);
    if (lua_isnoneornil(L, idx)) return dflt;
    int value = dflt;
    if (type != LUA_TNIL) {
        if (type != LUA_TBOOLEAN) {
            lua_pop(L, 1);
            return luaL_error(L, "option '%s' must be a boolean, got %s", field,
                              lua_typename(L, type));
        }
        value = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return value;
}

const char *sbL_optfield_string(lua_State *L, int idx, const char *field, const char *dflt)
{
    idx = lua_absindex(L, idx);
    int type = push_optfield(L, idx, field);
    if (lua_isnoneornil(L, idx)) return dflt;
    const char *value = dflt;
    if (type != LUA_TNIL) {
        if (type != LUA_TSTRING) {
            lua_pop(L, 1);
            luaL_error(L, "option '%s' must be a string, got %s", field, lua_typename(L, type));
            return NULL;
        }
        value = lua_tostring(L, -1); /* stays alive: the options table holds it */
    }
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
