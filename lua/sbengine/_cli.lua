--- Sub-commands of the `sbengine` executable that are written in Lua.
-- engine/main.c calls `cli.<command>(...)` and uses the returned integer as exit code.
local cli = {}

--- sbengine submit FILE: sends every result stored in FILE to the results server.
-- 0 = all received, 2 = FILE unusable, 3 = the server did not take them all.
-- Results the server already has (same idempotency key) are not duplicated.
function cli.submit(file)
  local core = require "sbengine.core"
  local store = require "sbengine._store"
  local results = require "sbengine.results"
  local dicts, err = store.read(file)
  if not dicts then
    io.stderr:write("sbengine: " .. err .. "\n")
    return 2
  end
  if #dicts == 0 then
    io.stderr:write(("sbengine: %s holds no results; nothing to submit\n"):format(file))
    return 2
  end
  local list = {}
  for i, d in ipairs(dicts) do
    local ok, r = pcall(core.result.from_dict, d)
    if not ok then
      io.stderr:write(("sbengine: %s: entry %d: %s\n"):format(file, i, r))
      return 2
    end
    list[i] = r
  end
  return results.submit_list(list, file)
end

return cli
