-- The tensor userdata from Lua: creation, views, indexing (1-based), ops, errors, memory.
local sb = require "sbengine"

-- A second operand of the same shape: rows in reverse order (a plain contiguous tensor).
require("sbengine.tensor").methods.flip_for_test = function(self)
  local rows = {}
  for i = 1, self:size(1) do rows[i] = self[self:size(1) + 1 - i]:totable() end
  return sb.tensor(rows)
end

local function same(expected, t, tol)
  local got = sb.is_tensor(t) and t:totable() or t
  tol = tol or 1e-6
  local function cmp(a, b, path)
    if type(a) == "table" then
      assert.are.equal(#a, #b, "length at " .. path)
      for i = 1, #a do cmp(a[i], b[i], path .. "[" .. i .. "]") end
    else
      assert(math.abs(a - b) <= tol, ("%s: expected %s, got %s"):format(path, a, b))
    end
  end
  cmp(expected, got, "t")
end

describe("tensor creation", function()
  it("builds from nested tables, shapes and options", function()
    local t = sb.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
    assert.are.equal("float32", t:dtype())
    assert.are.equal("cpu", t:device())
    assert.are.same({ 2, 3 }, t:size())
    assert.are.equal("[2, 3]", tostring(t:size()))
    assert.are.equal(3, t:size(2))
    assert.are.equal(3, t:size(-1))
    assert.are.equal(2, t:dim())
    assert.are.equal(6, t:numel())
    assert.are.equal(2, #t)
    assert.are.same({ 2, 3 }, sb.zeros(2, 3):size())
    assert.are.same({ 2, 3 }, sb.zeros({ 2, 3 }):size())
    assert.are.equal("int32", sb.zeros({ 2, 3 }, { dtype = "int32" }):dtype())
    assert.are.equal("float64", sb.ones(2, { dtype = "double" }):dtype())
    same({ { 7, 7 } }, sb.full({ 1, 2 }, 7))
    same({ { 7, 7 } }, sb.full(1, 2, 7))
    same({ 1, 1 }, sb.ones(2))
    assert.are.equal(0, sb.zeros({}):dim())
    assert.are.equal(0, sb.tensor({}):numel())
    local i64 = sb.tensor({ 9007199254740993 }, { dtype = "int64" })
    assert.are.equal(9007199254740993, i64[1]) -- exact beyond 2^53
    same({ 1, 0 }, sb.tensor({ true, false }, { dtype = "uint8" }))
  end)

  it("arange follows PyTorch (int64 for integers, end excluded)", function()
    local a = sb.arange(5)
    assert.are.equal("int64", a:dtype())
    same({ 0, 1, 2, 3, 4 }, a)
    same({ 2, 4 }, sb.arange(2, 6, 2))
    same({ 0, 0.5 }, sb.arange(0, 1, 0.5))
    assert.are.equal("float32", sb.arange(0, 1, 0.5):dtype())
    assert.are.equal("float64", sb.arange(3, { dtype = "float64" }):dtype())
  end)

  it("rand is seedable and in [0, 1)", function()
    sb.manual_seed(42)
    local a = sb.rand(100)
    sb.manual_seed(42)
    local b = sb.rand(100)
    assert.are.same(a:totable(), b:totable())
    assert.is_true(a:min():item() >= 0 and a:max():item() < 1)
    local n = sb.randn(10000)
    assert.is_true(math.abs(n:mean():item()) < 0.05)
  end)

  it("from_bytes copies little-endian bytes", function()
    local t = sb.from_bytes(string.pack("<fff", 1.5, -2, 3), { 3 }, "float32")
    same({ 1.5, -2, 3 }, t)
    local u = sb.from_bytes("\1\2\3\4", { 2, 2 }, "uint8")
    same({ { 1, 2 }, { 3, 4 } }, u)
  end)
end)

describe("views", function()
  it("share storage with the original", function()
    local t = sb.arange(12):view(3, 4)
    local n = t:narrow(2, 2, 2)
    local s = t:select(1, 3)
    local tr = t:t()
    n[1][1] = 100 -- t[1][2]
    assert.are.equal(100, t[1][2])
    assert.are.equal(100, tr[2][1])
    s:fill(-1)
    same({ -1, -1, -1, -1 }, t[3])
    assert.is_false(tr:is_contiguous())
    local c = tr:contiguous()
    assert.is_true(c:is_contiguous())
    c[1][1] = 55
    assert.are.equal(0, t[1][1]) -- contiguous() of a strided view copies
    same({ 0, 4, -1 }, t:t()[1])
    assert.are.same({ 4, 3 }, t:transpose(1, 2):size())
    assert.are.same({ 4, 3, 2 }, sb.zeros(2, 3, 4):permute(3, 2, 1):size())
    assert.are.same({ 2, 3, 4 }, sb.zeros(3, 1):expand(2, 3, 4):size())
    assert.are.same({ 3, 1, 4 }, t:unsqueeze(2):size())
    assert.are.same({ 3, 4 }, t:unsqueeze(2):squeeze():size())
    assert.are.same({ 12 }, tr:reshape(-1):size())
  end)

  it("t[i] is a number on 1-D tensors and a view otherwise; negative indices count back", function()
    local t = sb.tensor({ { 1, 2 }, { 3, 4 } })
    assert.are.equal(4, t[-1][-1])
    assert.are.equal("number", type(t[1][1]))
    t[2] = 9
    same({ { 1, 2 }, { 9, 9 } }, t)
    t[1] = sb.tensor({ 5, 6 })
    same({ { 5, 6 }, { 9, 9 } }, t)
    assert.are.equal(7, sb.tensor({ 7 }):item())
  end)

  it("copy broadcasts and converts", function()
    local d = sb.zeros(2, 3, { dtype = "int64" })
    d:copy(sb.tensor({ 1.7, 2.2, -3.9 }))
    same({ { 1, 2, -3 }, { 1, 2, -3 } }, d)
    local f = d:to("float64")
    assert.are.equal("float64", f:dtype())
    assert.are.equal("float32", d:float():dtype())
    assert.are.equal("float32", d:to({ dtype = "float32", device = "cpu" }):dtype())
    local cl = f:clone()
    cl[1][1] = 42
    assert.are.equal(1, f[1][1])
  end)
end)

describe("ops", function()
  local a = sb.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
  local b = sb.tensor({ 10, 20, 30 })

  it("broadcasting arithmetic, methods and metamethods", function()
    same({ { 11, 22, 33 }, { 14, 25, 36 } }, a + b)
    same({ { 11, 22, 33 }, { 14, 25, 36 } }, a:add(b))
    same({ { -9, -18, -27 }, { -6, -15, -24 } }, a - b)
    same({ { 2, 4, 6 }, { 8, 10, 12 } }, a * 2)
    same({ { 1, 0, -1 }, { -2, -3, -4 } }, 2 - a)
    same({ { 1, 0.5, 1 / 3 }, { 0.25, 0.2, 1 / 6 } }, 1 / a)
    same({ { -1, -2, -3 }, { -4, -5, -6 } }, -a)
    same({ { 0.5, 1, 1.5 }, { 2, 2.5, 3 } }, a:div(2))
    local c = a:clone()
    c:add_(1):mul_(2)
    same({ { 4, 6, 8 }, { 10, 12, 14 } }, c)
    local o = sb.tensor({ 1, 2, 3, 4 })
    o:narrow(1, 2, 3):add_(o:narrow(1, 1, 3)) -- overlapping views read the old values
    same({ 1, 3, 5, 7 }, o)
    o:add_(o)
    same({ 2, 6, 10, 14 }, o)
    assert.are.equal("float32", (sb.arange(4) / 2):dtype()) -- true division
    assert.are.equal("int64", (sb.arange(4) * 2):dtype())
    assert.are.equal("float32", (sb.arange(4) * 2.5):dtype())
  end)

  it("comparisons give uint8", function()
    local m = a:gt(2)
    assert.are.equal("uint8", m:dtype())
    same({ { 0, 0, 1 }, { 1, 1, 1 } }, m)
    same({ { 1, 0, 0 }, { 0, 0, 0 } }, a:eq(1))
    same({ { 0, 1, 1 }, { 1, 1, 1 } }, a:ne(1))
    same({ { 1, 1, 0 }, { 0, 0, 0 } }, a:lt(3))
    same({ { 1, 1, 1 }, { 0, 0, 0 } }, a:le(b:div(10)))
    same({ { 0, 1, 1 }, { 1, 1, 1 } }, a:ge(2))
  end)

  it("unary math", function()
    local x = sb.tensor({ -4, 1, 4 })
    same({ 4, 1, 4 }, x:abs())
    same({ math.exp(-4), math.exp(1), math.exp(4) }, x:exp(), 1e-4)
    same({ 0, 2 }, sb.tensor({ 1, 4 }):log():add(sb.tensor({ 0, 2 - math.log(4) })), 1e-6)
    same({ 1, 2 }, sb.tensor({ 1, 4 }):sqrt())
    same({ -1, 1, 2 }, x:clamp(-1, 2))
    same({ -4, 1, 2 }, x:clamp(nil, 2))
    same({ 0, 1, 4 }, x:clamp({ min = 0 }))
    assert.is_true(sb.tensor({ -1 }):sqrt()[1] ~= sb.tensor({ -1 }):sqrt()[1]) -- NaN
  end)

  it("reductions with 1-based positions", function()
    assert.are.equal(21, a:sum():item())
    same({ 5, 7, 9 }, a:sum(1))
    same({ 2, 5 }, a:mean(2))
    same({ { 2 }, { 5 } }, a:mean(2, { keepdim = true }))
    local v, i = a:max(2)
    same({ 3, 6 }, v)
    same({ 3, 3 }, i)
    assert.are.equal("int64", i:dtype())
    v, i = a:min(1)
    same({ 1, 2, 3 }, v)
    same({ 1, 1, 1 }, i)
    assert.are.equal(6, a:max():item())
    assert.are.equal(6, a:argmax():item()) -- flat, 1-based
    same({ 3, 3 }, a:argmax(2))
    same({ 1, 1 }, a:argmin(2))
    assert.are.equal("int64", sb.tensor({ 1, 2 }, { dtype = "uint8" }):sum():dtype())
  end)

  it("topk: largest first, ties by lower index, 1-based", function()
    local x = sb.tensor({ { 1, 3, 3, 0, 2 }, { 5, 4, 1, 5, 4 } })
    local v, i = x:topk(3)
    same({ { 3, 3, 2 }, { 5, 5, 4 } }, v)
    same({ { 2, 3, 5 }, { 1, 4, 2 } }, i)
    v, i = x:topk(1, 1)
    same({ { 5, 4, 3, 5, 4 } }, v)
    same({ { 2, 2, 1, 2, 2 } }, i)
    -- int64 values a double cannot tell apart (2^53 + 1 rounds to 2^53), both topk paths
    local big = sb.tensor({ 9007199254740992, 9007199254740993, 1 }, { dtype = "int64" })
    v, i = big:topk(2)
    same({ 9007199254740993, 9007199254740992 }, v)
    same({ 2, 1 }, i)
    local many = {}
    for j = 1, 40 do many[j] = 9007199254740992 + (j % 2) end
    v, i = sb.tensor(many, { dtype = "int64" }):topk(40)
    same({ 9007199254740993, 9007199254740993 }, v:narrow(1, 1, 2))
    same({ 1, 3, 5 }, i:narrow(1, 1, 3))
  end)

  it("matmul, mm, bmm", function()
    local m = sb.tensor({ { 1, 2 }, { 3, 4 } })
    same({ { 7, 10 }, { 15, 22 } }, m:matmul(m))
    same({ { 5, 11 }, { 11, 25 } }, m:mm(m:t()))
    same({ { 10, 14 }, { 14, 20 } }, m:t():mm(m))
    same({ 5, 11 }, m:matmul(sb.tensor({ 1, 2 })))
    assert.are.equal(5, sb.tensor({ 1, 2 }):matmul(sb.tensor({ 1, 2 })):item())
    local bb = sb.arange(8):float():view(2, 2, 2)
    same({ { { 2, 3 }, { 6, 11 } }, { { 46, 55 }, { 66, 79 } } }, bb:bmm(bb))
    assert.are.equal("float64", m:double():matmul(m:double()):dtype())
  end)

  it("non-contiguous inputs give the same answers as contiguous ones", function()
    sb.manual_seed(7)
    local x = sb.rand(6, 5):t() -- [5, 6] strided
    local y = sb.rand(6)
    local xc = x:contiguous()
    same((xc * y):totable(), x * y, 0)
    same(xc:sum(2):totable(), x:sum(2), 1e-6)
    same(xc:exp():totable(), x:exp(), 0)
    local v1, i1 = xc:topk(2)
    local v2, i2 = x:topk(2)
    same(v1:totable(), v2, 0)
    same(i1:totable(), i2, 0)
    same(xc:matmul(xc:t()):totable(), x:matmul(x:t()), 1e-5)
  end)

  it("every op accepts strided, expanded and narrowed operands", function()
    sb.manual_seed(11)
    local base = sb.rand(7, 6):add(0.1)
    local views = {
      transposed = base:t(),                          -- [6, 7], strides (1, 6)
      narrowed = base:narrow(2, 2, 4):t(),             -- [4, 7], offset
      expanded = base:select(2, 3):unsqueeze(1):expand(3, 7), -- stride 0
    }
    local unary = { "neg", "abs", "exp", "log", "sqrt", "clone", "contiguous", "float", "double" }
    local binary = { "add", "sub", "mul", "div", "maximum", "minimum", "eq", "ne", "gt", "lt", "ge", "le" }
    local reduce = { "sum", "mean", "max", "min", "argmax", "argmin" }
    for name, v in pairs(views) do
      local c = v:contiguous()
      for _, op in ipairs(unary) do same(c[op](c):totable(), v[op](v), 1e-6) end
      for _, op in ipairs(binary) do
        same(c[op](c, c:flip_for_test()):totable(), v[op](v, c:flip_for_test()), 1e-6)
        same(c[op](c, 0.5):totable(), v[op](v, 0.5), 1e-6)
      end
      for _, op in ipairs(reduce) do
        same(c[op](c):totable(), v[op](v), 1e-5)
        same(c[op](c, 1):totable(), v[op](v, 1), 1e-5)
        same(c[op](c, 2):totable(), v[op](v, 2), 1e-5)
      end
      local cv, ci = c:topk(2)
      local vv, vi = v:topk(2)
      same(cv:totable(), vv, 0)
      same(ci:totable(), vi, 0)
      same(c:clamp(0.3, 0.6):totable(), v:clamp(0.3, 0.6), 0)
      same(c:matmul(c:t()):totable(), v:matmul(v:t()), 1e-5)
      same(c:t():matmul(c):totable(), v:t():matmul(v), 1e-5)
      local dst = sb.zeros(v:size())
      same(c:totable(), dst:copy(v), 0)
      same(c:reshape(-1):totable(), v:reshape(-1), 0)
      assert.are.equal(name, name)
    end
  end)

  it("matmul agrees with a naive product for every operand layout BLAS may see", function()
    sb.manual_seed(5)
    local function layouts(rows, cols)
      local base = sb.rand(rows, cols)
      return {
        contiguous = base,
        transposed = sb.rand(cols, rows):t(),
        narrowed = sb.rand(rows, cols + 3):narrow(2, 2, cols),
        expanded = sb.rand(1, cols):expand(rows, cols),
        column_of_wider = sb.rand(cols, rows + 2):t():narrow(1, 2, rows),
      }
    end
    local function naive(a, b)
      local A, B = a:totable(), b:totable()
      local out = {}
      for i = 1, #A do
        out[i] = {}
        for j = 1, #B[1] do
          local acc = 0
          for k = 1, #B do acc = acc + A[i][k] * B[k][j] end
          out[i][j] = acc
        end
      end
      return out
    end
    for _, dims in ipairs({ { 1, 1, 1 }, { 1, 4, 3 }, { 3, 1, 2 }, { 4, 3, 1 }, { 5, 6, 7 } }) do
      local M, K, N = dims[1], dims[2], dims[3]
      for _, a in pairs(layouts(M, K)) do
        for _, b in pairs(layouts(K, N)) do
          same(naive(a, b), a:matmul(b), 1e-5)
          same(naive(a, b), a:double():mm(b:double()), 1e-12)
        end
      end
    end
  end)

  it("cat and stack", function()
    local c = sb.cat({ sb.ones(2, 3), sb.zeros(1, 3) })
    same({ { 1, 1, 1 }, { 1, 1, 1 }, { 0, 0, 0 } }, c)
    local w = sb.cat({ sb.ones(2, 1):t():t(), sb.arange(4):view(2, 2) }, 2) -- promotes to float32
    assert.are.equal("float32", w:dtype())
    same({ { 1, 0, 1 }, { 1, 2, 3 } }, w)
    same({ { 0, 0 }, { 1, 1 }, { 2, 2 } }, sb.stack({ sb.arange(3), sb.arange(3) }, -1))
    same({ { 0, 1, 2 }, { 0, 1, 2 } }, sb.stack({ sb.arange(3), sb.arange(3) }))
    local strided = sb.arange(6):view(2, 3):t() -- non-contiguous inputs
    same({ { 0, 3 }, { 1, 4 }, { 2, 5 }, { 0, 3 }, { 1, 4 }, { 2, 5 } }, sb.cat({ strided, strided }))
  end)

  it("prints like PyTorch", function()
    assert.are.equal("tensor([[1., 2., 3.],\n        [4., 5., 6.]])", tostring(a))
    assert.are.equal("tensor([0.5000, 0.2500])", tostring(sb.tensor({ 0.5, 0.25 })))
    assert.are.equal("tensor([1, 2], dtype=int32)", tostring(sb.tensor({ 1, 2 }, { dtype = "int32" })))
    assert.are.equal("tensor(3.)", tostring(sb.tensor({ 3 }):sum()))
    assert.are.equal("tensor([1.0000e-05, 1.0000e+00])", tostring(sb.tensor({ 1e-5, 1 })))
    assert.truthy(tostring(sb.zeros(100, 100)):find("...", 1, true))
  end)
end)

describe("memory", function()
  it("free and <close> release at once; a freed tensor raises", function()
    -- Collect earlier tests' garbage and hold the GC, so that only this test's frees
    -- change the byte count between two readings.
    collectgarbage()
    collectgarbage()
    collectgarbage("stop")
    local before = sb.memory_stats().allocated
    local t = sb.zeros(1000)
    assert.are.equal(before + 4000, sb.memory_stats().allocated)
    t:free()
    assert.are.equal(before, sb.memory_stats().allocated)
    t:free() -- idempotent
    assert.has_error(function() return t + 1 end, "tensor was freed (t:free() or <close>) and cannot be used")
    assert.has_error(function() return t:size() end, "tensor was freed (t:free() or <close>) and cannot be used")
    assert.are.equal("tensor(<freed>)", tostring(t))
    do
      local c <close> = sb.zeros(1000)
      assert.are.equal(before + 4000, sb.memory_stats().allocated)
    end
    assert.are.equal(before, sb.memory_stats().allocated)
    collectgarbage("restart")
  end)

  it("tracks the peak and resets it", function()
    sb.reset_peak_memory_stats()
    local base = sb.memory_stats().allocated
    local t = sb.zeros(1 << 20)
    t:free()
    local stats = sb.memory_stats()
    assert.is_true(stats.max_allocated >= base + 4 * (1 << 20))
    sb.reset_peak_memory_stats()
    assert.are.equal(sb.memory_stats().allocated, sb.memory_stats().max_allocated)
  end)
end)

describe("threads", function()
  it("set_num_threads sets the pool; the session's --threads goes through it", function()
    local n = sb.get_num_threads()
    sb.set_num_threads(1)
    assert.are.equal(1, sb.get_num_threads())
    sb.session.configure { threads = 2 }
    assert.are.equal(2, sb.get_num_threads())
    sb.set_num_threads(n)
    assert.has_error(function() sb.set_num_threads(0) end,
      "set_num_threads: n must be between 1 and 1024, got 0")
  end)
end)
