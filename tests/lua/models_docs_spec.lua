-- Every sb.models constructor is named on docs/models.md (whose ```lua blocks run in
-- tests/cli/api_docs.sh).
local sb = require "sbengine"

describe("docs/models.md coverage", function()
  it("names every constructor", function()
    local f = assert(io.open((os.getenv("SBENGINE_SOURCE_DIR") or ".") .. "/docs/models.md"))
    local page = f:read("a")
    f:close()
    local missing = {}
    for _, name in ipairs(sb.models.list()) do
      if not page:find("`" .. name .. "`", 1, true) then missing[#missing + 1] = name end
    end
    assert.are.equal("", table.concat(missing, ", "))
  end)
end)
