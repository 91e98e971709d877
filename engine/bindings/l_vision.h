/* Hooks of the vision bindings (l_vision.c) used by the data bindings. */
#ifndef SB_LUA_VISION_H
#define SB_LUA_VISION_H

#include <lua.h>

#include "data/transform.h"

/* Appends the image step described by the table at `idx` ({"resize", h, w, interp,
 * max_size}, {"center_crop", h, w}, {"pad", l, t, r, b, mode, f1, f2, f3},
 * {"grayscale", n}, {"five_crop", h, w}, {"ten_crop", h, w, vflip}) to `tf`. Returns 0 when
 * `kind` is not an image step; raises on a bad step. */
int sbL_add_image_step(lua_State *L, int idx, sb_transform *tf, const char *kind);

#endif
