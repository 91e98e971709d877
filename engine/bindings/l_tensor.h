/* The tensor userdata, shared by every binding that takes or returns tensors
 * (nn functional ops, data loaders, metrics, safetensors). Implemented in l_tensor.c. */
#ifndef SB_LUA_TENSOR_H
#define SB_LUA_TENSOR_H

#include <lua.h>

#include "tensor/tensor.h"

#define SB_TENSOR_MT "sbengine.Tensor"

/* The tensor at `idx`; raises "bad argument #idx (tensor expected, got X)" or
 * "tensor was freed" when it is not a live tensor. */
sb_tensor *sbL_check_tensor(lua_State *L, int idx);
/* The tensor at `idx`, or NULL when the value is not a live tensor. */
sb_tensor *sbL_test_tensor(lua_State *L, int idx);
/* Pushes a new userdata that takes ownership of `t` (freed by __gc / t:free()). */
void sbL_push_tensor(lua_State *L, sb_tensor *t);

#endif
