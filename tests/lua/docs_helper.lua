-- Docs coverage for the Lua specs: every public function of a module appears in a ```lua
-- block of its page under docs/. The blocks themselves run in the CLI tests, through the one
-- docs-example runner (tests/cli/lib/doc_blocks.sh); both read them with
-- tests/lib/markdown_blocks.lua.
--   docs.check_examples_cover("docs/nn.md", "functional op", names, pattern)
local busted = require "busted"
local it = busted.it

local docs = {}

docs.source_dir = os.getenv("SBENGINE_SOURCE_DIR") or "."

local markdown = dofile(docs.source_dir .. "/tests/lib/markdown_blocks.lua")

--- The ```lua blocks of `page`, in order (their text).
function docs.lua_blocks(page)
  local blocks = {}
  for i, block in ipairs(markdown.blocks(docs.source_dir .. "/" .. page, { lua = true })) do
    blocks[i] = block.body
  end
  return blocks
end

--- Registers a test that every name of `names` appears in a ```lua block of `page`, as
-- `pattern(name)` (a Lua pattern) finds it: every public function has an example.
function docs.check_examples_cover(page, what, names, pattern)
  local code = table.concat(docs.lua_blocks(page), "\n")
  it(("every %s has an example in %s"):format(what, page), function()
    local missing = {}
    for _, name in ipairs(names) do
      if not code:find(pattern(name)) then missing[#missing + 1] = name end
    end
    table.sort(missing)
    busted.assert.are.equal("", table.concat(missing, ", "),
      ("%s without an example in %s"):format(what, page))
  end)
end

--- The string keys of `t` (functions only when `functions_only`), skipping names that
-- start with "_".
function docs.public_names(t, functions_only)
  local names = {}
  for k, v in pairs(t) do
    if type(k) == "string" and not k:match("^_") and (not functions_only or type(v) == "function") then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  return names
end

return docs
