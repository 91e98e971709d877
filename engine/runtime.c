#include "runtime.h"

#include <lauxlib.h>
#include <lualib.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int luaopen_sbengine_core(lua_State *L);

static char lua_dir[PATH_MAX + 64];

const char *runtime_lua_dir(void)
{
    return lua_dir;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int has_library(const char *dir)
{
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/sbengine/init.lua", dir);
    return is_file(probe);
}

/* SBENGINE_LUA_DIR, else <exe>/../share/sbengine/lua (installed), else the source tree. */
static void locate_lua_dir(const char *argv0)
{
    const char *env = getenv("SBENGINE_LUA_DIR");
    if (env && *env) {
        snprintf(lua_dir, sizeof lua_dir, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 && argv0 && realpath(argv0, exe)) n = (ssize_t)strlen(exe);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char candidate[PATH_MAX + 32];
            snprintf(candidate, sizeof candidate, "%s/../share/sbengine/lua", exe);
            if (has_library(candidate)) {
                snprintf(lua_dir, sizeof lua_dir, "%s", candidate);
                return;
            }
        }
    }
    snprintf(lua_dir, sizeof lua_dir, "%s", SBENGINE_SOURCE_LUA_DIR);
}

/* package.path = <lua_dir> entries, then whatever LUA_PATH/defaults gave, then the user's
 * LuaRocks tree (~/.luarocks), so installed rocks (benchmarks, metrics) are found. */
static void extend_path(lua_State *L, const char *field, const char *ours, const char *rocks)
{
    lua_getglobal(L, "package"); /* [package] */
    lua_getfield(L, -1, field);  /* [package, path] */
    const char *current = lua_tostring(L, -1);
    lua_pushfstring(L, "%s;%s%s%s", ours, current ? current : "", rocks ? ";" : "",
                    rocks ? rocks : ""); /* [package, path, newpath] */
    lua_setfield(L, -3, field);          /* [package, path] */
    lua_pop(L, 2);
}

static int message_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int runtime_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

static lua_State *interrupt_state;
static volatile sig_atomic_t interrupt_signal;

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted by %s", interrupt_signal == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Async-signal-safe: lua_sethook is documented as safe to call from a signal handler. */
static void on_interrupt(int sig)
{
    signal(sig, SIG_DFL); /* a second signal ends the process */
    interrupt_signal = sig;
    lua_sethook(interrupt_state, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

int runtime_pcall_interruptible(lua_State *L, int nargs, int nresults)
{
    interrupt_state = L;
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    int status = runtime_pcall(L, nargs, nresults);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return status;
}

int runtime_interrupt_signal(void)
{
    return interrupt_signal;
}

void runtime_report(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "sbengine: %s\n", msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
}

lua_State *runtime_new(const char *argv0)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "sbengine: cannot create the Lua state (out of memory)\n");
        return NULL;
    }
    luaL_openlibs(L);
    locate_lua_dir(argv0);

    char ours[2 * PATH_MAX + 64];
    snprintf(ours, sizeof ours, "%s/?.lua;%s/?/init.lua", lua_dir, lua_dir);
    const char *home = getenv("HOME");
    char rocks_path[2 * PATH_MAX + 128] = "", rocks_cpath[PATH_MAX + 64] = "";
    if (home && *home) {
        snprintf(rocks_path, sizeof rocks_path,
                 "%s/.luarocks/share/lua/5.4/?.lua;%s/.luarocks/share/lua/5.4/?/init.lua", home,
                 home);
        snprintf(rocks_cpath, sizeof rocks_cpath, "%s/.luarocks/lib/lua/5.4/?.so", home);
    }
    extend_path(L, "path", ours, rocks_path[0] ? rocks_path : NULL);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "cpath");
    lua_pushfstring(L, "%s%s%s", lua_tostring(L, -1), rocks_cpath[0] ? ";" : "", rocks_cpath);
    lua_setfield(L, -3, "cpath");
    lua_pop(L, 2);

    /* The C core is linked into the executable: preload it instead of searching. */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_sbengine_core);
    lua_setfield(L, -2, "sbengine.core");
    lua_pop(L, 1);

    lua_getglobal(L, "require");
    lua_pushstring(L, "sbengine");
    if (runtime_pcall(L, 1, 1) != LUA_OK) {
        runtime_report(L);
        fprintf(stderr, "sbengine: the Lua library was looked for in %s\n", lua_dir);
        lua_close(L);
        return NULL;
    }
    lua_setglobal(L, "sb");
    return L;
}

void runtime_close(lua_State *L)
{
    if (L) lua_close(L);
}
