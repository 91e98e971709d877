/* `sbengine results [STORE] [--diff A B] [--json]`: the Lua library does the work
 * (sbengine._results_cli, which also prints its own --help); the words after the command
 * reach it as a list. */
#include "cli/cli.h"

#include <lauxlib.h>
#include <lua.h>

#include "runtime.h"

int sb_cli_results(const sb_command *self, int argc, char **argv, int first)
{
    (void)self;
    lua_State *L = runtime_new(argv[0]);
    if (!L) return EXIT_SCRIPT_ERROR;
    int code = EXIT_SCRIPT_ERROR;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "sbengine._results_cli");
    int ok = runtime_pcall(L, 1, 1) == LUA_OK; /* [module] */
    if (ok) {
        lua_getfield(L, -1, "main"); /* [module, main] */
        lua_createtable(L, argc - first, 0);
        for (int i = first; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i - first + 1);
        }
        ok = runtime_pcall(L, 1, 1) == LUA_OK; /* [module, code] */
        if (ok) code = (int)luaL_optinteger(L, -1, EXIT_OK);
    }
    if (!ok) runtime_report(L);
    fflush(stdout);
    runtime_close(L);
    return code;
}
