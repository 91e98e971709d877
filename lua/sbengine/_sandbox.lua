--- `sbengine --sandbox SCRIPT.lua`: running a submission one does not trust (docs/cli.md).
--
-- Two layers. In Lua, the script (and every chunk it loads) runs in an environment of its
-- own: no os.execute/io.popen/package.loadlib/debug (but traceback and getinfo), no C
-- modules, no engine internals (sbengine.core, sbengine._*), text chunks only, shared
-- library tables copied; the results server's URL and token are sealed before the script
-- starts and the token leaves the environment. In the kernel (engine/core/sandbox.c):
-- Landlock limits files to the data root, the script's folder, --allow-read paths, the
-- store's folder and the engine's own files, and TCP to the results server's port; seccomp
-- forbids starting processes. Which of these are active is printed before the script runs.
local core = require "sbengine.core"
local session = require "sbengine.session"

local sandbox = {}

local function dirname(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir == nil then return "." end
  if dir == "" then return "/" end
  return dir
end

local function is_dir(path)
  local f = io.open(path, "r")
  if not f then return false end
  local _, _, code = f:read(1)
  f:close()
  return code == 21 -- EISDIR
end

-- The folders of the Lua search path (the engine's library, the user's rocks): read-only.
local function search_folders(path_string)
  local out = {}
  for entry in path_string:gmatch("[^;]+") do
    local dir = entry:match("^(.-)/%?") -- "DIR/?.lua", "DIR/?/init.lua"
    if dir and dir ~= "" and dir ~= "." then out[#out + 1] = dir end
  end
  return out
end

-- The TCP port of a URL (http 80, https 443 unless written), or nil.
local function url_port(url)
  if not url then return nil end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  local hostport = rest:match("^([^/?#]*)"):gsub("^.*@", "")
  local port = hostport:match("^%[.*%]:(%d+)$") or hostport:match("^[^:]*:(%d+)$")
  if port then return tonumber(port) end
  scheme = scheme:lower()
  return scheme == "https" and 443 or scheme == "http" and 80 or nil
end
sandbox.url_port = url_port

local LIBRARY_ALLOWED = { cjson = true, ["cjson.safe"] = true, sbengine = true }

-- Whether the script may have the library module `name` (loaded as trusted code).
local function library_module(name)
  if LIBRARY_ALLOWED[name] then return true end
  if not name:match("^sbengine%.") then return false end
  if name == "sbengine.core" or name:match("^sbengine%.core%.") then return false end
  return not name:match("%._")
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- The environment the script runs in.
function sandbox.environment()
  local env = {}
  for _, k in ipairs { "assert", "error", "ipairs", "next", "pairs", "pcall", "print",
    "rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable", "tonumber",
    "tostring", "type", "xpcall", "_VERSION", "collectgarbage", "warn" } do
    env[k] = _G[k]
  end
  -- strings share one metatable with the library: the script gets none to change
  env.getmetatable = function(v)
    if type(v) == "string" then return nil end
    return getmetatable(v)
  end
  for _, lib in ipairs { "string", "table", "math", "utf8", "coroutine" } do env[lib] = copy(_G[lib]) end
  env.os = { clock = os.clock, date = os.date, difftime = os.difftime, time = os.time,
    exit = os.exit,
    getenv = function(name)
      if name == "SOTABENCH_TOKEN" then return nil end
      return os.getenv(name)
    end }
  env.io = { open = io.open, lines = io.lines, read = io.read, write = io.write, type = io.type,
    close = io.close, stdin = io.stdin, stdout = io.stdout, stderr = io.stderr }
  env.debug = { traceback = debug.traceback, getinfo = debug.getinfo }
  env.load = function(chunk, name, _, e)
    if e == nil then e = env end
    return load(chunk, name, "t", e)
  end
  env.loadfile = function(path, _, e)
    if e == nil then e = env end
    return loadfile(path, "t", e)
  end
  env.dofile = function(path)
    local f, err = loadfile(path, "t", env)
    if not f then error(err, 2) end
    return f()
  end
  local loaded = {}
  env.package = { path = package.path, config = package.config, loaded = loaded }
  local std = { string = env.string, table = env.table, math = env.math, utf8 = env.utf8,
    coroutine = env.coroutine, os = env.os, io = env.io, debug = env.debug,
    package = env.package, _G = env }
  env.require = function(name)
    if type(name) ~= "string" then error("require: the module name must be a string", 2) end
    if std[name] then return std[name] end
    if loaded[name] ~= nil then return loaded[name] end
    if library_module(name) then
      loaded[name] = require(name)
      return loaded[name]
    end
    local path = package.searchpath(name, env.package.path)
    if not path then
      error(("module '%s' cannot be loaded in the sandbox: only Lua files on package.path, the "
        .. "public sbengine modules and cjson (no C modules, no sbengine.core or sbengine._*)")
        :format(name), 2)
    end
    local f, err = loadfile(path, "t", env)
    if not f then error(err, 2) end
    local value = f(name, path)
    if value == nil then value = true end
    loaded[name] = value
    return value
  end
  env._G = env
  -- `arg` is created after the sandbox, `sb` may be loaded later
  return setmetatable(env, { __index = function(_, k)
    if k == "arg" or k == "sb" then return rawget(_G, k) end
    return nil
  end })
end

--- Seals the results server and the token, applies the kernel's protections and returns
-- the script's environment and the report line. `script` is the script's path (or nil).
function sandbox.enter(script)
  local config = session.config
  -- the data root: the benchmarks' default is ./.data
  local data_root = config.data_root or ".data"
  local read = { data_root, script and script ~= "-" and dirname(script) or "." }
  for _, dir in ipairs(search_folders(package.path)) do read[#read + 1] = dir end
  -- a source checkout keeps the benchmark definitions beside lua/ (init.lua's searcher)
  local init = package.searchpath("sbengine", package.path)
  if init then read[#read + 1] = dirname(dirname(init)) .. "/../benchmarks" end
  for _, dir in ipairs(config.metric_dirs or {}) do read[#read + 1] = dir end
  local metrics_path = os.getenv("SBENGINE_METRICS_PATH")
  if metrics_path then
    for dir in metrics_path:gmatch("[^:]+") do read[#read + 1] = dir end
  end
  for _, p in ipairs(config.allow_read or {}) do read[#read + 1] = p end
  local store_path = require("sbengine._store").path()
  local write = { data_root, dirname(store_path) }
  local notes = {}
  if not is_dir(data_root) then
    notes[#notes + 1] = ("the data root %s does not exist, so nothing can be read or downloaded "
      .. "there"):format(data_root)
  end
  if not is_dir(dirname(store_path)) then
    notes[#notes + 1] = ("the store's folder %s does not exist, so the results cannot be stored")
      :format(dirname(store_path))
  end
  -- the results client: its URL and token are fixed now; the token leaves the environment
  local server = require "sbengine._server"
  server.seal()
  core.sandbox.forget_env("SOTABENCH_TOKEN")
  local port = server.base_url() and url_port(server.base_url()) or 0
  local report = core.sandbox.apply { read = read, write = write, tcp_port = port }
  local line = ("sbengine: sandbox: Lua: no os.execute, io.popen, package.loadlib, debug, C "
    .. "modules or engine internals; %s%s"):format(report.text,
    #notes > 0 and ("; note: " .. table.concat(notes, "; ")) or "")
  return sandbox.environment(), line, report
end

return sandbox
