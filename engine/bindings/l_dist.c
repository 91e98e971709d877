/* sbengine.core.dist -> sb.dist (lua/sbengine/dist.lua): the ranks of an MPI job. Every
 * function first joins the job when a launcher started the process (dist/dist.h); in a
 * single process they answer rank 0 of 1 and load nothing. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "dist/dist.h"

static void start(lua_State *L)
{
    sbL_check(L, sb_dist_start(), "sb.dist");
}

static int dist_rank(lua_State *L)
{
    start(L);
    lua_pushinteger(L, sb_dist_rank());
    return 1;
}

static int dist_size(lua_State *L)
{
    start(L);
    lua_pushinteger(L, sb_dist_size());
    return 1;
}

static int dist_local_rank(lua_State *L)
{
    start(L);
    lua_pushinteger(L, sb_dist_local_rank());
    return 1;
}

static int dist_barrier(lua_State *L)
{
    start(L);
    sbL_check(L, sb_dist_barrier(), "barrier");
    return 0;
}

/* all_reduce(t, op): op "sum" | "min" | "max"; returns t, reduced in place. */
static int dist_all_reduce(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    static const char *const ops[] = {"sum", "min", "max", NULL};
    int op = luaL_checkoption(L, 2, "sum", ops);
    start(L);
    sbL_check(L, sb_dist_all_reduce(t, (sb_dist_op)op), "all_reduce");
    lua_settop(L, 1);
    return 1;
}

/* gather(bytes) -> on rank 0 a list of every rank's bytes (rank order); nil elsewhere. */
static int dist_gather(lua_State *L)
{
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    start(L);
    void *all;
    int64_t *lens;
    sbL_check(L, sb_dist_gather(data, len, &all, &lens), "gather");
    if (!all) {
        lua_pushnil(L);
        return 1;
    }
    int n = sb_dist_size();
    if (!lua_checkstack(L, 4)) {
        free(all);
        free(lens);
        return luaL_error(L, "gather: Lua stack overflow");
    }
    lua_createtable(L, n, 0);
    const char *at = all;
    for (int r = 0; r < n; r++) {
        lua_pushlstring(L, at, (size_t)lens[r]);
        lua_rawseti(L, -2, r + 1);
        at += lens[r];
    }
    free(all);
    free(lens);
    return 1;
}

/* broadcast(bytes) -> rank 0's bytes on every rank (the argument is read on rank 0 only). */
static int dist_broadcast(lua_State *L)
{
    size_t len = 0;
    const char *data = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : "";
    start(L);
    if (sb_dist_rank() == 0) luaL_checkstring(L, 1);
    void *out;
    size_t out_len;
    sbL_check(L, sb_dist_broadcast(data, len, &out, &out_len), "broadcast");
    lua_pushlstring(L, out, out_len);
    free(out);
    return 1;
}

/* progress_send(done, final): a rank > 0 reports its batches done to rank 0. */
static int dist_progress_send(lua_State *L)
{
    lua_Integer done = luaL_checkinteger(L, 1);
    int final = lua_toboolean(L, 2);
    start(L);
    sbL_check(L, sb_dist_progress_send(done, final), "progress");
    return 0;
}

/* progress_poll(wait_s, reset) -> batches the other ranks reported, ranks that finished
 * (rank 0; waits up to wait_s seconds when nothing new has arrived) */
static int dist_progress_poll(lua_State *L)
{
    double wait_s = luaL_optnumber(L, 1, 0);
    start(L);
    if (lua_toboolean(L, 2)) sb_dist_progress_reset();
    int64_t done;
    int finished;
    sbL_check(L, sb_dist_progress_poll(&done, &finished, wait_s), "progress");
    lua_pushinteger(L, (lua_Integer)done);
    lua_pushinteger(L, finished);
    return 2;
}

/* abort(code): stops every rank (MPI_Abort); returns only when MPI is not active. */
static int dist_abort(lua_State *L)
{
    int code = (int)luaL_optinteger(L, 1, 1);
    sb_dist_abort(code);
    return 0;
}

/* info() -> {built = bool, built_against = "Open MPI x.y.z"|nil, launcher = "VAR=v"|nil,
 * active = bool, library = MPI's version line|nil}. Does not start MPI. */
static int dist_info(lua_State *L)
{
    lua_createtable(L, 0, 5);
    lua_pushboolean(L, sb_built_with_mpi());
    lua_setfield(L, -2, "built");
    lua_pushstring(L, sb_dist_built_against());
    lua_setfield(L, -2, "built_against");
    lua_pushstring(L, sb_dist_launcher());
    lua_setfield(L, -2, "launcher");
    lua_pushboolean(L, sb_dist_active());
    lua_setfield(L, -2, "active");
    lua_pushstring(L, sb_dist_library_version());
    lua_setfield(L, -2, "library");
    return 1;
}

int sbL_open_dist(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"rank", dist_rank},
        {"size", dist_size},
        {"local_rank", dist_local_rank},
        {"barrier", dist_barrier},
        {"all_reduce", dist_all_reduce},
        {"gather", dist_gather},
        {"broadcast", dist_broadcast},
        {"abort", dist_abort},
        {"progress_send", dist_progress_send},
        {"progress_poll", dist_progress_poll},
        {"info", dist_info},
        {NULL, NULL},
    };
    lua_newtable(L);
    sbL_setfuncs(L, funcs);
    return 1;
}
