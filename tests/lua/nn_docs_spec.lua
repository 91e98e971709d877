-- Runs every ```lua block of docs/nn.md: the documentation's examples stay true.
-- Relative paths given to dofile are resolved against the source tree.
local sb = require "sbengine"

local src = os.getenv("SBENGINE_SOURCE_DIR") or "."
local f = assert(io.open(src .. "/docs/nn.md"))
local text = f:read("a")
f:close()

describe("docs/nn.md examples", function()
  local n = 0
  for block in text:gmatch("```lua\n(.-)```") do
    n = n + 1
    local index = n
    local first = block:match("^[^\n]*")
    it(("block %d: %s"):format(index, first), function()
      local env = setmetatable({
        sb = sb,
        dofile = function(path)
          if not path:match("^/") then path = src .. "/" .. path end
          return dofile(path)
        end,
      }, {__index = _G})
      local chunk = assert(load(block, "docs/nn.md block " .. index, "t", env))
      chunk()
    end)
  end
  it("has examples", function() assert.is_true(n >= 15) end)
end)
