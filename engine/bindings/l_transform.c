/* The Transform type of sbengine.core.data (l_data.h): a chain of C transforms
 * (ToTensor, Normalize) that the DataLoader's workers run without Lua. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_data.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "bindings/l_vision.h"

sb_transform *sbL_check_transform(lua_State *L, int idx)
{
    return sbL_check_box(L, idx, SB_TRANSFORM_MT, "transform");
}

static int transform_gc(lua_State *L)
{
    sb_transform_free(sbL_take_box(L, 1, SB_TRANSFORM_MT));
    return 0;
}

/* Checks that the value at `idx` is a number or a list of numbers; returns the count. */
static int check_number_list(lua_State *L, int idx, const char *what)
{
    if (lua_type(L, idx) == LUA_TNUMBER) return 1;
    if (!lua_istable(L, idx))
        luaL_error(L, "Normalize: %s must be a number or a list of numbers, got %s", what,
                   luaL_typename(L, idx));
    int len = (int)lua_rawlen(L, idx);
    for (int i = 1; i <= len; i++) {
        if (lua_rawgeti(L, idx, i) != LUA_TNUMBER)
            luaL_error(L, "Normalize: %s[%d] must be a number, got %s", what, i,
                       luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    return len;
}

/* Copies a list checked by check_number_list into `out` (never raises). */
static void read_number_list(lua_State *L, int idx, int n, double *out)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        out[0] = lua_tonumber(L, idx);
        return;
    }
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        out[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
}

/* transform({ {"to_tensor"}, {"normalize", mean, std}, ... }) -> Transform */
static int data_transform(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    sb_transform **box = (sb_transform **)sbL_new_box(L, SB_TRANSFORM_MT); /* [steps, box] */
    sbL_check(L, sb_transform_new(box), "transform");
    int n = (int)lua_rawlen(L, 1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i); /* [steps, box, step] */
        luaL_checktype(L, -1, LUA_TTABLE);
        lua_rawgeti(L, -1, 1); /* [steps, box, step, kind] */
        const char *kind = lua_tostring(L, -1);
        if (kind && strcmp(kind, "to_tensor") == 0) {
            sbL_check(L, sb_transform_add_to_tensor(*box), "ToTensor");
        } else if (kind && strcmp(kind, "normalize") == 0) {
            lua_rawgeti(L, -2, 2);
            lua_rawgeti(L, -3, 3); /* [..., step, kind, mean, std] */
            int nm = check_number_list(L, -2, "mean");
            int ns = check_number_list(L, -1, "std");
            if (nm != ns)
                return luaL_error(L, "Normalize: mean has %d entries but std has %d", nm, ns);
            double *mean = malloc(sizeof(double) * (size_t)(nm + 1));
            double *std = malloc(sizeof(double) * (size_t)(ns + 1));
            sb_status s = SB_ENOMEM;
            if (mean && std) {
                read_number_list(L, -2, nm, mean);
                read_number_list(L, -1, ns, std);
                s = sb_transform_add_normalize(*box, nm, mean, std);
            } else {
                sb_fail(SB_ENOMEM, "out of memory");
            }
            free(mean);
            free(std);
            sbL_check(L, s, "Normalize");
            lua_pop(L, 2);
        } else if (!kind || !sbL_add_image_step(L, -2, *box, kind)) {
            return luaL_error(L, "transform: unknown step '%s'", kind ? kind : "?");
        }
        lua_pop(L, 2); /* [steps, box] */
    }
    return 1;
}

/* tf:apply(tensor) -> new tensor (CPU) */
static int transform_apply(lua_State *L)
{
    sb_transform *tf = sbL_check_transform(L, 1);
    sb_tensor *t = sbL_check_tensor(L, 2);
    if (sb_tensor_device(t).kind != SB_DEVICE_CPU)
        return luaL_error(L, "transform: expected a CPU tensor (C transforms run on the host)");
    sb_sample_spec in = {t->dtype, t->ndim, {0}}, out;
    for (int i = 0; i < t->ndim; i++)
        in.sizes[i] = t->sizes[i];
    sbL_check(L, sb_transform_output_spec(tf, &in, &out), NULL);
    sb_tensor *src, *dst;
    sbL_check(L, sb_tensor_contiguous(t, &src), "transform");
    sb_status s = sb_tensor_empty(out.ndim, out.sizes, out.dtype, SB_CPU, &dst);
    if (s != SB_OK) {
        sb_tensor_free(src);
        sbL_check(L, s, "transform");
    }
    s = sb_transform_apply(tf, &in, sb_tensor_data(src), sb_tensor_data(dst));
    sb_tensor_free(src);
    if (s != SB_OK) sb_tensor_free(dst);
    sbL_check(L, s, "transform");
    sbL_push_tensor(L, dst);
    return 1;
}

void sbL_data_add_transforms(lua_State *L)
{
    static const luaL_Reg methods[] = {{"apply", transform_apply}, {NULL, NULL}};
    static const luaL_Reg metamethods[] = {{"__gc", transform_gc}, {NULL, NULL}};
    sbL_new_class(L, SB_TRANSFORM_MT, methods, metamethods);
    lua_pushcfunction(L, data_transform);
    lua_setfield(L, -2, "transform");
}
