/* sbengine.core.vision: image datasets (ImageFolder) and the image transform steps
 * (sb.data, sb.transforms; docs/data.md). Dataset userdata are the data bindings' own
 * (l_data.h), so the DataLoader takes them as any other. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_data.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "bindings/l_vision.h"
#include "data/image_folder.h"
#include "data/imagenet.h"
#include "data/vision_sets.h"

static int step_int(lua_State *L, int idx, int i)
{
    lua_rawgeti(L, idx, i);
    int v = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    return v;
}

static const char *step_str(lua_State *L, int idx, int i)
{
    lua_rawgeti(L, idx, i);
    const char *s = luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the step table keeps it alive */
    return s;
}

int sbL_add_image_step(lua_State *L, int idx, sb_transform *tf, const char *kind)
{
    idx = lua_absindex(L, idx);
    sb_status s;
    if (strcmp(kind, "resize") == 0) {
        sb_interp interp;
        const char *name = step_str(L, idx, 4);
        if (!sb_interp_from_name(name, &interp))
            return luaL_error(L,
                              "Resize: unknown interpolation '%s' (nearest, bilinear, bicubic, "
                              "lanczos)",
                              name);
        s = sb_transform_add_resize(tf, step_int(L, idx, 2), step_int(L, idx, 3), interp,
                                    step_int(L, idx, 5));
    } else if (strcmp(kind, "center_crop") == 0) {
        s = sb_transform_add_center_crop(tf, step_int(L, idx, 2), step_int(L, idx, 3));
    } else if (strcmp(kind, "five_crop") == 0) {
        s = sb_transform_add_five_crop(tf, step_int(L, idx, 2), step_int(L, idx, 3));
    } else if (strcmp(kind, "ten_crop") == 0) {
        lua_rawgeti(L, idx, 4);
        bool vflip = lua_toboolean(L, -1);
        lua_pop(L, 1);
        s = sb_transform_add_ten_crop(tf, step_int(L, idx, 2), step_int(L, idx, 3), vflip);
    } else if (strcmp(kind, "grayscale") == 0) {
        s = sb_transform_add_grayscale(tf, step_int(L, idx, 2));
    } else if (strcmp(kind, "pad") == 0) {
        int pad[4];
        for (int i = 0; i < 4; i++)
            pad[i] = step_int(L, idx, 2 + i);
        sb_pad_mode mode;
        const char *name = step_str(L, idx, 6);
        if (!sb_pad_mode_from_name(name, &mode))
            return luaL_error(L,
                              "Pad: padding_mode should be either constant, edge, reflect or "
                              "symmetric, got '%s'",
                              name);
        uint8_t fill[3];
        for (int i = 0; i < 3; i++) {
            int v = step_int(L, idx, 7 + i);
            if (v < 0 || v > 255) return luaL_error(L, "Pad: fill must be in 0..255, got %d", v);
            fill[i] = (uint8_t)v;
        }
        s = sb_transform_add_pad(tf, pad, mode, fill);
    } else {
        return 0;
    }
    sbL_check(L, s, NULL);
    return 1;
}

static void push_dataset(lua_State *L, sb_dataset *ds)
{
    *sbL_new_box(L, SB_DATASET_MT) = ds;
}

/* image_folder(name, root, {extensions}|nil) -> dataset, {class names} */
static int vision_image_folder(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *root = luaL_checkstring(L, 2);
    const char **exts = NULL;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        int n = (int)lua_rawlen(L, 3);
        if (n < 1) return luaL_error(L, "%s: extensions must not be empty", name);
        luaL_checkstack(L, n, "too many extensions");
        for (int i = 1; i <= n; i++)
            if (lua_rawgeti(L, 3, i) != LUA_TSTRING)
                return luaL_error(L, "%s: extensions[%d] must be a string", name, i);
        exts = malloc(sizeof(char *) * (size_t)(n + 1));
        if (!exts) return luaL_error(L, "%s: out of memory", name);
        for (int i = 0; i < n; i++)
            exts[i] = lua_tostring(L, 4 + i);
        exts[n] = NULL;
    }
    sb_dataset *ds;
    sb_status s = sb_image_folder_open(name, root, exts, &ds);
    free(exts);
    sbL_check(L, s, NULL);
    push_dataset(L, ds);
    const char *const *names;
    size_t n = sb_image_folder_classes(ds, &names);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 2;
}

/* get(ds, i) -> uint8 [H, W, 3] tensor, class id: sample i (1-based) of a dataset whose
 * samples differ in size. */
static int vision_get(lua_State *L)
{
    sb_dataset *ds = sbL_check_dataset(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > ds->length)
        return luaL_error(L, "%s:get: index %I out of range 1..%I", ds->name, i,
                          (lua_Integer)ds->length);
    if (!ds->ops->get_sized) return luaL_error(L, "%s: not a dataset of images", ds->name);
    sb_sample_buf buf = {0};
    const void *target = NULL;
    sb_status s = ds->ops->get_sized(ds, (int64_t)i - 1, &buf, &target);
    sb_tensor *t = NULL;
    if (s == SB_OK) s = sb_tensor_empty(buf.spec.ndim, buf.spec.sizes, buf.spec.dtype, SB_CPU, &t);
    if (s == SB_OK) memcpy(sb_tensor_data(t), buf.data, sb_sample_spec_nbytes(&buf.spec));
    sb_sample_buf_free(&buf);
    if (s != SB_OK) {
        sb_fail_context(s, "%s:get(%lld)", ds->name, (long long)i);
        return sbL_raise(L, NULL);
    }
    sbL_push_tensor(L, t);
    int64_t v;
    memcpy(&v, target, sizeof v);
    lua_pushinteger(L, (lua_Integer)v);
    return 2;
}

/* path(ds, i) -> the file of sample i (1-based), its class id */
static int vision_path(lua_State *L)
{
    sb_dataset *ds = sbL_check_dataset(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (!sb_image_folder_check(ds)) return luaL_error(L, "%s: not an image folder", ds->name);
    if (i < 1 || i > ds->length)
        return luaL_error(L, "%s: index %I out of range 1..%I", ds->name, i,
                          (lua_Integer)ds->length);
    int64_t target;
    lua_pushstring(L, sb_image_folder_path(ds, (int64_t)i - 1, &target));
    lua_pushinteger(L, (lua_Integer)target);
    return 2;
}

/* imagenet_prepare(root, split, devkit_md5|nil, val_md5|nil) */
static int vision_imagenet_prepare(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1), *split = luaL_checkstring(L, 2);
    sbL_check(
        L, sb_imagenet_prepare(root, split, luaL_optstring(L, 3, NULL), luaL_optstring(L, 4, NULL)),
        NULL);
    return 0;
}

/* stl10(root, split) / svhn(root, split) -> dataset */
static int vision_stl10(lua_State *L)
{
    sb_dataset *ds;
    sbL_check(L, sb_stl10_open(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &ds), NULL);
    push_dataset(L, ds);
    return 1;
}

static int vision_svhn(lua_State *L)
{
    sb_dataset *ds;
    sbL_check(L, sb_svhn_open(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &ds), NULL);
    push_dataset(L, ds);
    return 1;
}

/* tar_extract(archive, dest_dir, prefix, max_bytes) -> number of files written */
static int vision_tar_extract(lua_State *L)
{
    int count = 0;
    lua_Integer max = luaL_checkinteger(L, 4);
    if (max < 1) return luaL_error(L, "tar_extract: max_bytes must be positive");
    sbL_check(L,
              sb_tar_extract(luaL_checkstring(L, 1), luaL_checkstring(L, 2), luaL_checkstring(L, 3),
                             (size_t)max, &count),
              NULL);
    lua_pushinteger(L, count);
    return 1;
}

int sbL_open_vision(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"stl10", vision_stl10},
        {"svhn", vision_svhn},
        {"tar_extract", vision_tar_extract},
        {"imagenet_prepare", vision_imagenet_prepare},
        {"image_folder", vision_image_folder},
        {"get", vision_get},
        {"path", vision_path},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
