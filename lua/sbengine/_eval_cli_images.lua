-- `sbengine eval ade20k` and `sbengine eval imagenet` (called by _eval_cli.lua with the parsed
-- options and its helpers): predictions from files through sb.eval.ADE20K / sb.eval.ImageNet.
-- Internal; docs/evaluators.md.
local M = {}

M.USAGE = [[
       sbengine eval ade20k --root DIR --predictions DIR [OPTIONS]
       sbengine eval imagenet --root DIR|--targets FILE --predictions FILE [OPTIONS]
]]

M.HELP = [[
ade20k:   scores label maps (a folder of <image id>.png, gray, classes 1..150, as the
          scene-parsing benchmark takes them) against ADEChallengeData2016's annotations
          (--root: the folder holding it) as the benchmark's evaluation code does.
imagenet: scores class scores (a JSON object {image id: [one score per class]}) against the
          ImageNet validation labels (--root: a folder with val/<wnid>/, or --targets: a JSON
          object {image id: class id}): top-1 and top-5 accuracy as sotabench-eval.
]]

M.OPTIONS = [[
  --root DIR           ade20k, imagenet: the dataset's folder
  --split NAME         ade20k: validation (default) or training
  --targets FILE       imagenet: the labels, instead of --root
]]

M.VALUE_OPTIONS = { ["--root"] = "root", ["--split"] = "split", ["--targets"] = "targets" }

function M.ade20k(o, h)
  if not o.root then return h.usage_error("ade20k needs --root DIR") end
  if not o.predictions then return h.usage_error("ade20k needs --predictions DIR") end
  local sb = require "sbengine"
  local ev = sb.eval.ADE20K { root = o.root, split = o.split, model_name = h.model_name(o) }
  local names, err = require("sbengine.core").sys.list_files(o.predictions, ".png")
  if not names then error(err, 0) end
  if #names == 0 then error(("%s holds no .png label maps"):format(o.predictions), 0) end
  for _, name in ipairs(names) do
    local id = name:sub(1, -5)
    local map = sb.image.load(o.predictions .. "/" .. name, { mode = "L" })
    ev:add { [id] = map }
  end
  if not o.quiet then
    local s = ev:stats()
    print(("Mean IoU over 150 classes: %.4f"):format(s.mean_iou))
    print(("Pixel-wise Accuracy: %2.2f%%"):format(s.pixel_accuracy * 100))
    print(("images: %d"):format(s.images))
  end
  ev:save()
  return 0
end

function M.imagenet(o, h)
  if not (o.root or o.targets) then return h.usage_error("imagenet needs --root DIR or --targets FILE") end
  if not o.predictions then return h.usage_error("imagenet needs --predictions FILE") end
  local sb = require "sbengine"
  local ev = sb.eval.ImageNet { root = o.root, targets = o.targets, model_name = h.model_name(o) }
  local f, err = io.open(o.predictions, "rb")
  if not f then error(err, 0) end
  local text = f:read("a")
  f:close()
  local ok, scores = pcall(require("cjson").decode, text)
  if not ok or type(scores) ~= "table" then
    error(("%s: expected a JSON object {image id: [scores]} (%s)")
      :format(o.predictions, ok and "got " .. type(scores) or tostring(scores)), 0)
  end
  ev:add(scores)
  local r = ev:results()
  if not o.quiet then
    print(("Top 1 Accuracy %.5f"):format(r["Top 1 Accuracy"]))
    print(("Top 5 Accuracy %.5f"):format(r["Top 5 Accuracy"]))
  end
  ev:save()
  return 0
end

return M
