-- Tensor ops on CUDA against the CPU (cutorch style): every op over a grid of shapes and
-- layouts (contiguous, transposed, narrowed, broadcast), results agreeing within a stated
-- tolerance. Skipped (pending) without a GPU.
local sb = require "sbengine"

if require("gpu_helper").skip_without_gpu("CUDA tensors") then return end

-- Tolerances: elementwise float32 ops agree to rounding (1e-6 relative); reductions and
-- GEMMs sum in another order (1e-4 relative to the largest magnitude, K up to a few
-- hundred); 16-bit storage rounds to 3 (float16) or 2 (bfloat16) significant digits.
local TOL = { exact = 0, elementwise = 1e-6, reduce = 1e-4, gemm = 1e-4, half = 2e-3, bf16 = 2e-2 }

local function close(cpu, gpu, tol, what)
  assert.are.equal("cpu", cpu:device())
  assert.is_true(gpu:device():match("^cuda") ~= nil, what .. ": result not on the GPU")
  local g = gpu:cpu()
  assert.are.same(cpu:size(), g:size(), what .. ": shapes differ")
  assert.are.equal(cpu:dtype(), g:dtype(), what .. ": dtypes differ")
  if cpu:numel() == 0 then return end
  local c, d = cpu:double(), g:double()
  -- NaN where the CPU has NaN, numbers elsewhere
  local c_nan, d_nan = c:ne(c), d:ne(d)
  assert.are.same(c_nan:totable(), d_nan:totable(), what .. ": NaN positions differ")
  local diff, scale
  if c_nan:sum():item() > 0 then -- small tensors only: compare element by element
    local function flat(t, out)
      out = out or {}
      if type(t) ~= "table" then out[#out + 1] = t return out end
      for _, v in ipairs(t) do flat(v, out) end
      return out
    end
    local cv, dv = flat(c:totable()), flat(d:totable())
    diff, scale = 0, 1
    for i = 1, #cv do
      if cv[i] == cv[i] then
        diff = math.max(diff, math.abs(cv[i] - dv[i]))
        scale = math.max(scale, math.abs(cv[i]))
      end
    end
  else
    diff = (c - d):abs():max():item()
    scale = math.max(1, c:abs():max():item())
  end
  assert(diff <= tol * scale, ("%s: max difference %g > %g"):format(what, diff, tol * scale))
end

-- Views with the same values built from a CPU base and from its GPU copy.
local layouts = {
  contiguous = function(shape) return { make = function(b) return b end, base = shape } end,
  transposed = function(shape)
    if #shape < 2 then return nil end
    local rev, perm = {}, {}
    for i = #shape, 1, -1 do rev[#rev + 1] = shape[i]; perm[#perm + 1] = i end
    return { make = function(b) return b:permute(table.unpack(perm)) end, base = rev }
  end,
  narrowed = function(shape)
    if #shape < 1 then return nil end
    local big = { table.unpack(shape) }
    big[#big] = big[#big] + 3
    return { make = function(b) return b:narrow(#shape, 2, shape[#shape]) end, base = big }
  end,
  broadcast = function(shape)
    if #shape < 1 then return nil end
    local one = { table.unpack(shape) }
    one[1] = 1
    return { make = function(b) return b:expand(table.unpack(shape)) end, base = one }
  end,
}

local shapes = { { 1 }, { 7 }, { 3, 5 }, { 4, 1, 6 }, { 2, 3, 4, 5 }, { 33, 65 }, { 0, 4 } }

-- Calls fn(name, cpu_view, gpu_view) for every shape x layout.
local function grid(fn, opts)
  opts = opts or {}
  for _, shape in ipairs(shapes) do
    for lname, layout in pairs(layouts) do
      local l = layout(shape)
      if l then
        local base = sb.randn(l.base, { dtype = opts.dtype })
        if opts.positive then base = base:abs() + 0.1 end
        local gbase = base:cuda()
        local name = ("%s %s"):format(lname, tostring(sb.zeros(shape):size()))
        fn(name, l.make(base), l.make(gbase), shape)
      end
    end
  end
end

describe("CUDA elementwise ops", function()
  it("unary ops agree with the CPU", function()
    for _, op in ipairs { "neg", "abs", "exp" } do
      grid(function(name, c, g) close(c[op](c), g[op](g), TOL.elementwise, op .. " " .. name) end)
    end
    for _, op in ipairs { "log", "sqrt" } do
      grid(function(name, c, g) close(c[op](c), g[op](g), TOL.elementwise, op .. " " .. name) end,
        { positive = true })
    end
  end)

  it("binary ops, with broadcasting and scalars, agree with the CPU", function()
    for _, op in ipairs { "add", "sub", "mul", "div", "maximum", "minimum" } do
      grid(function(name, c, g, shape)
        local other = sb.randn(shape) + 3 -- away from 0 for div
        close(c[op](c, other), g[op](g, other:cuda()), TOL.elementwise, op .. " " .. name)
        local row = sb.randn(shape[#shape]) + 3 -- broadcast along the last dim
        close(c[op](c, row), g[op](g, row:cuda()), TOL.elementwise, op .. " row " .. name)
        if op ~= "maximum" and op ~= "minimum" then
          close(c[op](c, 2.5), g[op](g, 2.5), TOL.elementwise, op .. " scalar " .. name)
        end
      end)
    end
    grid(function(name, c, g)
      close(2 - c, 2 - g, TOL.elementwise, "reversed scalar " .. name)
      close(-c, -g, TOL.elementwise, "unary minus " .. name)
      close(c:clamp(-0.5, 0.5), g:clamp(-0.5, 0.5), TOL.elementwise, "clamp " .. name)
    end)
  end)

  it("comparisons give identical uint8 masks", function()
    for _, op in ipairs { "eq", "ne", "gt", "lt", "ge", "le" } do
      grid(function(name, c, g, shape)
        local other = sb.randn(shape):gt(0):float() -- many exact ties with c:gt(0) below
        local cc, gg = c:gt(0):float(), g:gt(0):float()
        close(cc[op](cc, other), gg[op](gg, other:cuda()), TOL.exact, op .. " " .. name)
        close(c[op](c, 0.25), g[op](g, 0.25), TOL.exact, op .. " scalar " .. name)
      end)
    end
  end)

  it("copies between dtypes, layouts and devices", function()
    grid(function(name, c, g)
      for _, dtype in ipairs { "float64", "int64", "int32" } do
        close(c:to(dtype), g:to(dtype), TOL.exact, "to " .. dtype .. " " .. name)
      end
      close((c * 10):abs():byte(), (g * 10):abs():byte(), TOL.exact, "to uint8 " .. name)
      close(c:contiguous(), g:contiguous(), TOL.exact, "contiguous " .. name)
      close(c:clone(), g:clone(), TOL.exact, "clone " .. name)
      -- into a strided destination on the GPU
      if c:dim() == 2 then
        local dst = sb.zeros(c:size(2), c:size(1), { device = "cuda" }):t()
        dst:copy(c)
        close(c, dst, TOL.exact, "copy into transposed " .. name)
      end
    end)
    local h = sb.randn(3, 4):to("float16")
    assert.are.equal("float16", h:dtype())
    -- Out-of-range and negative floats convert as on the CPU: truncate, saturate to int64,
    -- wrap to the narrow type (-1.5 -> uint8 255), NaN -> 0.
    local odd = sb.tensor({ -1.5, -300.7, 255.9, 256, 3e9, -3e9, 1e30, 0 / 0 })
    for _, dtype in ipairs { "uint8", "int32", "int64" } do
      for _, from in ipairs { "float32", "float64", "float16" } do
        local c = odd:to(from)
        assert.are.same(c:to(dtype):totable(), c:cuda():to(dtype):totable(),
          from .. " -> " .. dtype)
      end
    end
    -- Out-of-range scalars (fills, arithmetic, comparisons) too: the same function
    -- (tensor/int_convert.h) on both sides, so uint8 5 + (-1) is 4 and a uint8 fill with -1 is
    -- 255 on the GPU as on the CPU (issue 20).
    for _, case in ipairs {
      { "uint8", -1 }, { "uint8", 300 }, { "int32", 3e9 }, { "int32", -3e9 }, { "int64", 1e30 },
      { "uint8", 0 / 0 },
    } do
      local dtype, v = case[1], case[2]
      local what = dtype .. " " .. tostring(v)
      assert.are.same(sb.full({ 3 }, v, { dtype = dtype }):totable(),
        sb.full({ 3 }, v, { dtype = dtype, device = "cuda" }):cpu():totable(), "full " .. what)
      local c = sb.tensor({ 5, 0, 200 }, { dtype = dtype })
      local g = c:cuda()
      assert.are.same((c + v):totable(), (g + v):cpu():totable(), "add " .. what)
      assert.are.same((c * v):totable(), (g * v):cpu():totable(), "mul " .. what)
      assert.are.same(c:eq(v):totable(), g:eq(v):cpu():totable(), "eq " .. what)
    end
    assert.are.same({ 4 }, (sb.tensor({ 5 }, { dtype = "uint8", device = "cuda" }) + -1):cpu():totable())
  end)

  it("float16 and bfloat16 storage round as expected", function()
    grid(function(name, c, g)
      close(c:to("float16"):float(), g:to("float16"):float(), TOL.half, "float16 " .. name)
      close(c:to("bfloat16"):float(), g:to("bfloat16"):float(), TOL.bf16, "bfloat16 " .. name)
      local h = g:to("float16")
      close(c + c, (h + h):float(), TOL.half, "float16 add " .. name)
    end)
  end)
end)

describe("CUDA reductions", function()
  it("sum/mean/max/min over everything and each dim agree with the CPU", function()
    grid(function(name, c, g, shape)
      if c:numel() == 0 then return end
      for _, op in ipairs { "sum", "mean", "max", "min" } do
        close(c[op](c), g[op](g), TOL.reduce, op .. " all " .. name)
        for d = 1, #shape do
          local cv, ci = c[op](c, d)
          local gv, gi = g[op](g, d)
          close(cv, gv, TOL.reduce, op .. " dim " .. d .. " " .. name)
          if ci then close(ci, gi, TOL.exact, op .. " positions dim " .. d .. " " .. name) end
        end
      end
    end)
  end)

  it("a long reduction (one output over many blocks) agrees", function()
    local c = sb.rand(3000000)
    local g = c:cuda()
    close(c:sum(), g:sum(), 1e-6, "sum of 3e6")
    close(c:max(), g:max(), TOL.exact, "max of 3e6")
    assert.are.equal(c:argmax():item(), g:argmax():item())
  end)

  it("integer sums are int64 and exact", function()
    local c = sb.arange(100000):to("int32")
    assert.are.equal("int64", c:cuda():sum():dtype())
    assert.are.equal(c:sum():item(), c:cuda():sum():item())
  end)

  it("argmax, ties and NaN follow the CPU", function()
    local c = sb.tensor({ { 1, 3, 3, 2 }, { 0 / 0, 1, 0 / 0, 5 }, { -1, -1, -1, -1 } })
    local g = c:cuda()
    close(c:argmax(2), g:argmax(2), TOL.exact, "argmax with ties and NaN")
    close(c:argmin(2), g:argmin(2), TOL.exact, "argmin with ties and NaN")
    local cv, gv = c:max(2), g:max(2)
    close(cv, gv, TOL.exact, "max with NaN")
  end)

  it("topk values and positions agree, largest first, ties by position", function()
    grid(function(name, c, g, shape)
      if c:numel() == 0 then return end
      local d = #shape
      for k = 1, math.min(5, shape[d]) do
        local cv, ci = c:topk(k, d)
        local gv, gi = g:topk(k, d)
        close(cv, gv, TOL.exact, ("topk %d %s"):format(k, name))
        close(ci, gi, TOL.exact, ("topk %d positions %s"):format(k, name))
      end
    end)
    local c = sb.tensor({ { 2, 5, 5, 1, 0 / 0 } })
    local cv, ci = c:topk(3, 2)
    local gv, gi = c:cuda():topk(3, 2)
    close(cv, gv, TOL.exact, "topk NaN first")
    close(ci, gi, TOL.exact, "topk NaN and tie positions")
    -- int64 values a double cannot tell apart (2^53 + 1 rounds to 2^53)
    local big = sb.tensor({ 9007199254740992, 9007199254740993, 1 }, { dtype = "int64" })
    local bv, bi = big:cuda():topk(2, 1)
    assert.are.same({ 9007199254740993, 9007199254740992 }, bv:totable())
    assert.are.same({ 2, 1 }, bi:totable())
  end)
end)

describe("CUDA matrix products (cuBLAS)", function()
  local cases = { { 1, 1, 1 }, { 3, 5, 7 }, { 64, 33, 17 }, { 128, 256, 96 }, { 5, 0, 3 } }

  it("matmul over transposed, narrowed and batched operands agrees (exact fp32)", function()
    assert.is_false(sb.cuda.allow_tf32())
    for _, mkn in ipairs(cases) do
      local M, K, N = table.unpack(mkn)
      local a, b = sb.randn(M, K), sb.randn(K, N)
      local at, bt = sb.randn(K, M):t(), sb.randn(N, K):t()
      local an = sb.randn(M, K + 4):narrow(2, 3, K)
      for _, pair in ipairs { { a, b }, { at, b }, { a, bt }, { at, bt }, { an, b } } do
        local x, y = pair[1], pair[2]
        close(x:matmul(y), x:cuda():matmul(y:cuda()), TOL.gemm, ("matmul %dx%dx%d"):format(M, K, N))
      end
      local A, B = sb.randn(4, M, K), sb.randn(4, K, N)
      close(A:bmm(B), A:cuda():bmm(B:cuda()), TOL.gemm, "bmm")
      close(A:matmul(b), A:cuda():matmul(b:cuda()), TOL.gemm, "batched @ matrix (broadcast)")
    end
  end)

  it("integer matmul is exact", function()
    local a = (sb.rand(7, 9) * 10):to("int64")
    local b = (sb.rand(9, 4) * 10):to("int64")
    close(a:matmul(b), a:cuda():matmul(b:cuda()), TOL.exact, "int64 matmul")
  end)

  it("float16 and bfloat16 GEMMs accumulate in fp32", function()
    local a, b = sb.randn(64, 512), sb.randn(512, 48)
    local ref = a:matmul(b)
    for dtype, tol in pairs { float16 = 5e-3, bfloat16 = 3e-2 } do
      local out = a:cuda():to(dtype):matmul(b:cuda():to(dtype))
      assert.are.equal(dtype, out:dtype())
      close(ref, out:float(), tol, dtype .. " GEMM")
    end
  end)

  it("TF32 only when allowed, and then within 1e-2", function()
    local a, b = sb.randn(256, 512), sb.randn(512, 128)
    local ref = a:matmul(b)
    sb.cuda.allow_tf32(true)
    local ok, err = pcall(function() close(ref, a:cuda():matmul(b:cuda()), 1e-2, "TF32 GEMM") end)
    sb.cuda.allow_tf32(false)
    assert(ok, err)
    close(ref, a:cuda():matmul(b:cuda()), TOL.gemm, "fp32 GEMM after TF32 is switched off")
  end)
end)

describe("CUDA devices and synchronisation", function()
  it("mixing devices in one op names both devices", function()
    local ok, err = pcall(function() return sb.ones(2) + sb.ones(2):cuda() end)
    assert.is_false(ok)
    assert.matches("cpu", err, 1, true)
    assert.matches("cuda:0", err, 1, true)
  end)

  it("item, totable and cpu see finished results", function()
    local g = sb.ones(1000, 1000, { device = "cuda" })
    for _ = 1, 20 do g = g + 1 end
    assert.are.equal(21 * 1000 * 1000, g:sum():item())
    assert.are.equal(21, g:totable()[1000][1000])
    assert.are.equal(21, g:cpu()[1][1])
    sb.cuda.synchronize()
    sb.cuda.synchronize("cuda:0")
  end)

  it("a device that does not exist is named", function()
    local n = sb.cuda.device_count()
    local ok, err = pcall(function() return sb.ones(2):to("cuda:" .. n) end)
    assert.is_false(ok)
    assert.matches(("cuda:%d does not exist"):format(n), err, 1, true)
  end)
end)

describe("CUDA memory", function()
  it("memory_stats follows allocations; free gives bytes back to the cache", function()
    -- No collection in between: garbage tensors of earlier tests would change the counts.
    collectgarbage("collect")
    collectgarbage("stop")
    sb.cuda.empty_cache()
    local before = sb.cuda.memory_stats()
    local t = sb.empty(1024, 1024, { device = "cuda" }) -- 4 MiB
    local during = sb.cuda.memory_stats()
    assert.are.equal(before.allocated + 4 * 2 ^ 20, during.allocated)
    assert.is_true(during.max_allocated >= during.allocated)
    assert.is_true(during.reserved >= during.allocated)
    t:free()
    local after = sb.cuda.memory_stats()
    assert.are.equal(before.allocated, after.allocated)
    assert.are.equal(during.reserved, after.reserved) -- cached, not returned
    sb.cuda.empty_cache()
    assert.is_true(sb.cuda.memory_stats().reserved < during.reserved)
    sb.cuda.reset_peak()
    local s = sb.cuda.memory_stats()
    assert.are.equal(s.allocated, s.max_allocated)
    collectgarbage("restart")
  end)

  it("many allocate/free cycles keep reserved bounded", function()
    sb.cuda.empty_cache()
    local sizes = { 1000, 250000, 3 << 18, (1 << 22) + 7 }
    for i = 1, 2000 do
      local t = sb.empty(sizes[i % #sizes + 1], { device = "cuda" })
      t:free()
    end
    -- the largest block is 16 MiB; a handful of cached segments at most
    assert.is_true(sb.cuda.memory_stats().reserved <= 64 * 2 ^ 20)
  end)

  it("garbage GPU tensors are collected: a loop of temporaries stays bounded", function()
    collectgarbage("collect")
    local base = sb.cuda.memory_stats().allocated
    local x = sb.ones(1024, 1024, { device = "cuda" }) -- 4 MiB
    for _ = 1, 2000 do x = x + 1 end -- 8 GiB of temporaries without a free
    assert.is_true(sb.cuda.memory_stats().allocated - base <= 1024 * 2 ^ 20)
    assert.are.equal(2001, x[1][1])
  end)

  it("an oversized request gives the clear error, and the engine keeps working", function()
    local ok, err = pcall(sb.empty, 1 << 44, { device = "cuda" }) -- 64 TiB of float32
    assert.is_false(ok)
    assert.matches("CUDA out of memory on cuda:0: tried to allocate 64.00 TiB", err, 1, true)
    assert.matches("free of", err, 1, true)
    local t = sb.ones(100, { device = "cuda" })
    assert.are.equal(100, t:sum():item())
  end)
end)
