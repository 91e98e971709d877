-- `sbengine eval NAME [OPTIONS]` (engine/eval_cli.c calls main(...) with the arguments after
-- "eval"): evaluates a predictions file with an evaluator of sb.eval, prints the numbers,
-- stores the result like a run does (--out, SOTABENCH_STORE_FILENAME, sotabench_results.json)
-- and with --submit sends it. Returns the exit code. Internal; docs/evaluators.md.
local M = {}
local images = require "sbengine._eval_cli_images" -- ade20k, imagenet

local USAGE = [[
usage: sbengine eval coco --annotations FILE --predictions FILE [OPTIONS]
       sbengine eval squad --data FILE --predictions FILE [--version 1.1|2.0]
                           [--na-prob-file FILE] [--na-prob-thresh T] [OPTIONS]
       sbengine eval wmt --references FILE[,FILE...] --predictions FILE --dataset NAME [OPTIONS]
]] .. images.USAGE .. [[

coco:  evaluates COCO detections (a results file: a JSON list of {image_id, category_id, bbox,
       score}) against an annotation file (instances_val2017.json) as pycocotools' COCOeval
       does, over every image of the annotation file; with --iou-type segm, instance masks
       (results with "segmentation": compressed RLE {size, counts}) by mask IoU.
squad: evaluates answers (a JSON object {question id: answer text}) against a SQuAD dataset
       file (dev-v1.1.json, dev-v2.0.json) as the official evaluation script does.
wmt:   scores translations (a text file, one segment per line) against reference files (as
       many lines each) with sacrebleu's default corpus BLEU.
]] .. images.HELP .. [[
Each prints the numbers and stores the result.

options:
  --annotations FILE   coco: the COCO annotation file
  --iou-type TYPE      coco: bbox (default, box AP) or segm (mask AP)
  --data FILE          squad: the dataset file
  --version V          squad: 1.1 (default) or 2.0
  --na-prob-file FILE  squad 2.0: the model's no-answer probabilities ({question id: p}), as
                       evaluate-v2.0.py's; adds best_exact, best_f1 and their thresholds
  --na-prob-thresh T   squad 2.0: answer "" where the probability exceeds T (default 1.0)
  --references FILES   wmt: the reference files, comma-separated
  --dataset NAME       wmt: the test set's name in the result ("WMT2014 English-German")
]] .. images.OPTIONS .. [[
  --predictions FILE   the detections / the answers
  --model-name NAME    the result's model name (default: the predictions file's name)
  --out FILE           the store file (default: $SOTABENCH_STORE_FILENAME, else
                       sotabench_results.json; appended to)
  --submit             also submit the result to the results server
  --server URL         the results server (default: $SOTABENCH_URL)
  --quiet              print nothing but errors
  -h, --help           this text
]]

local function usage_error(msg)
  io.stderr:write("sbengine eval: " .. msg .. "\n" .. "Try 'sbengine eval --help'.\n")
  return 2
end

local VALUE_OPTIONS = { ["--annotations"] = "annotations", ["--predictions"] = "predictions",
  ["--iou-type"] = "iou_type",
  ["--data"] = "data", ["--version"] = "version", ["--references"] = "references",
  ["--dataset"] = "dataset", ["--na-prob-file"] = "na_prob_file",
  ["--na-prob-thresh"] = "na_prob_thresh",
  ["--model-name"] = "model_name", ["--out"] = "out", ["--server"] = "server" }
for k, v in pairs(images.VALUE_OPTIONS) do VALUE_OPTIONS[k] = v end
local FLAG_OPTIONS = { ["--submit"] = "submit", ["--quiet"] = "quiet" }

local function parse(args)
  local o = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local name, value = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    if a == "-h" or a == "--help" then
      o.help = true
    elseif VALUE_OPTIONS[name] then
      if value == nil then
        i = i + 1
        value = args[i]
        if value == nil then return nil, name .. " needs a value" end
      end
      o[VALUE_OPTIONS[name]] = value
    elseif FLAG_OPTIONS[a] then
      o[FLAG_OPTIONS[a]] = true
    elseif a:sub(1, 1) == "-" then
      return nil, "unknown option " .. a
    elseif o.name == nil then
      o.name = a
    else
      return nil, "unexpected argument " .. a
    end
    i = i + 1
  end
  return o
end

local SUMMARY = {
  { "Average Precision", "(AP)", "0.50:0.95", "all", 100 },
  { "Average Precision", "(AP)", "0.50", "all", 100 },
  { "Average Precision", "(AP)", "0.75", "all", 100 },
  { "Average Precision", "(AP)", "0.50:0.95", "small", 100 },
  { "Average Precision", "(AP)", "0.50:0.95", "medium", 100 },
  { "Average Precision", "(AP)", "0.50:0.95", "large", 100 },
  { "Average Recall", "(AR)", "0.50:0.95", "all", 1 },
  { "Average Recall", "(AR)", "0.50:0.95", "all", 10 },
  { "Average Recall", "(AR)", "0.50:0.95", "all", 100 },
  { "Average Recall", "(AR)", "0.50:0.95", "small", 100 },
  { "Average Recall", "(AR)", "0.50:0.95", "medium", 100 },
  { "Average Recall", "(AR)", "0.50:0.95", "large", 100 },
}

local function model_name(o)
  return o.model_name or (o.predictions:match("([^/]*)$"):gsub("%.json$", ""))
end

local function coco(o)
  if not o.annotations then return usage_error("coco needs --annotations FILE") end
  if not o.predictions then return usage_error("coco needs --predictions FILE") end
  if o.iou_type and o.iou_type ~= "bbox" and o.iou_type ~= "segm" then
    return usage_error(("--iou-type must be bbox or segm, got %s"):format(o.iou_type))
  end
  local sb = require "sbengine"
  local ev = sb.eval.COCO { annotations = o.annotations, images = "all",
    iou_type = o.iou_type, model_name = model_name(o) }
  ev:add_results(o.predictions)
  local stats = ev:stats().stats
  if not o.quiet then
    -- COCOeval.summarize()'s lines
    for i, s in ipairs(SUMMARY) do
      print((" %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %.3f")
        :format(s[1], s[2], s[3], s[4], s[5], stats[i]))
    end
  end
  ev:save()
  return 0
end

local function squad(o)
  if not o.data then return usage_error("squad needs --data FILE") end
  if not o.predictions then return usage_error("squad needs --predictions FILE") end
  local thresh = nil
  if o.na_prob_file or o.na_prob_thresh then
    if o.version ~= "2.0" and o.version ~= "2" then
      return usage_error("--na-prob-file and --na-prob-thresh need --version 2.0")
    end
    thresh = o.na_prob_thresh and tonumber(o.na_prob_thresh)
    if o.na_prob_thresh and not thresh then
      return usage_error("--na-prob-thresh needs a number, got " .. o.na_prob_thresh)
    end
  end
  local sb = require "sbengine"
  local cjson = require "cjson"
  local ev = sb.eval.SQuAD { data = o.data, version = o.version, model_name = model_name(o),
    na_prob_thresh = thresh }
  local f, err = io.open(o.predictions, "rb")
  if not f then error(err, 0) end
  local text = f:read("a")
  f:close()
  local ok, answers = pcall(cjson.decode, text)
  if not ok or type(answers) ~= "table" then
    error(("%s: expected a JSON object {question id: answer text} (%s)")
      :format(o.predictions, ok and "got " .. type(answers) or tostring(answers)), 0)
  end
  ev:add(answers, o.na_prob_file)
  if not o.quiet then
    local s = ev:stats()
    local keys = {}
    for k in pairs(s) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do print(("%-14s %s"):format(k, tostring(s[k]))) end
  end
  ev:save()
  return 0
end

local function wmt(o)
  if not o.references then return usage_error("wmt needs --references FILE[,FILE...]") end
  if not o.predictions then return usage_error("wmt needs --predictions FILE") end
  if not o.dataset then return usage_error("wmt needs --dataset NAME") end
  local sb = require "sbengine"
  local refs = {}
  for path in o.references:gmatch("[^,]+") do refs[#refs + 1] = path end
  local ev = sb.eval.WMT { references = refs, dataset = o.dataset, model_name = model_name(o) }
  local f, err = io.open(o.predictions, "rb")
  if not f then error(err, 0) end
  local translations, n = {}, 0
  for line in f:lines() do
    n = n + 1
    translations[n] = line
  end
  f:close()
  ev:add(translations)
  local s = ev:stats()
  if s.segments ~= #ev.streams[1] then
    error(("%s has %d lines, the references %d"):format(o.predictions, s.segments,
      #ev.streams[1]), 0)
  end
  if not o.quiet then
    print(("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)")
      :format(s.score, s.precisions[1], s.precisions[2], s.precisions[3], s.precisions[4], s.bp,
        s.sys_len / s.ref_len, s.sys_len, s.ref_len))
    print(s.signature)
  end
  ev:save()
  return 0
end

local EVALUATORS = { coco = coco, squad = squad, wmt = wmt }
local helpers = { usage_error = usage_error, model_name = model_name }
EVALUATORS.ade20k = function(o) return images.ade20k(o, helpers) end
EVALUATORS.imagenet = function(o) return images.imagenet(o, helpers) end

function M.main(...)
  local o, err = parse({ ... })
  if not o then return usage_error(err) end
  if o.help then
    io.stdout:write(USAGE)
    return 0
  end
  if not o.name then return usage_error("which evaluator? (coco, squad, wmt, ade20k, imagenet)") end
  local run = EVALUATORS[o.name]
  if not run then return usage_error(("unknown evaluator '%s' (known: coco, squad, wmt, ade20k, imagenet)"):format(o.name)) end
  local session = require "sbengine.session"
  session.configure { command = "eval", out = o.out, server = o.server, submit = o.submit,
                      quiet = o.quiet }
  local ok, code = pcall(run, o)
  local finish_code = session.finish(ok and code == 0)
  if not ok then
    -- the user wrote no Lua: say what failed without a position in the engine's files
    io.stderr:write(("sbengine eval %s: %s\n"):format(o.name,
      tostring(code):gsub("^[^:\n]*%.lua:%d+: ", "")))
    return 1
  end
  if code ~= 0 then return code end
  return finish_code or 0
end

return M
