--- The results-server client: sotabench API v0 plus sbengine's `POST results/`
-- (DESIGN §4; endpoints and payloads in docs/server-api.md).
--
-- HTTP goes through core.net.request (libcurl: timeouts, TLS verification, retries with
-- exponential backoff on refused/timed-out/dropped connections and 5xx, Retry-After on 429).
-- Request bodies are written by the C JSON writer (results) or lua-cjson (small payloads);
-- replies are read with lua-cjson. The token is only ever put in the Authorization header:
-- no message built here contains it.
local core = require "sbengine.core"
local cjson = require "cjson"
local session = require "sbengine.session"

local server = {}

-- sotabench's messages (sotabenchapi/http.py), so users see the words they know.
server.MESSAGES = {
  [401] = "Unauthorized",
  [403] = "Forbidden!",
  [404] = "Not found.",
  [429] = "SotaBench under pressure! (Too many requests)",
  [500] = "You broke SotaBench!!!",
  [502] = "SotaBench server not reachable.",
  [503] = "SotaBench server under maintenance.",
}

local function env_number(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  local n = tonumber(v)
  if not n or n < 0 then
    error(("%s must be a number >= 0, got '%s'"):format(name, v), 0)
  end
  return n
end

--- Timeouts and retry policy; each can be set from the environment (seconds).
function server.options()
  return {
    connect_timeout = env_number("SBENGINE_HTTP_CONNECT_TIMEOUT", 10),
    timeout = env_number("SBENGINE_HTTP_TIMEOUT", 60),
    retries = math.tointeger(env_number("SBENGINE_HTTP_RETRIES", 3)) or 3,
    backoff = env_number("SBENGINE_HTTP_BACKOFF", 1),
    retry_after_max = env_number("SBENGINE_HTTP_RETRY_AFTER_MAX", 60),
    -- a private CA for a self-hosted server; verification stays on either way
    ca_bundle = (os.getenv("SBENGINE_CA_BUNDLE") or "") ~= "" and os.getenv("SBENGINE_CA_BUNDLE") or nil,
  }
end

local function config_path()
  local home = os.getenv("HOME")
  if not home or home == "" then return nil end
  return home .. "/.sotabench/sotabenchapi.ini"
end

-- The sections of an INI file: {section = {key = value}}.
local function read_ini(path)
  local f = path and io.open(path, "r")
  if not f then return nil end
  local sections, current = {}, nil
  local number = 0
  for line in f:lines() do
    number = number + 1
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    local name = line:match("^%[(.-)%]$")
    if name then
      current = {}
      sections[name] = current
    elseif current and line ~= "" and not line:match("^[#;]") then
      local k, v = line:match("^([^=:]-)%s*[=:]%s*(.*)$")
      if k then
        current[k:lower()] = v
      else
        -- Say so rather than ignore it, without echoing the value (it may be the token).
        io.stderr:write(("sbengine: warning: %s line %d ('%s ...') has no '=' and is ignored; "
          .. "write it as KEY = VALUE\n"):format(path, number, line:match("^%S*")))
      end
    end
  end
  f:close()
  return sections
end

-- The profile of ~/.sotabench/sotabenchapi.ini (--profile, default "default"), or {}.
local function profile()
  local name = session.config.profile
  local path = config_path()
  local sections = read_ini(path)
  if name and not (sections and sections[name]) then
    error(("profile '%s' not found in %s"):format(name, path or "~/.sotabench/sotabenchapi.ini"), 0)
  end
  return (sections and sections[name or "default"]) or {}
end

--- The server's base URL (ending in "/"), or nil: --server, $SOTABENCH_URL, profile `url`.
function server.base_url()
  local url = session.config.server
  if not url or url == "" then url = os.getenv("SOTABENCH_URL") end
  if not url or url == "" then url = profile().url end
  if not url or url == "" then return nil end
  if not url:match("/$") then url = url .. "/" end
  return url
end

function server.configured()
  return server.base_url() ~= nil
end

-- $SOTABENCH_TOKEN, else the profile's `token`; nil when neither is set.
local function token()
  local t = os.getenv("SOTABENCH_TOKEN")
  if t and t ~= "" then return t end
  t = profile().token
  if t and t ~= "" then return t end
  return nil
end

-- The text of one error: a string, or sotabench's {"error": "..."} (any other table as JSON).
local function one_error(e)
  if type(e) == "table" then
    if type(e.error) == "string" then return e.error end
    local ok, text = pcall(cjson.encode, e)
    return ok and text or tostring(e)
  end
  return tostring(e)
end

-- The lines of a reply's errors, or nil when it has none. Both shapes are read: sbengine's
-- {"errors": [...] | {field: [...]}} and sotabench's {"response": {"errors": [{"error": ...}]}}.
local function error_text(decoded)
  if type(decoded) ~= "table" then return nil end
  local errors = decoded.errors
  if errors == nil and type(decoded.response) == "table" then errors = decoded.response.errors end
  if type(errors) == "string" then return errors end
  if type(errors) ~= "table" then return nil end
  local lines = {}
  for _, e in ipairs(errors) do lines[#lines + 1] = one_error(e) end
  for k, e in pairs(errors) do
    if type(k) == "string" then
      lines[#lines + 1] = k .. ": " .. (type(e) == "table" and table.concat(e, "; ") or tostring(e))
    end
  end
  table.sort(lines)
  return #lines > 0 and table.concat(lines, "\n") or nil
end

--- `text` with the userinfo of every URL in it ("https://user:password@host/") replaced by
-- "***", so that a password written in the server URL never reaches a message.
function server.redact(text)
  return (tostring(text):gsub("(%a[%w+.-]*://)[^/%s@]+@", "%1***@"))
end

local function env_flag(name)
  local v = os.getenv(name)
  return v ~= nil and v ~= "" and v ~= "0"
end

-- The host of an http:// URL when it is not loopback (the token must not travel there in
-- cleartext), else nil.
local function plain_http_host(url)
  local rest = url:match("^[Hh][Tt][Tt][Pp]://(.*)$")
  if not rest then return nil end
  local authority = rest:match("^([^/?#]*)"):gsub("^.*@", "")
  local host = authority:match("^%[(.-)%]") or authority:gsub(":%d*$", "")
  host = host:lower()
  if host == "localhost" or host:match("%.localhost$") or host == "::1"
    or host:match("^127%.%d+%.%d+%.%d+$") then
    return nil
  end
  return host
end

--- One request: returns the decoded reply (a table), the HTTP status; or nil, message.
-- `body` is JSON text or nil; `extra_headers` a list of "Name: value".
function server.request(method, path, body, extra_headers)
  local base = server.base_url()
  if not base then
    return nil, "no results server configured (pass --server URL or set SOTABENCH_URL)"
  end
  local url = base .. path
  local headers = { "Accept: application/json" }
  if body then headers[#headers + 1] = "Content-Type: application/json" end
  local tok = token()
  if tok then
    local host = plain_http_host(url)
    if host and not (session.config.insecure_http or env_flag("SBENGINE_INSECURE_HTTP")) then
      return nil, ("refusing to send the token in cleartext over plain http:// to %s (%s): use "
        .. "an https:// server URL, or pass --insecure-http (or set SBENGINE_INSECURE_HTTP=1) "
        .. "when that network is trusted"):format(host, server.redact(base))
    end
    headers[#headers + 1] = "Authorization: JWT " .. tok
  end
  for _, h in ipairs(extra_headers or {}) do headers[#headers + 1] = h end
  local opts = server.options()
  opts.method, opts.url, opts.body, opts.headers = method, url, body, headers
  local status, reply, attempts = core.net.request(opts)
  if not status then
    return nil, "the results server did not answer: " .. server.redact(reply)
  end
  url = server.redact(url)
  local ok, decoded = true, {}
  if reply ~= "" then ok, decoded = pcall(cjson.decode, reply) end
  local where = ("(HTTP %d from %s %s%s)"):format(status, method, url,
    attempts > 1 and (", after " .. attempts .. " attempts") or "")
  if status == 200 or status == 201 then
    if not ok or type(decoded) ~= "table" then
      return nil, "the results server's reply was not valid JSON " .. where
    end
    return decoded, status
  end
  if status == 400 then
    return nil, (ok and error_text(decoded) or "Bad Request.") .. " " .. where
  end
  local message = server.MESSAGES[status]
  if not message then
    message = ok and type(decoded) == "table" and type(decoded.message) == "string"
      and decoded.message or "Unknown error."
  end
  if status == 401 or status == 403 then
    message = message .. " - check the token in SOTABENCH_TOKEN or the profile in "
      .. "~/.sotabench/sotabenchapi.ini"
  end
  return nil, message .. " " .. where
end

local function result_json(r)
  return r:to_json()
end

--- The address of a result's page from a reply's `url`: as it is when absolute (the server's
-- --public-url), else resolved against the scheme and host of the base URL.
function server.page_url(url)
  if type(url) ~= "string" or url == "" then return nil end
  if url:sub(1, 1) ~= "/" then return server.redact(url) end
  local origin = (server.base_url() or ""):match("^(%a[%w+.-]*://[^/]+)")
  return origin and server.redact(origin .. url) or url
end

--- POST results/ (sbengine's addition): submits one result. The idempotency key travels in
-- the body and in the Idempotency-Key header, so a retry never creates a duplicate.
-- Returns the reply ({id=, created=, url=}) or nil, message.
function server.submit(r)
  return server.request("POST", "results/", result_json(r), { "Idempotency-Key: " .. r.idempotency_key })
end

--- POST check/results/: validates a result without storing it. true or nil, message.
-- The body is sotabench's {"results": [result]}; a reply is a rejection when it has a
-- non-empty `response.errors` (sotabench) or `valid: false` / `errors` (sbengine's shape).
function server.check_result(r)
  local reply, err = server.request("POST", "check/results/", '{"results": [' .. result_json(r) .. "]}")
  if not reply then return nil, err end
  local errors = error_text(reply)
  if errors then return nil, errors end
  if reply.valid == false then return nil, "the server rejected the result" end
  return true
end

--- GET check/get_results_by_hash/?run_hash=H: the stored results for a run hash, or
-- false when the server has none; nil, message on failure. The reply is sotabench's bare
-- {metric: value} dict, or sbengine's {"results": {metric: value}}.
function server.get_results_by_hash(run_hash)
  if type(run_hash) ~= "string" or not run_hash:match("^%x+$") then
    return nil, "run_hash must be hexadecimal digits"
  end
  local reply, err = server.request("GET", "check/get_results_by_hash/?run_hash=" .. run_hash)
  if not reply then return nil, err end
  if next(reply) == nil then return false end
  if type(reply.results) == "table" then return reply.results end
  return reply
end

--- POST check/run-hashes/ {"hashes": [...]}: {hash = true|false}, or nil, message.
function server.check_run_hashes(hashes)
  if type(hashes) ~= "table" then return nil, "check_run_hashes: expected a list of hashes" end
  return server.request("POST", "check/run-hashes/", cjson.encode({ hashes = hashes }))
end

return server
