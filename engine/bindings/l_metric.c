/* sbengine.core.metric: the C side of sb.metrics (lua/sbengine/metrics.lua). Thin: check
 * arguments, call engine/metrics/, return plain numbers.
 *
 *   topk_correct(output, target, {k...}, [op]) -> {correct...}, rows
 *   confusion_add(output, target, num_classes, [ignore_index], [op]) -> {cell}, {count}, n
 *       the non-zero cells of this batch's C*C counts (1-based, row-major: row = true class)
 *   error_sums(output, target, [op])     -> sum_sq, sum_abs, count
 *   nll_sum(output, target, log_probs, [ignore_index], [op]) -> sum, count
 *   nonfinite_rows(output)               -> rows of output holding a NaN or an infinity
 * `op` names the caller in error messages (the meter's name, "accuracy"). */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "metrics/metrics.h"

#define MAX_KS 64

/* The arguments every call shares: output and target (1, 2), an optional ignore_index at
 * `ignore_idx` (0: the call has none) and the caller's name at `op_idx`. */
typedef struct metric_args {
    sb_tensor *output, *target;
    int has_ignore;
    lua_Integer ignore;
    const char *op;
} metric_args;

static metric_args check_args(lua_State *L, int ignore_idx, int op_idx, const char *default_op)
{
    metric_args a = {sbL_check_tensor(L, 1), sbL_check_tensor(L, 2), 0, 0, NULL};
    if (ignore_idx && !lua_isnoneornil(L, ignore_idx)) {
        a.has_ignore = 1;
        a.ignore = luaL_checkinteger(L, ignore_idx);
    }
    a.op = luaL_optstring(L, op_idx, default_op);
    return a;
}

static int metric_topk_correct(lua_State *L)
{
    metric_args a = check_args(L, 0, 4, "accuracy");
    const char *op = a.op;
    luaL_checktype(L, 3, LUA_TTABLE);
    int nk = (int)lua_rawlen(L, 3);
    if (nk < 1 || nk > MAX_KS)
        return luaL_error(L, "%s: topk must list 1 to %d values of k", op, MAX_KS);
    int64_t ks[MAX_KS], correct[MAX_KS], rows = 0;
    for (int i = 0; i < nk; i++) {
        lua_rawgeti(L, 3, i + 1);
        int isint = 0;
        ks[i] = (int64_t)lua_tointegerx(L, -1, &isint);
        if (!isint) return luaL_error(L, "%s: topk[%d] must be a whole number", op, i + 1);
        lua_pop(L, 1);
    }
    sbL_check(L, sb_metric_topk_correct(a.output, a.target, nk, ks, correct, &rows), op);
    lua_createtable(L, nk, 0);
    for (int i = 0; i < nk; i++) {
        lua_pushinteger(L, (lua_Integer)correct[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushinteger(L, (lua_Integer)rows);
    return 2;
}

static int metric_confusion_add(lua_State *L)
{
    metric_args a = check_args(L, 4, 5, "confusion");
    const char *op = a.op;
    lua_Integer classes = luaL_checkinteger(L, 3);
    if (classes < 1 || classes > 100000)
        return luaL_error(L, "%s: num_classes must be from 1 to 100000, got %d", op, (int)classes);
    /* Lua owns the counts: nothing leaks if a later call raises. */
    size_t bytes = (size_t)(classes * classes) * sizeof(int64_t);
    int64_t *counts = lua_newuserdatauv(L, bytes, 0);
    memset(counts, 0, bytes);
    int64_t n = 0;
    sbL_check(
        L, sb_metric_confusion_add(a.output, a.target, classes, a.has_ignore, a.ignore, counts, &n),
        op);
    /* Only the cells this batch touched (at most one per element): a 1000-class meter
     * must not pay a million-entry table per batch. */
    lua_newtable(L); /* [counts_ud, cells] */
    lua_newtable(L); /* [counts_ud, cells, amounts] */
    lua_Integer k = 0;
    for (lua_Integer i = 0; i < classes * classes; i++) {
        if (counts[i] == 0) continue;
        k++;
        lua_pushinteger(L, i + 1);
        lua_rawseti(L, -3, k);
        lua_pushinteger(L, (lua_Integer)counts[i]);
        lua_rawseti(L, -2, k);
    }
    lua_pushinteger(L, (lua_Integer)n);
    return 3;
}

static int metric_error_sums(lua_State *L)
{
    metric_args a = check_args(L, 0, 3, "error_sums");
    double sq = 0, ab = 0;
    int64_t n = 0;
    sbL_check(L, sb_metric_error_sums(a.output, a.target, &sq, &ab, &n), a.op);
    lua_pushnumber(L, sq);
    lua_pushnumber(L, ab);
    lua_pushinteger(L, (lua_Integer)n);
    return 3;
}

static int metric_nll_sum(lua_State *L)
{
    metric_args a = check_args(L, 4, 5, "perplexity");
    int log_probs = lua_toboolean(L, 3);
    double sum = 0;
    int64_t n = 0;
    sbL_check(L, sb_metric_nll_sum(a.output, a.target, log_probs, a.has_ignore, a.ignore, &sum, &n),
              a.op);
    lua_pushnumber(L, sum);
    lua_pushinteger(L, (lua_Integer)n);
    return 2;
}

static int metric_nonfinite_rows(lua_State *L)
{
    sb_tensor *output = sbL_check_tensor(L, 1);
    int64_t rows = 0;
    sbL_check(L, sb_metric_nonfinite_rows(output, &rows), "nonfinite_rows");
    lua_pushinteger(L, (lua_Integer)rows);
    return 1;
}

int sbL_open_metric(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"topk_correct", metric_topk_correct},     {"confusion_add", metric_confusion_add},
        {"error_sums", metric_error_sums},         {"nll_sum", metric_nll_sum},
        {"nonfinite_rows", metric_nonfinite_rows}, {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
