-- Runs every ```lua block of docs/tensor.md (tests/lua/docs_helper.lua).
require("docs_helper").run_examples("docs/tensor.md", { min = 16 })
