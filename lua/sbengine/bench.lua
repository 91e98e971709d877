--- sb.bench: the evaluation loop every benchmark shares, and `define`, which turns a short
-- declarative table into a benchmark module (torchbench's one class per dataset plus its
-- `evaluate_classification`, with sotabench's check mode, run hash and cache built in).
--
--   local MNIST = sb.bench.define{
--     name = "MNIST", task = "Image Classification", num_classes = 10,
--     dataset = function(o) return sb.data.MNIST{root = o.data_root, train = false, ...} end,
--     ...
--   }
--   local result = MNIST.benchmark{model = model, paper_model_name = "LeNet-5"}
--
-- See docs/bench.md for every field and option.
local core = require "sbengine.core"
local session = require "sbengine.session"
local utils = require "sbengine.utils"
local util = require "sbengine._util"
local output_checks = require "sbengine._output_checks"
local dist_eval = require "sbengine._dist_eval"

local bench = {}

local function api() return require "sbengine" end

--- Wall-clock seconds from a monotonic clock (differences only).
bench.clock = core.sys.monotonic

-- Options every benchmark accepts (torchbench's parameters, DESIGN §3), the one list:
-- validation, "did you mean", the defaults and the docs check (tests/lua/bench_spec.lua:
-- every name is in docs/bench.md's table) all come from it. `kind` is what the value is
-- checked against (nil: not checked here), `must_be` the words for it in errors and
-- `default` the value when the script gives none (a definition's `defaults` win). A
-- definition adds its own options in `options`.
local OPTIONS = {
  { "model", must_be = "the model: an nn module or any callable (function(input) return output end)" },
  { "paper_model_name", kind = "string", must_be = "a string", default = "unnamed model" },
  { "paper_arxiv_id", kind = "string", must_be = "a string" },
  { "paper_pwc_id", kind = "string", must_be = "a string" },
  { "paper_results", kind = "table", must_be = "a table of result name -> number" },
  { "pytorch_hub_url", kind = "string", must_be = "a string" },
  { "model_description", kind = "string", must_be = "a string" },
  { "input_transform", kind = "callable", must_be = "a transform (sb.transforms...)" },
  { "target_transform", kind = "callable", must_be = "a transform" },
  { "model_output_transform", kind = "callable",
    must_be = "a function(output, target, model) -> output[, target]" },
  { "send_data_to_device", kind = "callable",
    must_be = "a function(input, target, device) -> input, target" },
  { "device", kind = "string", must_be = "\"cpu\", \"cuda\" or \"cuda:N\"" },
  { "data_root", kind = "string", must_be = "a folder path" },
  { "download", kind = "boolean", must_be = "a boolean" },
  { "num_workers", kind = "count0", must_be = "a whole number >= 0" },
  { "batch_size", kind = "count1", must_be = "a whole number >= 1" },
  { "num_gpu", must_be = "1" },
}
local OPTION = {}
for _, o in ipairs(OPTIONS) do OPTION[o[1]] = o end

--- The names of the options every benchmark accepts, sorted (for the docs check).
function bench._common_option_names()
  local names = {}
  for i, o in ipairs(OPTIONS) do names[i] = o[1] end
  table.sort(names)
  return names
end

local function is_callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end

local function is_tensor(x)
  local sb = api()
  return sb.is_tensor(x)
end

local shape_text = util.shape_text

local function check_type(where, name, value)
  local want = OPTION[name].kind
  local ok
  if want == "string" or want == "table" or want == "boolean" then
    ok = type(value) == want
  elseif want == "callable" then
    ok = is_callable(value)
  elseif want == "count0" or want == "count1" then
    ok = math.type(value) == "integer" and value >= (want == "count1" and 1 or 0)
  else
    ok = true
  end
  if not ok then
    error(("%s: option '%s' must be %s, got %s"):format(where, name, OPTION[name].must_be,
      type(value) == "string" and ("%q"):format(value) or tostring(value)), 4)
  end
end

-- Fills defaults and rejects unknown names (typos fail loudly), wrong types and a missing
-- model. Returns a new table.
local function resolve_options(B, opts)
  local where = B.name .. ".benchmark"
  if type(opts) ~= "table" then
    error(("%s: expected a table of options, e.g. %s.benchmark{model = model, "
      .. "paper_model_name = \"LeNet-5\"}, got %s"):format(where, B.name, type(opts)), 3)
  end
  for name in pairs(opts) do
    if type(name) ~= "string" or not B.accepted[name] then
      local best = util.closest(name, B.accepted)
      local hint = best and (" (did you mean '%s'?)"):format(best) or ""
      error(("%s: unknown option '%s'%s; the options are: %s"):format(where, tostring(name),
        hint, table.concat(util.sorted_keys(B.accepted), ", ")), 3)
    end
  end
  if opts.model == nil then
    error(("%s: option 'model' is required: pass the model to evaluate, e.g. "
      .. "%s.benchmark{model = model, paper_model_name = \"My Model\"}"):format(where, B.name), 3)
  end
  if not is_callable(opts.model) then
    error(("%s: option 'model' must be callable (an nn module or a function(input) "
      .. "returning the output), got %s"):format(where, type(opts.model)), 3)
  end
  local o = {}
  for k, v in pairs(B.defaults) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  for name, value in pairs(opts) do
    if OPTION[name] then check_type(where, name, value) end
  end
  if o.num_gpu ~= nil and o.num_gpu ~= 1 then
    error(("%s: option 'num_gpu' must be 1 (sbengine evaluates on one device), got %s")
      :format(where, tostring(o.num_gpu)), 3)
  end
  -- The command line names the machine's data folder and device for this run.
  if session.config.data_root then o.data_root = session.config.data_root end
  if session.config.device then o.device = session.config.device end
  o.device = o.device or utils.default_device()
  for _, option in ipairs(OPTIONS) do
    if o[option[1]] == nil then o[option[1]] = option.default end
  end
  return o
end

-- The parameters of a run for the result's `config`: plain values as they are, objects
-- that print themselves (transforms, modules) as their text; functions are left out.
local function config_of(o)
  local config = {}
  for k, v in pairs(o) do
    local t = type(v)
    if t == "string" or t == "number" or t == "boolean" then
      config[k] = v
    elseif k ~= "model" and (t == "table" or t == "userdata") then
      local mt = getmetatable(v)
      if type(mt) == "table" and mt.__tostring then config[k] = tostring(v) end
    end
  end
  return config
end

--- Semantic segmentation's first-batch check (benchmarks/ade20k.lua, voc_segmentation.lua):
-- `output` must be scores (N, num_classes, H, W) or label maps (N, H, W) at the size of
-- `target` (N, H, W); otherwise an error that says what was returned.
function bench.check_segmentation_outputs(output, target, num_classes, where)
  local ok = is_tensor(output) and is_tensor(target) and target:dim() == 3
  if ok then
    local n, h, w = target:size(1), target:size(2), target:size(3)
    ok = (output:dim() == 4 and output:size(1) == n and output:size(2) == num_classes
            and output:size(3) == h and output:size(4) == w)
      or (output:dim() == 3 and output:size(1) == n and output:size(2) == h
            and output:size(3) == w)
  end
  if not ok then
    error(("%s: the model returned %s; expected scores (N, %d, H, W) or label maps (N, H, W) at "
      .. "the size of the target %s (model_output_transform = function(output, target) ... "
      .. "return scores, target end adapts another form)")
      :format(where, is_tensor(output) and "a tensor of shape " .. shape_text(output)
        or "a " .. type(output), num_classes,
        is_tensor(target) and shape_text(target) or type(target)), 0)
  end
end

--- torchbench's check_metric_inputs: after the first batch, checks that the model's output
-- is a (batch_size, num_classes) tensor and the target a (batch_size) tensor, and says how
-- to fix it when not. A fix is only proposed when it can work: a `view` only when each
-- input's scores number num_classes, `t()` only for an output that is the transpose of the
-- right one. `where` names the benchmark ("MNIST.benchmark").
function bench.check_classification_outputs(output, target, num_classes, where)
  local classes = num_classes and tostring(num_classes) or "number of classes"
  local function transform_fix(body)
    return ("keep the model and pass a function that converts its output:\n  "
      .. "%s{model = model, model_output_transform = function(output, target) return %s "
      .. "end, ...}"):format(where, body)
  end
  local retrain = ("\nTo fix it, make the model's last layer give %s scores per input (for "
    .. "example sb.nn.Linear(in_features, %s), or sb.models.NAME{num_classes = %s}): scores "
    .. "for other classes cannot be turned into these"):format(classes, classes, classes)
  if not is_tensor(output) then
    local fix = ("\nTo fix it, make model(input) return a tensor of shape (batch_size, %s) "
      .. "with one score per class"):format(classes)
    if type(output) == "table" then
      -- A model that returns a table (e.g. {logits = t}): pick the tensor out of it.
      local picks = {}
      for k, v in pairs(output) do
        if is_tensor(v) then
          picks[#picks + 1] = type(k) == "string" and k:match("^[%a_][%w_]*$")
            and ("output." .. k) or ("output[%s]"):format(type(k) == "string"
              and ("%q"):format(k) or tostring(k))
        end
      end
      table.sort(picks)
      if #picks > 0 then fix = fix .. ", or " .. transform_fix(picks[1]) end
    end
    error(("%s: the model returned a %s; expected a tensor of shape (batch_size, %s)%s")
      :format(where, type(output), classes, fix), 0)
  end
  if not is_tensor(target) then
    error(("%s: the target of the first batch is a %s, expected a 1-D tensor of class ids. "
      .. "It is changed only by send_data_to_device or model_output_transform: check "
      .. "what yours return"):format(where, type(target)), 0)
  end
  if target:dim() ~= 1 then
    error(("%s: the target of the first batch has shape %s, expected 1 dimension "
      .. "(batch_size). It is changed only by send_data_to_device or model_output_transform: "
      .. "check what yours return"):format(where, shape_text(target)), 0)
  end
  local batch = target:size(1)
  if output:dim() ~= 2 then
    local fix
    if output:dim() == 0 or (output:dim() == 1 and output:size(1) == batch) then
      fix = ("\nTo fix it, return the scores of every class, not one value per input (class "
        .. "ids from argmax, or a single score): the metrics rank the scores themselves")
    elseif output:dim() > 2 and output:size(1) == batch
        and (not num_classes or output:numel() == batch * num_classes) then
      fix = "\nTo fix it, " .. transform_fix("output:reshape(output:size(1), -1)")
    else
      fix = retrain
    end
    error(("%s: the model returned a tensor of shape %s; expected 2 dimensions "
      .. "(batch_size, %s)%s"):format(where, shape_text(output), classes, fix), 0)
  end
  if output:size(1) ~= batch then
    local fix = ("\nThe first dimension of the output must be the batch size (one row of "
      .. "scores per input)")
    if output:size(2) == batch and (not num_classes or output:size(1) == num_classes) then
      fix = fix .. "; this output looks transposed (classes x batch). To fix it, "
        .. transform_fix("output:t()")
    end
    error(("%s: the model returned %d rows for a batch of %d inputs%s"):format(where,
      output:size(1), batch, fix), 0)
  end
  if num_classes and output:size(2) ~= num_classes then
    local width, fix = output:size(2), retrain
    if width == num_classes + 1 then
      fix = fix .. (".\nIf its first column is an extra \"background\" class (as in "
        .. "TensorFlow's 1001-class ImageNet models), drop it: %s"):format(
          transform_fix(("output:narrow(2, 2, %d)"):format(num_classes)))
    end
    error(("%s: the model returned %d scores per input (shape %s) but the dataset has %d "
      .. "classes%s"):format(where, width, shape_text(output), num_classes, fix), 0)
  end
end

-- Memory statistics: the CUDA caching allocator's peak on a GPU, the engine's tensor
-- allocator peak on the CPU.
local function reset_peak_memory(device)
  local sb = api()
  if device:match("^cuda") then
    sb.cuda.synchronize()
    sb.cuda.reset_peak()
  else
    sb.reset_peak_memory_stats()
  end
end

local function peak_memory(device)
  local sb = api()
  if device:match("^cuda") then return sb.cuda.memory_stats().max_allocated end
  return sb.memory_stats().max_allocated
end

-- A metric entry is a metric name ("mse") or {metric name, options, name = result name}.
-- Turns the list into live meters: { {metric = name, as = result name or nil, meter = m} }.
local function create_meters(specs, where)
  local sb = api()
  -- Loading the metric scripts is not any one metric's failure: say so on its own, and
  -- without suggesting --metrics (a script that was found but fails needs fixing).
  local loaded, names = pcall(sb.metrics.list)
  if not loaded then
    error(("%s: the metric scripts could not be loaded: %s"):format(where, tostring(names)), 0)
  end
  local meters = {}
  for i, spec in ipairs(specs) do
    if type(spec) == "string" then spec = { spec } end
    local metric_name, metric_opts = spec[1], spec[2]
    if sb.metrics.get(metric_name) == nil then
      local known = {}
      for _, n in ipairs(names) do known[n] = true end
      local best = util.closest(tostring(metric_name), known)
      error(("%s: metric %d ('%s') is not registered%s\nThe metrics are: %s. A metric script "
        .. "registers more: load it with --metrics DIR or SBENGINE_METRICS_PATH "
        .. "(docs/metrics.md)"):format(where, i, tostring(metric_name),
          best and (" (did you mean '%s'?)"):format(best) or "", table.concat(names, ", ")), 0)
    end
    local ok, meter = pcall(sb.metrics.create, metric_name, metric_opts)
    if not ok then
      error(("%s: metric %d ('%s', from %s): %s"):format(where, i, tostring(metric_name),
        sb.metrics.source(metric_name), tostring(meter)), 0)
    end
    meters[#meters + 1] = { metric = metric_name, as = spec.name, meter = meter }
  end
  return meters
end

-- The meters' values as results: a number goes under the entry's `name` (default: the
-- metric's name); a table of named numbers gives one result per key ("Top 1 Accuracy"),
-- prefixed by `name` when the entry has one. What is not a number (a per-class list, a
-- confusion matrix, a tensor as its table) goes to `extra`, under the same names: the
-- result keeps it there (docs/results.md), nothing is dropped.
local function collect(meters)
  local results, extra = {}, {}
  local function keep(name, x)
    if type(x) == "number" then
      results[name] = x
    elseif x ~= nil then
      if is_tensor(x) then x = x:totable() end
      extra[name] = x
    end
  end
  for _, m in ipairs(meters) do
    local v = m.meter:value()
    local name = m.as or m.metric
    if type(v) == "table" and getmetatable(v) == nil and #v == 0 then
      for k, x in pairs(v) do keep(m.as and (m.as .. " " .. k) or k, x) end
    else
      keep(name, v)
    end
  end
  return results, extra
end

local GC_BYTES = 16 << 20

-- A tensor, or the tensors in a list or record (a detection batch), on the host.
local function to_host(v)
  if is_tensor(v) then return v:cpu() end
  if type(v) ~= "table" or getmetatable(v) ~= nil then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = to_host(x) end
  return out
end

--- The shared evaluation loop. `a` holds:
--   model, loader, device, where (the name used in messages, e.g. "MNIST.benchmark"),
--   metrics (list of metric entries, as in `define`), num_classes (optional; checks the
--   output width), send_data_to_device, model_output_transform (optional hooks),
--   check_outputs (optional; default checks a (batch, classes) tensor and (batch) target),
--   hash_output (optional; the first batch's output as the run hash takes it: a tensor or a
--   table of numbers; default the output itself).
-- Returns results (name -> number), speed_mem_metrics, run_hash, `true` when the results
-- came from the server's cache, and extra (name -> the meter values that are not numbers).
function bench.evaluate(a)
  local sb = api()
  local where = a.where or "evaluate"
  local device = a.device or utils.default_device()
  local to_device = a.send_data_to_device or utils.default_data_to_device
  local output_transform = a.model_output_transform
  local check_outputs = a.check_outputs or function(output, target)
    bench.check_classification_outputs(output, target, a.num_classes, where)
  end
  local meters = create_meters(a.metrics or {}, where)
  local model = a.model
  local check_mode = sb.results.check_mode()
  local use_cache = not check_mode
  local on_gpu = device:match("^cuda") ~= nil
  -- Several ranks (mpirun, srun): this loop sees one shard; docs/distributed.md.
  local distributed = dist_eval.active()
  if distributed then dist_eval.check(a.loader, meters, where) end
  local rank0 = not distributed or sb.dist.rank() == 0
  local batch0 = a.loader.first_batch or 0 -- batches of the dataset before this shard

  -- Lua's collector sees only the small tensor boxes, not the bytes behind them: collect
  -- the model's per-batch temporaries once they add up to 16 MiB, which keeps peak memory
  -- near one batch's working set for a fraction of a millisecond per collection.
  local function allocated()
    if on_gpu then return sb.cuda.memory_stats().allocated end
    return sb.memory_stats().allocated
  end
  local collected_at
  local function collect_temporaries()
    local now = allocated()
    if now - collected_at > GC_BYTES then
      collectgarbage()
      collected_at = allocated()
    end
  end

  local run_hash, tasks, synced = nil, 0, false
  local nonfinite = sb.results.nonfinite_counter(where)
  reset_peak_memory(device)
  collected_at = allocated()
  -- Every rank starts its clock when all are ready: one that is ready first would
  -- otherwise count its wait for rank 0's first batch (below) as evaluation time.
  if distributed then sb.dist.barrier() end
  local start = bench.clock()
  -- One progress bar, rank 0's, over every rank's batches.
  local next_batch, state, control, closing
  if distributed then
    next_batch, state, control, closing = dist_eval.batches(a.loader, "Evaluation")
  else
    next_batch, state, control, closing = sb.progress(a.loader, { desc = "Evaluation", unit = "batch" })
  end
  for i, input, target in next_batch, state, control, closing do
    input, target = to_device(input, target, device)
    local output = model(input)
    if output_transform then
      local new_output, new_target = output_transform(output, target, model)
      output, target = new_output, new_target or target
    end
    if i == 1 then check_outputs(output, target) end
    -- Meters run on the host: the outputs of a classifier are small.
    local host_output, host_target = output, target
    if on_gpu then host_output, host_target = to_host(output), to_host(target) end
    if i == 1 and is_tensor(host_output) then
      output_checks.warn_probabilities_over_batch(host_output, where)
    end
    for _, m in ipairs(meters) do m.meter:add(host_output, host_target) end
    nonfinite:add(batch0 + i, host_output)
    -- a batch of a detection benchmark is a list, one target per image
    tasks = tasks + (is_tensor(host_target) and host_target:size(1) or #host_target)
    collect_temporaries()
    if i == 1 then
      local cached
      if rank0 then
        local hashed = a.hash_output and a.hash_output(host_output) or host_output
        run_hash = sb.results.run_hash(hashed, collect(meters))
      end
      -- sb.results.cached asks only when a server is configured and is fail-soft.
      if rank0 and use_cache then cached = sb.results.cached(run_hash) end
      if distributed then
        run_hash, cached = dist_eval.first_batch(run_hash, cached)
        synced = true
      end
      if check_mode then break end
      if use_cache then
        if type(cached) == "table" and next(cached) ~= nil then
          if rank0 then
            io.stderr:write("sbengine: no model change detected (the server knows the first "
              .. "batch's run hash); returning its cached results. --no-cache evaluates anyway.\n")
          end
          return cached, {}, run_hash, true
        end
      end
    end
  end
  if on_gpu then sb.cuda.synchronize() end
  local elapsed = bench.clock() - start
  if distributed and not synced then -- a rank with no batch (fewer batches than ranks)
    local cached
    run_hash, cached = dist_eval.first_batch(run_hash, nil)
    if run_hash ~= nil and type(cached) == "table" and next(cached) ~= nil then
      return cached, {}, run_hash, true
    end
  end
  if run_hash == nil then
    error(("%s: the data loader gave no batch: the dataset is empty"):format(where), 0)
  end
  local memory = peak_memory(device)
  if distributed then
    -- Every rank's meter states and figures merged on rank 0, in rank order.
    local merged = dist_eval.merge(meters, { elapsed = elapsed, tasks = tasks, memory = memory,
      nonfinite = nonfinite }, check_mode)
    local shared
    if merged then
      elapsed, tasks, memory = merged.elapsed, merged.tasks, merged.memory
      nonfinite.rows, nonfinite.total = merged.nonfinite.rows, merged.nonfinite.total
      nonfinite.first_batch = merged.nonfinite.first_batch
      nonfinite:finish()
      shared = { results = collect(meters), elapsed = elapsed, tasks = tasks, memory = memory,
                 environment = { ranks = sb.dist.size(), max_memory_allocated_sum = merged.memory_sum } }
    end
    shared = dist_eval.share(shared)
    sb.results._note_environment(shared.environment)
    local t = shared.elapsed
    return shared.results, {
      ["Tasks / Evaluation Time"] = t > 0 and shared.tasks / t or 0,
      ["Tasks"] = shared.tasks,
      ["Evaluation Time"] = t,
      ["Max Memory Allocated (Total)"] = shared.memory,
    }, run_hash, false
  end
  nonfinite:finish()
  local results, extra = collect(meters)
  local speed_mem_metrics = {
    ["Tasks / Evaluation Time"] = elapsed > 0 and tasks / elapsed or 0, -- JSON has no inf
    ["Tasks"] = tasks,
    ["Evaluation Time"] = elapsed,
    ["Max Memory Allocated (Total)"] = memory,
  }
  return results, speed_mem_metrics, run_hash, false, extra
end

-- Loads the dataset, wrapping its error with what the user can do about it.
local function load_dataset(B, o, where)
  local ok, ds = pcall(B.dataset, o)
  if not ok then
    local msg = tostring(ds)
    -- download = true is advised only where it was off and the benchmark can download.
    local help = B.data_help
    if help and not o.download and B.defaults.download then
      help = help .. ", or let download = true fetch it"
    end
    error(("%s: cannot load the %s dataset from data_root %q: %s%s"):format(where, B.name,
      o.data_root or "", msg, help and ("\nTo fix it: " .. help) or ""), 0)
  end
  return ds
end

-- One benchmark run: options -> BenchmarkResult.
local function run(B, opts)
  local sb = api()
  local where = B.name .. ".benchmark"
  local o = resolve_options(B, opts)
  local result_fields = {
    model = o.paper_model_name,
    model_description = o.model_description,
    task = B.task,
    dataset = B.dataset_name,
    arxiv_id = o.paper_arxiv_id,
    pwc_id = o.paper_pwc_id,
    paper_results = o.paper_results,
    pytorch_hub_id = o.pytorch_hub_url,
    config = config_of(o),
  }
  if sb.results.check_mode() == "params" then
    -- Check the parameters only: no data, no evaluation.
    result_fields.results = {}
    return sb.BenchmarkResult(result_fields)
  end
  local model, device = utils.send_model_to_device(o.model, { device = sb.dist.device(o.device) })
  local dataset = load_dataset(B, o, where)
  local loader
  if B.loader then -- a definition's own batches (a token stream's bptt chunks)
    loader = B.loader(dataset, o)
  else
    loader = sb.data.DataLoader(dataset, dist_eval.loader_options {
      batch_size = o.batch_size, shuffle = false, num_workers = o.num_workers,
      pin_memory = device:match("^cuda") ~= nil,
    })
  end
  -- an entry's options may depend on the run's options (a file under data_root)
  local metrics = {}
  for i, m in ipairs(B.metrics) do
    if type(m) == "table" and type(m[2]) == "function" then m = { m[1], m[2](o), name = m.name } end
    metrics[i] = m
  end
  local results, speed_mem_metrics, run_hash, cached, extra = bench.evaluate{
    model = model, loader = loader, device = device, where = where,
    metrics = metrics, num_classes = B.num_classes,
    send_data_to_device = o.send_data_to_device or B.send_data_to_device,
    model_output_transform = o.model_output_transform,
    check_outputs = B.check_outputs and function(output, target)
      B.check_outputs(output, target, where, dataset)
    end,
    hash_output = B.hash_output,
  }
  for from, to in pairs(B.result_names or {}) do -- the benchmark's names for meter values
    if results[from] ~= nil then results[to], results[from] = results[from], nil end
  end
  if B.results and not cached then results, extra = B.results(results, extra) end
  result_fields.results = results
  result_fields.speed_mem_metrics = speed_mem_metrics
  result_fields.run_hash = run_hash
  if extra and next(extra) ~= nil then result_fields.extra = extra end
  return sb.BenchmarkResult(result_fields)
end

local USAGE = [[
usage: %s [OPTIONS] MODEL.lua [MODEL ARGS...]

Evaluates the model that MODEL.lua returns (an nn module or a function of the input
batch) on the %s benchmark (%s) and stores the result. MODEL.lua runs with
MODEL ARGS in `...` and `arg`.

Options:
  --batch-size N      batch size (default %d)
  --num-workers N     data loader worker threads (default %d)
  --model-name NAME   the model's name in the result (default: MODEL.lua's file name)
  --help              this help
Engine options (before the script) include --device D, --data-root DIR, --out FILE,
--threads N, --quiet; see sbengine --help.
]]

local BENCH_OPTIONS = { ["--batch-size"] = true, ["--num-workers"] = true,
  ["--model-name"] = true, ["--help"] = true }

-- What is wrong with option `a` of a benchmark run as the main script: an engine option
-- (from engine/main.c's table) belongs before the script; else "did you mean".
local function unknown_option_message(a)
  local name = a:match("^([^=]*)")
  local config = require("sbengine.session").config
  if (config.engine_options or {})[name] then
    return ("'%s' is an engine option: it belongs before the benchmark (%s); options after "
      .. "it are the benchmark's"):format(name, config.bench_name
        and ("sbengine bench %s ... %s MODEL.lua"):format(name, config.bench_name)
        or ("sbengine %s ... SCRIPT.lua MODEL.lua"):format(name))
  end
  local best = util.closest(name, BENCH_OPTIONS)
  return ("unknown option '%s'%s"):format(a, best and (" (did you mean '%s'?)"):format(best) or "")
end

--- Runs a benchmark definition as the main script: `sbengine benchmarks/mnist.lua MODEL.lua`.
-- `argv` is the script's argument list (arg[1..n]). Returns the result, or nil after
-- printing usage.
function bench.main(B, argv, script)
  -- `sbengine bench NAME` runs the benchmark's file with arg[0] = the file: say NAME.
  local bench_name = require("sbengine.session").config.bench_name
  local invocation = bench_name and ("sbengine bench [ENGINE OPTIONS] " .. bench_name)
    or ("sbengine [ENGINE OPTIONS] " .. (script or B.name))
  if bench_name then script = "bench " .. bench_name end
  local usage = USAGE:format(invocation, B.name, B.task, B.defaults.batch_size or 1,
    B.defaults.num_workers or 0)
  local opts, i = {}, 1
  local function value(name)
    local v = argv[i + 1]
    if v == nil then
      io.stderr:write(("%s: option %s needs a value\n"):format(script or B.name, name))
      os.exit(2)
    end
    i = i + 2
    return v
  end
  local function count(name, v, min)
    local n = math.tointeger(tonumber(v))
    if not n or n < min then
      io.stderr:write(("%s: %s needs a whole number >= %d, got '%s'\n"):format(
        script or B.name, name, min, v))
      os.exit(2)
    end
    return n
  end
  while argv[i] and argv[i]:sub(1, 2) == "--" do
    local a = argv[i]
    if a == "--help" then
      io.stdout:write(usage)
      return nil
    elseif a == "--batch-size" then
      opts.batch_size = count(a, value(a), 1)
    elseif a == "--num-workers" then
      opts.num_workers = count(a, value(a), 0)
    elseif a == "--model-name" then
      opts.paper_model_name = value(a)
    else
      io.stderr:write(("%s: %s\n%s"):format(script or B.name, unknown_option_message(a),
        usage))
      os.exit(2)
    end
  end
  local model_file = argv[i]
  if model_file == nil then
    io.stderr:write(usage)
    os.exit(2)
  end
  -- A model file that is not there is a usage error (exit 2, no traceback); one that does
  -- not compile is the script's error.
  local f, open_err = io.open(model_file, "r")
  if not f then
    io.stderr:write(("%s: cannot open the model file: %s\n(usage: sbengine %s [OPTIONS] "
      .. "MODEL.lua; --help says more)\n"):format(script or B.name, open_err,
        script or B.name))
    os.exit(2)
  end
  f:close()
  local chunk, err = loadfile(model_file)
  if not chunk then error(err, 0) end
  local model_args = table.move(argv, i + 1, #argv, 1, {})
  local model = chunk(table.unpack(model_args))
  local callable = type(model) == "function"
    or (getmetatable(model) or {}).__call ~= nil
  if not callable then
    error(("%s: %s returned %s; it must end with `return model` (an nn module or a "
      .. "function(input) returning the output)"):format(script or B.name, model_file,
        model == nil and "nothing" or "a " .. type(model)), 0)
  end
  opts.model = model
  opts.paper_model_name = opts.paper_model_name
    or model_file:match("([^/]+)%.lua$") or model_file
  local result = B.benchmark(opts)
  if api().dist.rank() == 0 then print(tostring(result)) end
  return result
end

--- Defines a benchmark from a declarative table and returns its module.
-- Fields (all kept in the module, so that another definition can reuse them): name (shown in
-- messages, e.g. "MNIST"), dataset_name (default name), task,
-- dataset = function(o) -> dataset (o = the resolved options), metrics = list of metric
-- entries ("mse" or {"topk_accuracy", {k = {1, 5}}, name = "result name"}; the options may
-- be a function(o) -> options), num_classes, data_help (what to do when the data is missing),
-- defaults (option -> default value), options (extra option names -> what they must be),
-- result_names (meter value name -> result name: {mean_iou = "Mean IOU"}), loader =
-- function(dataset, o) -> batches (an object with #b and b:iter(); default: a DataLoader);
-- for outputs other than class scores: check_outputs(output, target, where, dataset) (the
-- first batch's check), send_data_to_device (the default hook), hash_output(output) (what the
-- run hash reads) and results(results, extra) -> results, extra (the meters' values renamed). A file that ends with
-- `return sb.bench.define{...}` and is run as the script (`sbengine mnist.lua MODEL.lua`)
-- also runs `bench.main` on its arguments. docs/bench.md has the details.
function bench.define(spec)
  assert(type(spec) == "table", "sb.bench.define: expected a table")
  for _, field in ipairs { "name", "task" } do
    if type(spec[field]) ~= "string" then
      error(("sb.bench.define: field '%s' must be a string"):format(field), 2)
    end
  end
  if type(spec.dataset) ~= "function" then
    error("sb.bench.define: field 'dataset' must be a function(options) returning the dataset", 2)
  end
  local B = {
    name = spec.name,
    dataset_name = spec.dataset_name or spec.name,
    task = spec.task,
    dataset = spec.dataset,
    metrics = spec.metrics or {},
    num_classes = spec.num_classes,
    check_outputs = spec.check_outputs,
    send_data_to_device = spec.send_data_to_device,
    hash_output = spec.hash_output,
    results = spec.results,
    result_names = spec.result_names,
    data_help = spec.data_help,
    loader = spec.loader,
    check_outputs = spec.check_outputs,
    options = spec.options or {},
    defaults = spec.defaults or {},
    accepted = {},
  }
  for _, option in ipairs(OPTIONS) do B.accepted[option[1]] = true end
  for name in pairs(spec.options or {}) do B.accepted[name] = true end
  for name in pairs(B.defaults) do
    if not B.accepted[name] then
      error(("sb.bench.define: default for unknown option '%s'"):format(name), 2)
    end
  end
  function B.benchmark(opts, ...)
    if opts == B then opts = ... end -- MNIST:benchmark{...} works too
    return run(B, opts)
  end
  -- Main-script mode: the file's main chunk ends with `return sb.bench.define{...}` and the
  -- engine runs that file as the script. The tail call leaves no frame between this function
  -- and the host; a `require`, `dofile` or test function would be one. Once per run: a
  -- model file may require the benchmark again.
  local me = debug.getinfo(1, "t")
  if me.istailcall and debug.getinfo(2, "l") == nil and not bench.main_ran
      and type(_G.arg) == "table" and _G.arg[0] then
    bench.main_ran = true
    local argv = table.move(_G.arg, 1, #_G.arg, 1, {})
    bench.main(B, argv, _G.arg[0])
  end
  return B
end

return bench
