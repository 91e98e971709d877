/* Internal to the tensor module's binding files: l_tensor.c (the userdata, facts, element
 * access, settings; the argument helpers below), l_tensor_create.c (construction),
 * l_tensor_views.c (views, copies, conversions) and l_tensor_math.c (the op families of
 * tensor/op_tables.h, matmul, topk). */
#ifndef SB_LUA_TENSOR_INTERNAL_H
#define SB_LUA_TENSOR_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>

#include "tensor/tensor.h"

/* Pushes *t, the result of a core call, or raises with `op` (core functions leave *out
 * untouched on failure, so nothing is held). A pointer because C leaves the order of
 * argument evaluation open: `sbL_tensor_result(L, f(&v), &v, op)` reads v after f ran. */
int sbL_tensor_result(lua_State *L, sb_status st, sb_tensor **t, const char *op);

/* The integer at `arg`, or "op: what must be an integer, got ...". */
lua_Integer sbL_check_integer(lua_State *L, int arg, const char *op, const char *what);
/* A Lua dim (1-based; -1 is the last) of a tensor with `ndim` dims -> 0-based. */
int sbL_tensor_dim(lua_State *L, const sb_tensor *t, lua_Integer d, int ndim, const char *op);
/* The dim at `arg` of t -> 0-based. */
int sbL_tensor_dim_arg(lua_State *L, const sb_tensor *t, int arg, const char *op);
/* A Lua position (1-based; negative from the end) along a dim of `size` -> 0-based. */
int64_t sbL_tensor_index(lua_State *L, lua_Integer i, int64_t size, int dim0, const char *op);
/* A shape given as numbers from `first` or one table at `first`. Returns the index after
 * the shape (where an options table may be). An empty table is a 0-D shape. */
int sbL_parse_shape(lua_State *L, int first, int *ndim, int64_t *sizes, const char *op);
/* A dtype name such as "float32"; raises naming `op` otherwise. */
sb_dtype sbL_dtype_arg(lua_State *L, const char *name, const char *op);
/* {dtype=, device=} at idx (none/nil = keep the defaults passed in). */
void sbL_parse_tensor_options(lua_State *L, int idx, sb_dtype *dtype, sb_device *device,
                              const char *op);

/* The module functions and methods of each file, registered by sbL_open_tensor. */
extern const luaL_Reg sbL_tensor_create_funcs[];
extern const luaL_Reg sbL_tensor_view_methods[];
extern const luaL_Reg sbL_tensor_math_methods[];
extern const luaL_Reg sbL_tensor_math_metamethods[];

#endif
