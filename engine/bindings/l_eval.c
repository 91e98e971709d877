/* sbengine.core.eval: the C side of sb.eval and the evaluators' meters (engine/eval/). Thin:
 * check arguments, call the core, return plain values.
 *
 *   coco_load(path[, "bbox"|"segm"]) -> CocoAnnotations (userdata), the parsed annotation
 *       file ("segm": with the annotations' masks):
 *       :has_image(id), :has_category(id), :counts() -> images, categories, annotations,
 *       :evaluate(images | nil, dets[, masks]) -> {12 numbers} (COCOeval.stats order), where
 *       dets is a flat list of 7 numbers per detection (image_id, category_id, x, y, w, h,
 *       score) and images the evaluated image ids (nil: every image); with masks (4 values per
 *       detection: height, width, counts, area or false) the masks' AP (iouType "segm");
 *       :close()
 *   coco_read_results(path[, "segm"]) -> dets (flat, as above), the number of detections[,
 *       masks (as above; counts as compressed strings)]
 *   coco_rle* (engine/bindings/l_coco_mask.c): pycocotools.mask's functions
 *   squad_load(path, version 1|2) -> SquadDataset (userdata): :count(), :find(id) -> 1-based
 *       position or nil, :evaluate({[position] = answer}[, {positions, probs, thresh}]) ->
 *       {exact, f1, total, HasAns_*, NoAns_*, missing[, best_exact, best_exact_thresh,
 *       best_f1, best_f1_thresh]} (v2.0's no-answer probabilities, in their file's order),
 *       :read_na_probs(path) -> ids, probs (a na_prob.json in its order), :close()
 *   squad_normalize(text) -> normalize_answer(text) of the SQuAD scripts
 *   bleu_add(stats, hyps, refs) -> stats: adds the statistics of each segment (hyps[i] against
 *       refs[i], a string or a list of strings) to the 10 numbers of `stats` (a list)
 *   bleu_compute(stats) -> {score, precisions = {4}, bp, sys_len, ref_len}
 *   bleu_tokenize(text) -> sacrebleu's 13a tokenization of text */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/l_coco_mask.h"
#include "bindings/l_util.h"
#include "eval/bleu.h"
#include "eval/coco.h"
#include "eval/squad.h"

#define COCO_MT "sbengine.CocoAnnotations"
#define DET_FIELDS 7

static sb_coco_gt *check_coco(lua_State *L)
{
    return sbL_check_box(L, 1, COCO_MT, "CocoAnnotations");
}

static int coco_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    static const char *const types[] = {"bbox", "segm", NULL};
    int segm = luaL_checkoption(L, 2, "bbox", types);
    void **box = sbL_new_box(L, COCO_MT);
    sb_coco_gt *gt = NULL;
    sbL_check(L, sb_coco_gt_load_ex(path, segm, &gt), "COCO annotations");
    *box = gt;
    return 1;
}

static int coco_has_image(lua_State *L)
{
    sb_coco_gt *gt = check_coco(L);
    lua_pushboolean(L, sb_coco_gt_has_image(gt, (int64_t)luaL_checkinteger(L, 2)));
    return 1;
}

static int coco_has_category(lua_State *L)
{
    sb_coco_gt *gt = check_coco(L);
    lua_pushboolean(L, sb_coco_gt_has_category(gt, (int64_t)luaL_checkinteger(L, 2)));
    return 1;
}

static int coco_counts(lua_State *L)
{
    sb_coco_gt *gt = check_coco(L);
    lua_pushinteger(L, (lua_Integer)sb_coco_gt_image_count(gt));
    lua_pushinteger(L, (lua_Integer)sb_coco_gt_category_count(gt));
    lua_pushinteger(L, (lua_Integer)sb_coco_gt_annotation_count(gt));
    return 3;
}

/* A whole number at t[i] (a float with an integral value counts). */
static int64_t whole_at(lua_State *L, int t, lua_Integer i, const char *what)
{
    lua_rawgeti(L, t, i);
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum)
        luaL_error(L, "coco: %s[%d] must be a whole number, got %s", what, (int)i,
                   luaL_typename(L, -1));
    lua_pop(L, 1);
    return (int64_t)v;
}

static double number_at(lua_State *L, int t, lua_Integer i, const char *what)
{
    lua_rawgeti(L, t, i);
    int isnum = 0;
    double v = (double)lua_tonumberx(L, -1, &isnum);
    if (!isnum)
        luaL_error(L, "coco: %s[%d] must be a number, got %s", what, (int)i, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

static int coco_evaluate(lua_State *L)
{
    sb_coco_gt *gt = check_coco(L);
    int all_images = lua_isnoneornil(L, 2);
    if (!all_images) luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer n_images = all_images ? 0 : (lua_Integer)lua_rawlen(L, 2);
    lua_Integer n_values = (lua_Integer)lua_rawlen(L, 3);
    if (n_values % DET_FIELDS != 0)
        return luaL_error(L,
                          "coco: detections must be %d numbers each (image_id, category_id, x, "
                          "y, w, h, score), got %d numbers",
                          DET_FIELDS, (int)n_values);
    size_t n_dets = (size_t)(n_values / DET_FIELDS);
    /* Lua owns the buffers: nothing leaks when an argument check raises. */
    int64_t *images = lua_newuserdatauv(L, (size_t)(n_images ? n_images : 1) * sizeof(int64_t), 0);
    sb_coco_det *dets = lua_newuserdatauv(L, (n_dets ? n_dets : 1) * sizeof(sb_coco_det), 0);
    memset(dets, 0, (n_dets ? n_dets : 1) * sizeof(sb_coco_det));
    int segm = !lua_isnoneornil(L, 4);
    if (segm) {
        luaL_checktype(L, 4, LUA_TTABLE);
        sbL_coco_masks(L, 4, dets, n_dets);
    }
    for (lua_Integer i = 0; i < n_images; i++)
        images[i] = whole_at(L, 2, i + 1, "images");
    for (size_t d = 0; d < n_dets; d++) {
        lua_Integer at = (lua_Integer)d * DET_FIELDS;
        dets[d].image_id = whole_at(L, 3, at + 1, "detections");
        dets[d].category_id = whole_at(L, 3, at + 2, "detections");
        for (int k = 0; k < 4; k++)
            dets[d].bbox[k] = number_at(L, 3, at + 3 + k, "detections");
        dets[d].score = number_at(L, 3, at + 7, "detections");
    }
    double stats[SB_COCO_STATS];
    if (segm)
        sbL_check(L,
                  sb_coco_evaluate_segm(gt, all_images ? NULL : images, (size_t)n_images, dets,
                                        n_dets, stats),
                  "coco_segmentation");
    else
        sbL_check(
            L,
            sb_coco_evaluate(gt, all_images ? NULL : images, (size_t)n_images, dets, n_dets, stats),
            "coco_detection");
    lua_createtable(L, SB_COCO_STATS, 0);
    for (int i = 0; i < SB_COCO_STATS; i++) {
        lua_pushnumber(L, stats[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int coco_close(lua_State *L)
{
    sb_coco_gt_free(sbL_take_box(L, 1, COCO_MT));
    return 0;
}

static int coco_read_results(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    static const char *const types[] = {"bbox", "segm", NULL};
    int segm = luaL_checkoption(L, 2, "bbox", types);
    sb_coco_det *dets = NULL;
    size_t n = 0;
    sbL_check(L,
              segm ? sb_coco_dets_load_segm(path, &dets, &n) : sb_coco_dets_load(path, &dets, &n),
              "COCO results");
    if (!lua_checkstack(L, 8)) {
        sb_coco_dets_free(dets, n);
        return luaL_error(L, "coco: out of Lua stack");
    }
    lua_createtable(L, (int)(n * DET_FIELDS < 0x7fffffff ? n * DET_FIELDS : 0), 0);
    for (size_t d = 0; d < n; d++) {
        lua_Integer at = (lua_Integer)d * DET_FIELDS;
        lua_pushinteger(L, (lua_Integer)dets[d].image_id);
        lua_rawseti(L, -2, at + 1);
        lua_pushinteger(L, (lua_Integer)dets[d].category_id);
        lua_rawseti(L, -2, at + 2);
        for (int k = 0; k < 4; k++) {
            lua_pushnumber(L, dets[d].bbox[k]);
            lua_rawseti(L, -2, at + 3 + k);
        }
        lua_pushnumber(L, dets[d].score);
        lua_rawseti(L, -2, at + 7);
    }
    lua_pushinteger(L, (lua_Integer)n);
    if (!segm) {
        free(dets);
        return 2;
    }
    lua_createtable(L, (int)(n * 4 < 0x7fffffff ? n * 4 : 0), 0);
    for (size_t d = 0; d < n; d++) {
        lua_Integer at = (lua_Integer)d * 4;
        char *counts = NULL;
        if (sb_rle_to_string(dets[d].mask, &counts) != SB_OK) {
            sb_coco_dets_free(dets, n);
            return sbL_raise(L, "COCO results");
        }
        lua_pushinteger(L, dets[d].mask->h);
        lua_rawseti(L, -2, at + 1);
        lua_pushinteger(L, dets[d].mask->w);
        lua_rawseti(L, -2, at + 2);
        lua_pushstring(L, counts);
        free(counts);
        lua_rawseti(L, -2, at + 3);
        lua_pushnumber(L, dets[d].area);
        lua_rawseti(L, -2, at + 4);
    }
    sb_coco_dets_free(dets, n);
    return 3;
}

#define SQUAD_MT "sbengine.SquadDataset"

static sb_squad *check_squad(lua_State *L)
{
    return sbL_check_box(L, 1, SQUAD_MT, "SquadDataset");
}

static int squad_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int version = (int)luaL_checkinteger(L, 2);
    void **box = sbL_new_box(L, SQUAD_MT);
    sb_squad *s = NULL;
    sbL_check(L, sb_squad_load(path, version, &s), "SQuAD data");
    *box = s;
    return 1;
}

static int squad_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sb_squad_count(check_squad(L)));
    return 1;
}

static int squad_find(lua_State *L)
{
    long i = sb_squad_find(check_squad(L), luaL_checkstring(L, 2));
    if (i < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)i + 1);
    return 1;
}

static void set_number(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_integer(lua_State *L, const char *k, int64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static int squad_evaluate(lua_State *L)
{
    sb_squad *s = check_squad(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = sb_squad_count(s);
    /* Lua owns the array; the strings stay in the answers table during the call */
    const char **answers = lua_newuserdatauv(L, (n ? n : 1) * sizeof *answers, 0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        if (lua_isnil(L, -1)) {
            answers[i] = NULL;
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            answers[i] = lua_tostring(L, -1);
        } else {
            return luaL_error(L, "squad: the answer to %s must be a string, got %s",
                              sb_squad_id(s, i), luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    sb_squad_scores r;
    if (lua_isnoneornil(L, 3)) {
        sbL_check(L, sb_squad_evaluate(s, answers, &r), "squad");
    } else { /* {positions = {1-based}, probs = {...}, thresh = x} */
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "positions");
        lua_getfield(L, 3, "probs");
        lua_getfield(L, 3, "thresh"); /* [..., positions, probs, thresh] */
        if (!lua_istable(L, -3) || !lua_istable(L, -2) || !lua_isnumber(L, -1) ||
            lua_rawlen(L, -3) != lua_rawlen(L, -2))
            return luaL_error(L, "squad: no-answer probabilities must be {positions = list, "
                                 "probs = list of as many numbers, thresh = number}");
        size_t n_na = lua_rawlen(L, -3);
        size_t *positions = lua_newuserdatauv(L, (n_na ? n_na : 1) * sizeof *positions, 0);
        double *probs = lua_newuserdatauv(L, (n_na ? n_na : 1) * sizeof *probs, 0);
        /* [..., positions, probs, thresh, pos_ud, probs_ud] */
        for (size_t k = 0; k < n_na; k++) {
            lua_rawgeti(L, -5, (lua_Integer)k + 1);
            lua_rawgeti(L, -5, (lua_Integer)k + 1);
            lua_Integer pos = lua_tointeger(L, -2);
            if (!lua_isinteger(L, -2) || pos < 1 || (size_t)pos > n || !lua_isnumber(L, -1))
                return luaL_error(L,
                                  "squad: no-answer probability %d: expected a question "
                                  "position and a number",
                                  (int)k + 1);
            positions[k] = (size_t)pos - 1;
            probs[k] = lua_tonumber(L, -1);
            lua_pop(L, 2);
        }
        sb_squad_na na = {positions, probs, n_na, lua_tonumber(L, -3)};
        sbL_check(L, sb_squad_evaluate_na(s, answers, &na, &r), "squad");
    }
    lua_createtable(L, 0, 14);
    set_number(L, "exact", r.exact);
    set_number(L, "f1", r.f1);
    set_integer(L, "total", r.total);
    set_integer(L, "missing", r.missing);
    if (r.has_ans_total) {
        set_number(L, "HasAns_exact", r.has_ans_exact);
        set_number(L, "HasAns_f1", r.has_ans_f1);
        set_integer(L, "HasAns_total", r.has_ans_total);
    }
    if (r.no_ans_total) {
        set_number(L, "NoAns_exact", r.no_ans_exact);
        set_number(L, "NoAns_f1", r.no_ans_f1);
        set_integer(L, "NoAns_total", r.no_ans_total);
    }
    if (r.has_best) {
        set_number(L, "best_exact", r.best_exact);
        set_number(L, "best_exact_thresh", r.best_exact_thresh);
        set_number(L, "best_f1", r.best_f1);
        set_number(L, "best_f1_thresh", r.best_f1_thresh);
    }
    return 1;
}

static int squad_read_na_probs(lua_State *L)
{
    sb_squad *s = check_squad(L);
    const char *path = luaL_checkstring(L, 2);
    size_t *positions = NULL, n = 0;
    double *probs = NULL;
    sbL_check(L, sb_squad_read_na_probs(s, path, &positions, &probs, &n), NULL);
    lua_createtable(L, (int)n, 0);
    lua_createtable(L, (int)n, 0); /* [ids, probs] */
    for (size_t k = 0; k < n; k++) {
        lua_pushstring(L, sb_squad_id(s, positions[k]));
        lua_rawseti(L, -3, (lua_Integer)k + 1);
        lua_pushnumber(L, probs[k]);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    free(positions);
    free(probs);
    return 2;
}

static int squad_close(lua_State *L)
{
    sb_squad_free(sbL_take_box(L, 1, SQUAD_MT));
    return 0;
}

/* A text operation of the core (text -> text in a buffer) as a Lua function of one string. */
static int push_text_op(lua_State *L, sb_status (*op)(const char *, size_t, sb_buf *),
                        const char *what)
{
    size_t len = 0;
    const char *text = luaL_checklstring(L, 1, &len);
    sb_buf out = {0};
    sb_status st = op(text, len, &out);
    if (st != SB_OK) {
        sb_buf_free(&out);
        sbL_check(L, st, what);
    }
    lua_pushlstring(L, out.len ? out.data : "", out.len);
    sb_buf_free(&out);
    return 1;
}

static int squad_normalize(lua_State *L)
{
    return push_text_op(L, sb_squad_normalize, "squad normalize");
}

/* The 10 statistics of the list at index 1. */
static void read_stats(lua_State *L, int64_t stats[SB_BLEU_STATS])
{
    for (int k = 0; k < SB_BLEU_STATS; k++) {
        lua_rawgeti(L, 1, k + 1);
        stats[k] = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
}

static int bleu_add(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    int64_t stats[SB_BLEU_STATS];
    read_stats(L, stats);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    if ((lua_Integer)lua_rawlen(L, 3) != n)
        return luaL_error(L,
                          "bleu: %d hypotheses and %d references; expected one reference (or "
                          "a list of them) per hypothesis",
                          (int)n, (int)lua_rawlen(L, 3));
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i); /* [.., hyp] */
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "bleu: hypothesis %d must be a string, got %s", (int)i,
                              luaL_typename(L, -1));
        const char *hyp = lua_tostring(L, -1);
        lua_rawgeti(L, 3, i); /* [.., hyp, ref(s)] */
        size_t nr = lua_type(L, -1) == LUA_TTABLE ? lua_rawlen(L, -1) : 1;
        if (lua_type(L, -1) != LUA_TTABLE && lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "bleu: reference %d must be a string or a list of strings, got %s",
                              (int)i, luaL_typename(L, -1));
        if (nr < 1 || nr > 64)
            return luaL_error(L, "bleu: segment %d has %d references; expected 1 to 64", (int)i,
                              (int)nr);
        const char *refs[64];
        if (lua_type(L, -1) == LUA_TSTRING) {
            refs[0] = lua_tostring(L, -1);
        } else {
            for (size_t r = 0; r < nr; r++) {
                lua_rawgeti(L, -1, (lua_Integer)r + 1);
                if (lua_type(L, -1) != LUA_TSTRING)
                    return luaL_error(L, "bleu: reference %d of segment %d must be a string",
                                      (int)r + 1, (int)i);
                refs[r] = lua_tostring(L, -1); /* kept alive by the references table */
                lua_pop(L, 1);
            }
        }
        sbL_check(L, sb_bleu_add_segment(hyp, refs, nr, stats), "bleu");
        lua_pop(L, 2);
    }
    lua_createtable(L, SB_BLEU_STATS, 0);
    for (int k = 0; k < SB_BLEU_STATS; k++) {
        lua_pushinteger(L, (lua_Integer)stats[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

static int bleu_compute(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t stats[SB_BLEU_STATS];
    read_stats(L, stats);
    sb_bleu_score r;
    sb_bleu_compute(stats, &r);
    lua_createtable(L, 0, 5);
    set_number(L, "score", r.score);
    set_number(L, "bp", r.bp);
    set_integer(L, "sys_len", r.sys_len);
    set_integer(L, "ref_len", r.ref_len);
    lua_createtable(L, SB_BLEU_ORDER, 0);
    for (int k = 0; k < SB_BLEU_ORDER; k++) {
        lua_pushnumber(L, r.precisions[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "precisions");
    return 1;
}

static int bleu_tokenize(lua_State *L)
{
    return push_text_op(L, sb_bleu_tokenize_13a, "bleu tokenize");
}

int sbL_open_eval(lua_State *L)
{
    static const luaL_Reg coco_methods[] = {
        {"has_image", coco_has_image}, {"has_category", coco_has_category},
        {"counts", coco_counts},       {"evaluate", coco_evaluate},
        {"close", coco_close},         {NULL, NULL},
    };
    static const luaL_Reg coco_meta[] = {
        {"__gc", coco_close}, {"__close", coco_close}, {NULL, NULL}};
    sbL_new_class(L, COCO_MT, coco_methods, coco_meta);
    static const luaL_Reg squad_methods[] = {
        {"count", squad_count},       {"find", squad_find},
        {"evaluate", squad_evaluate}, {"read_na_probs", squad_read_na_probs},
        {"close", squad_close},       {NULL, NULL},
    };
    static const luaL_Reg squad_meta[] = {
        {"__gc", squad_close}, {"__close", squad_close}, {NULL, NULL}};
    sbL_new_class(L, SQUAD_MT, squad_methods, squad_meta);
    static const luaL_Reg funcs[] = {
        {"coco_load", coco_load},         {"coco_read_results", coco_read_results},
        {"squad_load", squad_load},       {"squad_normalize", squad_normalize},
        {"bleu_add", bleu_add},           {"bleu_compute", bleu_compute},
        {"bleu_tokenize", bleu_tokenize}, {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    sbL_coco_mask_open(L);
    return 1;
}
