-- sb.data.CocoDetection against torchvision.datasets.CocoDetection on the small tree
-- tools/fixtures/coco_tree.py writes (tests/fixtures/coco_tree): the same ids in the same
-- order, images equal to PIL's convert("RGB") (its PNGs), targets equal (values and Lua
-- number subtypes: JSON integers are integers), and the errors for bad input.
local sb = require "sbengine"
local H = require "data_helper"
local T = sb.transforms

local tree = (os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") .. "/coco_tree"
local ann = tree .. "/annotations/instances_val2017.json"
local tmp
setup(function() tmp = H.tmpdir() end)
teardown(function() H.rmtree(tmp) end)

-- equal values and number subtypes, recursively
local function same(a, b, where)
  if type(a) ~= type(b) then return false, where .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) or a ~= b then
      return false, ("%s: %s vs %s"):format(where, tostring(a), tostring(b))
    end
    return true
  end
  if type(a) ~= "table" then return a == b, where end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], where .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, where .. "." .. tostring(k) .. " missing" end
  end
  return true
end

local function equal_images(a, b)
  if a:dim() ~= b:dim() then return false end
  for d = 1, a:dim() do if a:size(d) ~= b:size(d) then return false end end
  return a:float():sub(b:float()):abs():max():item() == 0
end

local write = H.write

describe("sb.data.CocoDetection", function()
  local expected = dofile(tree .. "/expected.lua")

  it("gives torchvision's ids, images and targets", function()
    local ds = sb.data.CocoDetection{ root = tree .. "/val2017", annFile = ann }
    assert.equal(#expected, #ds)
    for i, e in ipairs(expected) do
      assert.equal(e.id, ds.ids[i])
      local image, target = ds:get(i)
      assert.equal("uint8", image:dtype())
      assert.is_true(equal_images(sb.image.load(tree .. "/" .. e.png), image), "image " .. e.id)
      local ok, why = same(e.target, target, "target " .. e.id)
      assert.is_true(ok, why)
      assert.is_true(same(e.target, ds:annotations(i), "annotations"))
    end
    local id, file = ds:image_info(1)
    assert.equal(expected[1].id, id)
    assert.equal(("%012d.jpg"):format(id), file)
    assert.matches("CocoDetection %(6 images", tostring(ds))
  end)

  it("applies transform, target_transform and transforms as torchvision does", function()
    local ds = sb.data.CocoDetection{ root = tree .. "/val2017", annFile = ann,
      transform = T.ToTensor(), target_transform = function(t) return #t end }
    local x, n = ds:get(1)
    assert.equal(3, x:size(1))
    assert.equal(#expected[1].target, n)
    local joint = sb.data.CocoDetection{ root = tree .. "/val2017", annFile = ann,
      transforms = function(image, target) return image:size(1), #target end }
    local h, m = joint:get(2)
    assert.equal(sb.image.load(tree .. "/" .. expected[2].png):size(1), h)
    assert.equal(#expected[2].target, m)
    assert.has_error(function()
      sb.data.CocoDetection{ root = tree, annFile = ann, transform = T.ToTensor(),
        transforms = function(a, b) return a, b end }
    end, "CocoDetection: Only transforms or transform/target_transform can be passed as argument")
  end)

  it("batches as lists through the DataLoader, in order, sharded", function()
    local ds = sb.data.CocoDetection{ root = tree .. "/val2017", annFile = ann }
    local loader = sb.data.DataLoader(ds, { batch_size = 4 })
    local seen = {}
    for _, images, targets in loader:iter() do
      assert.equal(#images, #targets)
      for j = 1, #images do seen[#seen + 1] = { images[j]:size(1), #targets[j] } end
    end
    assert.equal(#expected, #seen)
    assert.equal(2, #loader)
    local second = sb.data.DataLoader(ds, { batch_size = 4, shards = 2, shard = 1 })
    for _, images in second:iter() do assert.equal(2, #images) end
    assert.has_error(function() sb.data.DataLoader(ds, { collate_fn = 3 }) end,
      "DataLoader: collate_fn must be a function(samples) -> input, target, got number")
  end)

  it("says what is wrong with bad input", function()
    assert.has_error(function()
      sb.data.CocoDetection{ root = tree .. "/val2017", annFile = tmp .. "/none.json" }
    end, "CocoDetection: " .. tmp .. "/none.json: No such file or directory")
    write(tmp .. "/list.json", "[1, 2]")
    assert.has_error(function()
      sb.data.CocoDetection{ root = tree .. "/val2017", annFile = tmp .. "/list.json" }
    end, "CocoDetection: " .. tmp .. "/list.json: line 1, column 1: expected an object '{'")
    write(tmp .. "/noimages.json", '{"annotations": [], "categories": []}')
    assert.has_error(function()
      sb.data.CocoDetection{ root = tree .. "/val2017", annFile = tmp .. "/noimages.json" }
    end, "CocoDetection: " .. tmp .. "/noimages.json: no \"images\" array (is it a COCO "
      .. "annotation file, such as annotations/instances_val2017.json?)")
    write(tmp .. "/noname.json", '{"images": [{"id": 3}]}')
    assert.has_error(function()
      sb.data.CocoDetection{ root = tree .. "/val2017", annFile = tmp .. "/noname.json" }
    end, "CocoDetection: " .. tmp .. "/noname.json: image 3 has no string \"file_name\"")
    write(tmp .. "/missing.json", '{"images": [{"id": 5, "file_name": "gone.jpg"}], "annotations": []}')
    local ds = sb.data.CocoDetection{ root = tree .. "/val2017", annFile = tmp .. "/missing.json" }
    local ok, err = pcall(ds.get, ds, 1)
    assert.is_false(ok)
    assert.matches("image 5", err, 1, true)
    assert.matches("gone.jpg", err, 1, true)
    assert.has_error(function() sb.data.CocoDetection{ root = tree } end,
      "CocoDetection: annFile must be a string (the annotation file, e.g. "
      .. "annotations/instances_val2017.json)")
    assert.has_error(function() ds:get(2) end, "CocoDetection:get: index 2 out of range 1..1")
  end)
end)
