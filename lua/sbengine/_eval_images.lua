-- sb.eval.ADE20K and sb.eval.ImageNet (docs/evaluators.md), installed into sb.eval by eval.lua
-- with its helpers for the result fields; internal.
local metrics = require "sbengine.metrics"
local results = require "sbengine.results"
local util = require "sbengine._util"

local function is_tensor(x)
  return type(x) == "userdata" and type(x.dim) == "function"
end

local function shape_text(t)
  local s = {}
  for d = 1, t:dim() do s[d] = t:size(d) end
  return "[" .. table.concat(s, ", ") .. "]"
end

-- The keys of `t` in a stable order (numbers, then strings).
local function sorted_ids(t)
  local ids = {}
  for id in pairs(t) do ids[#ids + 1] = id end
  table.sort(ids, function(a, b)
    if type(a) ~= type(b) then return type(a) < type(b) end
    return a < b
  end)
  return ids
end

return function(eval, h)
  -- ev:save(fields) of evaluator `name`: the BenchmarkResult of `values`, `fields` overriding
  local function save(self, name, dataset, task, values, fields, level)
    local f = h.result_fields(self, dataset, task, values)
    f.config = { images = self.count }
    for k, v in pairs(self.config) do f.config[k] = v end
    for k, v in pairs(fields or {}) do f[k] = v end
    if f.model == nil then
      error(("sb.eval.%s:save: no model name (give model_name to sb.eval.%s or save{model=})")
        :format(name, name), level + 1)
    end
    return results.BenchmarkResult(f)
  end

  -- ---- ADE20K ---------------------------------------------------------------------------

  local ADE20K = {}
  ADE20K.__index = ADE20K
  ADE20K.__name = "sb.eval.ADE20K"

  local ADE20K_OPTIONS = { root = true, split = true }
  for k in pairs(h.RESULT_OPTIONS) do ADE20K_OPTIONS[k] = true end

  --- sb.eval.ADE20K{root = "./.data/vision/ade20k", split = "validation", model_name = ...}:
  -- semantic segmentation on ADE20K scored as the scene-parsing benchmark's code does (the
  -- mean_iou meter's "ade20k" protocol); the annotations are ROOT's label maps.
  function eval.ADE20K(opts)
    opts = util.check_options("sb.eval.ADE20K", opts, ADE20K_OPTIONS, 2)
    local data = require "sbengine.data"
    local ok, ds = pcall(data.ADE20K, { root = opts.root, split = opts.split })
    if not ok then error("sb.eval." .. tostring(ds), 2) end
    local masks = {}
    for i, id in ipairs(ds.ids) do masks[id] = ds.masks[i] end
    local self = setmetatable({ opts = opts, masks = masks, added = {}, count = 0,
      meter = metrics.create("mean_iou", { protocol = "ade20k", num_classes = 150 }),
      where = ds.root .. "'s " .. ds.split .. " split" }, ADE20K)
    self.config = { evaluator = "mean_iou", protocol = "ade20k",
                    reference = "CSAILVision/sceneparsing evaluationCode (intersectionAndUnion)" }
    return self
  end

  --- ev:add(predictions_by_id): {[image id] = prediction}, the id being the image's file name
  -- without .jpg ("ADE_val_00000001"), the prediction a label map (H, W) of the classes 1..150
  -- or scores (150, H, W), at the annotation's size.
  function ADE20K:add(predictions)
    if type(predictions) ~= "table" then
      error("sb.eval.ADE20K:add: expected a table {[image id] = prediction}, got "
        .. type(predictions), 2)
    end
    local ids = sorted_ids(predictions)
    for _, id in ipairs(ids) do
      if not self.masks[id] then
        error(("sb.eval.ADE20K:add: image %s is not in %s"):format(tostring(id), self.where), 2)
      end
      if self.added[id] then
        error(("sb.eval.ADE20K:add: image %s was already added"):format(id), 2)
      end
      if not is_tensor(predictions[id]) then
        error(("sb.eval.ADE20K:add: the prediction for %s must be a tensor, got %s")
          :format(id, type(predictions[id])), 2)
      end
    end
    local image = require "sbengine.image"
    for _, id in ipairs(ids) do
      local p = predictions[id]
      local label = image.load(self.masks[id], { mode = "L" })
      local h, w = label:size(1), label:size(2)
      local ok = (p:dim() == 2 and p:size(1) == h and p:size(2) == w)
        or (p:dim() == 3 and p:size(2) == h and p:size(3) == w)
      if not ok then
        error(("sb.eval.ADE20K:add: the prediction for %s has shape %s; its annotation is "
          .. "%d x %d, so expected [%d, %d] (labels) or [150, %d, %d] (scores)")
          :format(id, shape_text(p), h, w, h, w, h, w), 2)
      end
      local okadd, err = pcall(self.meter.add, self.meter,
        p:dim() == 2 and p:view(1, h, w) or p:view(1, p:size(1), h, w), label:view(1, h, w))
      if not okadd then
        error(("sb.eval.ADE20K:add: image %s: %s"):format(id, tostring(err):gsub("^[^:]*:%d+: ", "")), 2)
      end
      self.added[id] = true
      self.count = self.count + 1
    end
    self.cached = nil
    return self
  end

  --- ev:stats() -> the mean_iou meter's value (mean_iou, pixel_accuracy, iou[1..150]) and images.
  function ADE20K:stats()
    if not self.cached then
      self.cached = self.meter:value()
      self.cached.images = self.count
    end
    return self.cached
  end

  --- ev:results() -> {["Mean IOU"], Accuracy} (fractions; sotabench-eval's names).
  function ADE20K:results()
    local s = self:stats()
    return { ["Mean IOU"] = s.mean_iou, Accuracy = s.pixel_accuracy }
  end

  --- ev:save([fields]) -> a BenchmarkResult (dataset "ADE20K val", task "Semantic Segmentation").
  function ADE20K:save(fields)
    return save(self, "ADE20K", "ADE20K val", "Semantic Segmentation", self:results(),
      fields, 2)
  end

  -- ---- ImageNet -------------------------------------------------------------------------

  local ImageNet = {}
  ImageNet.__index = ImageNet
  ImageNet.__name = "sb.eval.ImageNet"

  local IMAGENET_OPTIONS = { root = true, targets = true }
  for k in pairs(h.RESULT_OPTIONS) do IMAGENET_OPTIONS[k] = true end

  local function read_targets(path, level)
    local f, err = io.open(path, "rb")
    if not f then error("sb.eval.ImageNet: " .. err, level + 1) end
    local text = f:read("a")
    f:close()
    local ok, t = pcall(require("cjson").decode, text)
    if not ok or type(t) ~= "table" then
      error(("sb.eval.ImageNet: %s: expected a JSON object {image id: class id} (%s)")
        :format(path, ok and "got " .. type(t) or tostring(t)), level + 1)
    end
    return t
  end

  --- sb.eval.ImageNet{root = "./.data/vision/imagenet" | targets = PATH | {[id] = class}, ...}:
  -- top-1/top-5 accuracy over the ImageNet validation images, keyed by image id (the file
  -- name without extension, "ILSVRC2012_val_00000001"), as sotabench-eval's ImageNetEvaluator.
  function eval.ImageNet(opts)
    opts = util.check_options("sb.eval.ImageNet", opts, IMAGENET_OPTIONS, 2)
    local targets, count, source = {}, 0, nil
    if opts.targets ~= nil then
      local t = opts.targets
      source = type(t) == "string" and t or "the targets table"
      if type(t) == "string" then t = read_targets(t, 2) end
      if type(t) ~= "table" then
        error("sb.eval.ImageNet: option targets must be a JSON file's path or a table "
          .. "{[image id] = class id}, got " .. type(t), 2)
      end
      for id, class in pairs(t) do
        local c = math.tointeger(class)
        if type(id) ~= "string" or c == nil or c < 0 then
          error(("sb.eval.ImageNet: target %s = %s: expected an image id and a class id >= 0")
            :format(tostring(id), tostring(class)), 2)
        end
        targets[id], count = c, count + 1
      end
    else
      local data = require "sbengine.data"
      local ok, ds = pcall(data.ImageNet, { root = opts.root, split = "val" })
      if not ok then error("sb.eval." .. tostring(ds), 2) end
      for _, s in ipairs(ds.samples) do
        targets[s[1]:match("([^/]*)$"):gsub("%.[^.]*$", "")], count = s[2], count + 1
      end
      source = (opts.root or "./.data/vision/imagenet") .. "/val"
    end
    local self = setmetatable({ opts = opts, targets = targets, total = count, count = 0,
      added = {}, source = source,
      meter = metrics.create("topk_accuracy", { k = { 1, 5 } }) }, ImageNet)
    self.config = { evaluator = "topk_accuracy", reference = "sotabench-eval ImageNetEvaluator" }
    return self
  end

  --- ev:add(scores_by_id): {[image id] = scores}, a 1-D tensor (or list) of one score per class
  -- (column j scores class j - 1).
  function ImageNet:add(outputs)
    if type(outputs) ~= "table" then
      error("sb.eval.ImageNet:add: expected a table {[image id] = scores}, got " .. type(outputs), 2)
    end
    local ids = sorted_ids(outputs)
    local sb = require "sbengine"
    local rows = {}
    for i, id in ipairs(ids) do
      if self.targets[id] == nil then
        error(("sb.eval.ImageNet:add: image %s is not in %s"):format(tostring(id), self.source), 2)
      end
      if self.added[id] then
        error(("sb.eval.ImageNet:add: image %s was already added"):format(id), 2)
      end
      local s = outputs[id]
      if type(s) == "table" then s = sb.tensor(s, { dtype = "float64" }) end
      if not is_tensor(s) or s:dim() ~= 1 then
        error(("sb.eval.ImageNet:add: the scores of %s must be a 1-D tensor or a list, got %s")
          :format(id, is_tensor(s) and shape_text(s) or type(s)), 2)
      end
      if i > 1 and s:size(1) ~= rows[1]:size(1) then
        error(("sb.eval.ImageNet:add: the scores of %s have %d classes, those of %s %d")
          :format(id, s:size(1), ids[1], rows[1]:size(1)), 2)
      end
      rows[i] = s
    end
    for i, id in ipairs(ids) do
      local s = rows[i]
      self.meter:add(s:view(1, s:size(1)), sb.tensor({ self.targets[id] }, { dtype = "int64" }))
      self.added[id] = true
    end
    self.count = self.count + #ids
    return self
  end

  --- ev:results() -> {["Top 1 Accuracy"], ["Top 5 Accuracy"]} (fractions); every image of the
  -- targets must have been added (sotabench-eval's rule).
  function ImageNet:results()
    if self.count ~= self.total then
      local missing = {}
      for id in pairs(self.targets) do
        if not self.added[id] then missing[#missing + 1] = id end
      end
      table.sort(missing)
      error(("sb.eval.ImageNet:results: %d of %d images have no scores (%s%s)"):format(
        #missing, self.total, table.concat(missing, ", ", 1, math.min(5, #missing)),
        #missing > 5 and ", ..." or ""), 2)
    end
    local v = self.meter:value()
    return { ["Top 1 Accuracy"] = v["Top 1 Accuracy"], ["Top 5 Accuracy"] = v["Top 5 Accuracy"] }
  end

  --- ev:save([fields]) -> a BenchmarkResult (dataset "ImageNet", task "Image Classification").
  function ImageNet:save(fields)
    return save(self, "ImageNet", "ImageNet", "Image Classification", self:results(),
      fields, 2)
  end
end
