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

-- A na_prob.json with the fixture's pairs in their order (%.17g gives the same doubles).
local function na_file(i, case)
  local parts = {}
  for k, pair in ipairs(case.na_probs) do
    parts[k] = ("%q: %.17g"):format(pair[1], pair[2])
  end
  return helper.file(("na%d.json"):format(i), "{" .. table.concat(parts, ", ") .. "}")
end

describe("squad v2.0 no-answer probabilities equal evaluate-v2.0.py's", function()
  for i, case in ipairs(fx.na_cases) do
    it(case.name, function()
      local path = helper.file(("squad_na%d.json"):format(i), case.data)
      local pairs_ = type(case.na_probs) == "table" and case.na_probs or nil -- null: no file
      local ids, answers = {}, {}
      for id in pairs(case.predictions) do ids[#ids + 1] = id end
      table.sort(ids)
      for k, id in ipairs(ids) do answers[k] = case.predictions[id] end
      local na_ids, na_probs = {}, {}
      for k, pair in ipairs(pairs_ or {}) do na_ids[k], na_probs[k] = pair[1], pair[2] end
      local opts = { data = path, version = "2.0", na_prob_thresh = case.thresh }

      local m = sb.metrics.create("squad", opts)
      m:add(answers, ids)
      if pairs_ then m:add({ na_probs = na_probs }, na_ids) end
      same(case.scores, m:value(), case.name)
      assert.are.equal(case.scores.best_exact == nil, m:value().best_exact == nil)

      -- shards: answers split by parity, probabilities in two halves of the file's order
      local a = sb.metrics.create("squad", opts)
      local b = sb.metrics.create("squad", opts)
      for k = 1, #ids do (k % 2 == 0 and a or b):add({ answers[k] }, { ids[k] }) end
      local half = #na_ids // 2
      for k = 1, #na_ids do
        (k <= half and a or b):add({ na_probs = { na_probs[k] } }, { na_ids[k] })
      end
      same(case.scores, a:merge(b:state()):value(), case.name .. " (merged shards)")

      local ev = sb.eval.SQuAD { data = path, version = "2.0", na_prob_thresh = case.thresh }
      ev:add(case.predictions, pairs_ and na_file(i, case) or nil)
      same(case.scores, ev:stats(), case.name .. " (sb.eval.SQuAD, na_prob.json)")
    end)
  end

  it("takes the probabilities as a table too, ties in the dataset's order", function()
    local case = fx.na_cases[1]
    local path = helper.file("squad_na_table.json", case.data)
    local probs = {}
    for _, pair in ipairs(case.na_probs) do probs[pair[1]] = pair[2] end
    local ev = sb.eval.SQuAD { data = path, version = "2.0" }
    ev:add(case.predictions, probs) -- the fixture's file is in the dataset's order
    same(case.scores, ev:stats(), case.name .. " (table)")
  end)

  it("names a missing, unknown or repeated probability", function()
    local case = fx.na_cases[1]
    local path = helper.file("squad_na_errors.json", case.data)
    local ev = sb.eval.SQuAD { data = path, version = "2.0" }
    local first = case.na_probs[1][1]
    ev:add(case.predictions, { [first] = 0.5 })
    local ok, err = pcall(ev.stats, ev)
    assert.is_false(ok)
    assert.matches("has an answer but no no-answer probability", err, 1, true)
    assert.has_error(function() ev:add({}, { [first] = 0.1 }) end,
      "sb.eval.SQuAD:add: the no-answer probability of question " .. first
        .. " was already added")
    assert.has_error(function() ev:add({}, { nope = 0.1 }) end,
      "sb.eval.SQuAD:add: no-answer probability for question nope, which is not in " .. path)
    local bad = helper.file("na_bad.json", '{"nope": 0.5}')
    ok, err = pcall(ev.add, ev, {}, bad)
    assert.matches("question nope is not in the dataset", err, 1, true)
    bad = helper.file("na_bad2.json", ('{"%s": "x"}'):format(first))
    ok, err = pcall(sb.eval.SQuAD { data = path, version = "2.0" }.add,
      sb.eval.SQuAD { data = path, version = "2.0" }, {}, bad)
    assert.matches("must be a number", err, 1, true)
    local v1 = data_file(1, fx.cases[1])
    assert.has_error(function() sb.eval.SQuAD { data = v1, na_prob_thresh = 0.5 } end)
  end)
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
