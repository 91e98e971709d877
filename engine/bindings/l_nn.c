/* sbengine.core.nn -> sb.nn.functional: thin wrappers over engine/nn/functional.h.
 *
 * Lua conventions (DESIGN §3): dims are 1-based (negative counts from the end), options
 * go in a trailing table, sizes that PyTorch takes as int-or-pair are a number or {h, w}. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "bindings/l_modules.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "nn/functional.h"

/* Optional tensor argument: nil/none gives NULL. */
static const sb_tensor *opt_tensor(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) return NULL;
    return sbL_check_tensor(L, idx);
}

/* The options table at idx (none/nil allowed); raises on anything else. */
static void check_options(lua_State *L, const char *op, int idx)
{
    if (!lua_isnoneornil(L, idx) && !lua_istable(L, idx))
        luaL_error(L, "%s: bad argument #%d (options table expected, got %s)", op, idx,
                   luaL_typename(L, idx));
}

static int64_t check_int_value(lua_State *L, const char *op, const char *name, int idx)
{
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, idx, &isnum);
    if (!isnum)
        luaL_error(L, "%s: %s must be an integer or a pair {h, w} of integers, got %s", op, name,
                   lua_isnumber(L, idx) ? "a non-integer number" : luaL_typename(L, idx));
    return (int64_t)v;
}

/* A number or {h, w} at stack index idx into out[2]. */
static void read_pair(lua_State *L, const char *op, const char *name, int idx, int64_t out[2])
{
    idx = lua_absindex(L, idx);
    if (lua_istable(L, idx)) {
        if (luaL_len(L, idx) != 2)
            luaL_error(L, "%s: %s must be a number or a pair {h, w}, got a table of length %d", op,
                       name, (int)luaL_len(L, idx));
        for (int i = 0; i < 2; i++) {
            lua_rawgeti(L, idx, i + 1);
            out[i] = check_int_value(L, op, name, -1);
            lua_pop(L, 1);
        }
        return;
    }
    out[0] = out[1] = check_int_value(L, op, name, idx);
}

/* Field `name` of the options table at idx as a pair; returns 0 when absent. */
static int opt_pair(lua_State *L, const char *op, int idx, const char *name, int64_t out[2])
{
    if (lua_isnoneornil(L, idx)) return 0;
    if (lua_getfield(L, idx, name) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    read_pair(L, op, name, -1, out);
    lua_pop(L, 1);
    return 1;
}

/* Rejects option names the op does not know, so a typo ("strides") fails loudly. */
static void check_known_options(lua_State *L, const char *op, int idx, const char *const *known)
{
    if (lua_isnoneornil(L, idx)) return;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1); /* value */
        bool ok = false;
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *key = lua_tostring(L, -1);
            for (int i = 0; known[i]; i++)
                if (strcmp(known[i], key) == 0) ok = true;
        }
        if (!ok) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; known[i]; i++) {
                if (i) luaL_addstring(&b, ", ");
                luaL_addstring(&b, known[i]);
            }
            luaL_pushresult(&b);
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            luaL_error(L, "%s: unknown option '%s' (known: %s)", op, k, lua_tostring(L, -1));
        }
    }
}

/* A Lua dim (1-based, or negative from the end; 0 is invalid) of a tensor with `ndim`
 * dims (a 0-D tensor counts as 1-D, as in PyTorch) to the C convention (0-based). */
static int lua_dim_to_c(lua_State *L, const char *op, const char *name, lua_Integer d, int ndim)
{
    int n = ndim > 0 ? ndim : 1;
    if (d == 0)
        luaL_error(L, "%s: %s 0 is not valid: dims are 1-based (1..%d, or -1..-%d from the end)",
                   op, name, n, n);
    if (d > n || d < -n)
        luaL_error(L, "%s: %s %d is out of range for a %d-D tensor (expected 1..%d or -%d..-1)", op,
                   name, (int)d, ndim, n, n);
    return d > 0 ? (int)(d - 1) : (int)(d + n);
}

/* Core messages already start with the op name. */
static int push_result(lua_State *L, sb_status st, sb_tensor *y)
{
    sbL_check(L, st, NULL);
    sbL_push_tensor(L, y);
    return 1;
}

/* linear(x, weight [, bias]) */
static int l_linear(lua_State *L)
{
    const sb_tensor *x = sbL_check_tensor(L, 1), *w = sbL_check_tensor(L, 2);
    const sb_tensor *b = opt_tensor(L, 3);
    sb_tensor *y = NULL;
    sb_status st = sb_nn_linear(x, w, b, &y);
    return push_result(L, st, y);
}

/* A tensor field of the table at idx (nil allowed), left on the stack so it stays alive. */
static const sb_tensor *field_tensor(lua_State *L, const char *op, int idx, const char *name)
{
    if (lua_getfield(L, idx, name) == LUA_TNIL) return NULL;
    const sb_tensor *t = sbL_test_tensor(L, -1);
    if (!t) luaL_error(L, "%s: %s must be a tensor, got %s", op, name, luaL_typename(L, -1));
    return t;
}

/* conv2d's batch_norm = {running_mean =, running_var =, weight =, bias =, eps = 1e-5}. */
static void conv_bn_option(lua_State *L, const char *op, int opt_idx, sb_conv_bn *bn)
{
    if (lua_getfield(L, opt_idx, "batch_norm") != LUA_TTABLE)
        luaL_error(L,
                   "%s: batch_norm must be a table {running_mean =, running_var =, weight =, "
                   "bias =, eps =}, got %s",
                   op, luaL_typename(L, -1));
    const int t = lua_gettop(L);
    static const char *const known[] = {"running_mean", "running_var", "weight",
                                        "bias",         "eps",         NULL};
    lua_pushnil(L);
    while (lua_next(L, t)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        bool ok = false;
        for (int i = 0; key && known[i]; i++)
            ok = ok || strcmp(known[i], key) == 0;
        if (!ok)
            luaL_error(L,
                       "%s: batch_norm: unknown field '%s' (known: running_mean, running_var, "
                       "weight, bias, eps)",
                       op, key ? key : luaL_typename(L, -2));
        lua_pop(L, 1);
    }
    bn->mean = field_tensor(L, op, t, "running_mean");
    bn->var = field_tensor(L, op, t, "running_var");
    if (!bn->mean || !bn->var)
        luaL_error(L, "%s: batch_norm needs running_mean and running_var", op);
    bn->weight = field_tensor(L, op, t, "weight");
    bn->bias = field_tensor(L, op, t, "bias");
    lua_getfield(L, t, "eps");
    bn->eps = lua_isnil(L, -1) ? 1e-5 : luaL_checknumber(L, -1);
    lua_pop(L, 1);
}

/* conv2d(x, weight [, bias] [, {stride=, padding=, dilation=, groups=, activation=,
 * max_pool=, batch_norm=, residual=}]) */
static int l_conv2d(lua_State *L)
{
    const char *op = "conv2d";
    const sb_tensor *x = sbL_check_tensor(L, 1), *w = sbL_check_tensor(L, 2);
    /* bias may be omitted: conv2d(x, w, {stride = 2}) */
    int opt_idx = 4;
    const sb_tensor *b = NULL;
    if (lua_istable(L, 3))
        opt_idx = 3;
    else
        b = opt_tensor(L, 3);
    check_options(L, op, opt_idx);
    static const char *const known[] = {"stride",        "padding",  "dilation",   "groups",
                                        "activation",    "max_pool", "batch_norm", "residual",
                                        "channels_last", NULL};
    check_known_options(L, op, opt_idx, known);
    sb_conv2d_options o = sb_conv2d_defaults();
    sb_conv_bn bn;
    opt_pair(L, op, opt_idx, "stride", o.stride);
    opt_pair(L, op, opt_idx, "dilation", o.dilation);
    if (!lua_isnoneornil(L, opt_idx)) {
        if (lua_getfield(L, opt_idx, "padding") == LUA_TSTRING) {
            const char *mode = lua_tostring(L, -1);
            if (strcmp(mode, "same") == 0)
                o.padding_mode = SB_CONV_PAD_SAME;
            else if (strcmp(mode, "valid") == 0)
                o.padding_mode = SB_CONV_PAD_VALID;
            else
                return luaL_error(L,
                                  "%s: padding must be a number, {h, w}, 'same' or 'valid', "
                                  "got '%s'",
                                  op, mode);
        } else if (!lua_isnil(L, -1)) {
            read_pair(L, op, "padding", -1, o.padding);
        }
        lua_pop(L, 1);
        o.groups = sbL_optfield_integer(L, opt_idx, "groups", 1);
        const char *act = sbL_optfield_string(L, opt_idx, "activation", NULL);
        static const char *const acts[] = {"relu", "relu6", "hardswish", "silu", NULL};
        static const sb_conv_act act_kinds[] = {SB_CONV_ACT_RELU, SB_CONV_ACT_RELU6,
                                                SB_CONV_ACT_HARDSWISH, SB_CONV_ACT_SILU};
        for (int i = 0; act && acts[i]; i++)
            if (strcmp(act, acts[i]) == 0) o.act = act_kinds[i];
        if (act && o.act == SB_CONV_ACT_NONE)
            return luaL_error(L,
                              "%s: activation must be 'relu', 'relu6', 'hardswish' or 'silu' (or "
                              "absent), got '%s'",
                              op, act);
        lua_getfield(L, opt_idx, "batch_norm");
        const bool has_bn = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (has_bn) {
            conv_bn_option(L, op, opt_idx, &bn);
            o.bn = &bn;
        }
        o.residual = field_tensor(L, op, opt_idx, "residual");
        o.channels_last = sbL_optfield_boolean(L, opt_idx, "channels_last", false);
        lua_Integer pool = sbL_optfield_integer(L, opt_idx, "max_pool", 0);
        if (pool != 0 && pool != 2)
            return luaL_error(L, "%s: max_pool must be 2 (or absent), got %d", op, (int)pool);
        o.max_pool2 = pool == 2;
    }
    sb_tensor *y = NULL;
    sb_status st = sb_nn_conv2d(x, w, b, &o, &y);
    return push_result(L, st, y);
}

static sb_pool2d_options pool_options(lua_State *L, const char *op, bool is_max)
{
    check_options(L, op, 3);
    static const char *const max_known[] = {"stride", "padding", "dilation", "ceil_mode", NULL};
    static const char *const avg_known[] = {
        "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override", NULL};
    check_known_options(L, op, 3, is_max ? max_known : avg_known);
    if (lua_isnoneornil(L, 2))
        luaL_error(L, "%s: bad argument #2 (kernel_size expected: a number or {h, w})", op);
    int64_t k[2];
    read_pair(L, op, "kernel_size", 2, k);
    sb_pool2d_options o = sb_pool2d_defaults(k[0], k[1]);
    if (opt_pair(L, op, 3, "stride", o.stride) && (o.stride[0] == 0 || o.stride[1] == 0))
        luaL_error(L, "%s: stride must be positive, got 0", op);
    opt_pair(L, op, 3, "padding", o.padding);
    opt_pair(L, op, 3, "dilation", o.dilation);
    o.ceil_mode = sbL_optfield_boolean(L, 3, "ceil_mode", 0);
    o.count_include_pad = sbL_optfield_boolean(L, 3, "count_include_pad", 1);
    if (!is_max) {
        o.divisor_override = sbL_optfield_integer(L, 3, "divisor_override", 0);
        if (!lua_isnoneornil(L, 3)) {
            lua_getfield(L, 3, "divisor_override");
            if (!lua_isnil(L, -1) && o.divisor_override <= 0)
                luaL_error(L, "%s: divisor_override must be positive, got %d", op,
                           (int)o.divisor_override);
            lua_pop(L, 1);
        }
    }
    return o;
}

static int pool2d(lua_State *L, bool is_max)
{
    const sb_tensor *x = sbL_check_tensor(L, 1);
    sb_pool2d_options o = pool_options(L, is_max ? "max_pool2d" : "avg_pool2d", is_max);
    sb_tensor *y = NULL;
    sb_status st = is_max ? sb_nn_max_pool2d(x, &o, &y) : sb_nn_avg_pool2d(x, &o, &y);
    return push_result(L, st, y);
}

/* max_pool2d(x, kernel_size [, {stride=, padding=, dilation=, ceil_mode=}]) */
static int l_max_pool2d(lua_State *L)
{
    return pool2d(L, true);
}

/* avg_pool2d(x, kernel_size [, {stride=, padding=, ceil_mode=, count_include_pad=,
 * divisor_override=}]) */
static int l_avg_pool2d(lua_State *L)
{
    return pool2d(L, false);
}

/* adaptive_avg_pool2d(x, output_size): a number, or {h, w} where false keeps that size. */
static int l_adaptive_avg_pool2d(lua_State *L)
{
    const char *op = "adaptive_avg_pool2d";
    const sb_tensor *x = sbL_check_tensor(L, 1);
    int64_t size[2] = {0, 0};
    if (lua_istable(L, 2)) {
        if (luaL_len(L, 2) != 2)
            return luaL_error(L, "%s: output_size must be a number or a pair {h, w}", op);
        for (int i = 0; i < 2; i++) {
            lua_rawgeti(L, 2, i + 1);
            if (lua_toboolean(L, -1)) {
                size[i] = check_int_value(L, op, "output_size", -1);
                if (size[i] < 1)
                    return luaL_error(L, "%s: output_size must be positive, got %d", op,
                                      (int)size[i]);
            }
            lua_pop(L, 1);
        }
    } else {
        size[0] = size[1] = check_int_value(L, op, "output_size", 2);
        if (size[0] < 1)
            return luaL_error(L, "%s: output_size must be positive, got %d", op, (int)size[0]);
    }
    sb_tensor *y = NULL;
    sb_status st = sb_nn_adaptive_avg_pool2d(x, size[0], size[1], &y);
    return push_result(L, st, y);
}

/* batch_norm(x, running_mean, running_var [, weight [, bias]] [, {eps=, training=,
 * momentum=}]) */
static int l_batch_norm(lua_State *L)
{
    const char *op = "batch_norm";
    const sb_tensor *x = sbL_check_tensor(L, 1);
    const sb_tensor *mean = opt_tensor(L, 2), *var = opt_tensor(L, 3);
    const sb_tensor *w = NULL, *b = NULL;
    /* weight and bias are optional; the options table may follow any of them */
    int opt_idx = 6;
    if (lua_istable(L, 4)) {
        opt_idx = 4;
    } else {
        w = opt_tensor(L, 4);
        if (lua_istable(L, 5))
            opt_idx = 5;
        else
            b = opt_tensor(L, 5);
    }
    check_options(L, op, opt_idx);
    static const char *const known[] = {"eps", "training", "momentum", NULL};
    check_known_options(L, op, opt_idx, known);
    if (sbL_optfield_boolean(L, opt_idx, "training", 0))
        return luaL_error(L,
                          "%s: training mode is not supported (sbengine evaluates: inference "
                          "with running statistics only)",
                          op);
    double eps = sbL_optfield_number(L, opt_idx, "eps", 1e-5);
    sb_tensor *y = NULL;
    sb_status st = sb_nn_batch_norm(x, mean, var, w, b, eps, &y);
    return push_result(L, st, y);
}

static int activation(lua_State *L, sb_nn_activation act)
{
    const sb_tensor *x = sbL_check_tensor(L, 1);
    sb_tensor *y = NULL;
    sb_status st = sb_nn_activate(act, x, &y);
    return push_result(L, st, y);
}

/* name(x) for the PLAIN rows of nn/op_table.h */
#define SB_ACT_FUNCTION(E, kernel, name, binding) SB_ACT_FUNCTION_##binding(E, kernel)
#define SB_ACT_FUNCTION_PLAIN(E, kernel)                                                           \
    static int l_##kernel(lua_State *L)                                                            \
    {                                                                                              \
        return activation(L, SB_ACT_##E);                                                          \
    }
#define SB_ACT_FUNCTION_OWN(E, kernel)
SB_NN_ACTIVATIONS(SB_ACT_FUNCTION)

/* gelu(x [, {approximate = "none" | "tanh"}]) */
static int l_gelu(lua_State *L)
{
    check_options(L, "gelu", 2);
    static const char *const known[] = {"approximate", NULL};
    check_known_options(L, "gelu", 2, known);
    const char *approx = sbL_optfield_string(L, 2, "approximate", "none");
    if (strcmp(approx, "none") == 0) return activation(L, SB_ACT_GELU);
    if (strcmp(approx, "tanh") == 0) return activation(L, SB_ACT_GELU_TANH);
    return luaL_error(L, "gelu: approximate must be 'none' or 'tanh', got '%s'", approx);
}

/* softmax(x, dim) or softmax(x, {dim = d}) */
static int softmax(lua_State *L, bool log)
{
    const char *op = log ? "log_softmax" : "softmax";
    const sb_tensor *x = sbL_check_tensor(L, 1);
    lua_Integer d;
    if (lua_istable(L, 2)) {
        static const char *const known[] = {"dim", NULL};
        check_known_options(L, op, 2, known);
        lua_getfield(L, 2, "dim");
        if (lua_isnil(L, -1)) return luaL_error(L, "%s: the dim option is required", op);
        d = check_int_value(L, op, "dim", -1);
        lua_pop(L, 1);
    } else if (lua_isnoneornil(L, 2)) {
        return luaL_error(L, "%s: bad argument #2 (dim expected: softmax(x, dim))", op);
    } else {
        d = check_int_value(L, op, "dim", 2);
    }
    int cdim = lua_dim_to_c(L, op, "dim", d, x->ndim);
    sb_tensor *y = NULL;
    sb_status st = sb_nn_softmax(x, cdim, log, &y);
    return push_result(L, st, y);
}

static int l_softmax(lua_State *L)
{
    return softmax(L, false);
}
static int l_log_softmax(lua_State *L)
{
    return softmax(L, true);
}

/* flatten(x [, start_dim [, end_dim]]) or flatten(x, {start_dim=, end_dim=}); defaults
 * 1 and -1 (torch.flatten: every dim). */
static int l_flatten(lua_State *L)
{
    const char *op = "flatten";
    const sb_tensor *x = sbL_check_tensor(L, 1);
    lua_Integer s = 1, e = -1;
    if (lua_istable(L, 2)) {
        static const char *const known[] = {"start_dim", "end_dim", NULL};
        check_known_options(L, op, 2, known);
        s = sbL_optfield_integer(L, 2, "start_dim", 1);
        e = sbL_optfield_integer(L, 2, "end_dim", -1);
    } else {
        if (!lua_isnoneornil(L, 2)) s = check_int_value(L, op, "start_dim", 2);
        if (!lua_isnoneornil(L, 3)) e = check_int_value(L, op, "end_dim", 3);
    }
    int cs = lua_dim_to_c(L, op, "start_dim", s, x->ndim);
    int ce = lua_dim_to_c(L, op, "end_dim", e, x->ndim);
    sb_tensor *y = NULL;
    sb_status st = sb_nn_flatten(x, cs, ce, &y);
    return push_result(L, st, y);
}

#define SB_ACT_REG(E, kernel, name, binding) SB_ACT_REG_##binding(kernel, name)
#define SB_ACT_REG_PLAIN(kernel, name) {name, l_##kernel},
#define SB_ACT_REG_OWN(kernel, name)

int sbL_open_nn(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"linear", l_linear},
        {"conv2d", l_conv2d},
        {"max_pool2d", l_max_pool2d},
        {"avg_pool2d", l_avg_pool2d},
        {"adaptive_avg_pool2d", l_adaptive_avg_pool2d},
        {"batch_norm", l_batch_norm},
        {"gelu", l_gelu},
        // clang-format off
        SB_NN_ACTIVATIONS(SB_ACT_REG)
        // clang-format on
        {"softmax", l_softmax},
        {"log_softmax", l_log_softmax},
        {"flatten", l_flatten},
        {NULL, NULL},
    };
    lua_newtable(L);
    sbL_setfuncs(L, funcs);
    return 1;
}
