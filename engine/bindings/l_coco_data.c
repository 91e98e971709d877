/* sbengine.core.coco_data: sb.data.CocoDetection's C half (engine/data/coco_detection.h).
 * The dataset is a data binding's Dataset userdata (l_data.h), so the DataLoader and
 * core.vision.get take it as any other; an image's annotations become Lua tables here,
 * one image at a time. */
#include <lauxlib.h>
#include <lua.h>

#include "bindings/l_data.h"
#include "bindings/l_util.h"
#include "data/coco_detection.h"

/* open(root, annFile) -> dataset, {image ids in sample order} */
static int coco_open(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1), *ann_file = luaL_checkstring(L, 2);
    void **box = sbL_new_box(L, SB_DATASET_MT);
    sb_dataset *ds;
    sbL_check(L, sb_coco_detection_open(root, ann_file, &ds), NULL);
    *box = ds;
    lua_createtable(L, (int)ds->length, 0);
    for (int64_t i = 0; i < ds->length; i++) {
        lua_pushinteger(L, (lua_Integer)sb_coco_detection_image_id(ds, i, NULL, NULL));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 2;
}

static sb_dataset *check_coco(lua_State *L, lua_Integer *index)
{
    sb_dataset *ds = sbL_check_dataset(L, 1);
    if (!sb_coco_detection_check(ds)) luaL_error(L, "%s: not a CocoDetection dataset", ds->name);
    *index = luaL_checkinteger(L, 2);
    if (*index < 1 || *index > ds->length)
        luaL_error(L, "CocoDetection: index %I out of range 1..%I", *index,
                   (lua_Integer)ds->length);
    return ds;
}

/* image(ds, i) -> image id, file name, number of annotations of sample i (1-based) */
static int coco_image(lua_State *L)
{
    lua_Integer i;
    sb_dataset *ds = check_coco(L, &i);
    const char *name;
    size_t n;
    lua_pushinteger(L, (lua_Integer)sb_coco_detection_image_id(ds, (int64_t)i - 1, &name, &n));
    lua_pushstring(L, name);
    lua_pushinteger(L, (lua_Integer)n);
    return 3;
}

/* The visitor builds Lua values on the stack; it never raises (lua_checkstack reports),
 * so the parsed tree is always freed. */
static sb_status v_begin(void *ctx, bool array, size_t size)
{
    lua_State *L = ctx;
    if (!lua_checkstack(L, 4) || size > INT32_MAX)
        return sb_fail(SB_ENOMEM, "CocoDetection: annotation too deeply nested");
    lua_createtable(L, array ? (int)size : 0, array ? 0 : (int)size);
    return SB_OK;
}

static sb_status v_end(void *ctx, bool array)
{
    (void)ctx, (void)array;
    return SB_OK;
}

static sb_status v_member(void *ctx, const char *key)
{
    lua_setfield((lua_State *)ctx, -2, key);
    return SB_OK;
}

static sb_status v_element(void *ctx, size_t index)
{
    lua_rawseti((lua_State *)ctx, -2, (lua_Integer)index + 1);
    return SB_OK;
}

static sb_status v_integer(void *ctx, int64_t v)
{
    lua_pushinteger((lua_State *)ctx, (lua_Integer)v);
    return SB_OK;
}

static sb_status v_real(void *ctx, double v)
{
    lua_pushnumber((lua_State *)ctx, (lua_Number)v);
    return SB_OK;
}

static sb_status v_string(void *ctx, const char *s, size_t len)
{
    lua_pushlstring((lua_State *)ctx, s, len);
    return SB_OK;
}

static sb_status v_boolean(void *ctx, bool v)
{
    lua_pushboolean((lua_State *)ctx, v);
    return SB_OK;
}

static sb_status v_null(void *ctx)
{
    lua_pushlightuserdata((lua_State *)ctx, NULL); /* lua-cjson's cjson.null */
    return SB_OK;
}

/* annotations(ds, i) -> the list of sample i's annotations (tables, in the file's order) */
static int coco_annotations(lua_State *L)
{
    lua_Integer i;
    sb_dataset *ds = check_coco(L, &i);
    static const sb_jstream_visitor visitor = {v_begin, v_end,    v_member,  v_element, v_integer,
                                               v_real,  v_string, v_boolean, v_null};
    int top = lua_gettop(L);
    sb_status s = sb_coco_detection_annotations(ds, (int64_t)i - 1, &visitor, L);
    if (s != SB_OK) {
        lua_settop(L, top);
        return sbL_raise(L, NULL);
    }
    return 1;
}

int sbL_open_coco_data(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"open", coco_open},
        {"image", coco_image},
        {"annotations", coco_annotations},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
