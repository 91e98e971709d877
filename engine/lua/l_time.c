/* sbengine.core.time: the clocks a benchmark measures with. os.clock() is CPU time of the
 * process (it counts every loader thread and stops while waiting for the GPU), so the
 * evaluation loop needs a wall clock that never jumps: CLOCK_MONOTONIC. */
#include <lauxlib.h>
#include <lua.h>
#include <sys/resource.h>
#include <time.h>

#include "lua/l_util.h"

/* monotonic() -> seconds (float) since an arbitrary fixed point; only differences count. */
static int time_monotonic(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* peak_rss() -> bytes: the process's peak resident set size so far (getrusage). */
static int time_peak_rss(lua_State *L)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return luaL_error(L, "peak_rss: getrusage failed");
    lua_pushinteger(L, (lua_Integer)usage.ru_maxrss * 1024); /* Linux reports KiB */
    return 1;
}

int sbL_open_time(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"monotonic", time_monotonic},
        {"peak_rss", time_peak_rss},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
