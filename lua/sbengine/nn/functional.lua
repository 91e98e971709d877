--- sb.nn.functional: the C functional ops (engine/bindings/l_nn.c), documented in docs/nn.md.
return require("sbengine.core").nn
