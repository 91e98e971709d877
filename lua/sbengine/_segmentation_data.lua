-- sb.data.VOCSegmentation and sb.data.ADE20K (docs/data.md): semantic segmentation datasets,
-- Lua datasets over file lists whose samples are the image as PIL's convert("RGB") (uint8
-- [H, W, 3]) and the label map as its stored values (uint8 [H, W]). Installed into sb.data by
-- data.lua; internal.
local core = require "sbengine.core"
local image = require "sbengine.image"
local util = require "sbengine._util"

-- A segmentation dataset: self.images[i], self.masks[i], torchvision's VisionDataset
-- transforms (transforms(img, target) or transform / target_transform).
local Segmentation = {}
Segmentation.__index = Segmentation

function Segmentation:__len() return #self.images end

function Segmentation:__tostring()
  return ("%s (%d samples)"):format(self.name, #self.images)
end

--- ds:get(i) -> image uint8 [H, W, 3], label map uint8 [H, W] (after the transforms)
function Segmentation:get(i)
  if math.type(i) ~= "integer" or i < 1 or i > #self.images then
    error(("%s:get: index must be an integer in 1..%d, got %s"):format(self.name, #self.images,
      tostring(i)), 2)
  end
  local img = image.load(self.images[i])
  local target = image.load(self.masks[i], { mode = self.mask_mode })
  if self.transforms then return self.transforms(img, target) end
  if self.transform then img = self.transform(img) end
  if self.target_transform then target = self.target_transform(target) end
  return img, target
end

-- The fields every segmentation dataset takes; `check_transform` is data.lua's.
local function new(name, opts, check_transform)
  if opts.transforms ~= nil and (opts.transform ~= nil or opts.target_transform ~= nil) then
    error(name .. ": give transforms (a function of image and target) or "
      .. "transform/target_transform, not both (as torchvision)", 3)
  end
  if opts.transforms ~= nil and type(opts.transforms) ~= "function"
      and not (getmetatable(opts.transforms) or {}).__call then
    error(("%s: transforms must be a function(image, target) -> image, target, got %s")
      :format(name, type(opts.transforms)), 3)
  end
  return setmetatable({
    name = name, images = {}, masks = {}, ids = {},
    transforms = opts.transforms,
    transform = check_transform(name, "transform", opts.transform),
    target_transform = check_transform(name, "target_transform", opts.target_transform),
  }, Segmentation)
end

local voc_options = { root = true, year = true, image_set = true, transform = true,
                      target_transform = true, transforms = true }

-- torchvision 0.14's DATASET_YEAR_DICT base_dir per year
local VOC_BASE = { ["2007"] = "VOCdevkit/VOC2007", ["2008"] = "VOCdevkit/VOC2008",
  ["2009"] = "VOCdevkit/VOC2009", ["2010"] = "VOCdevkit/VOC2010",
  ["2011"] = "TrainVal/VOCdevkit/VOC2011", ["2012"] = "VOCdevkit/VOC2012" }

-- check_transform(fn, what, t) and exists(path) are data.lua's
return function(data, check_transform, exists)
  --- VOCSegmentation{root = "./.data/vision/voc", year = "2012", image_set = "val", transform,
  -- target_transform, transforms}: torchvision's. ROOT/VOCdevkit/VOC2012/ImageSets/Segmentation/
  -- <image_set>.txt lists the ids; JPEGImages/<id>.jpg, SegmentationClass/<id>.png (palette
  -- indices: classes 0..20, 255 the border).
  function data.VOCSegmentation(opts)
    opts = util.check_options("VOCSegmentation", opts, voc_options, 2)
    local root = opts.root or "./.data/vision/voc"
    local year = tostring(opts.year or "2012")
    local base = VOC_BASE[year]
    if not base then
      error(("VOCSegmentation: year must be one of 2007..2012, got %s"):format(year), 2)
    end
    local image_set = opts.image_set or "val"
    local sets = year == "2007" and { train = 1, trainval = 1, val = 1, test = 1 }
      or { train = 1, trainval = 1, val = 1 }
    if not sets[image_set] then
      error(("VOCSegmentation: image_set must be %s, got %s"):format(
        table.concat(util.sorted_keys(sets), ", "), tostring(image_set)), 2)
    end
    local ds = new("VOCSegmentation", opts, check_transform)
    local dir = root .. "/" .. base
    local list = dir .. "/ImageSets/Segmentation/" .. image_set .. ".txt"
    local f, err = io.open(list, "r")
    if not f then
      error(("VOCSegmentation: cannot open %s (%s): root must hold %s as torchvision lays out "
        .. "VOCtrainval_11-May-2012.tar"):format(list, err, base), 2)
    end
    for line in f:lines() do
      local id = line:match("^%s*(.-)%s*$")
      if id ~= "" then
        local n = #ds.ids + 1
        ds.ids[n] = id
        ds.images[n] = dir .. "/JPEGImages/" .. id .. ".jpg"
        ds.masks[n] = dir .. "/SegmentationClass/" .. id .. ".png"
      end
    end
    f:close()
    ds.root, ds.year, ds.image_set, ds.mask_mode = root, year, image_set, "P"
    return ds
  end

  local ade_options = { root = true, split = true, transform = true, target_transform = true,
                        transforms = true }

  --- ADE20K{root = "./.data/vision/ade20k", split = "validation", transform, target_transform,
  -- transforms}: the scene-parsing benchmark's ADEChallengeData2016: images/<split>/*.jpg in
  -- name order, annotations/<split>/<id>.png (gray: 0 = "other", 1..150 the classes).
  function data.ADE20K(opts)
    opts = util.check_options("ADE20K", opts, ade_options, 2)
    local root = opts.root or "./.data/vision/ade20k"
    local split = opts.split or "validation"
    if split ~= "validation" and split ~= "training" then
      error(("ADE20K: split must be \"validation\" or \"training\", got %s"):format(
        tostring(split)), 2)
    end
    local top = root .. "/ADEChallengeData2016"
    if not exists(top .. "/images/" .. split) and exists(root .. "/images/" .. split) then
      top = root -- root is ADEChallengeData2016 itself
    end
    local names, err = core.sys.list_files(top .. "/images/" .. split, ".jpg")
    if not names then
      error(("ADE20K: %s: root must hold ADEChallengeData2016/images/%s (from "
        .. "ADEChallengeData2016.zip)"):format(err, split), 2)
    end
    local ds = new("ADE20K", opts, check_transform)
    for i, name in ipairs(names) do
      local id = name:sub(1, -5)
      ds.ids[i] = id
      ds.images[i] = top .. "/images/" .. split .. "/" .. name
      ds.masks[i] = top .. "/annotations/" .. split .. "/" .. id .. ".png"
      if not exists(ds.masks[i]) then
        error(("ADE20K: %s has no annotation %s"):format(ds.images[i], ds.masks[i]), 2)
      end
    end
    ds.root, ds.split, ds.mask_mode = top, split, "L"
    return ds
  end
end
