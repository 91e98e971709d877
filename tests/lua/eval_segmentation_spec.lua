-- The mean_iou meter's protocols against their references (tests/fixtures/eval/segmentation.json,
-- written by tools/fixtures/segmentation.py from torchvision's ConfusionMatrix and the ADE20K
-- scene-parsing evaluation code): each case batch by batch, and as two merged shards.
local sb = require "sbengine"
local helper = require "eval_helper"

local fixture = helper.fixture("segmentation.json")

local function num(v) return v == "nan" and 0 / 0 or v end

-- torchvision's numbers are float32 results: equal bit for bit, but for the mean, which
-- torch sums in its vectorised kernel's order: within one float32 ulp. ADE20K's reference adds
-- machine epsilon to each image's union, which moves the last digits: 1e-12 relative.
local function same(got, want, protocol, what)
  want = num(want)
  if want ~= want then
    assert(got ~= got, ("%s: expected NaN, got %s"):format(what, tostring(got)))
    return
  end
  local tol = protocol == "ade20k" and 1e-12 * math.max(1, math.abs(want))
    or what == "mean_iou" and 2 ^ -23 * math.abs(want) or 0
  assert(math.abs(got - want) <= tol,
    ("%s: got %.17g, the reference %.17g"):format(what, got, want))
end

local function batch(b)
  local target = sb.tensor(b.target, { dtype = "int64" }):view(b.shape)
  if b.scores then return sb.tensor(b.scores):view(b.scores_shape), target end
  return sb.tensor(b.output, { dtype = "int64" }):view(b.shape), target
end

local function check(value, case)
  same(value.mean_iou, case.expected.mean_iou, case.protocol, "mean_iou")
  same(value.pixel_accuracy, case.expected.pixel_accuracy, case.protocol, "pixel_accuracy")
  assert.equal(#case.expected.iou, #value.iou)
  for c, v in ipairs(case.expected.iou) do
    same(value.iou[c], v, case.protocol, "iou[" .. c .. "]")
  end
end

describe("mean_iou protocols", function()
  for _, case in ipairs(fixture.cases) do
    local opts = { num_classes = case.num_classes, protocol = case.protocol }
    it(case.name, function()
      local m = sb.metrics.create("mean_iou", opts)
      for _, b in ipairs(case.batches) do m:add(batch(b)) end
      check(m:value(), case)
    end)
    if #case.batches > 1 then
      it(case.name .. " (two shards merged)", function()
        local a = sb.metrics.create("mean_iou", opts)
        local b = sb.metrics.create("mean_iou", opts)
        for i, bt in ipairs(case.batches) do (i == 1 and a or b):add(batch(bt)) end
        check(a:merge(b:state()):value(), case)
      end)
    end
  end

  it("refuses unknown protocols and ignore_index with ade20k", function()
    local ok, err = pcall(sb.metrics.create, "mean_iou", { num_classes = 3, protocol = "voc" })
    assert.is_false(ok)
    assert.matches('protocol must be "torchvision" or "ade20k"', err)
    ok, err = pcall(sb.metrics.create, "mean_iou", { protocol = "ade20k", ignore_index = 255 })
    assert.is_false(ok)
    assert.matches("always skips label 0", err)
    local m = sb.metrics.create("mean_iou", { protocol = "ade20k", num_classes = 4 })
    ok, err = pcall(m.add, m, sb.zeros(1, 3, 2, 2), sb.zeros({ 1, 2, 2 }, { dtype = "int64" }))
    assert.is_false(ok)
    assert.matches('output has 3 classes, protocol "ade20k" scores 4', err)
  end)
end)

describe("sb.eval.ADE20K", function()
  local root = os.getenv("SBENGINE_FIXTURES") .. "/segmentation_tree"

  it("takes label maps or scores, and equals the meter over the same pixels", function()
    local ds = sb.data.ADE20K { root = root }
    local by_maps = sb.eval.ADE20K { root = root }
    local by_scores = sb.eval.ADE20K { root = root }
    local meter = sb.metrics.create("mean_iou", { protocol = "ade20k" })
    for i = 1, #ds do
      local _, label = ds:get(i)
      local h, w = label:size(1), label:size(2)
      -- scores whose argmax is class 1 + (x + y) % 5
      local scores = sb.zeros(150, h, w)
      local map = sb.zeros({ h, w }, { dtype = "int64" })
      for y = 1, h do
        for x = 1, w do
          local c = 1 + (x + y) % 5
          scores[c][y][x] = 1
          map[y][x] = c
        end
      end
      by_maps:add { [ds.ids[i]] = map }
      by_scores:add { [ds.ids[i]] = scores }
      meter:add(map:view(1, h, w), label:view(1, h, w))
    end
    local want = meter:value()
    for _, ev in ipairs { by_maps, by_scores } do
      local r = ev:results()
      assert.equal(want.mean_iou, r["Mean IOU"])
      assert.equal(want.pixel_accuracy, r.Accuracy)
      assert.equal(3, ev:stats().images)
    end
  end)

  it("names the image whose prediction has the wrong size, and unknown options", function()
    local ev = sb.eval.ADE20K { root = root }
    local ok, err = pcall(ev.add, ev, { ADE_val_00000002 = sb.zeros(4, 4) })
    assert.is_false(ok)
    assert.matches("the prediction for ADE_val_00000002 has shape [4, 4]; its annotation is 60 x 42",
      err, 1, true)
    ok, err = pcall(ev.add, ev, { ADE_val_00000002 = "map" })
    assert.is_false(ok)
    assert.matches("must be a tensor, got string", err, 1, true)
    ok, err = pcall(sb.eval.ADE20K, { root = root, classes = 150 })
    assert.is_false(ok)
    assert.matches("unknown option 'classes'", err, 1, true)
    ok, err = pcall(ev.save, ev)
    assert.is_false(ok)
    assert.matches("no model name", err, 1, true)
  end)
end)
