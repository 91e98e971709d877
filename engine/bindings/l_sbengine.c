/* Entry points of the C side of the Lua library.
 *
 *   require "sbengine.core"  -> luaopen_sbengine_core: the table of C submodules.
 *   require "sbengine"       -> normally finds lua/sbengine/init.lua first; when only
 *                               sbengine.so is on the path, luaopen_sbengine loads the
 *                               core and then the Lua library's "sbengine.init". */
#include <lauxlib.h>
#include <lua.h>

#include "bindings/l_modules.h"
#include "gpu/cuda.h"

#if defined(__GNUC__)
#define SB_EXPORT __attribute__((visibility("default")))
#else
#define SB_EXPORT
#endif

SB_EXPORT int luaopen_sbengine_core(lua_State *L)
{
    /* The GPU host layer sits above the tensor core, which cannot call it: plug its loader in
     * here, before any tensor exists. Nothing CUDA loads until a tensor asks for it. */
    sb_cuda_register_loader();
    lua_newtable(L); /* [core] */
#define SB_OPEN_SUBMODULE(name)                                                                    \
    sbL_open_##name(L); /* [core, sub] */                                                          \
    lua_setfield(L, -2, #name);
    SB_LUA_MODULES(SB_OPEN_SUBMODULE)
#undef SB_OPEN_SUBMODULE
    return 1;
}

SB_EXPORT int luaopen_sbengine(lua_State *L)
{
    luaL_requiref(L, "sbengine.core", luaopen_sbengine_core, 0); /* [core] */
    lua_pop(L, 1);
    lua_getglobal(L, "require");
    lua_pushstring(L, "sbengine.init");
    lua_call(L, 1, 1); /* [sb] */
    return 1;
}
