--- sb.data: datasets and the DataLoader (DESIGN.md §3, docs/data.md).
--
-- C datasets (MNIST, CIFAR10, CIFAR100, STL10, SVHN, TensorDataset, and the image datasets
-- ImageFolder and ImageNet, decoded per sample) with C transforms (or none) are batched by
-- worker threads in C. Anything else that has `#ds` and `ds:get(i)` works too:
-- it is loaded on the Lua thread, as are C datasets whose transform contains Lua code.
local core = require "sbengine.core"
local errors = require "sbengine._errors"
local transforms = require "sbengine.transforms"
local progress = require "sbengine.progress"
local util = require "sbengine._util"

local data = {}

local check_options = util.check_options

local function check_transform(fn, what, t)
  if t == nil or transforms.is_transform(t) then return t end
  if type(t) == "function" then return transforms.Lambda(t) end
  local mt = getmetatable(t)
  if type(mt) == "table" and mt.__call then return transforms.Lambda(t) end
  error(("%s: %s must be a transform or a function, got %s"):format(fn, what, type(t)), 4)
end

--- A dataset over a C dataset (core userdata) plus optional transforms.
local Dataset = {}
Dataset.__index = Dataset

local function wrap(name, c, opts, fn)
  return setmetatable({
    name = name,
    _c = c,
    transform = check_transform(fn, "transform", opts.transform),
    target_transform = check_transform(fn, "target_transform", opts.target_transform),
  }, Dataset)
end

function Dataset:__len() return #self._c end

--- ds:get(i) -> input, target: sample i (1-based), transformed.
function Dataset:get(i)
  if math.type(i) ~= "integer" then
    error(("%s:get: index must be an integer, got %s"):format(self.name, tostring(i)), 2)
  end
  local x, y = (self._get or self._c.get)(self._c, i)
  if self.transform then x = self.transform(x) end
  if self.target_transform and y ~= nil then y = self.target_transform(y) end
  return x, y
end

function Dataset:__tostring()
  return ("%s (%d samples)"):format(self.name, #self._c)
end

local function download_bar_callback()
  local bars = {}
  return function(file, done, total)
    local bar = bars[file]
    if not bar then
      bar = progress.bar { desc = "download " .. file, unit = "B", total = total > 0 and total or nil }
      bars[file] = bar
    end
    if total > 0 then bar.total = total end
    bar:set(done)
    if total > 0 and done >= total then bar:close() end
  end, function()
    for _, bar in pairs(bars) do bar:close() end
  end
end

local mnist_options = { root = true, train = true, download = true, transform = true,
                        target_transform = true }

--- MNIST{root = "./.data/vision/mnist", train = true, download = false, transform,
-- target_transform}: 28x28 uint8 images, int64 labels 0..9 (torchvision's MNIST).
function data.MNIST(opts)
  opts = check_options("MNIST", opts, mnist_options, 2)
  local root = opts.root or "./.data/vision/mnist"
  if type(root) ~= "string" then error("MNIST: root must be a string", 2) end
  local train = opts.train ~= false
  if opts.download then
    local callback, close_all = download_bar_callback()
    local ok, err = pcall(core.data.mnist_download, root, train, nil, callback)
    close_all()
    if not ok then error(err, 2) end
  end
  local ok, c = pcall(core.data.mnist, root, train)
  if not ok then error(c, 2) end
  return wrap("MNIST", c, opts, "MNIST")
end

local cifar_options = { root = true, train = true, download = true, transform = true,
                        target_transform = true }

local function cifar(classes, opts, extra)
  local name = "CIFAR" .. classes
  local known = {}
  for k in pairs(cifar_options) do known[k] = true end
  for k in pairs(extra or {}) do known[k] = true end
  opts = check_options(name, opts, known, 3)
  local root = opts.root or ("./.data/vision/cifar" .. classes)
  if type(root) ~= "string" then error(name .. ": root must be a string", 3) end
  if opts.download then
    local callback, close_all = download_bar_callback()
    local ok, err = pcall(core.data.cifar_download, root, classes, opts.train ~= false, nil, nil, callback)
    close_all()
    if not ok then error(err, 3) end
  end
  local ok, c = pcall(core.data.cifar, root, classes, opts.train ~= false, opts.coarse == true)
  if not ok then error(c, 3) end
  return wrap(name, c, opts, name)
end

--- CIFAR10{root = "./.data/vision/cifar10", train = true, download = false, transform,
-- target_transform}: 32x32x3 uint8 images (HWC), int64 labels 0..9, from the binary
-- version's files.
-- (Not a tail call: cifar raises at level 3, the line that called CIFAR10.)
function data.CIFAR10(opts) return (cifar(10, opts)) end

--- CIFAR100{root = "./.data/vision/cifar100", train = true, download = false, coarse = false,
-- transform, target_transform}: fine labels 0..99, or the 20 superclasses with coarse = true.
function data.CIFAR100(opts) return (cifar(100, opts, { coarse = true })) end

local folder_options = { root = true, transform = true, target_transform = true, extensions = true }

-- A dataset of image files (ImageFolder, ImageNet) with torchvision's lists: ds.samples[i] =
-- {path, class id}, ds.targets[i] = class id (ds.imgs = ds.samples), in file order.
local function image_files(name, c, opts)
  local ds = wrap(name, c, opts, name)
  ds._get = core.vision.get
  ds.samples, ds.targets = {}, {}
  for i = 1, #c do
    local path, class = core.vision.path(c, i)
    ds.samples[i], ds.targets[i] = { path, class }, class
  end
  ds.imgs = ds.samples
  return ds
end

--- ImageFolder{root, transform, target_transform, extensions}: torchvision's ImageFolder.
-- Classes are the sorted sub-folders of root (ds.classes, ds.class_to_idx, ids from 0);
-- images (JPEG, PNG) are decoded as PIL's convert("RGB") when read: uint8 [H, W, 3].
function data.ImageFolder(opts)
  opts = check_options("ImageFolder", opts, folder_options, 2)
  if type(opts.root) ~= "string" then error("ImageFolder: root must be a string (the folder of class folders)", 2) end
  local exts = opts.extensions
  if type(exts) == "string" then exts = { exts } end
  local ok, c, classes = pcall(core.vision.image_folder, "ImageFolder", opts.root, exts)
  if not ok then error(c, 2) end
  local ds = image_files("ImageFolder", c, opts)
  ds.root = opts.root
  ds.classes = classes
  ds.class_to_idx = {}
  for i, name in ipairs(classes) do ds.class_to_idx[name] = i - 1 end
  return ds
end

local imagenet_options = { root = true, split = true, transform = true, target_transform = true,
                           devkit_md5 = true, val_md5 = true }

--- ImageNet{root = "./.data/vision/imagenet", split = "val", transform, target_transform}:
-- torchvision's ImageNet. ROOT/<split>/<wnid>/*.JPEG, made once from the official archives
-- (ILSVRC2012_devkit_t12.tar.gz, ILSVRC2012_img_val.tar, md5-checked) when missing.
-- ds.classes[i] = the names of class i - 1 (a list: the devkit's words, or without a devkit the
-- ILSVRC2012 names the engine ships; a WNID that is not one of the 1000 is its own name),
-- ds.wnids, ds.wnid_to_idx, ds.class_to_idx, ds.samples, ds.targets.
function data.ImageNet(opts)
  opts = check_options("ImageNet", opts, imagenet_options, 2)
  local root = opts.root or "./.data/vision/imagenet"
  local split = opts.split or "val"
  if type(root) ~= "string" then error("ImageNet: root must be a string", 2) end
  if split ~= "val" and split ~= "train" then
    error(("ImageNet: split must be \"val\" or \"train\", got %s"):format(tostring(split)), 2)
  end
  local ok, err = pcall(core.vision.imagenet_prepare, root, split, opts.devkit_md5, opts.val_md5)
  if not ok then error(err, 2) end
  local c, wnids
  ok, c, wnids = pcall(core.vision.image_folder, "ImageNet", root .. "/" .. split, nil)
  if not ok then error(c, 2) end
  local ds = image_files("ImageNet", c, opts)
  ds.root, ds.split, ds.wnids, ds.wnid_to_idx = root, split, wnids, {}
  local names = {}
  local f = io.open(root .. "/sbengine_meta.tsv", "r")
  if f then
    for line in f:lines() do
      local wnid, words = line:match("^([^\t]+)\t(.*)$")
      if wnid then
        local list = {}
        for name in (words .. ", "):gmatch("(.-), ") do list[#list + 1] = name end
        names[wnid] = list
      end
    end
    f:close()
  else -- torchvision's prepared layout alone: the 1000 classes' names are known
    for _, entry in ipairs(require "sbengine._imagenet_classes") do
      local list = {}
      for name in (entry[2] .. ", "):gmatch("(.-), ") do list[#list + 1] = name end
      names[entry[1]] = list
    end
  end
  ds.classes, ds.class_to_idx = {}, {}
  for i, wnid in ipairs(wnids) do
    ds.wnid_to_idx[wnid] = i - 1
    ds.classes[i] = names[wnid] or { wnid }
    for _, name in ipairs(ds.classes[i]) do ds.class_to_idx[name] = i - 1 end
  end
  return ds
end

-- Fetches `file` from `url` into root (md5-checked, with a progress bar); a
-- failure says where to get it by hand.
local function fetch(name, root, url, file, md5)
  os.execute("mkdir -p '" .. root:gsub("'", "'\\''") .. "'")
  local callback, close_all = download_bar_callback()
  local ok, err = pcall(core.data.download, url, root .. "/" .. file, {
    md5 = md5, progress = function(_, done, total) callback(file, done, total) end })
  close_all()
  if not ok then
    error(("%s: could not download %s (%s); download it from %s into '%s'"):format(name, file, err, url, root), 0)
  end
end

local file_exists = util.file_exists

local stl_options = { root = true, split = true, download = true, transform = true, target_transform = true }

--- STL10{root = "./.data/vision/stl10", split = "test", download = false, transform,
-- target_transform}: 96x96x3 uint8 images (HWC), labels 0..9, from stl10_binary/ (read per
-- sample, not held in memory). download = true fetches stl10_binary.tar.gz (2.6 GB, md5-checked).
function data.STL10(opts)
  opts = check_options("STL10", opts, stl_options, 2)
  local root, split = opts.root or "./.data/vision/stl10", opts.split or "test"
  if type(root) ~= "string" then error("STL10: root must be a string", 2) end
  if opts.download and not file_exists(root .. "/stl10_binary/" .. split .. "_X.bin") then
    local ok, err = pcall(function()
      local archive = root .. "/stl10_binary.tar.gz"
      if not file_exists(archive) then
        fetch("STL10", root, "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
          "stl10_binary.tar.gz", "91f7769df0f17e558f3565bffb0c7dfb")
      end
      core.vision.tar_extract(archive, root, "stl10_binary/", 3 << 30) -- 2.6 GB inflated
    end)
    if not ok then error(err, 2) end
  end
  local ok, c = pcall(core.vision.stl10, root, split)
  if not ok then error(c, 2) end
  local ds = wrap("STL10", c, opts, "STL10")
  ds.classes = { "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck" }
  return ds
end

local svhn_md5 = { train = "e26dedcc434d2e4c54c9b2d4a06d8373", test = "eb5a983be6a315427106f1b164d9cef3",
                   extra = "a93ce644f1a588dc4d68dda5feec44a7" }

--- SVHN{root = "./.data/vision/svhn", split = "test", download = false, transform,
-- target_transform}: 32x32x3 uint8 images (HWC), labels 0..9 (the file's 10 is digit 0, as
-- torchvision gives it), from <split>_32x32.mat; download = true fetches it (md5-checked).
function data.SVHN(opts)
  opts = check_options("SVHN", opts, stl_options, 2)
  local root, split = opts.root or "./.data/vision/svhn", opts.split or "test"
  if type(root) ~= "string" then error("SVHN: root must be a string", 2) end
  if not svhn_md5[split] then
    error(("SVHN: split must be \"train\", \"test\" or \"extra\", got %s"):format(tostring(split)), 2)
  end
  local file = split .. "_32x32.mat"
  if opts.download and not file_exists(root .. "/" .. file) then
    local ok, err = pcall(fetch, "SVHN", root, "http://ufldl.stanford.edu/housenumbers/" .. file, file, svhn_md5[split])
    if not ok then error(err, 2) end
  end
  local ok, c = pcall(core.vision.svhn, root, split)
  if not ok then error(c, 2) end
  return wrap("SVHN", c, opts, "SVHN")
end

--- ds:path(i) -> the image file of sample i and its class id (ImageFolder).
function Dataset:path(i)
  if not self._get then error(self.name .. ":path: only image folders have files", 2) end
  return core.vision.path(self._c, i)
end

--- CocoDetection{root, annFile, transform, target_transform, transforms}: torchvision's
-- CocoDetection (lua/sbengine/_coco_data.lua); batches are lists (data.list_collate).
function data.CocoDetection(opts)
  return (require("sbengine._coco_data").CocoDetection(opts, check_transform))
end

--- list_collate(samples) -> {inputs}, {targets}: a batch as lists (torchbench's detection
-- collate, `tuple(zip(*batch))`), for samples that cannot be stacked.
function data.list_collate(samples)
  local xs, ys = {}, {}
  for j, s in ipairs(samples) do xs[j], ys[j] = s[1], s[2] end
  return xs, ys
end

--- sb.data.WikiText103{root, split = "test", raw = false, vocab = nil} and
-- sb.data.WikiText2{...}: word-level token streams (ids, vocab, stream:batches{batch_size,
-- bptt}) as PyTorch's word_language_model reads them; lua/sbengine/_wikitext.lua.
function data.WikiText103(opts)
  local stream = require("sbengine._wikitext").open("WikiText103", opts)
  return stream
end

function data.WikiText2(opts)
  local stream = require("sbengine._wikitext").open("WikiText2", opts)
  return stream
end

--- TensorDataset(input[, target]): sample i is input[i] (and target[i]).
function data.TensorDataset(input, target, opts)
  opts = check_options("TensorDataset", opts, { transform = true, target_transform = true }, 2)
  local ok, c = pcall(core.data.tensor_dataset, input, target)
  if not ok then error(c, 2) end
  return wrap("TensorDataset", c, opts, "TensorDataset")
end

--- DataLoader ------------------------------------------------------------------------------

local loader_options = { batch_size = true, shuffle = true, seed = true, num_workers = true,
                         pin_memory = true, drop_last = true, prefetch = true, shard = true,
                         shards = true, collate_fn = true }

local Loader = {}
Loader.__index = Loader

local function is_dataset(ds)
  if type(ds) ~= "table" and type(ds) ~= "userdata" then return false end
  local mt = getmetatable(ds)
  return type(ds.get) == "function" and (type(ds) == "table" or (mt and mt.__len))
end

local function check_int(name, v, min, default)
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < min then
    error(("DataLoader: %s must be an integer >= %d, got %s"):format(name, min, tostring(v)), 3)
  end
  return v
end

local function check_bool(name, v, default)
  if v == nil then return default end
  if type(v) ~= "boolean" then
    error(("DataLoader: %s must be a boolean, got %s"):format(name, type(v)), 3)
  end
  return v
end

-- Part `shard` (0-based) of `shards` contiguous parts of `nbatches` batches, the last
-- (nbatches mod shards) parts one batch longer, so that the one short batch (the last)
-- evens out the samples; with fewer batches than shards, the first shards get one each
-- (engine/data/loader.c cuts the same way): the number of batches before it and its length.
local function shard_range(nbatches, shard, shards)
  local per, extra = nbatches // shards, nbatches % shards
  if per == 0 then return math.min(shard, extra), shard < extra and 1 or 0 end
  local shorter = shards - extra
  return shard * per + math.max(0, shard - shorter), per + (shard >= shorter and 1 or 0)
end

--- DataLoader(ds, {batch_size = 1, shuffle = false, seed, num_workers = 0,
-- pin_memory = false, drop_last = false, prefetch = 2, shard = 0, shards = 1, collate_fn})
function data.DataLoader(ds, opts)
  if not is_dataset(ds) then
    error("DataLoader: expected a dataset (an object with #ds and ds:get(i)), got " .. type(ds), 2)
  end
  opts = check_options("DataLoader", opts, loader_options, 2)
  local self = setmetatable({
    dataset = ds,
    batch_size = check_int("batch_size", opts.batch_size, 1, 1),
    shuffle = check_bool("shuffle", opts.shuffle, false),
    num_workers = check_int("num_workers", opts.num_workers, 0, 0),
    prefetch = check_int("prefetch", opts.prefetch, 1, 2),
    drop_last = check_bool("drop_last", opts.drop_last, false),
    pin_memory = check_bool("pin_memory", opts.pin_memory, false),
    _pass = 0,
  }, Loader)
  if opts.seed ~= nil and math.type(opts.seed) ~= "integer" then
    error("DataLoader: seed must be an integer, got " .. tostring(opts.seed), 2)
  end
  self.shards = check_int("shards", opts.shards, 1, 1)
  self.shard = check_int("shard", opts.shard, 0, 0)
  if self.shard >= self.shards then
    error(("DataLoader: shard must be in 0..%d (shards = %d), got %d"):format(self.shards - 1,
      self.shards, self.shard), 2)
  end
  if self.shards > 1 and self.shuffle and opts.seed == nil then
    error("DataLoader: shuffle with shards needs a seed (the same on every rank), so that the "
      .. "shards cut one permutation", 2)
  end
  -- Without a seed every loader shuffles differently, as torch's does.
  self.seed = opts.seed or math.random(0, math.maxinteger)
  -- A dataset whose samples are not stacked (CocoDetection) names its own collate.
  self.collate_fn = opts.collate_fn or (type(ds) == "table" and rawget(ds, "collate_fn")) or nil
  if self.collate_fn ~= nil and type(self.collate_fn) ~= "function" then
    error("DataLoader: collate_fn must be a function(samples) -> input, target, got "
      .. type(self.collate_fn), 2)
  end

  local c_transform
  local c_ok = getmetatable(ds) == Dataset and ds.target_transform == nil and not self.collate_fn
  if c_ok and ds.transform ~= nil then
    c_transform = transforms.compile(ds.transform)
    c_ok = c_transform ~= nil
  end
  if c_ok then
    local ok, l = pcall(core.data.loader, ds._c, c_transform, {
      batch_size = self.batch_size, shuffle = self.shuffle, seed = self.seed,
      num_workers = self.num_workers, prefetch = self.prefetch, drop_last = self.drop_last,
      pin_memory = self.pin_memory, shard = self.shard, shards = self.shards,
    })
    if not ok then error(l, 2) end
    self._c = l
    self.threaded = self.num_workers > 0
    local pinned, why = l:pinned()
    self.pinned = pinned
    self.pin_memory_note = why
    self.first_batch = l:first_batch()
  else
    -- Lua datasets and Lua transforms run here, on the Lua thread.
    self.threaded = false
    self.pinned = false
    if self.pin_memory then
      self.pin_memory_note = "batches from a Lua dataset or transform are in ordinary host memory"
    end
    self.first_batch = shard_range(self:_all_batches(), self.shard, self.shards)
  end
  return self
end

-- Batches of the whole dataset, every shard's.
function Loader:_all_batches()
  local n = #self.dataset
  if self.drop_last then return n // self.batch_size end
  return (n + self.batch_size - 1) // self.batch_size
end

function Loader:__len()
  if self._c then return #self._c end
  local _, count = shard_range(self:_all_batches(), self.shard, self.shards)
  return count
end

local function lua_iter(self)
  local ds, bs = self.dataset, self.batch_size
  local n = #ds
  local order = self.shuffle and core.data.permutation(n, self.seed, self._pass) or nil
  self._pass = self._pass + 1
  local nbatches = #self
  local name = ds.name or "dataset"
  local b = 0
  return function()
    if b >= nbatches then return nil end
    b = b + 1
    local first = (self.first_batch + b - 1) * bs
    local count = math.min(bs, n - first)
    local xs, ys = {}, {}
    for j = 1, count do
      local index = order and order[first + j] or first + j
      local ok, x, y = xpcall(ds.get, errors.handler, ds, index)
      if not ok then
        error(("DataLoader: %s: dataset index %d: %s"):format(name, index, tostring(x)), 0)
      end
      xs[j], ys[j] = x, y
    end
    if self.collate_fn then
      local samples = {}
      for j = 1, count do samples[j] = { xs[j], ys[j] } end
      local ok, input, target = xpcall(self.collate_fn, errors.handler, samples)
      if not ok then error(("DataLoader: collate_fn, batch %d: %s"):format(b, tostring(input)), 0) end
      return b, input, target
    end
    local targets = nil
    if next(ys) ~= nil then
      if #ys ~= count then
        error(("DataLoader: %s returned a target for some samples of batch %d and not for others"):format(name, b), 0)
      end
      targets = core.data.collate(ys)
    end
    return b, core.data.collate(xs), targets
  end, nil, nil, nil
end

--- for i, input, target in loader:iter() do ... end  (i = 1-based batch number)
function Loader:iter()
  if self._c then return self._c:iter() end
  return lua_iter(self)
end

function Loader:__tostring()
  return ("DataLoader(%s, batch_size=%d, %d batches%s, %s)"):format(
    tostring(self.dataset.name or "dataset"), self.batch_size, #self,
    self.shards > 1 and (", shard %d of %d"):format(self.shard, self.shards) or "",
    self.threaded and (self.num_workers .. " workers") or "Lua thread")
end

-- VOCSegmentation, ADE20K (lua/sbengine/_segmentation_data.lua)
require("sbengine._segmentation_data")(data, check_transform, file_exists)

return data
