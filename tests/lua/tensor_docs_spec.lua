-- Every public tensor function and method appears in a ```lua block of docs/tensor.md (the
-- blocks run in tests/cli/api_docs.sh).
local docs = require "docs_helper"
local tensor = require "sbengine.tensor"

describe("docs/tensor.md coverage", function()
  docs.check_examples_cover("docs/tensor.md", "sb function", tensor.exports,
    function(name) return "sb%." .. name .. "%f[^%w_]" end)
  docs.check_examples_cover("docs/tensor.md", "tensor method", docs.public_names(tensor.methods),
    function(name) return "[:.]" .. name .. "%f[^%w_]" end)
end)
