--- sb.nn: neural-network modules in Lua over the C functional ops (docs/nn.md).
local Module = require "sbengine.nn.module"
local layers = require "sbengine.nn._layers"

local nn = {
  Module = Module,
  Parameter = Module.Parameter,
  functional = require "sbengine.nn.functional",
}
for name, class in pairs(layers) do nn[name] = class end
return nn
