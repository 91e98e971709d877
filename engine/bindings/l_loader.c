/* The Loader and LoaderIter types of sbengine.core.data (l_data.h): the threaded
 * DataLoader over a Dataset and an optional Transform, and one pass over it. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#include "bindings/l_data.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "data/loader.h"

#define LOADER_MT "sbengine.Loader"
#define ITER_MT "sbengine.LoaderIter"

static sb_loader *check_loader(lua_State *L, int idx)
{
    return sbL_check_box(L, idx, LOADER_MT, "DataLoader");
}

static int loader_gc(lua_State *L)
{
    sb_loader_free(sbL_take_box(L, 1, LOADER_MT));
    return 0;
}

/* loader(dataset, transform|nil, {batch_size, shuffle, seed, num_workers, prefetch,
 *        drop_last, pin_memory, shard, shards}) -- option names are checked by data.lua */
static int data_loader(lua_State *L)
{
    sb_dataset *ds = sbL_check_dataset(L, 1);
    sb_transform *tf = lua_isnoneornil(L, 2) ? NULL : sbL_check_transform(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    sb_loader_options o = {
        .batch_size = sbL_optfield_integer(L, 3, "batch_size", 1),
        .shuffle = sbL_optfield_boolean(L, 3, "shuffle", 0),
        .seed = (uint64_t)sbL_optfield_integer(L, 3, "seed", 0),
        .num_workers = (int)sbL_optfield_integer(L, 3, "num_workers", 0),
        .prefetch = (int)sbL_optfield_integer(L, 3, "prefetch", 2),
        .drop_last = sbL_optfield_boolean(L, 3, "drop_last", 0),
        .pin_memory = sbL_optfield_boolean(L, 3, "pin_memory", 0),
        .shard = sbL_optfield_integer(L, 3, "shard", 0),
        .shards = sbL_optfield_integer(L, 3, "shards", 1),
    };
    sb_loader **box = (sb_loader **)sbL_new_box(L, LOADER_MT);
    sbL_check(L, sb_loader_new(ds, tf, &o, box), "DataLoader");
    return 1;
}

static int loader_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sb_loader_num_batches(check_loader(L, 1)));
    return 1;
}

/* loader:first_batch() -> the 0-based number of this shard's first batch in the dataset */
static int loader_first_batch(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sb_loader_first_batch(check_loader(L, 1)));
    return 1;
}

/* loader:pinned() -> bool, why|nil */
static int loader_pinned(lua_State *L)
{
    const char *why = NULL;
    lua_pushboolean(L, sb_loader_pinned(check_loader(L, 1), &why));
    lua_pushstring(L, why);
    return 2;
}

#define GC_OUTSTANDING 4

typedef struct iter_box {
    sb_loader_iter *it;
    lua_Integer batch; /* batches handed out so far */
    int gc_threshold;  /* outstanding batches that trigger a collection */
} iter_box;

static int iter_close(lua_State *L)
{
    iter_box *box = luaL_checkudata(L, 1, ITER_MT);
    sb_loader_iter_free(box->it);
    box->it = NULL;
    return 0;
}

/* The generic-for function: (iter, control) -> i, input, target | nil */
static int iter_next(lua_State *L)
{
    iter_box *box = luaL_checkudata(L, 1, ITER_MT);
    if (!box->it) return 0;
    sb_tensor *input, *target;
    bool done;
    sb_status s = sb_loader_iter_next(box->it, &input, &target, &done);
    if (s != SB_OK || done) {
        /* Threads and buffers go now, not when the GC gets to the iterator. */
        sb_loader_iter_free(box->it);
        box->it = NULL;
        sbL_check(L, s, "DataLoader");
        return 0;
    }
    /* The GC does not see batch memory: when earlier batches are still held (usually only
     * by garbage, the loop's previous variables), a step returns them to the pool so the
     * workers reuse warm buffers instead of faulting in new ones. */
    if (sb_loader_iter_outstanding(box->it) > box->gc_threshold) {
        lua_gc(L, LUA_GCCOLLECT);
        /* A loop that keeps its batches must not collect at every step. */
        int kept = sb_loader_iter_outstanding(box->it);
        box->gc_threshold =
            kept >= box->gc_threshold / 2 ? 2 * kept + GC_OUTSTANDING : GC_OUTSTANDING;
    }
    lua_pushinteger(L, ++box->batch);
    sbL_push_tensor(L, input);
    if (target)
        sbL_push_tensor(L, target);
    else
        lua_pushnil(L);
    return 3;
}

/* loader:iter() -> next, iter, nil, iter (iter is the to-be-closed value: `break` and
 * errors in the loop body stop the workers at once) */
static int loader_iter(lua_State *L)
{
    sb_loader *l = check_loader(L, 1);
    iter_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->it = NULL;
    box->batch = 0;
    box->gc_threshold = GC_OUTSTANDING;
    luaL_setmetatable(L, ITER_MT);
    sbL_check(L, sb_loader_iter_new(l, &box->it), "DataLoader");
    lua_pushcfunction(L, iter_next);
    lua_pushvalue(L, -2);
    lua_pushnil(L);
    lua_pushvalue(L, -4); /* [iter, next, iter, nil, iter] */
    return 4;
}

/* For the Lua-thread path (num_workers = 0 with a Lua transform). */
/* permutation(n, seed, pass) -> {1-based indices} */
static int data_permutation(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    uint64_t seed = (uint64_t)luaL_checkinteger(L, 2);
    uint64_t pass = (uint64_t)luaL_optinteger(L, 3, 0);
    if (n < 0) return luaL_error(L, "permutation: n must be >= 0, got %I", n);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!order) return luaL_error(L, "permutation: out of memory");
    sb_permutation(n, seed, pass, order);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)order[i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
    free(order);
    return 1;
}

void sbL_data_add_loaders(lua_State *L)
{
    static const luaL_Reg loader_methods[] = {{"iter", loader_iter},
                                              {"pinned", loader_pinned},
                                              {"first_batch", loader_first_batch},
                                              {NULL, NULL}};
    static const luaL_Reg loader_metamethods[] = {
        {"__gc", loader_gc}, {"__len", loader_len}, {NULL, NULL}};
    sbL_new_class(L, LOADER_MT, loader_methods, loader_metamethods);
    static const luaL_Reg iter_metamethods[] = {
        {"__gc", iter_close}, {"__close", iter_close}, {NULL, NULL}};
    sbL_new_class(L, ITER_MT, NULL, iter_metamethods);
    static const luaL_Reg funcs[] = {
        {"loader", data_loader}, {"permutation", data_permutation}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
