-- The docs-example runner of the Lua specs: every ```lua block of a page under docs/
-- becomes a busted test, so the documentation's examples stay true. Pages whose examples
-- are scripts and shell sessions run through the CLI instead (tests/cli/lib/doc_blocks.sh);
-- both read blocks with tests/lib/markdown_blocks.lua.
--   require("docs_helper").run_examples("docs/tensor.md", {min = 16})
-- Blocks run with `sb` in scope; a relative path given to `dofile` is resolved against the
-- source tree (examples say `dofile("examples/models/lenet5.lua")`).
local sb = require "sbengine"
local busted = require "busted"
local describe, it, pending = busted.describe, busted.it, busted.pending

local docs = {}

docs.source_dir = os.getenv("SBENGINE_SOURCE_DIR") or "."

-- The docs' one block reader, shared with the CLI tests' runner (tests/cli/lib/doc_blocks.sh).
local markdown = dofile(docs.source_dir .. "/tests/lib/markdown_blocks.lua")

--- The ```lua blocks of `page`, in order (their text).
function docs.lua_blocks(page)
  local blocks = {}
  for i, block in ipairs(markdown.blocks(docs.source_dir .. "/" .. page, { lua = true })) do
    blocks[i] = block.body
  end
  return blocks
end

local function resolving_dofile(path)
  if not path:match("^/") then path = docs.source_dir .. "/" .. path end
  return dofile(path)
end

--- Registers one test per block of `page` and one that at least `opts.min` were found.
-- opts.env: extra globals for the blocks (e.g. a silent `print`);
-- opts.skip(block) -> reason or nil: the block is reported pending with that reason;
-- opts.wrap(run): runs the block through `wrap` (to save and restore global state).
function docs.run_examples(page, opts)
  opts = opts or {}
  local blocks = docs.lua_blocks(page)
  describe(page .. " examples", function()
    for n, block in ipairs(blocks) do
      local name = ("block %d: %s"):format(n, block:match("^[^\n]*"))
      local why = opts.skip and opts.skip(block)
      if why then
        pending(name .. " (" .. why .. ")")
      else
        it(name, function()
          local env = setmetatable({ sb = sb, dofile = resolving_dofile }, { __index = _G })
          for k, v in pairs(opts.env or {}) do env[k] = v end
          local chunk = assert(load(block, page .. " block " .. n, "t", env))
          if opts.wrap then opts.wrap(chunk) else chunk() end
        end)
      end
    end
    it("has examples", function()
      busted.assert.is_true(#blocks >= (opts.min or 1),
        ("%s: %d lua blocks, expected at least %d"):format(page, #blocks, opts.min or 1))
    end)
  end)
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
