-- sb.eval.ImageNet against sotabench-eval's ImageNetEvaluator arithmetic
-- (tests/fixtures/eval/imagenet_eval.json, tools/fixtures/imagenet_eval.py), its errors, and
-- its targets read from an ImageNet folder (tests/fixtures/imagenet_tree).
local sb = require "sbengine"
local helper = require "eval_helper"
local cjson = require "cjson"

local fixture = helper.fixture("imagenet_eval.json")

describe("sb.eval.ImageNet", function()
  for _, case in ipairs(fixture.cases) do
    it(case.name .. ": equal to sotabench-eval", function()
      local ev = sb.eval.ImageNet { targets = case.targets, model_name = "m" }
      -- in two calls, tensors and lists
      local first, second, n = {}, {}, 0
      for id, s in pairs(case.scores) do
        n = n + 1
        if n % 2 == 0 then first[id] = sb.tensor(s, { dtype = "float64" }) else second[id] = s end
      end
      ev:add(first)
      ev:add(second)
      local r = ev:results()
      assert.equal(case.results["Top 1 Accuracy"], r["Top 1 Accuracy"])
      assert.equal(case.results["Top 5 Accuracy"], r["Top 5 Accuracy"])
      local d = ev:save():to_dict()
      assert.equal("ImageNet", d.dataset_name)
      assert.equal("Image Classification", d.task)
    end)
  end

  it("reads the targets from a JSON file", function()
    local case = fixture.cases[1]
    local path = helper.file("targets.json", cjson.encode(case.targets))
    local ev = sb.eval.ImageNet { targets = path }
    ev:add(case.scores)
    assert.equal(case.results["Top 5 Accuracy"], ev:results()["Top 5 Accuracy"])
  end)

  it("reads the targets from an ImageNet folder, by file name without extension", function()
    local ev = sb.eval.ImageNet { root = os.getenv("SBENGINE_FIXTURES") .. "/imagenet_tree",
      model_name = "m" }
    -- the tree's images 1-3 are class 0, 4-6 class 1, 7-8 class 2 (n01440764, n01443537, n01484850)
    local scores = {}
    for i = 1, 8 do
      local s = sb.zeros(1000)
      s[1] = 1 -- class 0 first
      scores[("ILSVRC2012_val_%08d"):format(i)] = s
    end
    ev:add(scores)
    assert.equal(3 / 8, ev:results()["Top 1 Accuracy"])
  end)

  it("names unknown, repeated and missing ids", function()
    local ev = sb.eval.ImageNet { targets = { a = 0, b = 1, c = 2 } }
    local ok, err = pcall(ev.add, ev, { z = { 1, 2, 3 } })
    assert.is_false(ok)
    assert.matches("image z is not in the targets table", err, 1, true)
    ev:add { a = { 3, 2, 1 } }
    ok, err = pcall(ev.add, ev, { a = { 3, 2, 1 } })
    assert.is_false(ok)
    assert.matches("image a was already added", err, 1, true)
    ok, err = pcall(ev.results, ev)
    assert.is_false(ok)
    assert.matches("2 of 3 images have no scores (b, c)", err, 1, true)
    ok, err = pcall(ev.add, ev, { b = sb.zeros(2, 2) })
    assert.is_false(ok)
    assert.matches("the scores of b must be a 1-D tensor or a list, got [2, 2]", err, 1, true)
  end)
end)
