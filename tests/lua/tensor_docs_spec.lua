-- Runs every ```lua block of docs/tensor.md: the documentation's examples stay true.
local sb = require "sbengine"

local path = (os.getenv("SBENGINE_SOURCE_DIR") or ".") .. "/docs/tensor.md"
local f = assert(io.open(path))
local text = f:read("a")
f:close()

describe("docs/tensor.md examples", function()
  local n = 0
  for block in text:gmatch("```lua\n(.-)```") do
    n = n + 1
    local first = block:match("^[^\n]*")
    it(("block %d: %s"):format(n, first), function()
      local env = setmetatable({ sb = sb }, { __index = _G })
      local chunk = assert(load(block, "docs/tensor.md block " .. n, "t", env))
      chunk()
    end)
  end
  it("has examples", function() assert.is_true(n > 15) end)
end)
