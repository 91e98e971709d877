-- Every public function of sb.nn, sb.nn.functional, sb.nn.Module and sb.io appears in a
-- ```lua block of docs/nn.md (the blocks run in tests/cli/api_docs.sh).
local docs = require "docs_helper"
local sb = require "sbengine"

describe("docs/nn.md coverage", function()
  local page = "docs/nn.md"
  docs.check_examples_cover(page, "sb.nn entry", docs.public_names(sb.nn),
    function(name) return "nn%." .. name .. "%f[^%w_]" end)
  docs.check_examples_cover(page, "functional op", docs.public_names(sb.nn.functional),
    function(name) return "[F%a]%." .. name .. "%(" end)
  docs.check_examples_cover(page, "Module method", docs.public_names(sb.nn.Module, true),
    function(name) return "[:.]" .. name .. "%f[^%w_]" end)
  docs.check_examples_cover(page, "sb.io function", docs.public_names(sb.io),
    function(name) return "io%." .. name .. "%(" end)
end)
