-- The nn PyTorch fixture (tests/fixtures/nn/ops.safetensors + ops_cases.lua, written by
-- tools/fixtures/nn_ops.py), shared by the CPU spec (nn_functional_spec) and the GPU spec
-- (gpu/cuda_nn_spec) so both read the cases the same way.
local sb = require "sbengine"

local nn_cases = {}

local fixtures = os.getenv("SBENGINE_FIXTURES") .. "/nn/"
nn_cases.data = sb.io.load_safetensors(fixtures .. "ops.safetensors")
nn_cases.cases = dofile(fixtures .. "ops_cases.lua")

--- The case's arguments, tensors passed through `move` (default: as stored) and then
-- narrowed, so that every device sees the same non-contiguous views.
function nn_cases.build_args(case, move)
  local args = {}
  for i = 1, case.n do
    local a = case.args[i]
    if a == nil then -- the fixture's NIL: an omitted argument
      args[i] = nil
    elseif type(a) == "table" and a.t then
      local t = assert(nn_cases.data[a.t], a.t)
      if move then t = move(t) end
      local nr = case.narrow and case.narrow[i]
      if nr then t = t:narrow(nr[1], nr[2], nr[3]) end
      args[i] = t
    else
      args[i] = a
    end
  end
  return args
end

--- max |a - b| over elements; NaN in the same place counts as equal, elsewhere as
-- infinitely far.
function nn_cases.max_abs_diff(a, b)
  local fa, fb = a:contiguous():view(-1):totable(), b:contiguous():view(-1):totable()
  assert(#fa == #fb, "element counts differ")
  local worst = 0
  for i = 1, #fa do
    local x, y = fa[i], fb[i]
    if x ~= x or y ~= y then
      if not (x ~= x and y ~= y) then return math.huge end
    else
      local d = math.abs(x - y)
      if d > worst then worst = d end
    end
  end
  return worst
end

return nn_cases
