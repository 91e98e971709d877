/* sbengine.core.image: decoding and writing images (sb.image, docs/data.md#images). */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "image/image.h"

/* A new uint8 [H, W, 3] tensor holding the decoded image ([H, W] for one channel); frees the
 * image first on failure. */
static void push_image(lua_State *L, sb_image *img, const char *what)
{
    int64_t sizes[3] = {img->height, img->width, img->channels};
    sb_tensor *t;
    sb_status s = sb_tensor_empty(img->channels == 1 ? 2 : 3, sizes, SB_UINT8, SB_CPU, &t);
    if (s == SB_OK) memcpy(sb_tensor_data(t), img->data, (size_t)(sizes[0] * sizes[1] * sizes[2]));
    sb_image_free(img);
    sbL_check(L, s, what);
    sbL_push_tensor(L, t);
}

/* The mode of an options table {mode = "RGB"|"L"|"P"} at `arg` (absent or nil: RGB). */
static sb_image_mode check_mode(lua_State *L, int arg, const char *fn)
{
    if (lua_isnoneornil(L, arg)) return SB_IMAGE_RGB;
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, arg)) { /* [key, value] */
        if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "mode") != 0)
            luaL_error(L, "%s: unknown option '%s' (known: mode)", fn, luaL_tolstring(L, -2, NULL));
        lua_pop(L, 1);
    }
    lua_getfield(L, arg, "mode");
    const char *mode = lua_tostring(L, -1);
    sb_image_mode m = !mode                      ? SB_IMAGE_RGB
                      : strcmp(mode, "RGB") == 0 ? SB_IMAGE_RGB
                      : strcmp(mode, "L") == 0   ? SB_IMAGE_L
                      : strcmp(mode, "P") == 0   ? SB_IMAGE_P
                                                 : (sb_image_mode)-1;
    if ((int)m < 0 || (mode == NULL && !lua_isnil(L, -1)))
        luaL_error(L, "%s: option mode must be \"RGB\", \"L\" or \"P\", got %s", fn,
                   luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    return m;
}

/* load(path[, {mode}]) -> uint8 [H, W, 3] (RGB) or [H, W] (L, P) */
static int image_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    sb_image_mode mode = check_mode(L, 2, "image.load");
    sb_image img = {0};
    sb_status s = sb_image_load_mode(path, mode, &img);
    if (s != SB_OK) {
        sb_image_free(&img);
        sbL_check(L, s, "image.load");
    }
    push_image(L, &img, "image.load");
    return 1;
}

/* decode(bytes[, name][, {mode}]) -> as load; `name` is what errors call the bytes. */
static int image_decode(lua_State *L)
{
    size_t len;
    const char *bytes = luaL_checklstring(L, 1, &len);
    int opts = lua_istable(L, 2) ? 2 : 3;
    const char *name = opts == 2 ? "<bytes>" : luaL_optstring(L, 2, "<bytes>");
    sb_image_mode mode = check_mode(L, opts, "image.decode");
    sb_image img = {0};
    sb_status s = sb_image_decode_mode(name, (const uint8_t *)bytes, len, mode, &img);
    if (s != SB_OK) {
        sb_image_free(&img);
        sbL_check(L, s, "image.decode");
    }
    push_image(L, &img, "image.decode");
    return 1;
}

/* save_png(path, t): t is uint8 [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] on the CPU. */
static int image_save_png(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    sb_tensor *t = sbL_check_tensor(L, 2);
    if (t->dtype != SB_UINT8 || (t->ndim != 2 && t->ndim != 3) ||
        sb_tensor_device(t).kind != SB_DEVICE_CPU) {
        char shape[128];
        sb_tensor_format_shape(t, shape, sizeof shape);
        return luaL_error(L,
                          "image.save_png: expected a uint8 CPU tensor [H, W] or [H, W, C], got "
                          "%s %s",
                          sb_dtype_name(t->dtype), shape);
    }
    int channels = t->ndim == 3 ? (int)t->sizes[2] : 1;
    sb_tensor *c;
    sbL_check(L, sb_tensor_contiguous(t, &c), "image.save_png");
    sb_status s =
        sb_image_save_png(path, sb_tensor_data(c), (int)t->sizes[0], (int)t->sizes[1], channels);
    sb_tensor_free(c);
    sbL_check(L, s, NULL);
    return 0;
}

/* set_max_pixels(n) -> previous limit; n <= 0 (or false) turns the check off. */
static int image_set_max_pixels(lua_State *L)
{
    int64_t n = lua_isboolean(L, 1) && !lua_toboolean(L, 1) ? 0 : (int64_t)luaL_checkinteger(L, 1);
    lua_pushinteger(L, (lua_Integer)sb_image_set_max_pixels(n));
    return 1;
}

static int image_max_pixels(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sb_image_max_pixels());
    return 1;
}

int sbL_open_image(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"load", image_load},
        {"decode", image_decode},
        {"save_png", image_save_png},
        {"set_max_pixels", image_set_max_pixels},
        {"max_pixels", image_max_pixels},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
