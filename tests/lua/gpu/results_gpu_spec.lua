-- The run hash does not depend on the device: a CUDA output (float32 or float16) hashes as
-- the same values on the CPU (docs/results.md "Run hash").
local sb = require "sbengine"

if require("gpu_helper").skip_without_gpu("sb.results.run_hash on CUDA") then return end

describe("sb.results.run_hash on CUDA", function()
  it("equals the CPU hash for float32 and float16 outputs on cuda and cuda:0", function()
    local values = { { 0.125, -2.5, 3.0 }, { 0.0, 1.75, -0.0078125 } }
    local metrics = { ["Top 1 Accuracy"] = 0.5 }
    local want = sb.results.run_hash(values, metrics)
    for _, device in ipairs { "cuda", "cuda:0" } do
      for _, dtype in ipairs { "float32", "float16" } do
        local t = sb.tensor(values, { dtype = "float32" }):to(device):to(dtype)
        assert.are.equal(want, sb.results.run_hash(t, metrics), dtype .. " on " .. device)
      end
    end
  end)

  it("accuracy and the confusion meter read CUDA tensors", function()
    local out = sb.tensor { { 0.1, 0.9, 0.0 }, { 0.5, 0.4, 0.1 } }
    local target = sb.tensor({ 1, 1 }, { dtype = "int64" })
    local cpu1 = sb.metrics.accuracy(out, target, { 1 })
    local gpu1 = sb.metrics.accuracy(out:cuda(), target:cuda(), { 1 })
    assert.are.equal(cpu1, gpu1)
    local m = sb.metrics.create("confusion_matrix", { num_classes = 3 })
    m:add(out:cuda(), target:cuda())
    assert.are.equal(0.5, m:value().accuracy)
  end)
end)
