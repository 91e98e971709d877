-- squad and sb.eval.SQuAD against the official SQuAD scripts (tests/fixtures/eval/squad.json,
-- written by tools/fixtures/squad.py): normalize_answer on unicode text, then every case
-- through the meter, through two merged shards and through the evaluator.
local sb = require "sbengine"
local core = require "sbengine.core"
local helper = require "eval_helper"

local fx = helper.fixture("squad.json")
local dir = helper.dir

local function data_file(i, case)
  return helper.file(("squad%d.json"):format(i), case.data)
end

local function same(expected, got, what)
  for k, v in pairs(expected) do
    local g = got[k]
    assert(type(g) == "number", ("%s: %s missing"):format(what, k))
    assert(math.abs(v - g) <= 1e-12 * math.max(1, math.abs(v)),
      ("%s: %s expected %.17g, got %.17g"):format(what, k, v, g))
  end
end

describe("squad normalize_answer", function()
  it("equals the scripts' on unicode text", function()
    local bad = {}
    for _, c in ipairs(fx.normalize) do
      local got = core.eval.squad_normalize(c[1])
      if got ~= c[2] then bad[#bad + 1] = ("%q -> %q, expected %q"):format(c[1], got, c[2]) end
    end
    assert.are.equal("", table.concat(bad, "\n"))
  end)
end)

describe("squad equals the official scripts", function()
  for i, case in ipairs(fx.cases) do
    it(case.name, function()
      local path = data_file(i, case)
      local ids, answers = {}, {}
      for id, answer in pairs(case.predictions) do ids[#ids + 1] = id end
      table.sort(ids)
      for k, id in ipairs(ids) do answers[k] = case.predictions[id] end
      local m = sb.metrics.create("squad", { data = path, version = case.version })
      m:add(answers, ids)
      same(case.scores, m:value(), case.name)

      local a = sb.metrics.create("squad", { data = path, version = case.version })
      local b = sb.metrics.create("squad", { data = path, version = case.version })
      for k = 1, #ids do (k % 2 == 0 and a or b):add({ answers[k] }, { ids[k] }) end
      same(case.scores, a:merge(b:state()):value(), case.name .. " (merged shards)")

      local ev = sb.eval.SQuAD { data = path, version = case.version, model_name = "m" }
      ev:add(case.predictions)
      same(case.scores, ev:stats(), case.name .. " (sb.eval.SQuAD)")
      local r = ev:results()
      assert.are.equal(case.scores.exact_match or case.scores.exact, r.EM)
    end)
  end
end)

describe("sb.eval.SQuAD", function()
  local path = data_file(1, fx.cases[1])
  it("saves a BenchmarkResult with sotabench's names", function()
    local ev = sb.eval.SQuAD { data = path, model_name = "Reader" }
    ev:add(fx.cases[1].predictions)
    local d = ev:save():to_dict()
    assert.are.equal("SQuAD1.1", d.dataset_name)
    assert.are.equal("Question Answering", d.task)
    assert.is_number(d.results.EM)
    assert.is_number(d.results.F1)
  end)
  it("refuses unknown and duplicate question ids, naming them", function()
    local ev = sb.eval.SQuAD { data = path }
    assert.has_error(function() ev:add { nope = "x" } end,
      "sb.eval.SQuAD:add: question nope is not in " .. path)
    ev:add { q00001 = "x" }
    assert.has_error(function() ev:add { q00001 = "y" } end,
      "sb.eval.SQuAD:add: question q00001 was already added")
  end)
  it("checks its options", function()
    assert.has_error(function() sb.eval.SQuAD { data = path, version = "3" } end)
    assert.has_error(function() sb.eval.SQuAD { dat = path } end)
    local ok, err = pcall(sb.eval.SQuAD, { data = dir .. "/missing.json" })
    assert.is_false(ok)
    assert.matches("missing.json: No such file", err, 1, true)
  end)
end)
