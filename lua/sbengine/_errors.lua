-- sbengine._errors: an error raised inside a model, a metric or a transform points at the
-- user's line first and says which part failed (internal; docs/nn.md, "Errors at the user's line").
--
-- The `sbengine` executable's message handler (engine/runtime.c) calls `decorate(msg)` while
-- the failing call is still on the stack, before it adds the traceback; so the traceback
-- still shows every frame, the library's included. decorate walks the stack:
--   * nn modules: the frames whose `self` is a module give the path inside the model
--     (`features.3.conv (Conv2d)`, or `(layer 2) Linear` for a Sequential's child);
--   * meters: the frame whose `self` is a meter names the metric and its script;
--   * transforms: the frame whose `self` is a transform names it.
-- The position put first is the innermost line of the user's code inside the failing object
-- (a forward, update or transform the user wrote), else the user's line that called it, else
-- where the object was built (recorded by `built_at` when it is constructed).
local errors = {}

-- The library's folder (".../lua/sbengine/"); benchmark definitions installed below it
-- (".../sbengine/benchmarks/") count as the user's code.
local library = debug.getinfo(1, "S").source:match("^@(.*/)_errors%.lua$")
local benchmarks = library and (library .. "benchmarks/")

local function in_library(info)
  if info.what == "C" then return true end
  local source = info.source or ""
  if source:sub(1, 1) ~= "@" or not library then return false end
  local path = source:sub(2)
  return path:sub(1, #library) == library and path:sub(1, #benchmarks) ~= benchmarks
end

local function position(info)
  return ("%s:%d"):format(info.short_src, info.currentline)
end

--- "file.lua:12": the first line outside the library from `level` (as debug.getinfo counts
-- from the caller of built_at) outwards, or nil. Objects record it when they are built.
function errors.built_at(level)
  for l = (level or 1) + 1, 40 do
    local info = debug.getinfo(l, "Sl")
    if not info then return nil end
    if not in_library(info) and info.currentline > 0 then return position(info) end
  end
  return nil
end

-- Kinds of objects the stack is searched for, registered by the modules that own them
-- (nn/module.lua, metrics.lua, transforms.lua).
local kinds = {}

--- Registers a kind of object: `describe(v)` returns nil when `v` is not one, else a table
-- {text = function(top, failing) -> what failed (top: the outermost object of this kind on
-- the stack, failing: the innermost), built_at = function(failing) -> "file:line" or nil,
-- inner = function(obj, locals) -> a part of obj found among its frame's locals (a
-- container that does a part's work itself), or nil}.
function errors.register_kind(name, describe)
  kinds[#kinds + 1] = { name = name, describe = describe }
end

local function describe(v)
  if type(v) ~= "table" then return nil end
  for _, k in ipairs(kinds) do
    local d = k.describe(v)
    if d then
      d.kind, d.object = k.name, v
      return d
    end
  end
  return nil
end

-- Removes a leading "<library file>:<line>: " from a message.
local function strip_library_position(msg, frames)
  for _, f in ipairs(frames) do
    if f.what ~= "C" and in_library(f) then
      local prefix = ("%s:%d: "):format(f.short_src, f.currentline)
      if msg:sub(1, #prefix) == prefix then return msg:sub(#prefix + 1) end
    end
  end
  return msg:match("^[^\n:]*sbengine/[^\n:]*%.lua:%d+: (.*)$") or msg
end

-- The message `msg` with the user's line and the failing part first (see the top of the
-- file); `msg` unchanged when the error is not inside a model, metric or transform.
-- Runs at the point of the error, while the stack is there.
local function decorate_from(msg, first)
  if type(msg) ~= "string" or #kinds == 0 then return msg end
  -- The stack from the error outwards (`first` is the level of the function that raised).
  local frames, objects = {}, {}
  for level = first, 300 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    info.level = level
    frames[#frames + 1] = info
    if info.what == "Lua" then
      local name, self = debug.getlocal(level, 1)
      local d = name == "self" and describe(self)
      if d and (#objects == 0 or not rawequal(objects[#objects].object, self)) then
        d.frame = #frames
        objects[#objects + 1] = d
      end
    end
  end
  if #objects == 0 then return msg end
  -- The innermost object is the part that failed; the outermost one of the same kind is
  -- what the user called (the model, a Compose).
  local inner, top = objects[1], objects[1]
  for i = 2, #objects do
    if objects[i].kind ~= inner.kind then break end
    top = objects[i]
  end
  local failing = inner.object
  if inner.inner then
    local locals, i = {}, 2
    while true do
      local name, v = debug.getlocal(frames[inner.frame].level, i)
      if not name then break end
      locals[#locals + 1] = v
      i = i + 1
    end
    failing = inner.inner(failing, locals) or failing
  end
  local built = inner.built_at and inner.built_at(failing)
  -- Where to point: the user's code inside the object (a forward or an update the user
  -- wrote), else the user's line that called it, else where the failing part was built,
  -- else the innermost line of the user's further out.
  local pos, caller
  for i = 1, top.frame do
    if not in_library(frames[i]) then
      pos = position(frames[i])
      break
    end
  end
  for i = top.frame + 1, #frames do
    if frames[i].what ~= "C" then
      caller = frames[i]
      break
    end
  end
  if not pos and caller and not in_library(caller) then pos = position(caller) end
  pos = pos or built
  if not pos then
    for i = top.frame + 1, #frames do
      if not in_library(frames[i]) then
        pos = position(frames[i])
        break
      end
    end
  end
  local what = inner.text(top.object, failing)
  if built and built ~= pos then what = what .. ", built at " .. built end
  local text = strip_library_position(msg, frames)
  if pos and text:sub(1, #pos + 2) == pos .. ": " then text = text:sub(#pos + 3) end
  return ("%s%s: %s"):format(pos and (pos .. ": ") or "", what, text)
end

--- decorate_from for the executable's message handler (engine/runtime.c).
function errors.decorate(msg)
  -- level 1 is decorate_from, 2 this function, 3 the C message handler, 4 what raised
  local decorated = decorate_from(msg, 4)
  return decorated
end

--- The same as an xpcall message handler, for library code that catches an error to add
-- context (the DataLoader): `xpcall(fn, errors.handler, ...)`.
function errors.handler(msg)
  local decorated = decorate_from(msg, 3) -- 1 decorate_from, 2 this function, 3 what raised
  return decorated
end

-- The executable's message handler looks the decorator up here (engine/runtime.c).
debug.getregistry()["sbengine.decorate_error"] = errors.decorate

return errors
