-- sbengine._coco: what the coco_detection meter and sb.eval.COCO share (internal; registers
-- nothing): reading the annotation file and the conversion of a
-- model's predictions for one image into the flat detection list the C evaluator reads
-- (7 numbers per detection: image_id, category_id, x, y, width, height, score).
local calls = require "sbengine._calls"
local core = require "sbengine.core"

local coco = {}

-- COCOeval.stats, in order (engine/eval/coco.h)
coco.STAT_NAMES = { "AP", "AP50", "AP75", "APs", "APm", "APl",
                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl" }

--- Parses the annotation file at `path`. `level` is where errors point.
function coco.annotations(path, level)
  if type(path) ~= "string" then
    error(("option annotations must be the path of a COCO annotation file, got %s")
      :format(type(path)), level + 1)
  end
  local gt = calls.c(level + 1, core.eval.coco_load, path)
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

-- A COCO results list for one image: {{bbox = {x, y, w, h}, score =, category_id =}, ...}.
local function append_results(out, image_id, list, where, level)
  local n = #out
  for i, d in ipairs(list) do
    if type(d) ~= "table" then
      error(("%s: detection %d must be a table {bbox=, score=, category_id=}"):format(where, i),
        level + 1)
    end
    local b = d.bbox
    if type(b) ~= "table" or #b ~= 4 then
      error(("%s: detection %d: bbox must be {x, y, width, height}"):format(where, i), level + 1)
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
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = image_id, d.category_id, b[1], b[2]
    out[n + 5], out[n + 6], out[n + 7] = b[3], b[4], d.score
    n = n + 7
  end
end

--- Appends the detections of `prediction` (either form above) for image `image_id` to `out`.
function coco.append(out, image_id, prediction, where, level)
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

return coco
