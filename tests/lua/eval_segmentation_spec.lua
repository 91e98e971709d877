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
