/* The Dataset type of sbengine.core.data (l_data.h): the built-in datasets (MNIST, CIFAR,
 * a pair of tensors) as one userdata over a refcounted sb_dataset. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_data.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"

sb_dataset *sbL_check_dataset(lua_State *L, int idx)
{
    return sbL_check_box(L, idx, SB_DATASET_MT, "dataset");
}

static void push_dataset(lua_State *L, sb_dataset *ds)
{
    *sbL_new_box(L, SB_DATASET_MT) = ds;
}

static int dataset_gc(lua_State *L)
{
    sb_dataset_release(sbL_take_box(L, 1, SB_DATASET_MT));
    return 0;
}

static int dataset_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sbL_check_dataset(L, 1)->length);
    return 1;
}

/* A new tensor holding a copy of one sample laid out as `spec`. */
static void push_sample_tensor(lua_State *L, const sb_sample_spec *spec, const void *data)
{
    sb_tensor *t;
    sbL_check(L, sb_tensor_empty(spec->ndim, spec->sizes, spec->dtype, SB_CPU, &t), "get");
    memcpy(sb_tensor_data(t), data, sb_sample_spec_nbytes(spec));
    sbL_push_tensor(L, t);
}

/* A scalar integer target (a class label) comes back as a Lua integer, as torchvision gives
 * a Python int; anything else as a tensor. */
static void push_target(lua_State *L, const sb_sample_spec *spec, const void *data)
{
    if (spec->ndim == 0 && spec->dtype == SB_INT64) {
        int64_t v;
        memcpy(&v, data, sizeof v);
        lua_pushinteger(L, (lua_Integer)v);
    } else if (spec->ndim == 0 && spec->dtype == SB_INT32) {
        int32_t v;
        memcpy(&v, data, sizeof v);
        lua_pushinteger(L, v);
    } else {
        push_sample_tensor(L, spec, data);
    }
}

/* ds:get(i) -> input tensor, target (1-based i), before any transform. */
static int dataset_get(lua_State *L)
{
    sb_dataset *ds = sbL_check_dataset(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > ds->length)
        return luaL_error(L, "%s:get: index %I out of range 1..%I", ds->name, i,
                          (lua_Integer)ds->length);
    void *scratch = NULL;
    if (ds->input_scratch) {
        scratch = malloc(ds->input_scratch);
        if (!scratch) return luaL_error(L, "%s:get: out of memory", ds->name);
    }
    const void *input, *target;
    sb_status s = ds->ops->get(ds, (int64_t)i - 1, &input, &target, scratch);
    if (s != SB_OK) {
        free(scratch);
        sb_fail_context(s, "%s:get(%lld)", ds->name, (long long)i);
        return sbL_raise(L, NULL);
    }
    /* Copy out before anything can raise, so scratch is freed first. */
    sb_tensor *t = NULL;
    s = sb_tensor_empty(ds->input.ndim, ds->input.sizes, ds->input.dtype, SB_CPU, &t);
    if (s == SB_OK) memcpy(sb_tensor_data(t), input, sb_sample_spec_nbytes(&ds->input));
    free(scratch);
    sbL_check(L, s, "get");
    sbL_push_tensor(L, t);
    if (!ds->has_target) return 1;
    push_target(L, &ds->target, target);
    return 2;
}

static int data_mnist(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    int train = lua_toboolean(L, 2);
    sb_dataset *ds;
    sbL_check(L, sb_mnist_open(root, train, &ds), "MNIST");
    push_dataset(L, ds);
    return 1;
}

static int data_cifar(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    int classes = (int)luaL_checkinteger(L, 2);
    int train = lua_toboolean(L, 3);
    int coarse = lua_toboolean(L, 4);
    sb_dataset *ds;
    sbL_check(L, sb_cifar_open(root, classes, train, coarse, &ds),
              classes == 100 ? "CIFAR100" : "CIFAR10");
    push_dataset(L, ds);
    return 1;
}

static int data_tensor_dataset(lua_State *L)
{
    sb_tensor *input = sbL_check_tensor(L, 1);
    sb_tensor *target = lua_isnoneornil(L, 2) ? NULL : sbL_check_tensor(L, 2);
    sb_dataset *ds;
    sbL_check(L, sb_tensor_dataset_new(input, target, &ds), NULL);
    push_dataset(L, ds);
    return 1;
}

void sbL_data_add_datasets(lua_State *L)
{
    static const luaL_Reg methods[] = {{"get", dataset_get}, {NULL, NULL}};
    static const luaL_Reg metamethods[] = {
        {"__gc", dataset_gc}, {"__len", dataset_len}, {NULL, NULL}};
    sbL_new_class(L, SB_DATASET_MT, methods, metamethods);
    static const luaL_Reg funcs[] = {{"mnist", data_mnist},
                                     {"cifar", data_cifar},
                                     {"tensor_dataset", data_tensor_dataset},
                                     {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
