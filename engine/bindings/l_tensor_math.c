/* sbengine.core.tensor, math: the methods of the op families of tensor/op_tables.h
 * (generated from its rows: a new op there is a new method here), clamp, argmax/argmin,
 * topk and the matrix products. Positions returned to Lua are 1-based. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>

#include "bindings/l_tensor.h"
#include "bindings/l_tensor_internal.h"
#include "bindings/l_util.h"
#include "tensor/ops.h"

/* ---- arithmetic ------------------------------------------------------------------------- */

/* a op b where either side may be a number (metamethods pass numbers on the left). */
static int arith(lua_State *L, sb_binary_op op, const char *name)
{
    /* a freed tensor on either side raises "tensor was freed", not a type error */
    if (luaL_testudata(L, 1, SB_TENSOR_MT)) sbL_check_tensor(L, 1);
    if (luaL_testudata(L, 2, SB_TENSOR_MT)) sbL_check_tensor(L, 2);
    sb_tensor *a = sbL_test_tensor(L, 1), *b = sbL_test_tensor(L, 2);
    sb_tensor *res = NULL;
    sb_status st;
    if (a && b) {
        st = sb_tensor_binary(op, a, b, &res);
    } else if (a && lua_type(L, 2) == LUA_TNUMBER) {
        st = sb_tensor_binary_scalar(op, a, lua_tonumber(L, 2), false, &res);
    } else if (b && lua_type(L, 1) == LUA_TNUMBER) {
        st = sb_tensor_binary_scalar(op, b, lua_tonumber(L, 1), true, &res);
    } else {
        if (!a && !b) sbL_check_tensor(L, 1); /* raises the precise message (freed?) */
        int bad = a ? 2 : 1;
        return luaL_error(L, "%s: expected a tensor or a number, got %s", name,
                          luaL_typename(L, bad));
    }
    return sbL_tensor_result(L, st, &res, name);
}

static int arith_(lua_State *L, sb_binary_op op, const char *name)
{
    sb_tensor *self = sbL_check_tensor(L, 1);
    if (luaL_testudata(L, 2, SB_TENSOR_MT)) sbL_check_tensor(L, 2);
    sb_tensor *b = sbL_test_tensor(L, 2);
    sb_status st;
    if (b)
        st = sb_tensor_binary_(op, self, b);
    else if (lua_type(L, 2) == LUA_TNUMBER)
        st = sb_tensor_binary_scalar_(op, self, lua_tonumber(L, 2));
    else
        return luaL_error(L, "%s: expected a tensor or a number, got %s", name,
                          luaL_typename(L, 2));
    sbL_check(L, st, name);
    lua_settop(L, 1);
    return 1;
}

static int unary(lua_State *L, sb_unary_op op, const char *name)
{
    sb_tensor *res = NULL;
    return sbL_tensor_result(L, sb_tensor_unary(op, sbL_check_tensor(L, 1), &res), &res, name);
}

/* clamp(min, max) with nil for an open side, or clamp{min=, max=} */
static int m_clamp(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    double lo = NAN, hi = NAN;
    if (lua_type(L, 2) == LUA_TTABLE) {
        lo = sbL_optfield_number(L, 2, "min", NAN);
        hi = sbL_optfield_number(L, 2, "max", NAN);
    } else {
        if (!lua_isnoneornil(L, 2)) lo = luaL_checknumber(L, 2);
        if (!lua_isnoneornil(L, 3)) hi = luaL_checknumber(L, 3);
    }
    sb_tensor *res = NULL;
    return sbL_tensor_result(L, sb_tensor_clamp(t, lo, hi, &res), &res, "clamp");
}

static int compare(lua_State *L, sb_compare_op op, const char *name)
{
    sb_tensor *a = sbL_check_tensor(L, 1);
    if (luaL_testudata(L, 2, SB_TENSOR_MT)) sbL_check_tensor(L, 2);
    sb_tensor *b = sbL_test_tensor(L, 2);
    sb_tensor *res = NULL;
    sb_status st;
    if (b)
        st = sb_tensor_compare(op, a, b, &res);
    else if (lua_type(L, 2) == LUA_TNUMBER)
        st = sb_tensor_compare_scalar(op, a, lua_tonumber(L, 2), &res);
    else
        return luaL_error(L, "%s: expected a tensor or a number, got %s", name,
                          luaL_typename(L, 2));
    return sbL_tensor_result(L, st, &res, name);
}

/* ---- reductions ----------------------------------------------------------------------------- */

/* Optional dim at arg 2 (nil = all) and {keepdim=} after it. */
static int reduce_args(lua_State *L, sb_tensor *t, bool *keepdim, const char *op)
{
    int dim = -1, opts = 2;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        dim = sbL_tensor_dim_arg(L, t, 2, op);
        opts = 3;
    } else if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TTABLE) {
        luaL_error(L, "%s: dim must be an integer, got %s", op, luaL_typename(L, 2));
    }
    *keepdim = sbL_optfield_boolean(L, opts, "keepdim", 0);
    return dim;
}

/* Positions from core are 0-based: make them Lua's. */
static sb_status one_based(sb_tensor *indices)
{
    return sb_tensor_binary_scalar_(SB_BINARY_ADD, indices, 1.0);
}

/* sum/mean/max/min(t [, dim] [, {keepdim=}]): values, and for max/min along a dim the
 * 1-based positions too; argmax/argmin (`positions`): the positions alone. */
static int reduce(lua_State *L, sb_reduce_op op, const char *name, bool positions)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    bool keepdim = false;
    int dim = reduce_args(L, t, &keepdim, name);
    bool with_indices = positions || (sb_reduce_op_best(op) && dim >= 0);
    sb_tensor *values = NULL, *indices = NULL;
    sb_status st = sb_tensor_reduce(op, t, dim, keepdim, &values, with_indices ? &indices : NULL);
    if (st == SB_OK && indices) st = one_based(indices);
    if (st != SB_OK) {
        sb_tensor_free(values);
        sb_tensor_free(indices);
        sbL_raise(L, name);
    }
    if (positions) {
        sb_tensor_free(values);
        sbL_push_tensor(L, indices);
        return 1;
    }
    sbL_push_tensor(L, values);
    if (!indices) return 1;
    sbL_push_tensor(L, indices);
    return 2;
}

static int m_argmax(lua_State *L)
{
    return reduce(L, SB_REDUCE_MAX, "argmax", true);
}
static int m_argmin(lua_State *L)
{
    return reduce(L, SB_REDUCE_MIN, "argmin", true);
}

/* topk(k [, d = last]) -> values, positions (1-based) */
static int m_topk(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    lua_Integer k = sbL_check_integer(L, 2, "topk", "k");
    if (t->ndim == 0) return luaL_error(L, "topk: needs a tensor with at least 1 dim, got 0-D");
    int dim = lua_isnoneornil(L, 3) ? t->ndim - 1 : sbL_tensor_dim_arg(L, t, 3, "topk");
    if (k < 0 || k > t->sizes[dim]) {
        char shape[256];
        sb_tensor_format_shape(t, shape, sizeof shape);
        return luaL_error(L,
                          "topk: k = %I is out of range for dim %d of size %I in %s (expected "
                          "0..%I)",
                          (LUAI_UACINT)k, dim + 1, (LUAI_UACINT)t->sizes[dim], shape,
                          (LUAI_UACINT)t->sizes[dim]);
    }
    sb_tensor *values = NULL, *indices = NULL;
    sb_status st = sb_tensor_topk(t, k, dim, &values, &indices);
    if (st == SB_OK) st = one_based(indices);
    if (st != SB_OK) {
        sb_tensor_free(values);
        sb_tensor_free(indices);
        sbL_raise(L, "topk");
    }
    sbL_push_tensor(L, values);
    sbL_push_tensor(L, indices);
    return 2;
}

static int m_matmul(lua_State *L)
{
    sb_tensor *res = NULL;
    sb_tensor *a = sbL_check_tensor(L, 1), *b = sbL_check_tensor(L, 2);
    return sbL_tensor_result(L, sb_tensor_matmul(a, b, &res), &res, "matmul");
}

static int m_mm(lua_State *L)
{
    sb_tensor *res = NULL;
    sb_tensor *a = sbL_check_tensor(L, 1), *b = sbL_check_tensor(L, 2);
    return sbL_tensor_result(L, sb_tensor_mm(a, b, &res), &res, "mm");
}

static int m_bmm(lua_State *L)
{
    sb_tensor *res = NULL;
    sb_tensor *a = sbL_check_tensor(L, 1), *b = sbL_check_tensor(L, 2);
    return sbL_tensor_result(L, sb_tensor_bmm(a, b, &res), &res, "bmm");
}

/* ---- the op families: one method per row of tensor/op_tables.h ------------------------ */

#define SB_UNARY_METHOD(E, name, dtype)                                                            \
    static int m_##name(lua_State *L)                                                              \
    {                                                                                              \
        return unary(L, SB_UNARY_##E, #name);                                                      \
    }
SB_UNARY_OPS(SB_UNARY_METHOD)

/* t:name(x), and t:name_(x) in place for the INPLACE rows */
#define SB_BINARY_METHOD(E, name, dtype, in_place)                                                 \
    static int m_##name(lua_State *L)                                                              \
    {                                                                                              \
        return arith(L, SB_BINARY_##E, #name);                                                     \
    }                                                                                              \
    SB_BINARY_METHOD_##in_place(E, name)
#define SB_BINARY_METHOD_INPLACE(E, name)                                                          \
    static int m_##name##_(lua_State *L)                                                           \
    {                                                                                              \
        return arith_(L, SB_BINARY_##E, #name "_");                                                \
    }
#define SB_BINARY_METHOD_NO_INPLACE(E, name)
SB_BINARY_OPS(SB_BINARY_METHOD)

#define SB_COMPARE_METHOD(E, name, op)                                                             \
    static int m_##name(lua_State *L)                                                              \
    {                                                                                              \
        return compare(L, SB_COMPARE_##E, #name);                                                  \
    }
SB_COMPARE_OPS(SB_COMPARE_METHOD)

#define SB_REDUCE_METHOD(E, name, dtype, kind, noun)                                               \
    static int m_##name(lua_State *L)                                                              \
    {                                                                                              \
        return reduce(L, SB_REDUCE_##E, #name, false);                                             \
    }
SB_REDUCE_OPS(SB_REDUCE_METHOD)

#define SB_UNARY_REG(E, name, dtype) {#name, m_##name},
#define SB_BINARY_REG(E, name, dtype, in_place) {#name, m_##name}, SB_BINARY_REG_##in_place(name)
#define SB_BINARY_REG_INPLACE(name) {#name "_", m_##name##_},
#define SB_BINARY_REG_NO_INPLACE(name)
#define SB_COMPARE_REG(E, name, op) {#name, m_##name},
#define SB_REDUCE_REG(E, name, dtype, kind, noun) {#name, m_##name},

// clang-format off
const luaL_Reg sbL_tensor_math_methods[] = {
    SB_UNARY_OPS(SB_UNARY_REG)
    SB_BINARY_OPS(SB_BINARY_REG)
    SB_COMPARE_OPS(SB_COMPARE_REG)
    SB_REDUCE_OPS(SB_REDUCE_REG)
    // clang-format on
    {"clamp", m_clamp},
    {"argmax", m_argmax},
    {"argmin", m_argmin},
    {"topk", m_topk},
    {"matmul", m_matmul},
    {"mm", m_mm},
    {"bmm", m_bmm},
    {NULL, NULL},
};

/* Lua's operators on tensors. */
const luaL_Reg sbL_tensor_math_metamethods[] = {
    {"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul},
    {"__div", m_div}, {"__unm", m_neg}, {NULL, NULL},
};
