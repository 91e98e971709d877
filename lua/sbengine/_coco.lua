-- sbengine._coco: what the coco_detection and coco_segmentation meters and sb.eval.COCO share
-- (internal; registers nothing): reading the annotation file, the meters' definition and the
-- conversion of a model's predictions for one image into the flat detection list the C
-- evaluator reads (7 numbers per detection: image_id, category_id, x, y, width, height, score)
-- and, for masks, the flat mask list (4 values per detection: height, width, counts, area or
-- false; engine/bindings/l_coco_mask.c).
local calls = require "sbengine._calls"
local core = require "sbengine.core"

local coco = {}

-- COCOeval.stats, in order (engine/eval/coco.h)
coco.STAT_NAMES = { "AP", "AP50", "AP75", "APs", "APm", "APl",
                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl" }

--- Parses the annotation file at `path` (iou_type "segm": with the annotations' masks).
-- `level` is where errors point.
function coco.annotations(path, level, iou_type)
  if type(path) ~= "string" then
    error(("option annotations must be the path of a COCO annotation file, got %s")
      :format(type(path)), level + 1)
  end
  local gt = calls.c(level + 1, core.eval.coco_load, path, iou_type or "bbox")
  return gt -- not a tail call: the level counts this frame
end

local function is_tensor(v)
  return type(v) == "userdata" and type(v.totable) == "function" and type(v.dim) == "function"
end

local function as_list(v, what, level)
  if is_tensor(v) then return v:totable() end
  if type(v) ~= "table" then
    error(("%s must be a tensor or a list, got %s"):format(what, type(v)), level + 1)
  end
  return v
end

-- torchvision's detection output {boxes = (K, 4) x1 y1 x2 y2, scores = (K), labels = (K)}.
-- Width and height are taken in the tensor's dtype, as torchvision's CocoEvaluator does
-- (convert_to_xywh), so float32 boxes give pycocotools the same numbers.
local function append_torchvision(out, image_id, p, where, level)
  local boxes = p.boxes
  local rows
  if is_tensor(boxes) then
    if boxes:dim() ~= 2 or (boxes:size(1) > 0 and boxes:size(2) ~= 4) then
      error(("%s: boxes must be (K, 4), got a %d-D tensor"):format(where, boxes:dim()), level + 1)
    end
    if boxes:size(1) == 0 then
      rows = {}
    else
      local xy = boxes:narrow(2, 1, 2):totable()
      local wh = (boxes:narrow(2, 3, 2) - boxes:narrow(2, 1, 2)):totable()
      rows = {}
      for i = 1, #xy do rows[i] = { xy[i][1], xy[i][2], wh[i][1], wh[i][2] } end
    end
  else
    local list = as_list(boxes, where .. ": boxes", level + 1)
    rows = {}
    for i, b in ipairs(list) do
      if type(b) ~= "table" or #b ~= 4 then
        error(("%s: boxes[%d] must be {x1, y1, x2, y2}"):format(where, i), level + 1)
      end
      rows[i] = { b[1], b[2], b[3] - b[1], b[4] - b[2] }
    end
  end
  local scores = as_list(p.scores, where .. ": scores", level + 1)
  local labels = as_list(p.labels, where .. ": labels", level + 1)
  if #scores ~= #rows or #labels ~= #rows then
    error(("%s: %d boxes, %d scores and %d labels; expected one of each per detection")
      :format(where, #rows, #scores, #labels), level + 1)
  end
  local n = #out
  for i = 1, #rows do
    local b = rows[i]
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = image_id, labels[i], b[1], b[2]
    out[n + 5], out[n + 6], out[n + 7] = b[3], b[4], scores[i]
    n = n + 7
  end
end

-- The fields every line of a results list has.
local function check_result(d, i, image_id, fields, where, level)
  if type(d) ~= "table" then
    error(("%s: detection %d must be a table {%s}"):format(where, i, fields), level + 1)
  end
  if type(d.score) ~= "number" then
      error(("%s: detection %d: score must be a number"):format(where, i), level + 1)
    end
    if math.tointeger(d.category_id) == nil then
      error(("%s: detection %d: category_id must be a whole number"):format(where, i), level + 1)
    end
    if d.image_id ~= nil and d.image_id ~= image_id then
      error(("%s: detection %d says image_id %s"):format(where, i, tostring(d.image_id)),
        level + 1)
    end
end

-- A COCO results list for one image: {{bbox = {x, y, w, h}, score =, category_id =}, ...}.
local function append_results(out, image_id, list, where, level)
  local n = #out
  for i, d in ipairs(list) do
    check_result(d, i, image_id, "bbox=, score=, category_id=", where, level + 1)
    local b = d.bbox
    if type(b) ~= "table" or #b ~= 4 then
      error(("%s: detection %d: bbox must be {x, y, width, height}"):format(where, i), level + 1)
    end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = image_id, d.category_id, b[1], b[2]
    out[n + 5], out[n + 6], out[n + 7] = b[3], b[4], d.score
    n = n + 7
  end
end

-- A COCO results list with masks for one image: {{segmentation = {size = {h, w}, counts =
-- "..." or {...}}, score =, category_id =, bbox = optional}, ...}. As loadRes, a detection with
-- a bbox has the bbox's area (for the area ranges), else its mask's.
local function append_segm_results(out, masks, image_id, list, where, level)
  local n, k = #out, #masks
  for i, d in ipairs(list) do
    check_result(d, i, image_id, "segmentation=, score=, category_id=", where, level + 1)
    local s = d.segmentation
    if type(s) ~= "table" or type(s.size) ~= "table" or #s.size ~= 2
      or (type(s.counts) ~= "string" and type(s.counts) ~= "table") then
      error(("%s: detection %d: segmentation must be an RLE {size = {h, w}, counts = string or "
        .. "list}"):format(where, i), level + 1)
    end
    local b, area = d.bbox, false
    if b then
      if type(b) ~= "table" or #b ~= 4 then
        error(("%s: detection %d: bbox must be {x, y, width, height}"):format(where, i), level + 1)
      end
      area = b[3] * b[4]
    end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = image_id, d.category_id, 0, 0
    out[n + 5], out[n + 6], out[n + 7] = 0, 0, d.score
    masks[k + 1], masks[k + 2], masks[k + 3], masks[k + 4] = s.size[1], s.size[2], s.counts, area
    n, k = n + 7, k + 4
  end
end

-- torchvision's Mask R-CNN output {masks = (K, 1, H, W) probabilities, scores = (K), labels =
-- (K)}: each mask taken where > 0.5 and encoded, as torchvision's CocoEvaluator does (no box:
-- areas are the masks').
local function append_torchvision_masks(out, masks, image_id, p, where, level)
  if not is_tensor(p.masks) then
    error(("%s: masks must be a (K, 1, H, W) tensor, got %s"):format(where, type(p.masks)),
      level + 1)
  end
  local counts, h, w = calls.c(level + 1, core.eval.coco_rle_from_masks, p.masks, 0.5)
  local scores = as_list(p.scores, where .. ": scores", level + 1)
  local labels = as_list(p.labels, where .. ": labels", level + 1)
  if #scores ~= #counts or #labels ~= #counts then
    error(("%s: %d masks, %d scores and %d labels; expected one of each per detection")
      :format(where, #counts, #scores, #labels), level + 1)
  end
  local list = {}
  for i = 1, #counts do
    list[i] = { segmentation = { size = { h, w }, counts = counts[i] }, score = scores[i],
                category_id = labels[i] }
  end
  append_segm_results(out, masks, image_id, list, where, level + 1)
end

--- Appends the detections of `prediction` (either form above) for image `image_id` to `out`;
-- with `masks` (iou_type "segm") a results list with segmentations or torchvision's {masks=,
-- scores=, labels=}, their masks to `masks`.
function coco.append(out, image_id, prediction, where, level, masks)
  if masks then
    if type(prediction) ~= "table" or prediction.boxes ~= nil and prediction.masks == nil then
      error(("%s: expected {masks=, scores=, labels=} or a list of {segmentation = {size =, "
        .. "counts =}, score=, category_id=}, got %s"):format(where,
        type(prediction) == "table" and "boxes without masks" or type(prediction)), level + 1)
    end
    if prediction.masks ~= nil then
      append_torchvision_masks(out, masks, image_id, prediction, where, level + 1)
    else
      append_segm_results(out, masks, image_id, prediction, where, level + 1)
    end
    return
  end
  if type(prediction) ~= "table" then
    error(("%s: expected {boxes=, scores=, labels=} or a list of {bbox=, score=, category_id=}, "
      .. "got %s"):format(where, type(prediction)), level + 1)
  end
  if prediction.boxes ~= nil then
    append_torchvision(out, image_id, prediction, where, level + 1)
  else
    append_results(out, image_id, prediction, where, level + 1)
  end
end

--- An image id given as a number or a whole-valued float -> integer, or an error.
function coco.image_id(v, where, level)
  local id = math.tointeger(v)
  if id == nil then
    error(("%s: image ids must be whole numbers, got %s"):format(where, tostring(v)), level + 1)
  end
  return id
end

--- The definition of the coco_detection (iou_type "bbox") or coco_segmentation ("segm")
-- meter, for metrics.define (lua/sbengine/metrics/coco_*.lua).
function coco.meter(name, iou_type)
  local segm = iou_type == "segm"
  return {
    name = name,
    state = segm and { dets = "cat", masks = "cat", images = "cat" }
      or { dets = "cat", images = "cat" },
    setup = function(opts)
      opts.images = opts.images or "added"
      if opts.images ~= "added" and opts.images ~= "all" then
        error(("%s: option images must be \"added\" or \"all\", got %s")
          :format(name, tostring(opts.images)), 3)
      end
      -- parsed once, at create: a wrong path fails there, and add() checks ids against it
      -- (sb.eval.COCO hands over the one it parsed)
      opts._gt = opts._gt or coco.annotations(opts.annotations, 3, iou_type)
      return opts
    end,
    init = function() return segm and { dets = {}, masks = {}, images = {} }
      or { dets = {}, images = {} } end,
    update = function(state, output, target, opts)
      -- level 3: update <- m:add <- the line that called m:add
      local gt = opts._gt
      if type(target) == "userdata" and target.totable then target = target:totable() end
      if type(output) ~= "table" or type(target) ~= "table" or #output ~= #target then
        error(("%s: add(output, target) takes a list of predictions and the list of "
          .. "their image ids, of the same length (got %d and %d)")
          :format(name, type(output) == "table" and #output or 0,
            type(target) == "table" and #target or 0), 3)
      end
      for i = 1, #target do
        local t = target[i]
        if type(t) == "table" then t = t.image_id end -- torchbench's targets: {image_id = ...}
        local id = coco.image_id(t, name, 3)
        if not gt:has_image(id) then
          error(("%s: image %d is not in %s"):format(name, id, opts.annotations), 3)
        end
        state.images[#state.images + 1] = id
        coco.append(state.dets, id, output[i], ("%s: image %d"):format(name, id), 3,
          state.masks)
      end
    end,
    compute = function(state, opts)
      local stats = opts._gt:evaluate(opts.images == "added" and state.images or nil,
        state.dets, state.masks)
      local v = { stats = stats }
      for i, stat in ipairs(coco.STAT_NAMES) do v[stat] = stats[i] end
      return v
    end,
  }
end

return coco
