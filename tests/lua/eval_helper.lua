-- What the evaluators' specs share: their fixtures (tests/fixtures/eval/, written by
-- tools/fixtures/{coco_fixtures,squad,bleu}.py) and a folder for the files they write.
local cjson = require "cjson"
local tmp = require "tmpfiles"

local M = { dir = tmp.tmpdir() }

--- The decoded fixture tests/fixtures/eval/NAME.
function M.fixture(name)
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/eval/" .. name))
  local d = cjson.decode(f:read("a"))
  f:close()
  return d
end

--- Writes `text` to DIR/NAME and returns the path.
function M.file(name, text)
  local path = M.dir .. "/" .. name
  tmp.write(path, text)
  return path
end

return M
