-- sb.data.ImageNet on small archives in the official layout (tools/fixtures/imagenet.py),
-- against what torchvision.datasets.ImageNet made of the same archives (expected.txt).
local sb = require "sbengine"
local H = require "data_helper"

local fixtures = (os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") .. "/imagenet/"
local tmp
setup(function() tmp = H.tmpdir() end)
teardown(function() H.rmtree(tmp) end)

local function expected()
  local e = { classes = {}, wnids = {}, samples = {} }
  for line in io.lines(fixtures .. "expected.txt") do
    local k, v = line:match("^(%S+_md5) (%x+)$")
    if k then e[k] = v end
    local i, wnid, names = line:match("^class (%d+) (%S+) (.*)$")
    if i then
      local list = {}
      for name in (names .. "|"):gmatch("(.-)|") do list[#list + 1] = name end
      e.classes[#e.classes + 1], e.wnids[#e.wnids + 1] = list, wnid
    end
    local path, target = line:match("^sample (%S+) (%d+)$")
    if path then e.samples[#e.samples + 1] = { path, tonumber(target) } end
  end
  return e
end

local function root_with(name, files)
  local root = tmp .. "/" .. name
  os.execute("mkdir -p '" .. root .. "'")
  for _, f in ipairs(files) do H.write(root .. "/" .. f, H.read(fixtures .. f)) end
  return root
end

describe("sb.data.ImageNet", function()
  local e = expected()
  local archives = { "ILSVRC2012_devkit_t12.tar.gz", "ILSVRC2012_img_val.tar" }

  it("prepares val/ from the official archives once, with torchvision's classes and order", function()
    local root = root_with("full", archives)
    local ds = sb.data.ImageNet { root = root, devkit_md5 = e.devkit_md5, val_md5 = e.val_md5 }
    assert.equal("ImageNet", ds.name)
    assert.same(e.wnids, ds.wnids)
    assert.same(e.classes, ds.classes)
    assert.equal(1, ds.class_to_idx["goldfish"])
    assert.equal(2, ds.wnid_to_idx["n01484850"])
    assert.equal(#e.samples, #ds)
    for i, s in ipairs(e.samples) do
      local path, class = ds:path(i)
      assert.equal(root .. "/" .. s[1], path)
      assert.equal(s[2], class)
    end
    for i, s in ipairs(e.samples) do -- torchvision's samples and targets lists
      assert.same({ root .. "/" .. s[1], s[2] }, ds.samples[i])
      assert.equal(s[2], ds.targets[i])
    end
    assert.equal(ds.samples, ds.imgs)
    local x, y = ds:get(1)
    assert.equal(3, x:size(3))
    assert.equal(0, y)
    -- Extracted once: without the archives the prepared folder is used as it is.
    os.remove(root .. "/" .. archives[2])
    os.remove(root .. "/" .. archives[1])
    local again = sb.data.ImageNet { root = root }
    assert.same(e.classes, again.classes)
    assert.equal(#e.samples, #again)
  end)

  it("says where to get a missing archive and refuses a wrong md5", function()
    local root = root_with("no_val", { archives[1] })
    local ok, err = pcall(sb.data.ImageNet, { root = root, devkit_md5 = e.devkit_md5, val_md5 = e.val_md5 })
    assert.is_false(ok)
    assert.truthy(err:find("the archive ILSVRC2012_img_val.tar is not in '" .. root .. "'", 1, true), err)
    assert.truthy(err:find("https://image-net.org", 1, true), err)
    assert.is_nil(io.open(root .. "/val")) -- nothing half made
    root = root_with("bad_md5", archives)
    ok, err = pcall(sb.data.ImageNet, { root = root })
    assert.is_false(ok)
    assert.truthy(err:find("has md5 " .. e.devkit_md5 .. ", expected fa75699e90414af021442c21a62c3abf", 1, true), err)
  end)

  it("runs the ImageNet evaluation transforms in the loader's workers", function()
    local root = root_with("loader", archives)
    local T = sb.transforms
    local ds = sb.data.ImageNet { root = root, devkit_md5 = e.devkit_md5, val_md5 = e.val_md5,
      transform = T.Compose { T.Resize(36), T.CenterCrop(32), T.ToTensor() } }
    local n = 0
    for _, x, y in sb.data.DataLoader(ds, { batch_size = 3, num_workers = 2 }):iter() do
      assert.same({ 3, 32, 32 }, { x:size(2), x:size(3), x:size(4) })
      for j = 1, x:size(1) do n = n + 1; assert.equal(e.samples[n][2], y[j]) end
    end
    assert.equal(#e.samples, n)
  end)

  it("names the 1000 classes without a devkit, and a folder that is no ILSVRC2012 class by its WNID", function()
    local list = require "sbengine._imagenet_classes"
    assert.equal(1000, #list)
    for i = 2, #list do assert.is_true(list[i - 1][1] < list[i][1], list[i][1]) end
    local root = tmp .. "/prepared"
    for _, wnid in ipairs { "n01440764", "n01484850", "n99999999" } do
      os.execute("mkdir -p '" .. root .. "/val/" .. wnid .. "'")
      H.write(root .. "/val/" .. wnid .. "/a.JPEG", H.read(fixtures .. "../images/pixel_1x1.jpg"))
    end
    local ds = sb.data.ImageNet { root = root }
    assert.same(e.classes[1], ds.classes[1]) -- the devkit's words, as the archive gives them
    assert.same(e.classes[3], ds.classes[2])
    assert.same({ "n99999999" }, ds.classes[3])
    assert.equal(1, ds.class_to_idx["great white shark"])
  end)
end)
