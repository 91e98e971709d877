-- The activations sb.nn writes in Lua over tensor ops (ReLU6, SiLU, Hardsigmoid, Hardswish)
-- against PyTorch's (tools/fixtures/nn_activations.py): max abs error at most 1e-6.
local sb = require "sbengine"

local t = sb.io.load_safetensors((os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") ..
  "/nn/activations.safetensors")

describe("sb.nn activations written over tensor ops", function()
  for name, key in pairs({ReLU6 = "relu6", SiLU = "silu", Hardsigmoid = "hardsigmoid",
                          Hardswish = "hardswish"}) do
    it(name .. " matches PyTorch", function()
      local m = sb.nn[name]()
      local y = m(t.input)
      assert.are.same(t[key]:size(), y:size())
      local err = (y - t[key]):abs():max():item()
      assert.is_true(err <= 1e-6, name .. ": max abs error " .. err)
      -- a non-contiguous input gives the same values
      local yt = m(t.input:transpose(3, 4)):transpose(3, 4)
      assert.are.equal(0, (yt - y):abs():max():item())
      assert.are.equal(name .. "()", tostring(m))
    end)
  end
end)
