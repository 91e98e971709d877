#include "eval_cli.h"

#include <lauxlib.h>
#include <lua.h>

#include "runtime.h"

int sb_eval_cli(const char *argv0, int argc, char **argv)
{
    lua_State *L = runtime_new(argv0);
    if (!L) return 1;
    int code = 1;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "sbengine._eval_cli");
    if (runtime_pcall(L, 1, 1) != LUA_OK) { /* [error] */
        runtime_report(L);
        runtime_close(L);
        return code;
    }
    lua_getfield(L, -1, "main"); /* [module, main] */
    lua_remove(L, -2);           /* [main] */
    luaL_checkstack(L, argc, "sbengine eval: too many arguments");
    for (int k = 1; k < argc; k++)
        lua_pushstring(L, argv[k]);
    if (runtime_pcall_interruptible(L, argc - 1, 1) != LUA_OK) {
        runtime_report(L);
    } else {
        code = (int)luaL_optinteger(L, -1, 0);
        lua_pop(L, 1);
    }
    runtime_close(L);
    return code;
}
