--- COCO (val2017, dataset "COCO minival" as sotabench names it): object detection on the 5,000
-- validation images, torchbench's COCO benchmark. The model takes a list of images (float
-- [3, H, W] in [0, 1] by default, ToTensor) and returns one prediction per image as
-- torchvision's detection models do: {boxes = (N, 4) x1 y1 x2 y2 in the image's pixels,
-- scores = (N), labels = (N) category ids}. Results are torchbench's: "box AP", "AP50", "AP75",
-- "APS", "APM", "APL" (pycocotools' COCOeval bbox stats[0..5], fractions), over the images
-- evaluated; the other six COCOeval numbers are kept in the result's extra.coco_detection.
--   local COCO = require "sbengine.benchmarks.coco"
--   local result = COCO.benchmark{model = model, paper_model_name = "Faster R-CNN"}
-- As the main script: sbengine benchmarks/coco.lua MODEL.lua (see --help).
-- data_root holds val2017/*.jpg and annotations/instances_val2017.json (cocodataset.org).
local sb = require "sbengine"
local T = sb.transforms

local function paths(o)
  local year = o.dataset_year or "2017"
  return o.data_root .. "/val" .. year, o.data_root .. "/annotations/instances_val" .. year .. ".json"
end

-- The benchmark's samples: the image and {image_id =, annotations =} (torchbench's target
-- carries the id, which an image without annotations would otherwise lose); batches are lists.
local Samples = { __len = function(self) return #self.dataset end }
Samples.__index = Samples

local function is_tensor(v) return sb.is_tensor(v) end

local function check_outputs(output, target, where)
  local fix = "\nTo fix it, return one table per input image, as torchvision's detection "
    .. "models do: {boxes = (N, 4) x1 y1 x2 y2 in the image's pixels, scores = (N), "
    .. "labels = (N) category ids}"
  if type(output) ~= "table" or is_tensor(output) then
    error(("%s: the model returned a %s; expected a list with one prediction per image%s")
      :format(where, is_tensor(output) and "tensor" or type(output), fix), 0)
  end
  if #output ~= #target then
    error(("%s: the model returned %d predictions for a batch of %d images%s")
      :format(where, #output, #target, fix), 0)
  end
  for i, p in ipairs(output) do
    if type(p) ~= "table" or p.boxes == nil or p.scores == nil or p.labels == nil then
      error(("%s: prediction %d of the first batch has no boxes, scores and labels%s")
        :format(where, i, fix), 0)
    end
  end
end

-- The run hash reads the first batch's boxes, scores and labels, image by image, as one list.
local function hash_output(output)
  local flat = {}
  local function add(v)
    if is_tensor(v) then v = v:totable() end
    if type(v) == "table" then
      for _, x in ipairs(v) do add(x) end
    else
      flat[#flat + 1] = v
    end
  end
  for _, p in ipairs(output) do
    add(p.boxes)
    add(p.scores)
    add(p.labels)
  end
  return flat
end

local NAMES = { AP = "box AP", AP50 = "AP50", AP75 = "AP75", APs = "APS", APm = "APM", APl = "APL" }

return sb.bench.define{
  name = "COCO",
  dataset_name = "COCO minival",
  task = "Object Detection",
  dataset = function(o)
    local root, ann_file = paths(o)
    local ds = sb.data.CocoDetection{ root = root, annFile = ann_file,
      transform = o.transforms == nil and o.input_transform or nil,
      target_transform = o.target_transform, transforms = o.transforms }
    return setmetatable({ dataset = ds, name = ds.name, collate_fn = sb.data.list_collate,
      get = function(self, i)
        local image, target = self.dataset:get(i)
        return image, { image_id = self.dataset.ids[i], annotations = target }
      end }, Samples)
  end,
  defaults = {
    input_transform = T.ToTensor(),
    data_root = "./.data/vision/coco", download = false, batch_size = 1, num_workers = 4,
  },
  options = { dataset_year = "a string (\"2017\")",
              transforms = "a function(image, target) -> image, target" },
  metrics = { { "coco_detection", function(o)
    local _, ann_file = paths(o)
    return { annotations = ann_file }
  end } },
  check_outputs = check_outputs,
  hash_output = hash_output,
  send_data_to_device = function(input, target, device)
    local moved = {}
    for i, x in ipairs(input) do
      moved[i] = (is_tensor(x) and x:device() ~= device) and x:to(device) or x
    end
    return moved, target
  end,
  results = function(results, extra)
    local out, rest = {}, {}
    for k, v in pairs(results) do
      if NAMES[k] then out[NAMES[k]] = v else rest[k] = v end
    end
    extra = extra or {}
    extra.coco_detection = rest
    extra.stats = nil
    return out, extra
  end,
  data_help = "point data_root (or --data-root DIR) at the folder that holds val2017/ and "
    .. "annotations/instances_val2017.json (from https://cocodataset.org/#download: "
    .. "val2017.zip and annotations_trainval2017.zip)",
}
