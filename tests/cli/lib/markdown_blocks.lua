-- Extracts the fenced code blocks of a Markdown file for the docs tests (lib/doc_blocks.sh).
-- Usage: lua5.4 markdown_blocks.lua DOC.md OUTDIR
-- Writes OUTDIR/NNN.<lang> for each ```lua / ```sh block in order and prints one line per
-- block: id, lang, file name, expected text, separated by the ASCII unit separator (\31)
-- so that empty fields survive `read`. The file name comes from a `<!-- file: NAME -->`
-- comment on the line before the block (else empty), the expected text from a
-- `<!-- expect: TEXT -->` comment on the line after it (else empty).
local doc, outdir = arg[1], arg[2]
local lines = {}
for line in io.lines(doc) do lines[#lines + 1] = line end

local n, i = 0, 1
while i <= #lines do
  local lang = lines[i]:match("^```(%w+)%s*$")
  if lang == "lua" or lang == "sh" then
    local name = (lines[i - 1] or ""):match("^<!%-%- file: (%S+) %-%->$") or ""
    local body = {}
    i = i + 1
    while i <= #lines and not lines[i]:match("^```%s*$") do
      body[#body + 1] = lines[i]
      i = i + 1
    end
    if i > #lines then error(doc .. ": a ```" .. lang .. " block is not closed") end
    local expect = (lines[i + 1] or ""):match("^<!%-%- expect: (.-) %-%->$") or ""
    n = n + 1
    local id = ("%03d"):format(n)
    local f = assert(io.open(outdir .. "/" .. id .. "." .. lang, "w"))
    f:write(table.concat(body, "\n"), "\n")
    f:close()
    print(table.concat({ id, lang, name, expect }, "\31"))
  end
  i = i + 1
end
