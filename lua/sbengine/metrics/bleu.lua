-- bleu{}: corpus BLEU exactly as sacrebleu's default BLEU() (13a tokenizer, mixed case,
-- exponential smoothing, 4-grams; engine/eval/bleu.c; docs/evaluators.md).
--   add(output, target): output is a list of hypothesis strings; target the list of their
--     references, each a string or a list of strings (several references for that segment).
--   value(): {score (0..100), precisions = {4}, bp, sys_len, ref_len, signature}, signature
--     being sacrebleu's ("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0").
-- The state is sacrebleu's sufficient statistics, summed: shards merge exactly.
local calls = require "sbengine._calls"
local core = require "sbengine.core"
local metrics = require "sbengine.metrics"

local SACREBLEU_VERSION = "2.6.0" -- the release whose output the fixtures hold

metrics.register("bleu", metrics.define {
  name = "bleu",
  state = { stats = "sum", min_refs = "min", max_refs = "max" },
  init = function()
    return { stats = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, min_refs = math.huge, max_refs = 0 }
  end,
  update = function(state, output, target)
    -- level 3: update <- m:add <- the line that called m:add
    if type(output) ~= "table" or type(target) ~= "table" then
      error("bleu: add(output, target) takes a list of hypotheses and the list of their "
        .. "references", 3)
    end
    state.stats = calls.c(3, core.eval.bleu_add, state.stats, output, target)
    for i = 1, #target do
      local n = type(target[i]) == "table" and #target[i] or 1
      if n < state.min_refs then state.min_refs = n end
      if n > state.max_refs then state.max_refs = n end
    end
  end,
  compute = function(state)
    local r = core.eval.bleu_compute(state.stats)
    local nrefs = state.max_refs == 0 and 1
      or (state.min_refs == state.max_refs and tostring(state.max_refs) or "var")
    r.signature = ("nrefs:%s|case:mixed|eff:no|tok:13a|smooth:exp|version:%s")
      :format(nrefs, SACREBLEU_VERSION)
    return r
  end,
})
