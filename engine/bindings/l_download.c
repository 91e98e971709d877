/* Downloads for sbengine.core.data (l_data.h): the dataset files of MNIST and CIFAR and
 * any URL, reporting progress to an optional Lua callback. */
#include <lauxlib.h>
#include <lua.h>

#include "bindings/l_data.h"
#include "bindings/l_util.h"
#include "net/download.h"

typedef struct lua_progress {
    lua_State *L;
    int fn; /* stack index of the Lua callback */
    int failed;
} lua_progress;

/* Runs the Lua callback under pcall: an error there must not longjmp through libcurl. */
static int call_lua_progress(lua_progress *p, const char *file, uint64_t done, uint64_t total)
{
    lua_State *L = p->L;
    if (p->failed) return 1;
    lua_pushvalue(L, p->fn);
    if (file)
        lua_pushstring(L, file);
    else
        lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)done);
    lua_pushinteger(L, (lua_Integer)total);
    if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
        /* Keep the message on the stack; the caller raises it after cleanup. */
        p->failed = 1;
        return 1;
    }
    return 0;
}

static int data_progress_cb(void *ctx, const char *file, uint64_t done, uint64_t total)
{
    return call_lua_progress(ctx, file, done, total);
}

/* mnist_download(root, train, mirrors|nil, progress(file, done, total)|nil) */
static int data_mnist_download(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    int train = lua_toboolean(L, 2);
    const char *mirrors = luaL_optstring(L, 3, NULL);
    lua_progress p = {L, 4, 0};
    int has_cb = !lua_isnoneornil(L, 4);
    if (has_cb) luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    sb_status s = sb_mnist_download(root, train, mirrors, has_cb ? data_progress_cb : NULL, &p);
    if (p.failed) return lua_error(L); /* the callback's own error */
    sbL_check(L, s, NULL);
    return 0;
}

/* cifar_download(root, classes, train, mirrors|nil, md5|nil, progress(file, done, total)|nil) */
static int data_cifar_download(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    int classes = (int)luaL_checkinteger(L, 2);
    int train = lua_toboolean(L, 3);
    const char *mirrors = luaL_optstring(L, 4, NULL);
    const char *md5 = luaL_optstring(L, 5, NULL);
    lua_progress p = {L, 6, 0};
    int has_cb = !lua_isnoneornil(L, 6);
    if (has_cb) luaL_checktype(L, 6, LUA_TFUNCTION);
    lua_settop(L, 6);
    sb_status s =
        sb_cifar_download(root, classes, train, mirrors, md5, has_cb ? data_progress_cb : NULL, &p);
    if (p.failed) return lua_error(L);
    sbL_check(L, s, NULL);
    return 0;
}

static int download_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    return call_lua_progress(ctx, NULL, done, total);
}

/* download(url | {urls}, dest, {md5 = hex, progress = fn(nil, done, total)}) -> index used */
static int data_download(lua_State *L)
{
    const char *urls[32];
    int n = 0;
    if (lua_istable(L, 1)) {
        n = (int)lua_rawlen(L, 1);
        if (n < 1 || n > 32) return luaL_error(L, "download: give 1..32 URLs, got %d", n);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            urls[i - 1] = lua_tostring(L, -1);
            if (!urls[i - 1]) return luaL_error(L, "download: URL %d is not a string", i);
            lua_pop(L, 1); /* the table keeps the string alive */
        }
    } else {
        urls[0] = luaL_checkstring(L, 1);
        n = 1;
    }
    const char *dest = luaL_checkstring(L, 2);
    const char *md5 = sbL_optfield_string(L, 3, "md5", NULL);
    lua_settop(L, 3);
    int has_cb = 0;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "progress"); /* [urls, dest, opts, progress] */
        has_cb = !lua_isnil(L, -1);
        if (has_cb) luaL_checktype(L, -1, LUA_TFUNCTION);
    } else {
        lua_pushnil(L);
    }
    lua_progress p = {L, 4, 0};
    sb_download_options o = {
        .md5 = md5, .progress = has_cb ? download_progress_cb : NULL, .progress_ctx = &p};
    int which = 0;
    sb_status s = sb_download_first(urls, n, dest, &o, &which);
    if (p.failed) return lua_error(L);
    sbL_check(L, s, "download");
    lua_pushinteger(L, which + 1);
    return 1;
}

void sbL_data_add_downloads(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"mnist_download", data_mnist_download},
                                     {"cifar_download", data_cifar_download},
                                     {"download", data_download},
                                     {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
    lua_pushstring(L, sb_mnist_default_mirrors);
    lua_setfield(L, -2, "mnist_default_mirrors");
}
