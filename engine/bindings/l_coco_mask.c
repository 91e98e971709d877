/* sbengine.core.eval's COCO mask functions (engine/eval/coco_mask.h), pycocotools.mask's
 * counterparts for the tests and the coco_segmentation meter. An RLE here is a table
 * {h, w, counts} where counts is a compressed string or a list of run lengths.
 *
 *   coco_rle(segm_json, h, w) -> {size = {h, w}, counts = string, area, bbox = {4}}: COCO's
 *       annToRLE of a "segmentation" given as JSON text (h, w: the image's size, needed by
 *       polygons), with maskUtils.area and toBbox of the result
 *   coco_rle_encode(h, w, bytes) -> counts string (bytes: h * w, column-major, nonzero = in)
 *   coco_rle_decode(rle) -> bytes (h * w of 0 / 1, column-major)
 *   coco_rle_merge({rle...}, intersect) -> {h, w, counts}
 *   coco_rle_iou({rle...} dts, {rle...} gts, {0|1...} iscrowd) -> {{iou of dt 1 per gt}, ...}
 *   coco_rle_from_masks(masks, threshold) -> {counts...}, h, w: each of the K masks of a
 *       (K, H, W) or (K, 1, H, W) tensor (torchvision's Mask R-CNN output) taken where it is
 *       > threshold and encoded, as torchvision's CocoEvaluator does
 * and, for l_eval.c, sbL_coco_masks: the masks of a detection list. */
#include "bindings/l_coco_mask.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_tensor.h"
#include "bindings/l_util.h"

#define MASKS_MT "sbengine.CocoMasks"

typedef struct masks {
    size_t n;
    sb_rle rles[];
} masks;

static int masks_gc(lua_State *L)
{
    masks *m = luaL_checkudata(L, 1, MASKS_MT);
    for (size_t i = 0; i < m->n; i++)
        sb_rle_free(&m->rles[i]);
    m->n = 0;
    return 0;
}

/* n empty RLEs owned by a userdatum pushed on the stack (freed by the collector, so nothing
 * leaks when an argument check raises). */
static sb_rle *new_rles(lua_State *L, size_t n)
{
    masks *m = lua_newuserdatauv(L, sizeof *m + (n ? n : 1) * sizeof(sb_rle), 0);
    m->n = 0;
    memset(m->rles, 0, (n ? n : 1) * sizeof(sb_rle));
    luaL_setmetatable(L, MASKS_MT);
    m->n = n;
    return m->rles;
}

static uint32_t dim_at(lua_State *L, int t, lua_Integer i, const char *what)
{
    lua_rawgeti(L, t, i);
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 0 || v > (lua_Integer)UINT32_MAX)
        luaL_error(L, "%s: height and width must be whole numbers >= 0, got %s", what,
                   luaL_typename(L, -1));
    lua_pop(L, 1);
    return (uint32_t)v;
}

/* The RLE h, w, counts at t[at], t[at + 1], t[at + 2] into *out (raises on a bad one). */
static void read_rle(lua_State *L, int t, lua_Integer at, const char *what, sb_rle *out)
{
    uint32_t h = dim_at(L, t, at, what), w = dim_at(L, t, at + 1, what);
    lua_rawgeti(L, t, at + 2);
    sb_status st;
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        st = sb_rle_from_string(s, len, h, w, what, out);
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        size_t m = (size_t)lua_rawlen(L, -1);
        uint32_t *cnts = lua_newuserdatauv(L, (m ? m : 1) * sizeof *cnts, 0);
        for (size_t i = 0; i < m; i++) {
            lua_rawgeti(L, -2, (lua_Integer)i + 1);
            int ok = 0;
            lua_Integer c = lua_tointegerx(L, -1, &ok);
            if (!ok || c < 0 || c > (lua_Integer)UINT32_MAX)
                luaL_error(L, "%s: RLE counts[%d] must be a whole number >= 0", what, (int)i + 1);
            cnts[i] = (uint32_t)c;
            lua_pop(L, 1);
        }
        st = sb_rle_from_counts(cnts, m, h, w, what, out);
        lua_pop(L, 1);
    } else {
        return (void)luaL_error(L, "%s: RLE counts must be a string or a list, got %s", what,
                                luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    sbL_check(L, st, NULL);
}

/* A list of RLE tables {h, w, counts} (or {size = {h, w}, counts = }) -> RLEs. */
static sb_rle *read_rle_list(lua_State *L, int idx, const char *what, size_t *n)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    *n = (size_t)lua_rawlen(L, idx);
    sb_rle *r = new_rles(L, *n);
    int list = lua_gettop(L);
    for (size_t i = 0; i < *n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (!lua_istable(L, -1))
            luaL_error(L, "%s[%d] must be an RLE {h, w, counts}", what, (int)i + 1);
        lua_createtable(L, 3, 0);
        if (lua_getfield(L, -2, "size") == LUA_TTABLE) {
            lua_rawgeti(L, -1, 1);
            lua_rawseti(L, -3, 1);
            lua_rawgeti(L, -1, 2);
            lua_rawseti(L, -3, 2);
            lua_pop(L, 1);
            lua_getfield(L, -2, "counts");
            lua_rawseti(L, -2, 3);
        } else {
            lua_pop(L, 1);
            for (int k = 1; k <= 3; k++) {
                lua_rawgeti(L, -2, k);
                lua_rawseti(L, -2, k);
            }
        }
        read_rle(L, lua_gettop(L), 1, what, &r[i]);
        lua_pop(L, 2);
    }
    (void)list;
    return r;
}

static void push_rle(lua_State *L, const sb_rle *r)
{
    char *s = NULL;
    sbL_check(L, sb_rle_to_string(r, &s), "coco mask");
    lua_createtable(L, 3, 0);
    lua_pushinteger(L, r->h);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, r->w);
    lua_rawseti(L, -2, 2);
    lua_pushstring(L, s);
    free(s);
    lua_rawseti(L, -2, 3);
}

static int l_coco_rle(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    int has_size = !lua_isnoneornil(L, 2);
    uint32_t h = has_size ? (uint32_t)luaL_checkinteger(L, 2) : 0;
    uint32_t w = has_size ? (uint32_t)luaL_checkinteger(L, 3) : 0;
    const sb_jansson_api *J = sb_jansson();
    if (!J) return sbL_raise(L, "coco_rle");
    json_t *segm = J->loadb(text, len, 0x4 /* JSON_DECODE_ANY */, NULL);
    if (!segm) return luaL_error(L, "coco_rle: not valid JSON");
    sb_rle *r = new_rles(L, 1);
    sb_status st = sb_coco_segm_from_json(segm, has_size, h, w, "segmentation", r);
    sb_jstream_free(segm);
    sbL_check(L, st, NULL);
    char *s = NULL;
    sbL_check(L, sb_rle_to_string(r, &s), "coco_rle");
    lua_createtable(L, 0, 4);
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, r->h);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, r->w);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, "size");
    lua_pushstring(L, s);
    free(s);
    lua_setfield(L, -2, "counts");
    lua_pushinteger(L, sb_rle_area(r));
    lua_setfield(L, -2, "area");
    double bb[4];
    sb_rle_to_bbox(r, bb);
    lua_createtable(L, 4, 0);
    for (int k = 0; k < 4; k++) {
        lua_pushnumber(L, bb[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "bbox");
    return 1;
}

static int l_coco_rle_encode(lua_State *L)
{
    uint32_t h = (uint32_t)luaL_checkinteger(L, 1), w = (uint32_t)luaL_checkinteger(L, 2);
    size_t len;
    const char *bytes = luaL_checklstring(L, 3, &len);
    if (len != (size_t)h * w)
        return luaL_error(L, "coco_rle_encode: %d x %d mask needs %d bytes, got %d", (int)h, (int)w,
                          (int)((size_t)h * w), (int)len);
    sb_rle *r = new_rles(L, 1);
    sbL_check(L, sb_rle_encode((const uint8_t *)bytes, h, w, r), NULL);
    char *s = NULL;
    sbL_check(L, sb_rle_to_string(r, &s), "coco_rle_encode");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int l_coco_rle_decode(lua_State *L)
{
    lua_settop(L, 1);
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    size_t n;
    sb_rle *r = read_rle_list(L, 2, "coco_rle_decode", &n);
    size_t a = (size_t)r->h * r->w;
    uint8_t *bytes = lua_newuserdatauv(L, a ? a : 1, 0);
    sb_rle_decode(r, bytes);
    lua_pushlstring(L, (const char *)bytes, a);
    return 1;
}

static int l_coco_rle_merge(lua_State *L)
{
    size_t n;
    sb_rle *r = read_rle_list(L, 1, "coco_rle_merge", &n);
    sb_rle *out = new_rles(L, 1);
    sbL_check(L, sb_rle_merge(r, n, lua_toboolean(L, 2), out), "coco_rle_merge");
    push_rle(L, out);
    return 1;
}

static int l_coco_rle_iou(lua_State *L)
{
    size_t m, n;
    sb_rle *dt = read_rle_list(L, 1, "coco_rle_iou: dts", &m);
    sb_rle *gt = read_rle_list(L, 2, "coco_rle_iou: gts", &n);
    luaL_checktype(L, 3, LUA_TTABLE);
    uint8_t *crowd = lua_newuserdatauv(L, n ? n : 1, 0);
    for (size_t g = 0; g < n; g++) {
        lua_rawgeti(L, 3, (lua_Integer)g + 1);
        crowd[g] = lua_tointeger(L, -1) != 0;
        lua_pop(L, 1);
    }
    double *o = lua_newuserdatauv(L, (m ? m : 1) * (n ? n : 1) * sizeof *o, 0);
    sbL_check(L, sb_rle_iou(dt, m, gt, n, crowd, o), "coco_rle_iou");
    lua_createtable(L, (int)m, 0);
    for (size_t d = 0; d < m; d++) {
        lua_createtable(L, (int)n, 0);
        for (size_t g = 0; g < n; g++) {
            lua_pushnumber(L, o[g * m + d]);
            lua_rawseti(L, -2, (lua_Integer)g + 1);
        }
        lua_rawseti(L, -2, (lua_Integer)d + 1);
    }
    return 1;
}

/* The K masks of `t` (K, H, W) or (K, 1, H, W) > thr, encoded; NULL-terminated malloc()ed
 * strings in out[K]. */
static sb_status encode_masks(const sb_tensor *t, double thr, int64_t K, int64_t H, int64_t W,
                              char **out)
{
    sb_tensor *cpu = NULL, *dbl = NULL;
    SB_TRY(sb_tensor_to_device(t, SB_CPU, &cpu));
    sb_status st = sb_tensor_to_dtype(cpu, SB_FLOAT64, &dbl);
    sb_tensor_free(cpu);
    if (st != SB_OK) return st;
    sb_tensor *c = NULL;
    st = sb_tensor_contiguous(dbl, &c);
    sb_tensor_free(dbl);
    if (st != SB_OK) return st;
    const double *data = sb_tensor_data(c);
    size_t a = (size_t)H * (size_t)W;
    uint8_t *mask = malloc(a ? a : 1);
    if (!mask) st = sb_fail(SB_ENOMEM, "coco_rle_from_masks: out of memory");
    for (int64_t k = 0; k < K && st == SB_OK; k++) {
        const double *m = data + (size_t)k * a;
        for (int64_t y = 0; y < H; y++) /* column-major, as np.array(..., order="F") */
            for (int64_t x = 0; x < W; x++)
                mask[(size_t)x * (size_t)H + (size_t)y] =
                    m[(size_t)y * (size_t)W + (size_t)x] > thr;
        sb_rle r = {0};
        st = sb_rle_encode(mask, (uint32_t)H, (uint32_t)W, &r);
        if (st == SB_OK) st = sb_rle_to_string(&r, &out[k]);
        sb_rle_free(&r);
    }
    free(mask);
    sb_tensor_free(c);
    return st;
}

static int l_coco_rle_from_masks(lua_State *L)
{
    sb_tensor *t = sbL_check_tensor(L, 1);
    double thr = luaL_optnumber(L, 2, 0.5);
    int nd = t->ndim;
    if (!(nd == 3 || (nd == 4 && t->sizes[1] == 1)))
        return luaL_error(L, "coco: masks must be a (K, H, W) or (K, 1, H, W) tensor, got %s",
                          sb_tensor_shape_text(t).s);
    int64_t K = t->sizes[0], H = t->sizes[nd - 2], W = t->sizes[nd - 1];
    if (H > (int64_t)UINT32_MAX || W > (int64_t)UINT32_MAX)
        return luaL_error(L, "coco: masks of %s are too large", sb_tensor_shape_text(t).s);
    char **out = lua_newuserdatauv(L, (size_t)(K ? K : 1) * sizeof *out, 0);
    memset(out, 0, (size_t)(K ? K : 1) * sizeof *out);
    sb_status st = encode_masks(t, thr, K, H, W, out);
    if (st == SB_OK) lua_createtable(L, (int)K, 0);
    for (int64_t k = 0; k < K; k++) {
        if (st == SB_OK) {
            lua_pushstring(L, out[k]);
            lua_rawseti(L, -2, (lua_Integer)k + 1);
        }
        free(out[k]);
    }
    sbL_check(L, st, "coco masks");
    lua_pushinteger(L, (lua_Integer)H);
    lua_pushinteger(L, (lua_Integer)W);
    return 3;
}

void sbL_coco_masks(lua_State *L, int idx, sb_coco_det *dets, size_t n)
{
    if ((size_t)lua_rawlen(L, idx) != n * 4)
        luaL_error(L,
                   "coco: masks must be 4 values per detection (height, width, counts, area or "
                   "false), got %d values for %d detections",
                   (int)lua_rawlen(L, idx), (int)n);
    sb_rle *r = new_rles(L, n);
    char what[64];
    for (size_t i = 0; i < n; i++) {
        lua_Integer at = (lua_Integer)i * 4;
        snprintf(what, sizeof what, "coco: detection %d", (int)i + 1);
        read_rle(L, idx, at + 1, what, &r[i]);
        dets[i].mask = &r[i];
        lua_rawgeti(L, idx, at + 4);
        if (lua_type(L, -1) == LUA_TNUMBER)
            dets[i].area = lua_tonumber(L, -1);
        else if (lua_toboolean(L, -1))
            luaL_error(L, "%s: area must be a number or false", what);
        else
            dets[i].area = (double)sb_rle_area(&r[i]);
        lua_pop(L, 1);
    }
}

void sbL_coco_mask_open(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", masks_gc}, {NULL, NULL}};
    sbL_new_class(L, MASKS_MT, NULL, meta);
    static const luaL_Reg funcs[] = {
        {"coco_rle", l_coco_rle},
        {"coco_rle_encode", l_coco_rle_encode},
        {"coco_rle_decode", l_coco_rle_decode},
        {"coco_rle_merge", l_coco_rle_merge},
        {"coco_rle_iou", l_coco_rle_iou},
        {"coco_rle_from_masks", l_coco_rle_from_masks},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
}
