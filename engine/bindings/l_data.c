/* sbengine.core.data: datasets, transforms and the DataLoader's C side. The public API
 * (sb.data, sb.transforms) is lua/sbengine/data.lua and transforms.lua on top of this.
 * One file per Lua type builds this table (l_data.h lists them); collate is here. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#include "bindings/l_data.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "data/collate.h"

/* collate(list) -> a batch: tensors are stacked; integers become an int64 tensor and other
 * numbers a float64 one (torch's default_collate); anything else is returned unchanged. */
static int data_collate(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if (n == 0) return luaL_error(L, "collate: empty batch");
    lua_rawgeti(L, 1, 1);
    int first_type = lua_type(L, -1);
    int is_tensor = sbL_test_tensor(L, -1) != NULL;
    lua_pop(L, 1);
    if (is_tensor) {
        const sb_tensor **items = malloc(sizeof(*items) * (size_t)n);
        if (!items) return luaL_error(L, "collate: out of memory");
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            items[i - 1] = sbL_test_tensor(L, -1);
            lua_pop(L, 1); /* the list keeps it alive */
            if (!items[i - 1]) {
                free(items);
                return luaL_error(L, "collate: sample %I is not a tensor (sample 1 is)", i);
            }
        }
        sb_tensor *out;
        sb_status s = sb_data_stack(items, n, &out);
        free(items);
        sbL_check(L, s, "collate");
        sbL_push_tensor(L, out);
        return 1;
    }
    if (first_type == LUA_TNUMBER) {
        int all_int = 1;
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            if (lua_type(L, -1) != LUA_TNUMBER)
                return luaL_error(L, "collate: sample %I is a %s, sample 1 a number", i,
                                  luaL_typename(L, -1));
            all_int = all_int && lua_isinteger(L, -1);
            lua_pop(L, 1);
        }
        int64_t size = n;
        sb_tensor *out;
        sbL_check(L, sb_tensor_empty(1, &size, all_int ? SB_INT64 : SB_FLOAT64, SB_CPU, &out),
                  "collate");
        void *data = sb_tensor_data(out);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            if (all_int)
                ((int64_t *)data)[i - 1] = (int64_t)lua_tointeger(L, -1);
            else
                ((double *)data)[i - 1] = (double)lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        sbL_push_tensor(L, out);
        return 1;
    }
    lua_pushvalue(L, 1);
    return 1;
}

int sbL_open_data(lua_State *L)
{
    lua_newtable(L);
    sbL_data_add_datasets(L);
    sbL_data_add_transforms(L);
    sbL_data_add_loaders(L);
    sbL_data_add_downloads(L);
    sbL_data_add_vocab(L);
    lua_pushcfunction(L, data_collate);
    lua_setfield(L, -2, "collate");
    return 1;
}
