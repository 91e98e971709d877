-- Every public function of sb.eval and every method of its evaluators appears in a ```lua
-- block of docs/evaluators.md (the blocks run in tests/cli/eval_docs.sh).
local docs = require "docs_helper"
local sb = require "sbengine"
local tmp = require "tmpfiles"

describe("docs/evaluators.md coverage", function()
  local page = "docs/evaluators.md"
  docs.check_examples_cover(page, "sb.eval entry", docs.public_names(sb.eval),
    function(name) return "eval%." .. name .. "%f[^%w_]" end)
  local path = tmp.tmpdir() .. "/instances.json"
  tmp.write(path, '{"images": [], "categories": [], "annotations": []}')
  local coco = getmetatable(sb.eval.COCO { annotations = path })
  docs.check_examples_cover(page, "sb.eval.COCO method", docs.public_names(coco, true),
    function(name) return ":" .. name .. "%(" end)
  local squad = tmp.tmpdir() .. "/squad.json"
  tmp.write(squad, '{"version": "1.1", "data": []}')
  docs.check_examples_cover(page, "sb.eval.SQuAD method",
    docs.public_names(getmetatable(sb.eval.SQuAD { data = squad }), true),
    function(name) return ":" .. name .. "[%(%s{]" end)
  local refs = tmp.tmpdir() .. "/refs.txt"
  tmp.write(refs, "a\n")
  docs.check_examples_cover(page, "sb.eval.WMT method",
    docs.public_names(getmetatable(sb.eval.WMT { references = refs, dataset = "x" }), true),
    function(name) return ":" .. name .. "[%(%s{]" end)
  -- ADE20K, ImageNet
  docs.check_examples_cover(page, "sb.eval.ADE20K method", docs.public_names(getmetatable(
    sb.eval.ADE20K { root = os.getenv("SBENGINE_FIXTURES") .. "/segmentation_tree" }), true),
    function(name) return ":" .. name .. "[%(%s{]" end)
  docs.check_examples_cover(page, "sb.eval.ImageNet method",
    docs.public_names(getmetatable(sb.eval.ImageNet { targets = {} }), true),
    function(name) return ":" .. name .. "[%(%s{]" end)
  docs.check_examples_cover(page, "sb.eval.WikiText method",
    docs.public_names(getmetatable(sb.eval.WikiText {}), true),
    function(name) return ":" .. name .. "[%(%s{]" end)
end)
