#include "sandbox_cli.h"

#include <lauxlib.h>
#include <stdio.h>

#include "runtime.h"

static const char env_key[] = "sbengine.sandbox_env";

int sandbox_cli_enter(lua_State *L, const char *script)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "sbengine._sandbox");
    if (runtime_pcall(L, 1, 1) != LUA_OK) return 0; /* [error] */
    lua_getfield(L, -1, "enter");                   /* [sandbox, enter] */
    lua_remove(L, -2);                              /* [enter] */
    if (script)
        lua_pushstring(L, script);
    else
        lua_pushnil(L);
    if (runtime_pcall(L, 1, 2) != LUA_OK) return 0; /* [env, line] */
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    fflush(stderr);
    lua_pop(L, 1);                               /* [env] */
    lua_setfield(L, LUA_REGISTRYINDEX, env_key); /* [] */
    return 1;
}

void sandbox_cli_set_env(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, env_key) != LUA_TTABLE) { /* [fn, env|nil] */
        lua_pop(L, 1);
        return;
    }
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1); /* [fn] */
}
