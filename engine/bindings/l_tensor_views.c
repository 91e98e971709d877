/* sbengine.core.tensor, views and copies: view/reshape, narrow/select, transpose/permute,
 * expand/unsqueeze/squeeze, contiguous/clone/copy/fill, dtype and device conversions. */
#include <lauxlib.h>
#include <lua.h>

#include "bindings/l_tensor.h"
#include "bindings/l_tensor_internal.h"
#include "bindings/l_util.h"
#include "tensor/ops.h"

/* ---- views and copies ------------------------------------------------------------------ */

static int m_view_or_reshape(lua_State *L, bool reshape)
{
    const char *op = reshape ? "reshape" : "view";
    sb_tensor *t = sbL_check_tensor(L, 1);
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    sbL_parse_shape(L, 2, &ndim, sizes, op);
    sb_tensor *v = NULL;
    sb_status st =
        reshape ? sb_tensor_reshape(t, ndim, sizes, &v) : sb_tensor_view(t, ndim, sizes, &v);
    return sbL_tensor_result(L, st, &v, op);
}

static int m_view(lua_State *L)
{
    return m_view_or_reshape(L, false);
}
static int m_reshape(lua_State *L)
{
    return m_view_or_reshape(L, true);
}

static int m_narrow(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int d = sbL_tensor_dim_arg(L, t, 2, "narrow");
    lua_Integer start = sbL_check_integer(L, 3, "narrow", "start");
    lua_Integer length = sbL_check_integer(L, 4, "narrow", "length");
    int64_t size = t->sizes[d];
    int64_t s0 = start < 0 ? size + start : start - 1;
    if (start == 0 || s0 < 0 || s0 > size || length < 0 || length > size - s0) {
        char shape[256];
        sb_tensor_format_shape(t, shape, sizeof shape);
        return luaL_error(L,
                          "narrow: start %I length %I is out of range for dim %d of size %I in "
                          "%s",
                          (LUAI_UACINT)start, (LUAI_UACINT)length, d + 1, (LUAI_UACINT)size, shape);
    }
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_narrow(t, d, s0, length, &v), &v, "narrow");
}

static int m_select(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int d = sbL_tensor_dim_arg(L, t, 2, "select");
    int64_t i =
        sbL_tensor_index(L, sbL_check_integer(L, 3, "select", "index"), t->sizes[d], d, "select");
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_select(t, d, i, &v), &v, "select");
}

static int m_transpose(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int d0 = sbL_tensor_dim_arg(L, t, 2, "transpose");
    int d1 = sbL_tensor_dim_arg(L, t, 3, "transpose");
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_transpose(t, d0, d1, &v), &v, "transpose");
}

static int m_t(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    if (t->ndim > 2) {
        char shape[256];
        sb_tensor_format_shape(t, shape, sizeof shape);
        return luaL_error(L,
                          "t: expects a tensor with at most 2 dims, got %d-D %s (use "
                          "transpose(d1, d2))",
                          t->ndim, shape);
    }
    sb_tensor *v = NULL;
    sb_status st = t->ndim < 2 ? sb_tensor_alias(t, &v) : sb_tensor_transpose(t, 0, 1, &v);
    return sbL_tensor_result(L, st, &v, "t");
}

static int m_permute(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int ndim = 0;
    int64_t given[SB_MAX_DIMS];
    sbL_parse_shape(L, 2, &ndim, given, "permute");
    if (ndim != t->ndim) {
        char shape[256];
        sb_tensor_format_shape(t, shape, sizeof shape);
        return luaL_error(L, "permute: expected %d dims for a tensor %s, got %d", t->ndim, shape,
                          ndim);
    }
    int dims[SB_MAX_DIMS];
    bool seen[SB_MAX_DIMS] = {false};
    for (int i = 0; i < ndim; i++) {
        dims[i] = sbL_tensor_dim(L, t, given[i], t->ndim, "permute");
        /* checked here, not left to the core, so that the message names the 1-based dim */
        if (seen[dims[i]]) {
            char shape[256];
            sb_tensor_format_shape(t, shape, sizeof shape);
            return luaL_error(L,
                              "permute: dims must be a permutation of the %d dims of a tensor "
                              "%s (dim %d is repeated)",
                              t->ndim, shape, dims[i] + 1);
        }
        seen[dims[i]] = true;
    }
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_permute(t, dims, &v), &v, "permute");
}

static int m_expand(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    sbL_parse_shape(L, 2, &ndim, sizes, "expand");
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_expand(t, ndim, sizes, &v), &v, "expand");
}

static int m_unsqueeze(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int d =
        sbL_tensor_dim(L, t, sbL_check_integer(L, 2, "unsqueeze", "dim"), t->ndim + 1, "unsqueeze");
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_unsqueeze(t, d, &v), &v, "unsqueeze");
}

static int m_squeeze(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    int64_t sizes[SB_MAX_DIMS];
    int n = 0;
    if (lua_isnoneornil(L, 2)) {
        for (int i = 0; i < t->ndim; i++)
            if (t->sizes[i] != 1) sizes[n++] = t->sizes[i];
    } else {
        int d = sbL_tensor_dim_arg(L, t, 2, "squeeze");
        for (int i = 0; i < t->ndim; i++)
            if (i != d || t->sizes[i] != 1) sizes[n++] = t->sizes[i];
    }
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_view(t, n, sizes, &v), &v, "squeeze");
}

static int m_contiguous(lua_State *L)
{
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_contiguous(sbL_check_tensor(L, 1), &v), &v, "contiguous");
}

static int m_clone(lua_State *L)
{
    sb_tensor *v = NULL;
    return sbL_tensor_result(L, sb_tensor_clone(sbL_check_tensor(L, 1), &v), &v, "clone");
}

static int m_copy(lua_State *L)
{
    sb_tensor *dst = sbL_check_tensor(L, 1);
    sb_tensor *src = sbL_check_tensor(L, 2);
    sbL_check(L, sb_tensor_copy_(dst, src), "copy");
    lua_settop(L, 1);
    return 1;
}

static int m_fill(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "fill: the value must be a number, got %s", luaL_typename(L, 2));
    sbL_check(L, sb_tensor_fill_(t, lua_tonumber(L, 2)), "fill");
    lua_settop(L, 1);
    return 1;
}

static int m_zero(lua_State *L)
{
    sbL_check(L, sb_tensor_fill_(sbL_check_tensor(L, 1), 0.0), "zero");
    lua_settop(L, 1);
    return 1;
}

/* to(dtype | device [, dtype | device]) or to{dtype=, device=} */
static int m_to(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    sb_dtype dtype = t->dtype;
    sb_device device = sb_tensor_device(t);
    if (lua_type(L, 2) == LUA_TTABLE) {
        sbL_parse_tensor_options(L, 2, &dtype, &device, "to");
    } else {
        int top = lua_gettop(L);
        if (top < 2) return luaL_error(L, "to: expected a dtype or a device");
        for (int arg = 2; arg <= top && arg <= 3; arg++) {
            const char *what = lua_tostring(L, arg);
            if (lua_type(L, arg) != LUA_TSTRING)
                return luaL_error(L, "to: expected a dtype or a device name, got %s",
                                  luaL_typename(L, arg));
            if (sb_dtype_from_name(what, &dtype) == SB_OK) continue;
            if (sb_device_parse(what, &device) == SB_OK) continue;
            return luaL_error(L,
                              "to: '%s' is neither a dtype (float32, float64, int64, int32, "
                              "uint8, float16, bfloat16) nor a device (cpu, cuda, cuda:N)",
                              what);
        }
    }
    sb_tensor *moved = NULL, *res = NULL;
    sbL_check(L, sb_tensor_to_device(t, device, &moved), "to");
    sb_status st = sb_tensor_to_dtype(moved, dtype, &res);
    sb_tensor_free(moved);
    return sbL_tensor_result(L, st, &res, "to");
}

static int convert_to(lua_State *L, sb_dtype dtype, const char *op)
{
    sb_tensor *res = NULL;
    return sbL_tensor_result(L, sb_tensor_to_dtype(sbL_check_tensor(L, 1), dtype, &res), &res, op);
}

static int m_float(lua_State *L)
{
    return convert_to(L, SB_FLOAT32, "float");
}
static int m_double(lua_State *L)
{
    return convert_to(L, SB_FLOAT64, "double");
}
static int m_long(lua_State *L)
{
    return convert_to(L, SB_INT64, "long");
}
static int m_int(lua_State *L)
{
    return convert_to(L, SB_INT32, "int");
}
static int m_byte(lua_State *L)
{
    return convert_to(L, SB_UINT8, "byte");
}

static int move_to(lua_State *L, sb_device device, const char *op)
{
    sb_tensor *res = NULL;
    return sbL_tensor_result(L, sb_tensor_to_device(sbL_check_tensor(L, 1), device, &res), &res,
                             op);
}

static int m_cpu(lua_State *L)
{
    return move_to(L, SB_CPU, "cpu");
}

static int m_cuda(lua_State *L)
{
    sb_device device = {SB_DEVICE_CUDA, 0};
    if (!lua_isnoneornil(L, 2)) device.index = (int)sbL_check_integer(L, 2, "cuda", "device index");
    return move_to(L, device, "cuda");
}

const luaL_Reg sbL_tensor_view_methods[] = {
    {"view", m_view},
    {"reshape", m_reshape},
    {"narrow", m_narrow},
    {"select", m_select},
    {"transpose", m_transpose},
    {"t", m_t},
    {"permute", m_permute},
    {"expand", m_expand},
    {"unsqueeze", m_unsqueeze},
    {"squeeze", m_squeeze},
    {"contiguous", m_contiguous},
    {"clone", m_clone},
    {"copy", m_copy},
    {"fill", m_fill},
    {"zero", m_zero},
    {"to", m_to},
    {"float", m_float},
    {"double", m_double},
    {"long", m_long},
    {"int", m_int},
    {"byte", m_byte},
    {"cpu", m_cpu},
    {"cuda", m_cuda},
    {NULL, NULL},
};
