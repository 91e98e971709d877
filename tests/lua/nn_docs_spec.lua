-- Runs every ```lua block of docs/nn.md (tests/lua/docs_helper.lua).
require("docs_helper").run_examples("docs/nn.md", { min = 15 })
