/* sbengine.core.io -> sb.io: safetensors reading and writing (engine/io/safetensors.h) and
 * PyTorch checkpoints (engine/io/pytorch.h); lua/sbengine/io.lua checks the options. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "io/pytorch.h"
#include "io/safetensors.h"
#include "bindings/l_modules.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"

/* load_safetensors(path [, {device = "cpu"}]) -> {name = tensor}, {key = value} */
static int l_load_safetensors(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *device_name = sbL_optfield_string(L, 2, "device", "cpu");
    sb_device device;
    sbL_check(L, sb_device_parse(device_name, &device), "load_safetensors");
    sb_safetensors *st = NULL;
    sbL_check(L, sb_safetensors_load(path, &st), "load_safetensors");
    if (device.kind != SB_DEVICE_CPU) {
        for (size_t i = 0; i < st->count; i++) {
            sb_tensor *moved;
            sb_status s = sb_tensor_to_device(st->entries[i].tensor, device, &moved);
            if (s != SB_OK) {
                sb_safetensors_free(st);
                sbL_check(L, s, "load_safetensors");
            }
            sb_tensor_free(st->entries[i].tensor);
            st->entries[i].tensor = moved;
        }
    }
    lua_createtable(L, 0, (int)st->count); /* [tensors] */
    for (size_t i = 0; i < st->count; i++) {
        sbL_push_tensor(L, st->entries[i].tensor); /* [tensors, t] */
        st->entries[i].tensor = NULL;              /* owned by Lua now */
        lua_setfield(L, -2, st->entries[i].name);
    }
    lua_createtable(L, 0, (int)st->meta_count); /* [tensors, meta] */
    for (size_t i = 0; i < st->meta_count; i++) {
        lua_pushstring(L, st->meta[i].value);
        lua_setfield(L, -2, st->meta[i].key);
    }
    sb_safetensors_free(st);
    return 2;
}

/* load_pytorch(path, keys (array of strings) | nil, strip_prefix | nil, device) ->
 * {name = tensor}, {name = saved dtype} */
static int l_load_pytorch(lua_State *L)
{
    const char *op = "load_pytorch";
    const char *path = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    const char *strip = luaL_optstring(L, 3, NULL);
    const char *device_name = luaL_optstring(L, 4, "cpu");
    lua_settop(L, 4);
    sb_device device;
    sbL_check(L, sb_device_parse(device_name, &device), op);
    size_t nkey = lua_isnil(L, 2) ? 0 : lua_rawlen(L, 2);
    const char **keys = lua_newuserdatauv(L, (nkey ? nkey : 1) * sizeof *keys, 0); /* [.., keys] */
    for (size_t i = 0; i < nkey; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "%s: key must be a string or an array of strings", op);
        keys[i] = lua_tostring(L, -1); /* kept alive by the table */
        lua_pop(L, 1);
    }
    sb_pytorch_options opts = {keys, nkey, strip};
    sb_pytorch_state_dict *sd = NULL;
    sbL_check(L, sb_pytorch_load(path, &opts, &sd), op);
    if (device.kind != SB_DEVICE_CPU) {
        for (size_t i = 0; i < sd->count; i++) {
            sb_tensor *moved;
            sb_status s = sb_tensor_to_device(sd->entries[i].tensor, device, &moved);
            if (s != SB_OK) {
                sb_pytorch_free(sd);
                sbL_check(L, s, op);
            }
            sb_tensor_free(sd->entries[i].tensor);
            sd->entries[i].tensor = moved;
        }
    }
    lua_createtable(L, 0, (int)sd->count); /* [.., keys, tensors] */
    lua_createtable(L, 0, (int)sd->count); /* [.., keys, tensors, dtypes] */
    for (size_t i = 0; i < sd->count; i++) {
        sbL_push_tensor(L, sd->entries[i].tensor); /* [.., tensors, dtypes, t] */
        sd->entries[i].tensor = NULL;              /* owned by Lua now */
        lua_setfield(L, -3, sd->entries[i].name);
        lua_pushstring(L, sd->entries[i].saved_dtype);
        lua_setfield(L, -2, sd->entries[i].name);
    }
    sb_pytorch_free(sd);
    return 2;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* save_safetensors(path, {name = tensor}, [{metadata = {key = value}}]); tensors are
 * written in name order. Scratch arrays are Lua userdata, so an error frees them. */
static int l_save_safetensors(lua_State *L)
{
    const char *op = "save_safetensors";
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3); /* [path, tensors, opts|nil]: scratch userdata go above */

    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "%s: tensor names must be strings, got a %s key", op,
                              luaL_typename(L, -2));
        if (!sbL_test_tensor(L, -1))
            return luaL_error(L, "%s: value for '%s' must be a tensor, got %s", op,
                              lua_tostring(L, -2), luaL_typename(L, -1));
        count++;
        lua_pop(L, 1);
    }
    const char **names = lua_newuserdatauv(L, (count ? count : 1) * sizeof *names, 0);
    const sb_tensor **tensors = lua_newuserdatauv(L, (count ? count : 1) * sizeof *tensors, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        names[i++] = lua_tostring(L, -2); /* kept alive by the table */
        lua_pop(L, 1);
    }
    qsort(names, count, sizeof *names, compare_names);
    for (i = 0; i < count; i++) {
        lua_getfield(L, 2, names[i]);
        tensors[i] = sbL_check_tensor(L, -1);
        lua_pop(L, 1);
    }

    size_t meta_count = 0;
    const char **keys = NULL, **values = NULL;
    int meta_idx = 0;
    if (!lua_isnoneornil(L, 3)) {
        if (lua_getfield(L, 3, "metadata") != LUA_TNIL) {
            if (!lua_istable(L, -1))
                return luaL_error(L, "%s: metadata must be a table of strings, got %s", op,
                                  luaL_typename(L, -1));
            meta_idx = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, meta_idx)) {
                if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                    return luaL_error(L, "%s: metadata keys and values must be strings", op);
                meta_count++;
                lua_pop(L, 1);
            }
            keys = lua_newuserdatauv(L, (meta_count ? meta_count : 1) * sizeof *keys, 0);
            values = lua_newuserdatauv(L, (meta_count ? meta_count : 1) * sizeof *values, 0);
            i = 0;
            lua_pushnil(L);
            while (lua_next(L, meta_idx)) {
                keys[i] = lua_tostring(L, -2);
                values[i] = lua_tostring(L, -1);
                i++;
                lua_pop(L, 1);
            }
        }
    }
    sbL_check(L, sb_safetensors_save(path, count, names, tensors, meta_count, keys, values), op);
    return 0;
}

int sbL_open_io(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"load_safetensors", l_load_safetensors},
        {"save_safetensors", l_save_safetensors},
        {"load_pytorch", l_load_pytorch},
        {NULL, NULL},
    };
    lua_newtable(L);
    sbL_setfuncs(L, funcs);
    return 1;
}
