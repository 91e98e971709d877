--- sb.progress: tqdm-like progress bars on stderr.
--
--   for i, input, target in sb.progress(loader, {desc = "eval"}) do ... end
--   local bar = sb.progress.bar{desc = "download", total = n, unit = "B"}; bar:update(k); bar:close()
--
-- Shown when stderr is a terminal (redrawn in place), or when forced with --progress
-- (then, off a terminal, one line every few seconds); never with --quiet. Colour only on a
-- terminal and when NO_COLOR is unset.
local core = require "sbengine.core"
local session = require "sbengine.session"

local progress = {}

local Bar = {}
Bar.__index = Bar

local known_options = { desc = true, total = true, unit = true, file = true, interval = true,
                        enabled = true, tty = true, width = true, _clock = true }

local function check_options(fn, opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("%s: options must be a table, got %s"):format(fn, type(opts)), 3)
  end
  for k in pairs(opts) do
    if not known_options[k] then
      error(("%s: unknown option '%s' (known: desc, total, unit, file, interval, enabled)"):format(fn, tostring(k)), 3)
    end
  end
  return opts
end

local function fmt_time(s)
  if s ~= s or s == math.huge or s < 0 then return "?" end
  s = math.floor(s + 0.5)
  local h, m, sec = s // 3600, (s % 3600) // 60, s % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, sec) end
  return string.format("%02d:%02d", m, sec)
end

-- 1234567 -> "1.18MiB" for unit "B"; plain counts otherwise.
local function fmt_count(n, unit)
  if unit ~= "B" then return tostring(math.floor(n)) end
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i = 1
  while n >= 1024 and i < #units do n = n / 1024; i = i + 1 end
  if i == 1 then return string.format("%dB", math.floor(n)) end
  return string.format("%.2f%s", n, units[i])
end

local function fmt_rate(r, unit)
  if r ~= r or r == math.huge then return "?" .. unit .. "/s" end
  if unit == "B" then return fmt_count(r, "B") .. "/s" end
  if r >= 1 or r == 0 then return string.format("%.2f%s/s", r, unit) end
  return string.format("%.2fs/%s", 1 / r, unit)
end

--- progress.bar{desc, total, unit = "it", file = io.stderr, interval, enabled}: a manual bar.
-- `enabled` overrides the --quiet/--progress/terminal decision (tests, embedding).
function progress.bar(opts)
  opts = check_options("progress.bar", opts)
  if opts.total ~= nil and (type(opts.total) ~= "number" or opts.total < 0) then
    error("progress.bar: total must be a number >= 0", 2)
  end
  local file = opts.file or io.stderr
  local tty = opts.tty
  if tty == nil then
    tty = io.type(file) == "file" and core.sys.isatty(file) or false
  end
  local enabled = opts.enabled
  if enabled == nil then
    local config = session.config or {}
    if config.quiet then enabled = false
    elseif config.progress then enabled = true
    else enabled = tty end
  end
  local no_color = os.getenv("NO_COLOR")
  local term = os.getenv("TERM")
  local clock = opts._clock or core.sys.monotonic
  local self = setmetatable({
    desc = opts.desc, total = opts.total, unit = opts.unit or "it", n = 0,
    file = file, tty = tty, enabled = enabled,
    color = tty and (no_color == nil or no_color == "") and term ~= "dumb",
    interval = opts.interval or (tty and 0.1 or 5),
    width = opts.width or tonumber(os.getenv("COLUMNS") or "") or 80,
    clock = clock, start = clock(), closed = false,
  }, Bar)
  self.last_draw = self.start
  if enabled and tty then self:_draw(self.start) end
  return self
end

--- bar:format(now) -> the text of the bar (no newline, no colour).
function Bar:format(now, colored)
  now = now or self.clock()
  local elapsed = now - self.start
  local rate = elapsed > 0 and self.n / elapsed or 0 / 0
  local prefix = self.desc and (self.desc .. ": ") or ""
  if self.total and self.total > 0 then
    local frac = math.min(1, self.n / self.total)
    local remaining = rate > 0 and (self.total - self.n) / rate or 0 / 0
    local left = string.format("%s%3d%%|", prefix, math.floor(frac * 100))
    local right = string.format("| %s/%s [%s<%s, %s]", fmt_count(self.n, self.unit),
      fmt_count(self.total, self.unit), fmt_time(elapsed), fmt_time(remaining),
      fmt_rate(rate, self.unit))
    local barw = math.max(10, self.width - #left - #right - 1)
    local cells = frac * barw
    local full = math.floor(cells)
    local bar = string.rep("#", full)
    if full < barw then bar = bar .. string.rep(" ", barw - full) end
    if colored then bar = "\27[32m" .. bar .. "\27[0m" end
    return left .. bar .. right
  end
  return string.format("%s%s%s [%s, %s]", prefix, fmt_count(self.n, self.unit),
    self.unit == "B" and "" or self.unit, fmt_time(elapsed), fmt_rate(rate, self.unit))
end

function Bar:_draw(now, final)
  if self.tty then
    self.file:write("\r", self:format(now, self.color), "\27[K", final and "\n" or "")
  else
    self.file:write(self:format(now, false), "\n")
  end
  if self.file.flush then self.file:flush() end
  self.last_draw = now
end

--- bar:update(k = 1): k more done. bar:set(n): n done in total (downloads).
function Bar:update(k)
  self:set(self.n + (k or 1))
end

function Bar:set(n)
  self.n = n
  if not self.enabled or self.closed then return end
  local now = self.clock()
  if now - self.last_draw >= self.interval then self:_draw(now) end
end

--- bar:close(): the final state (a last line); idempotent.
function Bar:close()
  if self.closed then return end
  self.closed = true
  if self.enabled then self:_draw(self.clock(), true) end
end
Bar.__close = Bar.close

local function close_value(v)
  if v == nil then return end
  local mt = getmetatable(v)
  if mt and mt.__close then mt.__close(v, nil) end
end

-- What to iterate and how long it is.
local function source_of(iterable, opts)
  local t = type(iterable)
  if t == "number" then
    local n = iterable
    return function(_, i) if i < n then return i + 1 end end, nil, 0, nil, n
  elseif t == "function" then
    return iterable, nil, nil, nil, opts.total
  elseif t == "table" or t == "userdata" then
    if type(iterable.iter) == "function" then -- a DataLoader
      local f, s, c, closing = iterable:iter()
      return f, s, c, closing, opts.total or #iterable
    elseif type(iterable.get) == "function" then -- a dataset
      local ds, n = iterable, #iterable
      return function(_, i)
        if i < n then return i + 1, ds:get(i + 1) end
      end, nil, 0, nil, opts.total or n
    elseif t == "table" then
      local f, s, c = ipairs(iterable)
      return f, s, c, nil, opts.total or #iterable
    end
  end
  error(("progress: cannot iterate a %s (give a DataLoader, dataset, list, number or iterator function)"):format(t), 3)
end

--- sb.progress(iterable, {desc, total, unit}) -> for-loop iterator that draws a bar.
-- iterable: a DataLoader (yields what loader:iter() yields), a dataset (i, input, target),
-- a list (i, v), a number n (1..n) or an iterator function (give `total` to get an ETA).
-- Leaving the loop early (`break`, an error) closes the bar and the loader's iteration.
function progress.wrap(iterable, opts)
  opts = check_options("progress", opts)
  local f, s, c, closing, total = source_of(iterable, opts)
  local bar_opts = {}
  for k, v in pairs(opts) do bar_opts[k] = v end
  bar_opts.total = total
  local bar = progress.bar(bar_opts)
  local closer = setmetatable({}, { __close = function()
    bar:close()
    close_value(closing)
  end })
  local function step(_, control)
    local r = table.pack(f(s, control))
    if r[1] == nil then
      bar:close()
      return nil
    end
    bar:update(1)
    return table.unpack(r, 1, r.n)
  end
  return step, nil, c, closer
end

setmetatable(progress, { __call = function(_, iterable, opts) return progress.wrap(iterable, opts) end })

return progress
