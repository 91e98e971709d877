--- BenchmarkResult, the run's collection of results, the run hash and the end-of-run
-- store/submit step (DESIGN §3 "BenchmarkResult", §4). Reference: docs/results.md.
--
--   local r = sb.BenchmarkResult{ model = "LeNet-5", task = "Image Classification",
--                                 dataset = "MNIST", results = {["Top 1 Accuracy"] = 0.99} }
--
-- The userdata is built and validated in C (engine/bindings/l_result.c, engine/result/, engine/core/json.h); this
-- module adds the environment block, collects every result of the run for the store file
-- and adds the server methods r:check() and r:submit().
local calls = require "sbengine._calls"
local core = require "sbengine.core"
local session = require "sbengine.session"
local store = require "sbengine._store"
local server = require "sbengine._server"

local results = {}

local collected = {}

-- Facts that do not change during a run, gathered once (no file I/O: build facts, the
-- host name from the kernel).
local base_environment, cuda_environment
-- Facts about the evaluation that the next BenchmarkResult records (non-finite outputs).
local pending_environment = {}
local function environment_for(fields)
  if not base_environment then
    -- {cuda = false}: a CPU run does not load the CUDA plugin (~200 MB resident) for this.
    local bi = core.sys.build_info { cuda = false }
    local host, os_name = core.sys.host_info()
    base_environment = {
      engine = "sbengine",
      engine_version = bi.version,
      git_revision = bi.git_revision,
      lua = bi.lua,
      blas = bi.blas,
      blas_kernel = bi.blas_kernel,
      host = host,
      os = os_name,
    }
  end
  local env = {}
  for k, v in pairs(base_environment) do env[k] = v end
  local config = type(fields.config) == "table" and fields.config or {}
  local device = config.device or session.config.device
  if type(device) ~= "string" then
    device = core.sys.cuda_device_count() > 0 and "cuda" or "cpu"
  end
  env.device = device
  if device:match("^cuda") then
    if not cuda_environment then
      local bi = core.sys.build_info()
      local function dotted(v, parts)
        if not v or v == 0 then return nil end
        if parts == 2 then return ("%d.%d"):format(v // 1000, (v % 1000) // 10) end
        return ("%d.%d.%d"):format(v // 10000, (v // 100) % 100, v % 100)
      end
      cuda_environment = {
        cuda_runtime = dotted(bi.cuda_runtime, 2),
        cuda_driver = dotted(bi.cuda_driver, 2),
        cublas = dotted(bi.cublas, 3),
      }
    end
    for k, v in pairs(cuda_environment) do env[k] = v end
    local index = tonumber(device:match("^cuda:(%d+)$") or "0")
    for _, d in ipairs(core.sys.devices()) do
      if d.name == "cuda:" .. index then env.device_name = d.description end
    end
  end
  env.created_at = os.date("!%Y-%m-%dT%H:%M:%SZ")
  for k, v in pairs(pending_environment) do env[k] = v end
  pending_environment = {}
  return env
end

local function allowed(option, env_name)
  if session.config[option] then return true end
  local v = os.getenv(env_name)
  return v ~= nil and v ~= "" and v ~= "0"
end

--- A counter of the model outputs that hold NaN or infinities, for an evaluation loop:
-- `c:add(batch_index, output)` per batch, `c:finish()` after the loop, which says so on
-- stderr and has the next BenchmarkResult record `environment.nonfinite_output_rows` and
-- `environment.nonfinite_first_batch` (so that --submit can refuse it).
function results.nonfinite_counter(where)
  local c = { rows = 0, total = 0, first_batch = nil }
  function c.add(self, batch, output)
    if not core.tensor.is_tensor(output) then return end
    local bad = core.metric.nonfinite_rows(output)
    self.total = self.total + (output:dim() == 0 and 1 or output:size(1))
    if bad > 0 then
      self.rows = self.rows + bad
      self.first_batch = self.first_batch or batch
    end
  end
  function c.finish(self)
    if self.rows == 0 then return end
    io.stderr:write(("sbengine: warning: %s: the model's outputs held NaN or infinite values in "
      .. "%d of %d rows (the first in batch %d); they are scored as PyTorch ranks them (NaN "
      .. "above every number: an all-NaN row predicts class 0). The result records this in "
      .. "environment.nonfinite_output_rows and --submit refuses it unless --allow-nonfinite "
      .. "is given.\n"):format(where, self.rows, self.total, self.first_batch))
    pending_environment.nonfinite_output_rows = self.rows
    pending_environment.nonfinite_first_batch = self.first_batch
  end
  return c
end

--- sb.BenchmarkResult{fields}: validates, collects for the store file, returns the result.
function results.BenchmarkResult(fields)
  if type(fields) ~= "table" then
    error("BenchmarkResult: expected a table of fields {model=, task=, dataset=, results=, ...}"
      .. ", got " .. type(fields), 2)
  end
  local r = calls.c(2, core.result.new, fields, environment_for(fields))
  collected[#collected + 1] = r
  return r
end

--- The results created so far in this run (a copy of the list).
function results.collected()
  return table.move(collected, 1, #collected, 1, {})
end

--- Removes and returns the collected results (the store step takes them).
function results.take()
  local list = collected
  collected = {}
  return list
end

--- The run hash of a first batch: `output` a tensor, a nested table of numbers or a number;
-- `metrics` a table {name = number}. Recipe: docs/results.md "Run hash".
function results.run_hash(output, metrics)
  return (calls.c(2, core.result.run_hash, output, metrics or {}))
end

--- "full", "params" or nil (sbengine check [--params], SOTABENCH_CHECK).
function results.check_mode()
  return session.config.check
end

--- Looks a run hash up on the server (the cache). Only when a server is configured and
-- --no-cache was not given; any failure is reported on stderr and gives nil (fail-soft).
-- Returns the server's results table {name = number} or nil.
function results.cached(run_hash)
  if session.config.no_cache or not server.configured() then return nil end
  local found, err = server.get_results_by_hash(run_hash)
  if err then
    io.stderr:write("sbengine: cache lookup skipped: " .. err .. "\n")
    return nil
  end
  return found
end

--- {hash = true|false} for each hash the server knows, or nil, message.
function results.check_run_hashes(hashes)
  return server.check_run_hashes(hashes)
end

local function shell_quote(s)
  if s:match("^[%w%._/%-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Submits `list` (results) that are stored in `path`; returns an exit code:
-- 0 when every result reached the server, 3 when one did not (message on stderr).
function results.submit_list(list, path)
  if not server.configured() then
    io.stderr:write("sbengine: not submitted: no results server configured (pass --server URL "
      .. "or set SOTABENCH_URL)\n")
    io.stderr:write(("sbengine: the results are safe in %s; submit them with: sbengine submit "
      .. "--server URL %s\n"):format(path, shell_quote(path)))
    return 3
  end
  if not allowed("allow_nonfinite", "SBENGINE_ALLOW_NONFINITE") then
    for i, r in ipairs(list) do
      local env = r.environment
      local bad = type(env) == "table" and tonumber(env.nonfinite_output_rows) or 0
      if bad > 0 then
        io.stderr:write(("sbengine: not submitted: result %d of %d (%s on %s) comes from a model "
          .. "whose outputs held NaN or infinite values in %d rows, so its scores mean little. "
          .. "The results are safe in %s; to submit them anyway: sbengine submit "
          .. "--allow-nonfinite %s (or set SBENGINE_ALLOW_NONFINITE=1)\n"):format(i, #list,
          tostring(r.model), tostring(r.dataset), bad, path, shell_quote(path)))
        return 3
      end
    end
  end
  for i, r in ipairs(list) do
    local reply, err = server.submit(r)
    if not reply then
      io.stderr:write(("sbengine: submission failed for result %d of %d (%s on %s): %s\n")
        :format(i, #list, r.model, r.dataset, err))
      io.stderr:write(("sbengine: %d of %d results reached the server; all of them are safe in %s. "
        .. "Resubmit with: sbengine submit %s (results already received are not duplicated)\n")
        :format(i - 1, #list, path, shell_quote(path)))
      return 3
    end
    local page = server.page_url(reply.url)
    io.stderr:write(("sbengine: submitted %s on %s (%s)%s\n"):format(r.model, r.dataset,
      reply.created == false and "already on the server" or "new", page and (": " .. page) or ""))
  end
  return 0
end

--- Check mode's end of run: results are not stored; when a server is configured each one
-- is validated with it (POST check/results/). Returns 3 when one is rejected or the server
-- cannot be reached, else nil.
function results.check_list(list)
  io.stderr:write(("sbengine: check mode: %d result%s built, not stored\n")
    :format(#list, #list == 1 and "" or "s"))
  if not server.configured() then
    io.stderr:write("sbengine: check mode: no results server configured (--server URL or "
      .. "SOTABENCH_URL): the results were not validated by a server\n")
    return nil
  end
  local code
  for _, r in ipairs(list) do
    local ok, err = server.check_result(r)
    if ok then
      io.stderr:write(("sbengine: check: %s on %s: valid\n"):format(r.model, r.dataset))
    else
      io.stderr:write(("sbengine: check: %s on %s: %s\n"):format(r.model, r.dataset, err))
      code = 3
    end
  end
  return code
end

local function temp_dir()
  local dir = os.getenv("TMPDIR")
  if not dir or dir == "" then dir = "/tmp" end
  return dir
end

-- Saves `text` to the first of `paths` that can be written; returns that path, or nil and
-- the reasons.
local function save_rescue(paths, text)
  local reasons = {}
  for _, p in ipairs(paths) do
    local ok, err = pcall(core.sys.write_file_atomic, p, text)
    if ok then return p end
    reasons[#reasons + 1] = tostring(err):gsub("^[^:]*:%d+: ", "")
  end
  return nil, table.concat(reasons, "; ")
end

-- Stores `list` in the store file at `path`, or else in one rescue file; raises a message
-- saying where they went (or, when nothing could be written anywhere, with the results as
-- JSON, the last resort). While it runs a signal cannot lose them (core.finish: a first
-- SIGINT/SIGTERM waits for the write, a second saves them to the rescue file).
local function store_or_rescue(path, list)
  local text = core.result.array_json(list, true) .. "\n"
  -- One rescue name per run, unique across concurrent runs: time, process id, random.
  local stamp = ("%s-%d-%s"):format(os.date("!%Y%m%dT%H%M%SZ"), core.finish.pid(),
    core.sys.uuid4():sub(1, 8))
  local in_tmp = ("%s/sbengine-results-%s.json"):format(temp_dir(), stamp)
  local near_store = ("%s.recovered-%s.json"):format(path, stamp)
  core.finish.arm(path, text, #list, { in_tmp, near_store })
  local stored, err = pcall(store.append, path, list, text)
  if stored then return end
  -- A store file that is not JSON sits in a folder we can write: keep the rescue beside it.
  -- One that cannot be written at all: the temporary folder.
  local kind = type(err) == "table" and err.kind or "unwritable"
  local paths = kind == "not_array" and { near_store, in_tmp } or { in_tmp }
  local saved, why = save_rescue(paths, text)
  local n = #list
  local these = ("the %d result%s of this run"):format(n, n == 1 and "" or "s")
  if saved then
    error(("%s; %s %s saved to %s instead (sbengine submit %s sends them)"):format(tostring(err),
      these, n == 1 and "was" or "were", saved, shell_quote(saved)), 0)
  end
  error(("%s; nothing could be saved: no rescue file could be written either (%s). As the last "
    .. "resort %s follow as JSON; copy them into a file and run sbengine submit FILE:\n%s")
    :format(tostring(err), why, these, text), 0)
end

--- The end of a run (session.at_finish): store every collected result, then submit when
-- --submit was given. The store file is written before any network call.
function results.finish_run(ok)
  if #collected == 0 then return nil end
  local list = results.take()
  if session.config.check then return results.check_list(list) end
  local path = store.path()
  local _ <close> = setmetatable({}, { __close = function() core.finish.clear() end })
  store_or_rescue(path, list)
  local n = #list
  io.stderr:write(("sbengine: %d result%s stored in %s\n"):format(n, n == 1 and "" or "s", path))
  core.finish.stored(("the %d result%s of this run %s stored in %s%s"):format(n,
    n == 1 and "" or "s", n == 1 and "is" or "are", path, session.config.submit
    and (" (the submission was stopped: sbengine submit " .. shell_quote(path) .. " sends them)")
    or ""))
  if not session.config.submit then return nil end
  if not ok then
    io.stderr:write(("sbengine: not submitted because the script failed; the results are in "
      .. "%s (sbengine submit %s sends them)\n"):format(path, shell_quote(path)))
    return nil
  end
  return results.submit_list(list, path)
end

session.at_finish(results.finish_run)

-- A script that leaves with os.exit() skips the end-of-run hooks; under the CLI, store (and
-- submit) first, so that no result is lost that way either. Plain lua5.4/busted keep their
-- own os.exit: only `sbengine` calls session.configure.
session.configure_hooks[#session.configure_hooks + 1] = function()
  local real_exit = os.exit
  os.exit = function(code, close)
    local ok_code = code == nil or code == true or code == 0
    local done, result = pcall(results.finish_run, ok_code)
    if not done then
      io.stderr:write("sbengine: " .. tostring(result) .. "\n")
      if ok_code then code = 1 end
    elseif ok_code and math.type(result) == "integer" then
      code = result
    end
    return real_exit(code, close)
  end
end

-- Server methods of the userdata.
local methods = core.result.methods

--- r:check() -> true, or nil, message: validates the result with the server
-- (POST check/results/).
function methods.check(r)
  return server.check_result(r)
end

--- r:submit() -> reply table ({created = bool, ...}), or nil, message (POST results/).
function methods.submit(r)
  return server.submit(r)
end

return results
