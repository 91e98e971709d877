--- sb.eval: evaluators for predictions made elsewhere (sotabench-eval's workflow): build one
-- over a dataset's reference file, add the model's predictions keyed by example id, read the
-- results or save them as a BenchmarkResult (stored at the end of the run like any other).
-- Reference and examples in docs/evaluators.md; the metrics themselves are meters
-- (lua/sbengine/metrics/) whose arithmetic is in C (engine/eval/).
local coco = require "sbengine._coco"
local metrics = require "sbengine.metrics"
local results = require "sbengine.results"
local util = require "sbengine._util"

local eval = {}

-- m:add(...) whose errors name the caller's caller (the user's line)
local function calls_add(meter, output, target)
  local ok, err = pcall(meter.add, meter, output, target)
  if not ok then error(err, 3) end
end

-- The fields every evaluator takes for its BenchmarkResult (sotabench-eval's names).
local RESULT_OPTIONS = {
  model_name = true, paper_arxiv_id = true, paper_pwc_id = true, paper_results = true,
  model_description = true,
}

local function result_fields(self, dataset, task, values)
  local o = self.opts
  return {
    model = o.model_name, model_description = o.model_description, dataset = dataset,
    task = task, results = values, arxiv_id = o.paper_arxiv_id, pwc_id = o.paper_pwc_id,
    paper_results = o.paper_results, config = self.config,
  }
end

-- ---- COCO ---------------------------------------------------------------------------------

local COCO = {}
COCO.__index = COCO
COCO.__name = "sb.eval.COCO"

local COCO_OPTIONS = { annotations = true, images = true, iou_type = true }
for k in pairs(RESULT_OPTIONS) do COCO_OPTIONS[k] = true end

-- sotabench's result names for COCOeval.stats[1..6] ("mask AP" for iou_type "segm")
local COCO_RESULT_NAMES = { "box AP", "AP50", "AP75", "APS", "APM", "APL" }
local COCO_KINDS = {
  bbox = { meter = "coco_detection", first = "box AP", task = "Object Detection" },
  segm = { meter = "coco_segmentation", first = "mask AP", task = "Instance Segmentation" },
}

--- sb.eval.COCO{annotations = PATH, iou_type = "bbox"|"segm", images = "added"|"all",
-- model_name = ...}: object detection ("bbox", box AP) or instance segmentation ("segm", mask
-- AP) on COCO, as pycocotools' COCOeval.
function eval.COCO(opts)
  opts = util.check_options("sb.eval.COCO", opts, COCO_OPTIONS, 2)
  if type(opts.annotations) ~= "string" then
    error("sb.eval.COCO: option annotations must be the path of a COCO annotation file "
      .. "(instances_val2017.json)", 2)
  end
  if opts.images ~= nil and opts.images ~= "added" and opts.images ~= "all" then
    error(("sb.eval.COCO: option images must be \"added\" or \"all\", got %s")
      :format(tostring(opts.images)), 2)
  end
  local iou_type = opts.iou_type or "bbox"
  local kind = COCO_KINDS[iou_type]
  if not kind then
    error(("sb.eval.COCO: option iou_type must be \"bbox\" or \"segm\", got %s")
      :format(tostring(opts.iou_type)), 2)
  end
  local gt = coco.annotations(opts.annotations, 2, iou_type)
  local meter = metrics.create(kind.meter,
    { annotations = opts.annotations, images = opts.images, _gt = gt })
  local self = setmetatable({ opts = opts, meter = meter, added = {}, gt = gt, kind = kind },
    COCO)
  self.config = { evaluator = kind.meter, reference = ("pycocotools COCOeval (%s)"):format(iou_type),
                  annotations = opts.annotations:match("[^/]*$"),
                  images = opts.images or "added" }
  return self
end

local function add_one(self, id, prediction, level)
  id = coco.image_id(id, "sb.eval.COCO:add", level + 1)
  if not self.gt:has_image(id) then
    error(("sb.eval.COCO:add: image %d is not in %s"):format(id, self.opts.annotations), level + 1)
  end
  if self.added[id] then
    error(("sb.eval.COCO:add: image %d was already added"):format(id), level + 1)
  end
  self.added[id] = true
  local s = self.meter._state
  s.images[#s.images + 1] = id
  coco.append(s.dets, id, prediction, ("sb.eval.COCO:add: image %d"):format(id), level + 1,
    s.masks)
end

--- ev:add(predictions_by_id): {[image_id] = prediction}, a prediction being torchvision's
-- {boxes=, scores=, labels=} or a list of {bbox = {x, y, w, h}, score=, category_id=}; for
-- iou_type "segm" a list of {segmentation = {size = {h, w}, counts =}, score=, category_id=}.
function COCO:add(predictions)
  if type(predictions) ~= "table" then
    error("sb.eval.COCO:add: expected a table {[image_id] = prediction}, got " .. type(predictions), 2)
  end
  local ids = {}
  for id in pairs(predictions) do ids[#ids + 1] = id end
  table.sort(ids, function(a, b)
    if type(a) ~= type(b) then return type(a) < type(b) end
    return a < b
  end)
  for _, id in ipairs(ids) do add_one(self, id, predictions[id], 2) end
  self.cached = nil
  return self
end

-- Adds detections given flat (7 numbers each: image_id, category_id, x, y, w, h, score) and,
-- for masks, their masks (4 values each); their images count as added (checked first, so a
-- refused call adds nothing).
local function add_flat(self, flat, n, masks, level)
  local new, ids = {}, {}
  for i = 0, n - 1 do
    local id = flat[i * 7 + 1]
    if not new[id] then
      id = coco.image_id(id, "sb.eval.COCO:add_results", level + 1)
      if not self.gt:has_image(id) then
        error(("sb.eval.COCO:add_results: image %d is not in %s"):format(id,
          self.opts.annotations), level + 1)
      end
      if self.added[id] then
        error(("sb.eval.COCO:add_results: image %d was already added"):format(id), level + 1)
      end
      new[id], ids[#ids + 1] = true, id
    end
  end
  table.sort(ids)
  local s = self.meter._state
  for _, id in ipairs(ids) do
    self.added[id] = true
    s.images[#s.images + 1] = id
  end
  table.move(flat, 1, n * 7, #s.dets + 1, s.dets)
  if masks then table.move(masks, 1, n * 4, #s.masks + 1, s.masks) end
end

--- ev:add_results(path | list): a COCO results file (or its list) of {image_id, category_id,
-- bbox, score} (segm: segmentation, score, optional bbox); each image's detections must all be
-- in it.
function COCO:add_results(source)
  local segm = self.meter._state.masks ~= nil
  if type(source) == "string" then
    local core = require "sbengine.core"
    local calls = require "sbengine._calls"
    local flat, n, masks = calls.c(2, core.eval.coco_read_results, source,
      segm and "segm" or "bbox")
    add_flat(self, flat, n, masks, 2)
  elseif type(source) == "table" then
    local flat, masks = {}, segm and {} or nil
    -- loadRes: when the first detection has a bbox, every area comes from the boxes
    local boxes = segm and type(source[1]) == "table" and type(source[1].bbox) == "table"
      and #source[1].bbox > 0
    for i, d in ipairs(source) do
      local id = type(d) == "table" and d.image_id
      if id == nil then
        error(("sb.eval.COCO:add_results: detection %d has no image_id"):format(i), 2)
      end
      if segm and not boxes and d.bbox ~= nil then
        d = setmetatable({ bbox = false }, { __index = d })
      end
      coco.append(flat, id, { d }, ("sb.eval.COCO:add_results: detection %d"):format(i), 2,
        masks)
    end
    add_flat(self, flat, #flat // 7, masks, 2)
  else
    error("sb.eval.COCO:add_results: expected a results file's path or its list, got "
      .. type(source), 2)
  end
  self.cached = nil
  return self
end

--- ev:results() -> {["box AP"] (segm: ["mask AP"]), AP50, AP75, APS, APM, APL}
-- (COCOeval.stats[1..6], fractions).
function COCO:results()
  if not self.cached then self.cached = self.meter:value() end
  local out = {}
  for i, name in ipairs(COCO_RESULT_NAMES) do
    out[i == 1 and self.kind.first or name] = self.cached.stats[i]
  end
  return out
end

--- ev:stats() -> all 12 numbers of COCOeval.summarize(), named as the coco_detection meter.
function COCO:stats()
  if not self.cached then self.cached = self.meter:value() end
  return self.cached
end

--- ev:save([fields]) -> a BenchmarkResult (dataset "COCO minival", task "Object Detection", or
-- "Instance Segmentation" for segm); `fields` overrides the result's fields (model, ...).
function COCO:save(fields)
  local f = result_fields(self, "COCO minival", self.kind.task, self:results())
  for k, v in pairs(fields or {}) do f[k] = v end
  if f.model == nil then
    error("sb.eval.COCO:save: no model name (give model_name to sb.eval.COCO or save{model=})", 2)
  end
  return results.BenchmarkResult(f)
end

-- ---- SQuAD -------------------------------------------------------------------------------

local SQuAD = {}
SQuAD.__index = SQuAD
SQuAD.__name = "sb.eval.SQuAD"

local SQUAD_OPTIONS = { data = true, version = true, na_prob_thresh = true }
for k in pairs(RESULT_OPTIONS) do SQUAD_OPTIONS[k] = true end

--- sb.eval.SQuAD{data = PATH, version = "1.1"|"2.0", na_prob_thresh = 1.0, model_name = ...}:
-- question answering (exact match and F1 as the official SQuAD evaluation scripts;
-- na_prob_thresh is evaluate-v2.0.py's --na-prob-thresh).
function eval.SQuAD(opts)
  opts = util.check_options("sb.eval.SQuAD", opts, SQUAD_OPTIONS, 2)
  if type(opts.data) ~= "string" then
    error("sb.eval.SQuAD: option data must be the path of a SQuAD dataset file "
      .. "(dev-v1.1.json, dev-v2.0.json)", 2)
  end
  local version = opts.version and tostring(opts.version) or "1.1"
  if version == "2" then version = "2.0" end
  if version ~= "1.1" and version ~= "2.0" then
    error(("sb.eval.SQuAD: option version must be \"1.1\" or \"2.0\", got %s"):format(version), 2)
  end
  local core = require "sbengine.core"
  local calls = require "sbengine._calls"
  local data = calls.c(2, core.eval.squad_load, opts.data, version == "1.1" and 1 or 2)
  if opts.na_prob_thresh ~= nil and (version ~= "2.0" or type(opts.na_prob_thresh) ~= "number") then
    error("sb.eval.SQuAD: option na_prob_thresh must be a number, and is for version 2.0", 2)
  end
  local meter = metrics.create("squad", { data = opts.data, version = version, _data = data,
    na_prob_thresh = opts.na_prob_thresh })
  local self = setmetatable({ opts = opts, version = version, meter = meter, data = data,
    added = {}, na_added = {} }, SQuAD)
  self.config = { evaluator = "squad", version = version,
                  reference = "evaluate-v" .. version .. ".py (official SQuAD script)",
                  data = opts.data:match("[^/]*$"), na_prob_thresh = opts.na_prob_thresh }
  return self
end

-- The no-answer probabilities of ev:add, checked, in their order: a path is read in the
-- file's order (evaluate-v2.0.py's dict), a table in the dataset's order.
local function na_list(self, na_probs)
  if self.version ~= "2.0" then
    error("sb.eval.SQuAD:add: no-answer probabilities are for version 2.0", 3)
  end
  local ids, probs
  if type(na_probs) == "string" then
    local ok, a, b = pcall(self.data.read_na_probs, self.data, na_probs)
    if not ok then error("sb.eval.SQuAD:add: " .. tostring(a), 3) end
    ids, probs = a, b
  elseif type(na_probs) == "table" then
    ids, probs = {}, {}
    for id, p in pairs(na_probs) do
      if type(id) ~= "string" or not self.data:find(id) then
        error(("sb.eval.SQuAD:add: no-answer probability for question %s, which is not in %s")
          :format(tostring(id), self.opts.data), 3)
      end
      if type(p) ~= "number" or p ~= p or math.abs(p) == math.huge then
        error(("sb.eval.SQuAD:add: the no-answer probability of %s must be a finite number, "
          .. "got %s"):format(id, tostring(p)), 3)
      end
      ids[#ids + 1] = id
    end
    table.sort(ids, function(a, b) return self.data:find(a) < self.data:find(b) end)
    for i, id in ipairs(ids) do probs[i] = na_probs[id] end
  else
    error("sb.eval.SQuAD:add: no-answer probabilities must be a table {[question_id] = "
      .. "probability} or a na_prob.json path, got " .. type(na_probs), 3)
  end
  local seen = {}
  for _, id in ipairs(ids) do
    if self.na_added[id] or seen[id] then
      error(("sb.eval.SQuAD:add: the no-answer probability of question %s was already added")
        :format(id), 3)
    end
    seen[id] = true
  end
  return ids, probs
end

--- ev:add(answers_by_id[, na_probs]): {[question_id] = "answer text"}; "" answers "no answer"
-- (v2.0). na_probs (v2.0): the no-answer probabilities, {[question_id] = p} or the path of a
-- na_prob.json (evaluate-v2.0.py's --na-prob-file, read in its order).
function SQuAD:add(answers, na_probs)
  if type(answers) ~= "table" then
    error("sb.eval.SQuAD:add: expected a table {[question_id] = answer}, got " .. type(answers), 2)
  end
  local ids = {}
  for id, answer in pairs(answers) do
    if type(id) ~= "string" then
      error(("sb.eval.SQuAD:add: question ids are strings, got %s %s"):format(type(id),
        tostring(id)), 2)
    end
    if type(answer) ~= "string" then
      error(("sb.eval.SQuAD:add: the answer to %s must be a string, got %s"):format(id,
        type(answer)), 2)
    end
    if not self.data:find(id) then
      error(("sb.eval.SQuAD:add: question %s is not in %s"):format(id, self.opts.data), 2)
    end
    if self.added[id] then
      error(("sb.eval.SQuAD:add: question %s was already added"):format(id), 2)
    end
    ids[#ids + 1] = id
  end
  local na_ids, probs
  if na_probs ~= nil then na_ids, probs = na_list(self, na_probs) end
  table.sort(ids, function(a, b) return self.data:find(a) < self.data:find(b) end)
  local out = {}
  for i, id in ipairs(ids) do
    self.added[id] = true
    out[i] = answers[id]
  end
  self.meter:add(out, ids)
  if na_ids then
    for _, id in ipairs(na_ids) do self.na_added[id] = true end
    self.meter:add({ na_probs = probs }, na_ids)
  end
  self.cached = nil
  return self
end

--- ev:stats() -> everything the script prints (and missing = unanswered questions).
function SQuAD:stats()
  if not self.cached then self.cached = self.meter:value() end
  return self.cached
end

--- ev:results() -> {EM, F1} (percentages, sotabench-eval's names).
function SQuAD:results()
  local s = self:stats()
  return { EM = s.exact_match or s.exact, F1 = s.f1 }
end

--- ev:save([fields]) -> a BenchmarkResult (dataset "SQuAD1.1" or "SQuAD2.0", task
-- "Question Answering").
function SQuAD:save(fields)
  local dataset = self.version == "1.1" and "SQuAD1.1" or "SQuAD2.0"
  local f = result_fields(self, dataset, "Question Answering", self:results())
  for k, v in pairs(fields or {}) do f[k] = v end
  if f.model == nil then
    error("sb.eval.SQuAD:save: no model name (give model_name to sb.eval.SQuAD or save{model=})", 2)
  end
  return results.BenchmarkResult(f)
end

-- ---- WMT ---------------------------------------------------------------------------------

local WMT = {}
WMT.__index = WMT
WMT.__name = "sb.eval.WMT"

local WMT_OPTIONS = { references = true, dataset = true }
for k in pairs(RESULT_OPTIONS) do WMT_OPTIONS[k] = true end

local function read_lines(path, level)
  local f, err = io.open(path, "rb")
  if not f then error("sb.eval.WMT: " .. err, level + 1) end
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = line end
  f:close()
  return lines
end

--- sb.eval.WMT{references = PATH | {PATH, ...}, dataset = "WMT2014 English-German", ...}:
-- machine translation scored with sacrebleu's default corpus BLEU. A references file holds
-- one segment per line (a test set's reference side, as `sacrebleu -t wmt14 -l de-en --echo
-- ref` prints it); several files are several references per segment.
function eval.WMT(opts)
  opts = util.check_options("sb.eval.WMT", opts, WMT_OPTIONS, 2)
  local paths = type(opts.references) == "string" and { opts.references } or opts.references
  if type(paths) ~= "table" or #paths == 0 then
    error("sb.eval.WMT: option references must be a file of reference lines, or a list of "
      .. "such files", 2)
  end
  if type(opts.dataset) ~= "string" then
    error("sb.eval.WMT: option dataset must name the test set (\"WMT2014 English-German\")", 2)
  end
  local streams = {}
  for i, path in ipairs(paths) do
    streams[i] = read_lines(path, 2)
    if #streams[i] ~= #streams[1] then
      error(("sb.eval.WMT: %s has %d lines and %s %d; parallel references must have as many")
        :format(paths[1], #streams[1], path, #streams[i]), 2)
    end
  end
  local self = setmetatable({ opts = opts, streams = streams, added = {}, count = 0,
    meter = metrics.create("bleu") }, WMT)
  self.config = { evaluator = "bleu", reference = "sacrebleu BLEU() defaults" }
  return self
end

--- ev:add(translations_by_id): {[segment] = "translation"}, segments numbered from 1 as the
-- lines of the references file.
function WMT:add(translations)
  if type(translations) ~= "table" then
    error("sb.eval.WMT:add: expected a table {[segment] = translation}, got "
      .. type(translations), 2)
  end
  local ids = {}
  for id, text in pairs(translations) do
    local n = math.tointeger(id)
    if n == nil or n < 1 or n > #self.streams[1] then
      error(("sb.eval.WMT:add: segment %s is not in %s (segments 1 to %d)"):format(tostring(id),
        self.opts.dataset, #self.streams[1]), 2)
    end
    if self.added[n] then error(("sb.eval.WMT:add: segment %d was already added"):format(n), 2) end
    if type(text) ~= "string" then
      error(("sb.eval.WMT:add: the translation of segment %d must be a string, got %s")
        :format(n, type(text)), 2)
    end
    ids[#ids + 1] = n
  end
  table.sort(ids)
  local hyps, refs = {}, {}
  for i, n in ipairs(ids) do
    hyps[i] = translations[n] or translations[tostring(n)]
    local r = {}
    for k, stream in ipairs(self.streams) do r[k] = stream[n] end
    refs[i] = r
  end
  calls_add(self.meter, hyps, refs)
  for _, n in ipairs(ids) do self.added[n] = true end
  self.count = self.count + #ids
  self.cached = nil
  return self
end

--- ev:stats() -> the bleu meter's value ({score, precisions, bp, sys_len, ref_len, signature})
-- and segments (how many were added).
function WMT:stats()
  if not self.cached then
    self.cached = self.meter:value()
    self.cached.segments = self.count
  end
  return self.cached
end

--- ev:results() -> {SacreBLEU = score}.
function WMT:results()
  return { SacreBLEU = self:stats().score }
end

--- ev:save([fields]) -> a BenchmarkResult (dataset as given, task "Machine Translation"); the
-- config records sacrebleu's signature.
function WMT:save(fields)
  local f = result_fields(self, self.opts.dataset, "Machine Translation", self:results())
  f.config = { evaluator = "bleu", signature = self:stats().signature,
               segments = self.count, of_segments = #self.streams[1] }
  for k, v in pairs(fields or {}) do f[k] = v end
  if f.model == nil then
    error("sb.eval.WMT:save: no model name (give model_name to sb.eval.WMT or save{model=})", 2)
  end
  return results.BenchmarkResult(f)
end

-- ---- WikiText ----------------------------------------------------------------------------

local WikiText = {}
WikiText.__index = WikiText
WikiText.__name = "sb.eval.WikiText"

local WIKITEXT_OPTIONS = { dataset = true, log_probs = true }
for k in pairs(RESULT_OPTIONS) do WIKITEXT_OPTIONS[k] = true end

--- sb.eval.WikiText{dataset = "WikiText-103"|"WikiText-2", log_probs = false, ...}: language
-- modelling scored by per-token perplexity (base e), sotabench-eval's WikiText evaluators.
function eval.WikiText(opts)
  opts = util.check_options("sb.eval.WikiText", opts, WIKITEXT_OPTIONS, 2)
  local dataset = opts.dataset or "WikiText-103"
  if dataset ~= "WikiText-103" and dataset ~= "WikiText-2" then
    error(("sb.eval.WikiText: option dataset must be \"WikiText-103\" or \"WikiText-2\", got %s")
      :format(tostring(dataset)), 2)
  end
  local self = setmetatable({ opts = opts, dataset = dataset,
    meter = metrics.create("perplexity", { log_probs = opts.log_probs and true or false }) },
    WikiText)
  self.config = { evaluator = "perplexity", base = "e", per = "token" }
  return self
end

--- ev:add(output, targets): output (N, V) logits (or log-probabilities with log_probs = true)
-- for N tokens, targets (N) the next tokens' ids.
function WikiText:add(output, targets)
  calls_add(self.meter, output, targets)
  return self
end

--- ev:results() -> {["Test perplexity"] = exp(mean negative log-likelihood per token)}.
function WikiText:results()
  return { ["Test perplexity"] = self.meter:value() }
end

--- ev:save([fields]) -> a BenchmarkResult (dataset "WikiText-103" or "WikiText-2", task
-- "Language Modelling").
function WikiText:save(fields)
  local f = result_fields(self, self.dataset, "Language Modelling", self:results())
  for k, v in pairs(fields or {}) do f[k] = v end
  if f.model == nil then
    error("sb.eval.WikiText:save: no model name (give model_name to sb.eval.WikiText or "
      .. "save{model=})", 2)
  end
  return results.BenchmarkResult(f)
end

-- ---- ADE20K, ImageNet (lua/sbengine/_eval_images.lua) ------------------------------------
require("sbengine._eval_images")(eval, { RESULT_OPTIONS = RESULT_OPTIONS,
  result_fields = result_fields })

return eval
