-- bleu against sacrebleu's default BLEU() (tests/fixtures/eval/bleu.json, written by
-- tools/fixtures/bleu.py): the 13a tokenizer, then every corpus in one piece and as two merged
-- shards, to 1e-12.
local sb = require "sbengine"
local core = require "sbengine.core"
local cjson = require "cjson"
local helper = require "eval_helper"

local fx = helper.fixture("bleu.json")

-- reference streams (null = none for that segment) -> one list of references per segment
local function per_segment(case)
  local out = {}
  for i = 1, #case.hyps do
    local refs = {}
    for _, stream in ipairs(case.refs) do
      if stream[i] ~= cjson.null then refs[#refs + 1] = stream[i] end
    end
    out[i] = refs
  end
  return out
end

local function same(case, v, what)
  local function near(a, b, k)
    assert(math.abs(a - b) <= 1e-12 * math.max(1, math.abs(a)),
      ("%s: %s expected %.17g, got %.17g"):format(what, k, a, b))
  end
  near(case.score, v.score, "score")
  near(case.bp, v.bp, "bp")
  for k = 1, 4 do near(case.precisions[k], v.precisions[k], "precisions[" .. k .. "]") end
  assert.are.equal(case.sys_len, v.sys_len)
  assert.are.equal(case.ref_len, v.ref_len)
  assert.are.equal(case.signature, v.signature)
end

describe("bleu's 13a tokenizer", function()
  it("equals sacrebleu's", function()
    local bad = {}
    for _, c in ipairs(fx.tokenize) do
      local got = core.eval.bleu_tokenize(c[1])
      if got ~= c[2] then bad[#bad + 1] = ("%q -> %q, expected %q"):format(c[1], got, c[2]) end
    end
    assert.are.equal("", table.concat(bad, "\n"))
  end)
end)

describe("bleu equals sacrebleu's corpus BLEU", function()
  for _, case in ipairs(fx.cases) do
    it(case.name, function()
      local refs = per_segment(case)
      local m = sb.metrics.create("bleu")
      m:add(case.hyps, refs)
      same(case, m:value(), case.name)

      local a, b = sb.metrics.create("bleu"), sb.metrics.create("bleu")
      local half = #case.hyps // 2
      a:add(table.move(case.hyps, 1, half, 1, {}), table.move(refs, 1, half, 1, {}))
      b:add(table.move(case.hyps, half + 1, #case.hyps, 1, {}),
        table.move(refs, half + 1, #refs, 1, {}))
      same(case, a:merge(b:state()):value(), case.name .. " (merged shards)")
    end)
  end

  it("names the segment of a wrong input", function()
    local m = sb.metrics.create("bleu")
    assert.has_error(function() m:add({ "a", 3 }, { "a", "b" }) end)
    local ok, err = pcall(m.add, m, { "a" }, { "a", "b" })
    assert.is_false(ok)
    assert.matches("1 hypotheses and 2 references", err, 1, true)
  end)
end)

describe("sb.eval.WMT", function()
  local tmp = require "tmpfiles"
  local dir = helper.dir
  local case
  for _, c in ipairs(fx.cases) do
    if c.name == "three references" then case = c end
  end
  local paths = {}
  for k, stream in ipairs(case.refs) do
    paths[k] = ("%s/ref%d.txt"):format(dir, k)
    tmp.write(paths[k], table.concat(stream, "\n") .. "\n")
  end

  it("scores translations by segment against parallel reference files, as sacrebleu", function()
    local ev = sb.eval.WMT { references = paths, dataset = "WMT2014 English-German",
                             model_name = "Translator" }
    local first, second = {}, {}
    for i, h in ipairs(case.hyps) do (i % 2 == 1 and first or second)[i] = h end
    ev:add(first)
    ev:add(second)
    same(case, ev:stats(), "sb.eval.WMT")
    assert.are.equal(case.score, ev:results().SacreBLEU)
    local d = ev:save():to_dict()
    assert.are.equal("WMT2014 English-German", d.dataset_name)
    assert.are.equal("Machine Translation", d.task)
    assert.are.equal(case.signature, d.config.signature)
  end)

  it("refuses unknown and duplicate segments, naming them", function()
    local ev = sb.eval.WMT { references = paths[1], dataset = "WMT" }
    assert.has_error(function() ev:add { [0] = "x" } end,
      ("sb.eval.WMT:add: segment 0 is not in WMT (segments 1 to %d)"):format(#case.hyps))
    ev:add { [2] = "x" }
    assert.has_error(function() ev:add { [2] = "y" } end,
      "sb.eval.WMT:add: segment 2 was already added")
  end)

  it("checks its options", function()
    assert.has_error(function() sb.eval.WMT { references = paths[1] } end)
    assert.has_error(function() sb.eval.WMT { dataset = "x" } end)
    local short = dir .. "/short.txt"
    tmp.write(short, "one line\n")
    assert.has_error(function() sb.eval.WMT { references = { paths[1], short }, dataset = "x" } end)
  end)
end)
