-- Every Lua example of docs/cuda.md runs (tests/lua/docs_helper.lua); those marked
-- "-- needs a GPU" only with a GPU.
local sb = require "sbengine"

require("docs_helper").run_examples("docs/cuda.md", {
  min = 4,
  env = { print = function() end },
  skip = function(block)
    if block:find("-- needs a GPU", 1, true) and not sb.cuda.available() then return "no GPU" end
  end,
  -- An example may switch TF32 on: the setting is restored for the specs that follow.
  wrap = function(run)
    local tf32 = sb.cuda.allow_tf32()
    local ok, err = pcall(run)
    sb.cuda.allow_tf32(tf32)
    assert(ok, err)
  end,
})
