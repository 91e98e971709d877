/* Helpers shared by the Lua bindings (engine/bindings/l_*.c). Bindings are thin: check
 * arguments, call core C, turn a failed status into a Lua error. */
#ifndef SB_LUA_UTIL_H
#define SB_LUA_UTIL_H

#include <lauxlib.h>
#include <lua.h>

#include "core/error.h"

/* Raises the core's message as a Lua error when status != SB_OK, prefixed by `what`
 * (the Lua-visible function name, e.g. "conv2d") unless `what` is NULL.
 * Free any C memory you hold BEFORE calling this: it longjmps. */
int sbL_raise(lua_State *L, const char *what);
#define sbL_check(L, status, what)                                                                 \
    do {                                                                                           \
        if ((status) != SB_OK) sbL_raise((L), (what));                                             \
    } while (0)

/* Registers `funcs` into the table on top of the stack. */
void sbL_setfuncs(lua_State *L, const luaL_Reg *funcs);

/* Optional field of the options table at `idx` (may be none/nil). */
lua_Integer sbL_optfield_integer(lua_State *L, int idx, const char *field, lua_Integer dflt);
lua_Number sbL_optfield_number(lua_State *L, int idx, const char *field, lua_Number dflt);
int sbL_optfield_boolean(lua_State *L, int idx, const char *field, int dflt);
const char *sbL_optfield_string(lua_State *L, int idx, const char *field, const char *dflt);

/* A userdata holding one pointer to a core object (a "box"), for the Lua types whose C
 * object has its own lifetime (datasets, transforms, loaders):
 *   sbL_new_box pushes a box holding NULL with the metatable `mt` (fill it after a core call
 *   that may fail: the box's __gc frees whatever it holds);
 *   sbL_check_box returns the object, raising "<what> was freed" for an emptied box;
 *   sbL_take_box empties the box at `idx` and returns what it held (for __gc and close). */
void **sbL_new_box(lua_State *L, const char *mt);
void *sbL_check_box(lua_State *L, int idx, const char *mt, const char *what);
void *sbL_take_box(lua_State *L, int idx, const char *mt);

/* Creates the metatable `mt` (once per state): `metamethods` set on it ("__gc", "__len",
 * ...) and `methods`, when not NULL, as its __index table. Leaves the stack as it was. */
void sbL_new_class(lua_State *L, const char *mt, const luaL_Reg *methods,
                   const luaL_Reg *metamethods);

#endif
