/* The nn activations, one X-macro row each: the single place where an activation is
 * listed. From the rows come the sb_nn_activation enum (nn/backend.h), the names in
 * messages, the CPU kernel table (nn/cpu/pointwise.c: act_<kernel>), the CUDA kernel switch
 * (engine/cuda/nn_backend.cu: act_<kernel>) and the Lua functions of sb.nn.functional
 * (engine/bindings/l_nn.c). docs/architecture.md lists what else a new one needs.
 *
 * X(ENUM, kernel, name, binding)
 *   ENUM     SB_ACT_<ENUM>
 *   kernel   the stem of the kernels' names (a bare token, never expanded)
 *   name     the Lua function and the name in messages
 *   binding  PLAIN: l_nn.c generates name(x); OWN: its Lua function is written by hand
 *            (gelu's approximate= option picks GELU or GELU_TANH) */
#ifndef SB_NN_OP_TABLE_H
#define SB_NN_OP_TABLE_H

#define SB_NN_ACTIVATIONS(X)                                                                       \
    X(RELU, relu, "relu", PLAIN)                                                                   \
    X(GELU, gelu, "gelu", OWN)           /* 0.5 x (1 + erf(x / sqrt 2)), PyTorch's default */      \
    X(GELU_TANH, gelu_tanh, "gelu", OWN) /* PyTorch's approximate="tanh" */                        \
    X(SIGMOID, sigmoid, "sigmoid", PLAIN)                                                          \
    X(TANH, tanh, "tanh", PLAIN)

#define SB_X_ACT_ENUM(E, kernel, name, binding) SB_ACT_##E,
#define SB_X_ACT_NAME(E, kernel, name, binding) name,

#endif
