-- sb.eval.WikiText: per-token perplexity, base e (sotabench-eval's WikiText evaluators), against
-- a log-softmax written out here in float64.
local sb = require "sbengine"

local function perplexity(rows, targets)
  local nll = 0
  for i, row in ipairs(rows) do
    local m = math.max(table.unpack(row))
    local z = 0
    for _, v in ipairs(row) do z = z + math.exp(v - m) end
    nll = nll - (row[targets[i] + 1] - m - math.log(z))
  end
  return math.exp(nll / #rows)
end

describe("sb.eval.WikiText", function()
  local rows = { { 2.0, 0.5, -1.0, 0.0 }, { 0.1, 0.2, 3.0, -2.0 }, { 1.0, 1.0, 1.0, 1.0 } }
  local targets = { 0, 2, 3 }

  it("gives exp(mean negative log-likelihood per token) over batches", function()
    local ev = sb.eval.WikiText { model_name = "LM" }
    local t = sb.tensor(rows, { dtype = "float64" })
    ev:add(t:narrow(1, 1, 2), sb.tensor({ 0, 2 }, { dtype = "int64" }))
    ev:add(t:narrow(1, 3, 1), sb.tensor({ 3 }, { dtype = "int64" }))
    local want = perplexity(rows, targets)
    local got = ev:results()["Test perplexity"]
    assert(math.abs(got - want) <= 1e-12 * want, ("%.17g vs %.17g"):format(got, want))
    local d = ev:save():to_dict()
    assert.are.equal("WikiText-103", d.dataset_name)
    assert.are.equal("Language Modelling", d.task)
  end)

  it("takes log-probabilities with log_probs = true, and WikiText-2", function()
    local ev = sb.eval.WikiText { dataset = "WikiText-2", log_probs = true }
    local lp = sb.tensor({ { math.log(0.5), math.log(0.5) } }, { dtype = "float64" })
    ev:add(lp, sb.tensor({ 1 }, { dtype = "int64" }))
    assert(math.abs(ev:results()["Test perplexity"] - 2) < 1e-12)
  end)

  it("checks its options and names a bad target", function()
    assert.has_error(function() sb.eval.WikiText { dataset = "PTB" } end)
    local ev = sb.eval.WikiText {}
    local ok, err = pcall(ev.add, ev, sb.tensor(rows), sb.tensor({ 0, 9, 1 }, { dtype = "int64" }))
    assert.is_false(ok)
    assert.matches("class id 9", err, 1, true)
  end)
end)
