-- sb.metrics against scikit-learn (tests/fixtures/metrics/sklearn.json, written by
-- tools/fixtures/metrics.py): each meter batch by batch, in total, and merged from two halves.
local sb = require "sbengine"
local cjson = require "cjson"
local metrics = sb.metrics

local function load_fixture()
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/metrics/sklearn.json"))
  local d = cjson.decode(f:read("a"))
  f:close()
  return d
end
local fx = load_fixture()

local function near(expected, got, what)
  if expected == cjson.null then
    assert(got ~= got, ("%s: expected NaN (undefined), got %s"):format(what, tostring(got)))
    return
  end
  local tol = 1e-9 * math.max(1, math.abs(expected))
  assert(math.abs(expected - got) <= tol,
    ("%s: expected %.17g, got %.17g"):format(what, expected, got))
end

local function near_list(expected, got, what)
  assert.are.equal(#expected, #got, what .. ": length")
  for i = 1, #expected do near(expected[i], got[i], ("%s[%d]"):format(what, i)) end
end

-- batches of a fixture as tensors: {output, target} per batch
local function batches(section, out_dtype, target_dtype)
  local output = sb.tensor(section.output, { dtype = out_dtype or "float64" })
  local target = sb.tensor(section.target, { dtype = target_dtype or "int64" })
  local list, start = {}, 1
  for _, n in ipairs(section.batches) do
    list[#list + 1] = { output:narrow(1, start, n), target:narrow(1, start, n) }
    start = start + n
  end
  return list, output, target
end

-- Runs check(value, expected, label) per batch, in total, and for the merge of two halves.
local function check_meter(name, opts, section, check, out_dtype, target_dtype)
  local list = batches(section, out_dtype, target_dtype)
  local total = metrics.create(name, opts)
  local first, second = metrics.create(name, opts), metrics.create(name, opts)
  local half = #list // 2
  for i, b in ipairs(list) do
    local m = metrics.create(name, opts)
    m:add(b[1], b[2])
    check(m:value(), section.per_batch[i], ("%s batch %d"):format(name, i))
    total:add(b[1], b[2])
    if i <= half then first:add(b[1], b[2]) else second:add(b[1], b[2]) end
  end
  check(total:value(), section.total, name .. " total")
  check(first:merge(second):value(), section.total, name .. " merged halves")
  -- merging a state() table is the same as merging the meter
  local again = metrics.create(name, opts)
  for i = 1, half do again:add(list[i][1], list[i][2]) end
  check(again:merge(second:state()):value(), section.total, name .. " merged state")
end

describe("sb.metrics against scikit-learn", function()
  local cls = fx.classification
  local C = cls.num_classes

  it("topk_accuracy", function()
    check_meter("topk_accuracy", { k = { 1, 3, 5 } }, cls, function(v, e, what)
      for _, k in ipairs { 1, 3, 5 } do
        near(e.topk[tostring(k)], v[("Top %d Accuracy"):format(k)], what .. " top" .. k)
      end
    end)
  end)

  it("confusion_matrix: matrix, precision/recall/F1 per class, macro and micro", function()
    check_meter("confusion_matrix", { num_classes = C }, cls, function(v, e, what)
      assert.are.same(e.matrix, v.matrix, what .. " matrix")
      near_list(e.precision, v.precision, what .. " precision")
      near_list(e.recall, v.recall, what .. " recall")
      near_list(e.f1, v.f1, what .. " f1")
      assert.are.same(e.support, v.support, what .. " support")
      for _, key in ipairs { "precision_macro", "recall_macro", "f1_macro", "precision_micro",
                             "recall_micro", "f1_micro", "accuracy" } do
        near(e[key], v[key], what .. " " .. key)
      end
    end)
  end)

  it("balanced_accuracy", function()
    check_meter("balanced_accuracy", { num_classes = C }, cls, function(v, e, what)
      near(e.balanced_accuracy, v, what)
    end)
  end)

  it("perplexity from logits and from log-probabilities", function()
    check_meter("perplexity", {}, cls, function(v, e, what) near(e.perplexity, v, what) end)
    -- log_probs = true: feed log-softmax computed here
    local m = metrics.create("perplexity", { log_probs = true })
    local rows = {}
    for i, row in ipairs(cls.output) do
      local mx = math.max(table.unpack(row))
      local z = 0
      for _, x in ipairs(row) do z = z + math.exp(x - mx) end
      rows[i] = {}
      for j, x in ipairs(row) do rows[i][j] = x - mx - math.log(z) end
    end
    m:add(sb.tensor(rows, { dtype = "float64" }), sb.tensor(cls.target, { dtype = "int64" }))
    near(cls.total.perplexity, m:value(), "perplexity log_probs")
  end)

  it("mse, mae, rmse", function()
    for _, name in ipairs { "mse", "mae", "rmse" } do
      check_meter(name, {}, fx.regression, function(v, e, what) near(e[name], v, what) end,
        "float64", "float64")
    end
  end)

  it("mean_iou on (N, C, H, W) scores with ignored pixels", function()
    local seg = fx.segmentation
    check_meter("mean_iou", { num_classes = seg.num_classes, ignore_index = seg.ignore_index }, seg,
      function(v, e, what)
        near_list(e.iou, v.iou, what .. " iou")
        near(e.mean_iou, v.mean_iou, what .. " mean_iou")
        near(e.pixel_accuracy, v.pixel_accuracy, what .. " pixel_accuracy")
      end)
  end)

  it("gives the same classification counts for float32 outputs", function()
    check_meter("topk_accuracy", { k = { 1, 3, 5 } }, cls, function(v, e, what)
      near(e.topk["1"], v["Top 1 Accuracy"], what)
    end, "float32")
  end)
end)

describe("sb.metrics.accuracy", function()
  it("returns percentages per k as multiple values, like the seed", function()
    local list = batches(fx.classification)
    for i, b in ipairs(list) do
      local e = fx.classification.per_batch[i].topk
      local top1, top5 = metrics.accuracy(b[1], b[2], { 1, 5 })
      near(e["1"] * 100, top1, "top1 %")
      near(e["5"] * 100, top5, "top5 %")
    end
  end)

  it("reads column j as class j-1 and breaks ties by the lower column", function()
    local out = sb.tensor { { 0.1, 0.9, 0.0 }, { 0.5, 0.5, 0.0 }, { 0.2, 0.3, 0.5 } }
    local top1, top2 = metrics.accuracy(out, sb.tensor({ 1, 1, 0 }, { dtype = "int64" }), { 1, 2 })
    -- row 1: class 1 wins; row 2: tie between classes 0 and 1, class 0 first; row 3: class 2
    near(100 / 3, top1, "top1")
    near(200 / 3, top2, "top2")
  end)

  it("names the problem with bad inputs", function()
    local out = sb.zeros(4, 3)
    assert.has_error(function() metrics.accuracy(out, sb.tensor({ 0, 1, 2 }, { dtype = "int64" })) end,
      "accuracy: target must hold one class id per row of output [4, 3], got [3]")
    assert.has_error(function() metrics.accuracy(out, sb.tensor({ 0, 1, 2, 3 }, { dtype = "int64" })) end,
      "accuracy: target: class id 3 is not a whole number in [0, 2]")
    assert.has_error(function() metrics.accuracy(sb.zeros(4), sb.zeros(4)) end,
      "accuracy: output must be 2-D (N, C) scores, got 1-D [4]")
  end)

  -- The position is the caller's line (this file), not the engine's Lua file; meters name
  -- themselves.
  it("raises at the caller's line, and meters say which meter failed", function()
    local function raised(fn)
      local ok, err = pcall(fn)
      assert.is_false(ok)
      return tostring(err)
    end
    local bad = sb.tensor({ 0, 1, 2, 3 }, { dtype = "int64" })
    local err = raised(function() metrics.accuracy(sb.zeros(4, 3), bad) end)
    assert.matches("^[^:]*metrics_spec%.lua:%d+: accuracy: target: class id 3", err)
    for _, name in ipairs { "topk_accuracy", "confusion_matrix", "balanced_accuracy", "mean_iou",
                            "perplexity" } do
      local m = metrics.create(name, { num_classes = 3 })
      err = raised(function() m:add(sb.zeros(4, 3), bad) end)
      assert.matches("^[^:]*metrics_spec%.lua:%d+: " .. name .. ": target: class id 3", err)
    end
    for _, name in ipairs { "mse", "mae", "rmse" } do
      local m = metrics.create(name)
      err = raised(function() m:add(sb.zeros(4, 3), sb.zeros(5)) end)
      assert.matches("^[^:]*metrics_spec%.lua:%d+: " .. name .. ": output %[4, 3%] and target %[5%]", err)
    end
  end)
end)

describe("AverageMeter", function()
  it("keeps val, avg, sum, count as torchbench's", function()
    local m = metrics.AverageMeter()
    m:update(50, 2)
    m:update(80)
    assert.are.equal(80, m.val)
    assert.are.equal(180, m.sum)
    assert.are.equal(3, m.count)
    assert.are.equal(60, m.avg)
    local other = metrics.AverageMeter()
    other:update(0, 3)
    m:merge(other)
    assert.are.equal(30, m.avg)
    m:reset()
    assert.are.same({ 0, 0, 0, 0 }, { m.val, m.avg, m.sum, m.count })
    assert.has_error(function() m:update("x") end, "AverageMeter:update: val must be a number, got string")
  end)
end)

describe("the meter registry", function()
  it("lists the shipped meters", function()
    local names = metrics.list()
    for _, n in ipairs { "balanced_accuracy", "bleu", "coco_detection", "coco_segmentation", "confusion_matrix", "mae", "mean_iou", "mse",
                         "perplexity", "rmse", "topk_accuracy" } do
      assert.truthy(table.concat(names, " "):find(n, 1, true), n)
    end
  end)

  it("defines meters with declared merges: sum, min, max, cat", function()
    local Range = metrics.define {
      name = "test_range",
      state = { lo = "min", hi = "max", seen = "cat", n = "sum" },
      init = function() return { lo = math.huge, hi = -math.huge, seen = {}, n = 0 } end,
      update = function(s, output)
        for _, v in ipairs(output) do
          s.lo, s.hi, s.n = math.min(s.lo, v), math.max(s.hi, v), s.n + 1
          s.seen[#s.seen + 1] = v
        end
      end,
      compute = function(s) return { lo = s.lo, hi = s.hi, n = s.n, count = #s.seen } end,
    }
    metrics.register("test_range", Range)
    local a, b = metrics.create("test_range"), metrics.create("test_range")
    a:add { 3, 1 }
    b:add { 7, 5, 2 }
    assert.are.same({ lo = 1, hi = 7, n = 5, count = 5 }, a:merge(b):value())
    assert.are.same({ 3, 1, 7, 5, 2 }, a:state().seen)
    a:reset()
    assert.are.equal(0, a:value().n)
  end)

  it("keeps \"sum\" states exact: the same bits however the batches are grouped", function()
    local exact = require "sbengine._exact_sum"
    local dist = require "sbengine.dist"
    local seen_at_update = {}
    local Sums = metrics.define {
      name = "test_exact_sums",
      state = { total = "sum", bins = "sum", n = "sum" },
      init = function() return { total = 0, bins = { 0, 0 }, n = 0 } end,
      update = function(s, output)
        seen_at_update[#seen_at_update + 1] = s.total
        for _, v in ipairs(output) do
          s.total = s.total + v
          s.bins[v >= 1e8 and 2 or 1] = s.bins[v >= 1e8 and 2 or 1] + v
          s.n = s.n + 1
        end
      end,
      compute = function(s) return { total = s.total, small = s.bins[1], big = s.bins[2], n = s.n } end,
    }
    -- One large batch part among small ones: adding the parts in order, or rank by rank,
    -- rounds differently; the exact sum does not.
    local batches = { { 0.1, 0.2 }, { 1e16 }, { 0.7, 1.1 }, { 1.0 }, { 1.0 }, { 3.3, -1e16 }, { 0.3 } }
    local parts = {}
    for i, b in ipairs(batches) do parts[i] = b[1] + (b[2] or 0) end
    local want = exact.of(parts)
    local naive_in_order, naive_by_halves = 0, 0
    for _, x in ipairs(parts) do naive_in_order = naive_in_order + x end
    local h1, h2 = 0, 0
    for i, x in ipairs(parts) do if i <= 4 then h1 = h1 + x else h2 = h2 + x end end
    naive_by_halves = h1 + h2
    assert.are_not.equal(naive_in_order, naive_by_halves) -- the case means something
    local function bits(v) return ("%a %a %a %d"):format(v.total, v.small, v.big, v.n) end

    local one = Sums.new()
    for _, b in ipairs(batches) do one:add(b) end
    assert.are.equal(("%a"):format(want), ("%a"):format(one:value().total))
    for _, x in ipairs(seen_at_update) do assert.are.equal(0, x) end -- update sees 0
    for ranks = 2, 4 do
      local meters = {}
      for r = 1, ranks do meters[r] = Sums.new() end
      for i, b in ipairs(batches) do -- contiguous shards, as the DataLoader cuts them
        meters[math.min(ranks, (i - 1) * ranks // #batches + 1)]:add(b)
      end
      local merged = meters[1]
      for r = 2, ranks do -- through the wire format of sb.dist, as rank 0 gets them
        merged:merge(dist._unpack(dist._pack(meters[r]:state())))
      end
      assert.are.equal(bits(one:value()), bits(merged:value()), ranks .. " shards")
    end
    -- merged in another order, and from a meter (not its state)
    local a, b = Sums.new(), Sums.new()
    for i, x in ipairs(batches) do if i % 2 == 0 then a:add(x) else b:add(x) end end
    assert.are.equal(bits(one:value()), bits(b:merge(a):value()), "interleaved")
    -- integers stay integers; a plain state table (no _exact) merges its numbers as terms
    local c = Sums.new():add { 1e16 }
    c:merge { total = 1.0, bins = { 1, 0 }, n = 1 }
    assert.are.equal(math.type(c:value().n), "integer")
    assert.are.equal(1e16, c:value().total) -- 1e16 + 1: the tie rounds to even
    c:merge { total = 1.0, bins = { 0, 0 }, n = 0 }
    assert.are.equal(1e16 + 2, c:value().total)
    -- a meter of integers only keeps no exact sums: its state() is what it was
    local t = metrics.create("topk_accuracy", { k = { 1 } })
    t:add(sb.tensor { { 0.1, 0.9 } }, sb.tensor({ 1 }, { dtype = "int64" }))
    assert.are.same({ correct = { 1 }, total = 1 }, t:state())
  end)

  it("leaves \"sum\" states as they were when update fails, and checks what it left", function()
    local Fails = metrics.define {
      name = "test_failing_sum",
      state = { total = "sum", list = "sum" },
      init = function() return { total = 0, list = { 0, 0 } } end,
      update = function(s, output)
        s.total = s.total + output[1]
        s.list[1] = s.list[1] + 0.5
        if output[2] == "fail" then error("broken batch") end
        if output[2] == "string" then s.total = "x" end
        if output[2] == "short" then s.list = { 1 } end
      end,
      compute = function(s) return { total = s.total, first = s.list[1] } end,
    }
    local m = Fails.new():add { 2.5 }
    assert.has_error(function() m:add { 100, "fail" } end)
    assert.are.same({ total = 2.5, first = 0.5 }, m:value())
    local ok, err = pcall(m.add, m, { 1, "string" })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("\"sum\" state 'total' must hold numbers, got string", 1, true), err)
    ok, err = pcall(m.add, m, { 1, "short" })
    assert.truthy(tostring(err):find("update left \"sum\" state 'list' as a list of 1; expected a list of 2 numbers", 1, true), err)
    assert.has_error(function()
      metrics.define { name = "r", state = { _exact = "sum" }, init = print, update = print, compute = print }
    end, "define r: '_exact' is reserved (state() keeps the exact sums there)")
  end)

  it("gives mse the correctly rounded sum of its batches, merged or not", function()
    local exact = require "sbengine._exact_sum"
    local xs = { { 1e8 }, { 1, 1 }, { 1 }, { 3, 1e-3 }, { 1 } }
    local one, parts = metrics.create("mse"), {}
    local halves = { metrics.create("mse"), metrics.create("mse") }
    for i, x in ipairs(xs) do
      local t = sb.tensor(x, { dtype = "float64" })
      one:add(t, sb.zeros(#x, { dtype = "float64" }))
      halves[i <= 2 and 1 or 2]:add(t, sb.zeros(#x, { dtype = "float64" }))
      local s = 0.0
      for _, v in ipairs(x) do s = s + v * v end
      parts[i] = s
    end
    local want = exact.of(parts) / 7
    assert.are.equal(("%a"):format(want), ("%a"):format(one:value()))
    assert.are.equal(("%a"):format(want), ("%a"):format(halves[2]:merge(halves[1]:state()):value()))
  end)

  it("rejects what it cannot use, naming it", function()
    assert.has_error(function() metrics.create("nope") end)
    local ok, err = pcall(metrics.create, "nope")
    assert.truthy(err:find("unknown metric 'nope' (known: ", 1, true))
    assert.has_error(function() metrics.register("x", {}) end,
      "register x: expected a table with a new(opts) function")
    assert.has_error(function()
      metrics.define { name = "bad", state = { s = "avg" }, init = print, update = print, compute = print }
    end, "define bad: state 's' merges by 'avg'; expected sum, min, max or cat")
    assert.has_error(function() metrics.register("mse", { new = function() end }) end)
    assert.has_error(function() metrics.create("confusion_matrix") end)
    local m1 = metrics.create("topk_accuracy", { k = { 1 } })
    local m2 = metrics.create("topk_accuracy", { k = { 1, 5 } })
    assert.has_error(function() m1:merge(m2) end)
  end)

  it("loads metric scripts from a folder", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local f = io.open(dir .. "/count_rows.lua", "w")
    f:write([[
local metrics = require "sbengine.metrics"
metrics.register("count_rows", metrics.define {
  name = "count_rows", state = { n = "sum" },
  init = function() return { n = 0 } end,
  update = function(s, output) s.n = s.n + output:size(1) end,
  compute = function(s) return s.n end,
})
]])
    f:close()
    metrics.load_scripts(dir, true)
    local m = metrics.create("count_rows")
    m:add(sb.zeros(5, 2))
    assert.are.equal(5, m:value())
    os.execute("rm -rf " .. dir)
    assert.has_error(function() metrics.load_scripts("/nonexistent/metrics", true) end)
  end)
end)
