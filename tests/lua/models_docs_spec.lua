-- Runs every ```lua block of docs/models.md (tests/lua/docs_helper.lua), and checks that every
-- sb.models constructor is named on the page.
local docs = require "docs_helper"
local sb = require "sbengine"

docs.run_examples("docs/models.md", { min = 3 })

describe("docs/models.md coverage", function()
  it("names every constructor", function()
    local page = docs.read("docs/models.md")
    local missing = {}
    for _, name in ipairs(sb.models.list()) do
      if not page:find("`" .. name .. "`", 1, true) then missing[#missing + 1] = name end
    end
    assert.are.equal("", table.concat(missing, ", "))
  end)
end)
