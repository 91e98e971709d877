-- The one reader of the docs' code blocks, for both docs-example runners: the busted specs
-- (tests/lua/docs_helper.lua loads this file and calls `blocks`) and the CLI tests
-- (tests/cli/lib/doc_blocks.sh runs it as a script).
--
-- A block is a fenced ```lua or ```sh block, in order. Its file name comes from a
-- `<!-- file: NAME -->` comment on the line before it (else ""), its expected output from
-- a `<!-- expect: TEXT -->` comment on the line after it (else "").
--
-- As a script: lua5.4 markdown_blocks.lua DOC.md OUTDIR [LANGS]   (LANGS: "lua,sh" default)
-- writes OUTDIR/NNN.<lang> for each block and prints one line per block: id, lang, file
-- name, expected text, separated by the ASCII unit separator (\31) so that empty fields
-- survive `read`.
local M = {}

--- The code blocks of the Markdown file at `path`: { {lang =, body =, name =, expect =} }.
-- `langs` (optional) is the set of languages to keep (default: lua and sh).
function M.blocks(path, langs)
  langs = langs or { lua = true, sh = true }
  local lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  local blocks, i = {}, 1
  while i <= #lines do
    local lang = lines[i]:match("^```(%w+)%s*$")
    if lang and langs[lang] then
      local name = (lines[i - 1] or ""):match("^<!%-%- file: (%S+) %-%->$") or ""
      local body = {}
      i = i + 1
      while i <= #lines and not lines[i]:match("^```%s*$") do
        body[#body + 1] = lines[i]
        i = i + 1
      end
      if i > #lines then error(path .. ": a ```" .. lang .. " block is not closed") end
      local expect = (lines[i + 1] or ""):match("^<!%-%- expect: (.-) %-%->$") or ""
      blocks[#blocks + 1] = { lang = lang, body = table.concat(body, "\n") .. "\n", name = name,
        expect = expect }
    end
    i = i + 1
  end
  return blocks
end

local doc, outdir, langs = ...
if doc == nil then return M end

local keep = {}
for lang in (langs or "lua,sh"):gmatch("[^,]+") do keep[lang] = true end
for n, block in ipairs(M.blocks(doc, keep)) do
  local id = ("%03d"):format(n)
  local f = assert(io.open(outdir .. "/" .. id .. "." .. block.lang, "w"))
  f:write(block.body)
  f:close()
  print(table.concat({ id, block.lang, block.name, block.expect }, "\31"))
end
