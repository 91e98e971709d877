-- The kernels issue 20 rewrote for speed, each against its CPU twin on shapes that take the new
-- paths: softmax as a block per row (rows longer than a warp, a block, and not a multiple of
-- 32), single-pass topk (k up to 16, many ties) and the k-pass kernel above it, column
-- reductions (a reduced dim with a large stride), depthwise convolution (a direct kernel) and
-- grouped convolution batched over groups. Skipped (pending) without a GPU.
local sb = require "sbengine"
local F = sb.nn.functional

if require("gpu_helper").skip_without_gpu("CUDA kernels against their CPU twins") then return end

local function max_diff(c, g)
  return (c:double() - g:cpu():double()):abs():max():item()
end

local function same(c, g, what)
  assert.are.same(c:totable(), g:cpu():totable(), what)
end

describe("CUDA kernels against their CPU twins", function()
  it("softmax and log_softmax: a block per row, any row length", function()
    for _, dim in ipairs { 1, 10, 31, 33, 257, 1000, 5000 } do
      local c = sb.randn(37, dim) * 4
      local g = c:cuda()
      for _, f in ipairs { "softmax", "log_softmax" } do
        local d = max_diff(F[f](c, 2), F[f](g, 2))
        assert(d < 1e-5, ("%s over %d: max difference %g"):format(f, dim, d))
      end
    end
    -- NaN in a row makes the row NaN, as on the CPU; other rows are untouched
    local c = sb.randn(3, 100)
    c[2][50] = 0 / 0
    local out = F.softmax(c:cuda(), 2):cpu()
    assert.is_true(out[2][1]:item() ~= out[2][1]:item())
    assert.is_true(out[1][1]:item() == out[1][1]:item())
    -- softmax over a middle dim (inner > 1) keeps the thread-per-position kernel
    local m = sb.randn(4, 50, 6)
    assert(max_diff(F.softmax(m, 2), F.softmax(m:cuda(), 2)) < 1e-5)
  end)

  it("topk: one pass for k <= 16, k passes above, ties by position", function()
    -- values from a few distinct levels: many ties across the threads' lists
    local c = (sb.rand(20, 3000) * 7):to("int32"):float()
    local g = c:cuda()
    for _, k in ipairs { 1, 5, 15, 16, 17, 40 } do
      local cv, ci = c:topk(k, 2)
      local gv, gi = g:topk(k, 2)
      same(cv, gv, "topk values k = " .. k)
      same(ci, gi, "topk positions k = " .. k)
    end
    -- along a strided dim, and rows shorter than the block
    local t = sb.randn(9, 40)
    for _, k in ipairs { 3, 9 } do
      local cv, ci = t:topk(k, 1)
      local gv, gi = t:cuda():topk(k, 1)
      same(cv, gv, "topk over dim 1")
      same(ci, gi, "topk positions over dim 1")
    end
  end)

  it("column reductions (a reduced dim with a large stride)", function()
    for _, shape in ipairs { { 1000, 300 }, { 4096, 33 }, { 9, 1000 }, { 64, 20, 70 } } do
      local c = sb.randn(table.unpack(shape))
      local g = c:cuda()
      for _, op in ipairs { "sum", "mean", "max", "min" } do
        local d = max_diff(c[op](c, 1), g[op](g, 1))
        assert(d < 1e-3, ("%s over dim 1 of %s: %g"):format(op, table.concat(shape, "x"), d))
      end
      same(c:argmax(1), g:argmax(1), "argmax over dim 1")
    end
    local ints = sb.randn(500, 70):mul(100):to("int32")
    same(ints:sum(1), ints:cuda():sum(1), "int32 column sums are exact int64")
  end)

  it("depthwise and grouped convolutions", function()
    -- depthwise, multiplier 1 and 2, with and without bias; grouped with more groups than images
    for _, case in ipairs {
      { n = 4, c = 32, o = 32, g = 32, k = 3, opts = { padding = 1 } },
      { n = 2, c = 16, o = 32, g = 16, k = 5, opts = { padding = 2, stride = 2 } },
      { n = 3, c = 8, o = 8, g = 8, k = 3, opts = { dilation = 2 }, nobias = true },
      { n = 2, c = 32, o = 64, g = 8, k = 3, opts = { padding = 1 } },
      { n = 9, c = 32, o = 64, g = 4, k = 1, opts = {} },
    } do
      local x = sb.randn(case.n, case.c, 15, 15)
      local w = sb.randn(case.o, case.c // case.g, case.k, case.k)
      local b = not case.nobias and sb.randn(case.o) or nil
      local opts = case.opts
      opts.groups = case.g
      local cpu = F.conv2d(x, w, b, opts)
      local gpu = F.conv2d(x:cuda(), w:cuda(), b and b:cuda(), opts)
      local d = max_diff(cpu, gpu)
      assert(d < 1e-3 * math.max(1, cpu:abs():max():item()),
        ("conv2d groups %d: max difference %g"):format(case.g, d))
    end
  end)
end)
