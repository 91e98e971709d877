-- sbengine._calls: calling the engine's C functions so that their errors point at the user's
-- line, not at the engine's Lua file that made the call (internal; registers nothing).
local calls = {}

--- Calls the C function fn(...) and returns what it returns. When it fails, its message
-- (which carries no position: pcall is its caller) is raised at `level`, counted from the
-- function that called calls.c as error() counts (1 = that function, 2 = its caller, ...).
function calls.c(level, fn, ...)
  local r = table.pack(pcall(fn, ...))
  if not r[1] then error(r[2], level + 1) end
  return table.unpack(r, 2, r.n)
end

return calls
