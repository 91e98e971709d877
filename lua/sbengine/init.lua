--- sbengine: the public Lua API (DESIGN.md §3).
--
--   local sb = require "sbengine"     -- also preloaded as the global `sb` by the CLI
--
-- This file assembles the public modules; each lives in its own file under
-- lua/sbengine/ and reaches C only through `sbengine.core`.
local core = require "sbengine.core"

local sb = {}

sb.version = core.sys.version() -- not build_info(): that loads the CUDA plugin
sb.session = require "sbengine.session"
sb.results = require "sbengine.results"
sb.BenchmarkResult = sb.results.BenchmarkResult
sb.cuda = core.cuda
require("sbengine.tensor").install(sb) -- sb.tensor, sb.zeros, ... (docs/tensor.md)

-- The other public modules load on first use (`sb.nn` requires "sbengine.nn" the first
-- time it is read): `sbengine -e ''` must start in a few milliseconds, and a script that
-- never touches the data loaders should not pay for compiling them.
local lazy_modules = {
  metrics = "sbengine.metrics",
  nn = "sbengine.nn", -- modules and sb.nn.functional (docs/nn.md)
  io = "sbengine.io", -- safetensors, PyTorch checkpoints (docs/nn.md)
  models = "sbengine.models", -- torchvision's architectures (docs/models.md)
  data = "sbengine.data",
  transforms = "sbengine.transforms",
  image = "sbengine.image", -- decoding, save_png (docs/data.md)
  progress = "sbengine.progress",
  utils = "sbengine.utils",
  bench = "sbengine.bench",
  dist = "sbengine.dist", -- the ranks of an MPI job (docs/distributed.md)
  eval = "sbengine.eval", -- evaluators for predictions: COCO, SQuAD, WMT, WikiText (docs/evaluators.md)
}
setmetatable(sb, {
  __index = function(t, key)
    local name = lazy_modules[key]
    if name == nil then return nil end
    local module = require(name)
    rawset(t, key, module)
    return module
  end,
})

-- In a source checkout, benchmark definitions live in <repo>/benchmarks/ while the
-- installed layout puts them in <lua dir>/sbengine/benchmarks/. This searcher makes
-- `require "sbengine.benchmarks.NAME"` work in both.
do
  local here = debug.getinfo(1, "S").source:match("^@(.*)/sbengine/init%.lua$")
  if here then
    local tree_benchmarks = here .. "/../benchmarks/"
    table.insert(package.searchers, 2, function(name)
      local short = name:match("^sbengine%.benchmarks%.([%w_]+)$")
      if not short then return nil end
      local path = tree_benchmarks .. short .. ".lua"
      local f = io.open(path, "r")
      if not f then return "\n\tno file '" .. path .. "'" end
      f:close()
      local chunk, err = loadfile(path)
      if not chunk then error(err, 0) end
      return chunk, path
    end)
  end
end

return sb
