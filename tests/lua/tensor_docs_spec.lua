-- Runs every ```lua block of docs/tensor.md (tests/lua/docs_helper.lua), and checks that
-- every public tensor function and method appears in one of them.
local docs = require "docs_helper"
local tensor = require "sbengine.tensor"

docs.run_examples("docs/tensor.md", { min = 16 })

describe("docs/tensor.md coverage", function()
  -- Names are taken now, before the examples extend the method table.
  docs.check_examples_cover("docs/tensor.md", "sb function", tensor.exports,
    function(name) return "sb%." .. name .. "%f[^%w_]" end)
  docs.check_examples_cover("docs/tensor.md", "tensor method", docs.public_names(tensor.methods),
    function(name) return "[:.]" .. name .. "%f[^%w_]" end)
end)
