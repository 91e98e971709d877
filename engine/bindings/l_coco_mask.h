/* COCO masks in sbengine.core.eval (engine/bindings/l_coco_mask.c). */
#ifndef SB_LUA_COCO_MASK_H
#define SB_LUA_COCO_MASK_H

#include <lua.h>
#include <stddef.h>

#include "eval/coco.h"

/* Adds the coco_rle* functions to the table on top of the stack. */
void sbL_coco_mask_open(lua_State *L);
/* Reads the list at `idx` (4 values per detection: height, width, counts, area or false) into
 * dets[i].mask and .area; the masks live in a userdatum left on the stack. Raises on bad input. */
void sbL_coco_masks(lua_State *L, int idx, sb_coco_det *dets, size_t n);

#endif
