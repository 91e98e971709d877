-- squad{data = PATH, version = "1.1"|"2.0", na_prob_thresh = 1.0}: exact match and F1 exactly
-- as the official SQuAD evaluation scripts compute them (engine/eval/squad.c;
-- docs/evaluators.md).
--   add(output, target): output is a list of answer strings, target the list of their question
--     ids (a later answer to the same id replaces the earlier one, as the scripts' dict does).
--     v2.0: output may instead be {answers = list, na_probs = list} (either may be left out),
--     each aligned with target: no-answer probabilities, as evaluate-v2.0.py's --na-prob-file;
--     their order of addition is the file's order (it breaks ties in the best threshold).
--   value(): v1.1 {exact_match, f1} (evaluate-v1.1.py's keys; an unanswered question scores 0);
--     v2.0 {exact, f1, total, HasAns_exact, HasAns_f1, HasAns_total, NoAns_*} (evaluate-v2.0.py's,
--     over the answered questions), with no-answer probabilities also best_exact,
--     best_exact_thresh, best_f1, best_f1_thresh; both also {missing = unanswered questions}.
-- The state is the answers and probabilities ("cat"): shards of questions merge exactly.
local calls = require "sbengine._calls"
local core = require "sbengine.core"
local metrics = require "sbengine.metrics"

local VERSIONS = { ["1.1"] = 1, ["2.0"] = 2 }

metrics.register("squad", metrics.define {
  name = "squad",
  state = { ids = "cat", answers = "cat", na_ids = "cat", na_probs = "cat" },
  setup = function(opts)
    opts.version = opts.version and tostring(opts.version) or "1.1"
    if opts.version == "2" then opts.version = "2.0" end
    if not VERSIONS[opts.version] then
      error(("squad: option version must be \"1.1\" or \"2.0\", got %s"):format(opts.version), 3)
    end
    if opts.na_prob_thresh == nil then opts.na_prob_thresh = 1.0 end
    if type(opts.na_prob_thresh) ~= "number" then
      error(("squad: option na_prob_thresh must be a number, got %s")
        :format(type(opts.na_prob_thresh)), 3)
    end
    if type(opts.data) ~= "string" and opts._data == nil then
      error("squad: option data must be the path of a SQuAD dataset file (dev-v1.1.json)", 3)
    end
    -- parsed once (sb.eval.SQuAD hands over the one it parsed)
    if opts._data == nil then
      local data = calls.c(3, core.eval.squad_load, opts.data, VERSIONS[opts.version])
      opts._data = data
    end
    return opts
  end,
  init = function() return { ids = {}, answers = {}, na_ids = {}, na_probs = {} } end,
  update = function(state, output, target, opts)
    local answers, na_probs = output, nil
    if type(output) == "table" and (output.answers ~= nil or output.na_probs ~= nil) then
      answers, na_probs = output.answers, output.na_probs
      if na_probs ~= nil and opts.version ~= "2.0" then
        error("squad: no-answer probabilities (na_probs) are for version 2.0", 3)
      end
    end
    local usage = "squad: add(output, target) takes a list of answers (or {answers = list, "
      .. "na_probs = list}) and the list of their question ids, of the same length"
    if type(target) ~= "table" or output == nil then error(usage, 3) end
    if answers ~= nil and (type(answers) ~= "table" or #answers ~= #target) then
      error(usage, 3)
    end
    if na_probs ~= nil and (type(na_probs) ~= "table" or #na_probs ~= #target) then
      error(usage, 3)
    end
    for i = 1, #target do
      local id = target[i]
      if type(id) ~= "string" then
        error(("squad: question ids must be strings, got %s"):format(type(id)), 3)
      end
      if answers and type(answers[i]) ~= "string" then
        error(("squad: the answer to %s must be a string, got %s"):format(id, type(answers[i])), 3)
      end
      if na_probs and (type(na_probs[i]) ~= "number" or na_probs[i] ~= na_probs[i]
          or math.abs(na_probs[i]) == math.huge) then
        error(("squad: the no-answer probability of %s must be a finite number, got %s")
          :format(id, tostring(na_probs[i])), 3)
      end
      if not opts._data:find(id) then
        error(("squad: question %s is not in %s"):format(id, opts.data), 3)
      end
    end
    for i = 1, #target do
      if answers then
        state.ids[#state.ids + 1] = target[i]
        state.answers[#state.answers + 1] = answers[i]
      end
      if na_probs then
        state.na_ids[#state.na_ids + 1] = target[i]
        state.na_probs[#state.na_probs + 1] = na_probs[i]
      end
    end
  end,
  compute = function(state, opts)
    local data = opts._data
    local by_position = {}
    for i, id in ipairs(state.ids) do by_position[data:find(id)] = state.answers[i] end
    local na = nil
    if opts.version == "2.0" then
      na = { positions = {}, probs = state.na_probs, thresh = opts.na_prob_thresh }
      for i, id in ipairs(state.na_ids) do na.positions[i] = data:find(id) end
    end
    local r = data:evaluate(by_position, na)
    if opts.version == "1.1" then
      return { exact_match = r.exact, f1 = r.f1, missing = r.missing }
    end
    return r
  end,
})
