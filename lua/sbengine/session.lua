--- The engine session: the CLI options of this run and the end-of-run hooks.
--
-- `sbengine` (engine/main.c) calls `configure{...}` once before the script runs and
-- `finish(ok)` once after it, even when the script raised. Library modules read
-- `session.config` for their defaults and register work that must happen at the end of
-- the run (writing the store file, submitting) with `session.at_finish(fn)`.
-- Under plain `lua5.4`/busted nothing calls `configure`, and `config` holds only what the
-- environment says.
local session = {}

--- Options of this run; every field may be nil.
-- command ("run"|"check"|"submit"), out, device, data_root, server, profile, submit,
-- no_cache, no_store, quiet, progress, threads, metric_dirs (list), check ("full"|"params").
session.config = { metric_dirs = {} }

local finish_hooks = {}

function session.configure(config)
  assert(type(config) == "table", "session.configure: expected a table")
  session.configured = true
  config.metric_dirs = config.metric_dirs or {}
  if config.check == nil then
    local env_check = os.getenv("SOTABENCH_CHECK")
    if env_check == "full" or env_check == "params" then config.check = env_check end
  end
  session.config = config
  for _, hook in ipairs(session.configure_hooks) do hook(config) end
end

--- Functions called with the config when `configure` runs (thread counts, metric dirs).
session.configure_hooks = {}

--- Registers `fn(ok)` to run when the run ends. `fn` may return an exit code (3 when a
-- submission failed); the largest one wins. Hooks run in registration order.
function session.at_finish(fn)
  assert(type(fn) == "function", "session.at_finish: expected a function")
  finish_hooks[#finish_hooks + 1] = fn
end

--- Runs the end-of-run hooks; returns the exit code they ask for, or nil.
-- A hook that raises does not stop the others: every hook gets its chance (the store file
-- must be written even when a later step fails), and the first error is re-raised last.
function session.finish(ok)
  local code, first_error
  for _, hook in ipairs(finish_hooks) do
    local hook_ok, result = pcall(hook, ok)
    if not hook_ok then
      first_error = first_error or result
    elseif math.type(result) == "integer" and (code == nil or result > code) then
      code = result
    end
  end
  finish_hooks = {}
  if first_error then error(first_error, 0) end
  return code
end

--- Under plain `lua5.4` nothing calls `finish`: the end-of-run hooks (the store file) run
-- when the interpreter closes its state instead, at the normal end of the script, after an
-- error, or at `os.exit(code, true)` (a plain `os.exit(code)` skips them, as it skips every
-- finalizer). Called each time a result is collected: the newest sentinel is the one that
-- acts, and it is finalized before the results created earlier are. Not under `sbengine`
-- (which calls `finish` itself) nor under busted (a spec's results are test data).
function session.finish_at_close()
  if session.configured then return end
  local sentinel = {}
  setmetatable(sentinel, {
    __gc = function(self)
      if session._close_sentinel ~= self or session.configured then return end
      for name in pairs(package.loaded) do
        if name == "busted" or name:match("^busted%.") then return end
      end
      local ok, err = pcall(session.finish, true)
      if not ok then io.stderr:write("sbengine: " .. tostring(err) .. "\n") end
    end,
  })
  session._close_sentinel = sentinel
end

return session
