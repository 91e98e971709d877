-- sbengine._coco_data (internal): sb.data.CocoDetection, torchvision.datasets.CocoDetection's
-- semantics over engine/data/coco_detection.c. The annotation file is read in C (its text and
-- an index, ~1x the file); an image's annotations become Lua tables only when it is read.
local core = require "sbengine.core"
local util = require "sbengine._util"

local M = {}

local CocoDetection = {}
CocoDetection.__index = CocoDetection
CocoDetection.__name = "CocoDetection"

local options = { root = true, annFile = true, transform = true, target_transform = true,
                  transforms = true }

--- CocoDetection{root, annFile, transform, target_transform, transforms}
function M.CocoDetection(opts, check_transform)
  opts = util.check_options("CocoDetection", opts, options, 3)
  if type(opts.root) ~= "string" then
    error("CocoDetection: root must be a string (the folder of the images, e.g. val2017)", 3)
  end
  if type(opts.annFile) ~= "string" then
    error("CocoDetection: annFile must be a string (the annotation file, e.g. "
      .. "annotations/instances_val2017.json)", 3)
  end
  local has_separate = opts.transform ~= nil or opts.target_transform ~= nil
  if opts.transforms ~= nil and has_separate then -- torchvision's VisionDataset says the same
    error("CocoDetection: Only transforms or transform/target_transform can be passed as argument", 3)
  end
  if opts.transforms ~= nil and type(opts.transforms) ~= "function"
      and not (getmetatable(opts.transforms) or {}).__call then
    error("CocoDetection: transforms must be a function(image, target) -> image, target, got "
      .. type(opts.transforms), 3)
  end
  local ok, c, ids = pcall(core.coco_data.open, opts.root, opts.annFile)
  if not ok then error(c, 3) end
  return setmetatable({
    name = "CocoDetection", _c = c, root = opts.root, annFile = opts.annFile, ids = ids,
    transform = check_transform("CocoDetection", "transform", opts.transform),
    target_transform = check_transform("CocoDetection", "target_transform", opts.target_transform),
    transforms = opts.transforms,
    collate_fn = require("sbengine.data").list_collate,
  }, CocoDetection)
end

function CocoDetection:__len() return #self._c end

function CocoDetection:__tostring()
  return ("CocoDetection (%d images, %s)"):format(#self._c, self.annFile)
end

local function check_index(self, i, fn)
  if math.type(i) ~= "integer" then
    error(("CocoDetection:%s: index must be an integer, got %s"):format(fn, tostring(i)), 3)
  end
  if i < 1 or i > #self._c then
    error(("CocoDetection:%s: index %d out of range 1..%d"):format(fn, i, #self._c), 3)
  end
end

--- ds:annotations(i) -> the annotations of image i (1-based; a list of tables, the file's
-- order), without reading the image.
function CocoDetection:annotations(i)
  check_index(self, i, "annotations")
  local ok, anns = pcall(core.coco_data.annotations, self._c, i)
  if not ok then error(anns, 2) end
  return anns
end

--- ds:image_info(i) -> image id, file name (relative to root) of image i.
function CocoDetection:image_info(i)
  check_index(self, i, "image_info")
  local id, file = core.coco_data.image(self._c, i)
  return id, file
end

--- ds:get(i) -> image (uint8 [H, W, 3], PIL's convert("RGB")), its annotations: torchvision's
-- ds[i - 1], transformed.
function CocoDetection:get(i)
  check_index(self, i, "get")
  local ok, image = pcall(core.vision.get, self._c, i)
  if not ok then error(image, 2) end
  local target = core.coco_data.annotations(self._c, i)
  if self.transforms then
    image, target = self.transforms(image, target)
  else
    if self.transform then image = self.transform(image) end
    if self.target_transform then target = self.target_transform(target) end
  end
  return image, target
end

return M
