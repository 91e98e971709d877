-- Every Lua example of docs/cuda.md runs; those marked "-- needs a GPU" only with a GPU.
local sb = require "sbengine"

local src = os.getenv("SBENGINE_SOURCE_DIR")
local f = assert(io.open(src .. "/docs/cuda.md"))
local doc = f:read("a")
f:close()

describe("docs/cuda.md examples", function()
  local n = 0
  for block in doc:gmatch("```lua\n(.-)```") do
    n = n + 1
    local name = ("example %d: %s"):format(n, block:match("^[^\n]*"))
    if block:find("-- needs a GPU", 1, true) and not sb.cuda.available() then
      pending(name .. " (no GPU)")
    else
      it(name, function()
        local code = block:gsub('dofile%("examples/', 'dofile("' .. src .. '/examples/')
        local env = setmetatable({ sb = sb, print = function() end }, { __index = _G })
        local chunk = assert(load(code, name, "t", env))
        local tf32 = sb.cuda.allow_tf32()
        local ok, err = pcall(chunk)
        sb.cuda.allow_tf32(tf32)
        assert(ok, err)
      end)
    end
  end
  it("found the examples", function() assert.is_true(n >= 4) end)
end)
