-- squad{data = PATH, version = "1.1"|"2.0"}: exact match and F1 exactly as the official SQuAD
-- evaluation scripts compute them (engine/eval/squad.c; docs/evaluators.md).
--   add(output, target): output is a list of answer strings, target the list of their question
--     ids (a later answer to the same id replaces the earlier one, as the scripts' dict does).
--   value(): v1.1 {exact_match, f1} (evaluate-v1.1.py's keys; an unanswered question scores 0);
--     v2.0 {exact, f1, total, HasAns_exact, HasAns_f1, HasAns_total, NoAns_*} (evaluate-v2.0.py's,
--     over the answered questions); both also {missing = unanswered questions}.
-- The state is the answers ("cat"): shards of questions merge exactly.
local calls = require "sbengine._calls"
local core = require "sbengine.core"
local metrics = require "sbengine.metrics"

local VERSIONS = { ["1.1"] = 1, ["2.0"] = 2 }

metrics.register("squad", metrics.define {
  name = "squad",
  state = { ids = "cat", answers = "cat" },
  setup = function(opts)
    opts.version = opts.version and tostring(opts.version) or "1.1"
    if opts.version == "2" then opts.version = "2.0" end
    if not VERSIONS[opts.version] then
      error(("squad: option version must be \"1.1\" or \"2.0\", got %s"):format(opts.version), 3)
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
  init = function() return { ids = {}, answers = {} } end,
  update = function(state, output, target, opts)
    if type(output) ~= "table" or type(target) ~= "table" or #output ~= #target then
      error("squad: add(output, target) takes a list of answers and the list of their question "
        .. "ids, of the same length", 3)
    end
    for i = 1, #target do
      local id, answer = target[i], output[i]
      if type(id) ~= "string" then
        error(("squad: question ids must be strings, got %s"):format(type(id)), 3)
      end
      if type(answer) ~= "string" then
        error(("squad: the answer to %s must be a string, got %s"):format(id, type(answer)), 3)
      end
      if not opts._data:find(id) then
        error(("squad: question %s is not in %s"):format(id, opts.data), 3)
      end
      state.ids[#state.ids + 1] = id
      state.answers[#state.answers + 1] = answer
    end
  end,
  compute = function(state, opts)
    local data = opts._data
    local by_position = {}
    for i, id in ipairs(state.ids) do by_position[data:find(id)] = state.answers[i] end
    local r = data:evaluate(by_position)
    if opts.version == "1.1" then
      return { exact_match = r.exact, f1 = r.f1, missing = r.missing }
    end
    return r
  end,
})
