/* The C submodules of `sbengine.core`. Each entry X(name) needs a function
 * `int sbL_open_<name>(lua_State *L)` (in engine/bindings/l_<name>.c) that pushes one table;
 * it becomes `require("sbengine.core").<name>`. Add one line per binding file. */
#ifndef SB_LUA_MODULES_H
#define SB_LUA_MODULES_H

#include <lua.h>

/* One line per module, so that additions merge cleanly. */
#define SB_LUA_MODULES(X)                                                                          \
    X(sys)                                                                                         \
    X(result)                                                                                      \
    X(net)                                                                                         \
    X(cuda)                                                                                        \
    X(tensor)                                                                                      \
    X(nn)                                                                                          \
    X(io)                                                                                          \
    X(metric)                                                                                      \
    X(data)                                                                                        \
    X(image)                                                                                       \
    X(vision)                                                                                      \
    X(finish)                                                                                      \
    X(dist)                                                                                        \
    X(sandbox)                                                                                     \
    X(eval)                                                                                        \
    X(coco_data)

#define SB_DECLARE_OPENER(name) int sbL_open_##name(lua_State *L);
SB_LUA_MODULES(SB_DECLARE_OPENER)
#undef SB_DECLARE_OPENER

#endif
