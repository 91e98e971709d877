/* `sbengine fetch DATASET [DIR]`: the Lua library does the work (sbengine._fetch), so the
 * datasets, their sources and their checks are the ones sb.data uses. */
#include "cli/cli.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "runtime.h"

int sb_cli_fetch(const sb_command *self, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return sb_command_help(self, stdout);
    if (first >= argc)
        return sb_cli_usage_error(self, "needs a dataset name (%s lists them)",
                                  "sbengine fetch --list");
    if (argc - first > 2)
        return sb_cli_usage_error(self, "takes DATASET and DIR, got also '%s'", argv[first + 2]);
    if (argv[first][0] == '-' && strcmp(argv[first], "--list") != 0)
        return sb_cli_usage_error(self, "unknown option '%s'", argv[first]);
    lua_State *L = runtime_new(argv[0]);
    if (!L) return EXIT_SCRIPT_ERROR;
    int code = EXIT_SCRIPT_ERROR;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "sbengine._fetch");
    if (runtime_pcall(L, 1, 1) == LUA_OK) {
        lua_getfield(L, -1, "main"); /* [module, main] */
        lua_pushstring(L, argv[first]);
        if (first + 1 < argc)
            lua_pushstring(L, argv[first + 1]);
        else
            lua_pushnil(L);
        if (runtime_pcall(L, 2, 1) == LUA_OK) {
            code = (int)luaL_optinteger(L, -1, EXIT_OK);
            lua_pop(L, 1);
        } else {
            runtime_report(L);
        }
        lua_pop(L, 1);
    } else {
        runtime_report(L);
    }
    fflush(stdout);
    runtime_close(L);
    return code;
}
