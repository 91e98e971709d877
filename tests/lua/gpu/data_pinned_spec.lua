-- DataLoader pin_memory on a machine with a GPU: batches in page-locked memory, moved to
-- the GPU unchanged. Skipped (pending) without a GPU.
local sb = require "sbengine"

if require("gpu_helper").skip_without_gpu("DataLoader pin_memory") then return end

describe("DataLoader pin_memory", function()
  it("fills page-locked buffers whose batches reach the GPU unchanged", function()
    local n = 300
    local inputs = sb.rand(n, 3, 8, 8)
    local targets = sb.arange(n):to("int64")
    local ds = sb.data.TensorDataset(inputs, targets)
    for _, workers in ipairs { 0, 2 } do
      local pinned = sb.data.DataLoader(ds, { batch_size = 64, num_workers = workers, pin_memory = true })
      assert.is_true(pinned.pinned, pinned.pin_memory_note)
      local plain = sb.data.DataLoader(ds, { batch_size = 64, num_workers = workers })
      local it = { plain:iter() }
      for i, x, y in pinned:iter() do
        local _, px, py = it[1](it[2], it[3])
        local gx, gy = x:cuda(), y:cuda()
        sb.cuda.synchronize()
        assert.are.equal(0, (gx:cpu() - px):abs():max():item(), "batch " .. i)
        assert.are.same(py:totable(), gy:cpu():totable())
      end
    end
  end)
end)
