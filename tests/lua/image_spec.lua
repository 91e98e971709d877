-- sb.image, the image transforms from Lua and ImageFolder through the DataLoader, on the
-- fixture corpus (tests/fixtures/images, tools/fixtures/images.py). Byte identity with
-- torchvision is checked case by case in tests/c/test_image.c.
local sb = require "sbengine"
local H = require "data_helper"
local T = sb.transforms

local fixtures = (os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") .. "/images/"
local tmp
setup(function() tmp = H.tmpdir() end)
teardown(function() H.rmtree(tmp) end)

local function same(a, b)
  if a:dim() ~= b:dim() then return false end
  for d = 1, a:dim() do if a:size(d) ~= b:size(d) then return false end end
  return a:float():sub(b:float()):abs():max():item() == 0
end

local function folder(name, files)
  local root = tmp .. "/" .. name
  for dest, src in pairs(files) do
    local dir = (root .. "/" .. dest):match("^(.*)/")
    os.execute("mkdir -p '" .. dir .. "'")
    if type(src) == "string" and src:sub(1, 1) == "@" then
      H.write(root .. "/" .. dest, H.read(fixtures .. src:sub(2)))
    else
      H.write(root .. "/" .. dest, src)
    end
  end
  return root
end

describe("sb.image", function()
  it("loads and decodes JPEG and PNG as uint8 [H, W, 3]", function()
    local a = sb.image.load(fixtures .. "crop_420.jpg")
    assert.same({ 151, 201, 3 }, { a:size(1), a:size(2), a:size(3) })
    assert.equal("uint8", a:dtype())
    local b = sb.image.decode(H.read(fixtures .. "crop_420.jpg"))
    assert.is_true(same(a, b))
    local p = sb.image.load(fixtures .. "small_rgba.png")
    assert.same({ 48, 64, 3 }, { p:size(1), p:size(2), p:size(3) })
  end)

  it("writes PNG files that read back the same", function()
    local a = sb.image.load(fixtures .. "crop_444.jpg")
    sb.image.save_png(tmp .. "/x.png", a)
    assert.is_true(same(a, sb.image.load(tmp .. "/x.png")))
    local g = T.Grayscale()(a)
    sb.image.save_png(tmp .. "/g.png", g)
    assert.equal(3, sb.image.load(tmp .. "/g.png"):size(3))
    assert.has_error(function() sb.image.save_png(tmp .. "/f.png", sb.zeros(2, 2)) end,
      "image.save_png: expected a uint8 CPU tensor [H, W] or [H, W, C], got float32 [2, 2]")
  end)

  it("refuses bad files with a message naming them", function()
    local cases = {
      { "bad_truncated.jpg", "image file is truncated" },
      { "bad_truncated.png", "image file is truncated" },
      { "bad_empty.jpg", "empty file" },
      { "bad_text.png", "cannot identify image file" },
      { "bad_bomb.jpg", "decompression bomb" },
      { "bad_huge.png", "decompression bomb" },
      { "missing.jpg", "No such file or directory" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(sb.image.load, fixtures .. c[1])
      assert.is_false(ok)
      assert.truthy(err:find(c[1], 1, true), err)
      assert.truthy(err:find(c[2], 1, true), err)
    end
    local ok, err = pcall(sb.image.decode, "garbage", "upload.jpg")
    assert.is_false(ok)
    assert.truthy(err:find("'upload.jpg': cannot identify image file", 1, true), err)
  end)

  it("has a configurable pixel limit", function()
    assert.equal(89478485, sb.image.max_pixels())
    local old = sb.image.set_max_pixels(1000)
    local ok, err = pcall(sb.image.load, fixtures .. "crop_420.jpg")
    sb.image.set_max_pixels(old)
    assert.is_false(ok)
    assert.truthy(err:find("30351 pixels exceeds the limit of 1000 pixels", 1, true), err)
  end)
end)

describe("image transforms", function()
  it("checks their arguments as torchvision does", function()
    assert.has_error(function() T.Resize(256, { max_size = 256 }) end,
      "Resize: max_size = 256 must be strictly greater than the requested size for the smaller edge size = 256")
    assert.has_error(function() T.Resize(256, { interpolation = "area" }) end,
      "Resize: interpolation must be nearest, bilinear, bicubic or lanczos, got area")
    assert.has_error(function() T.Grayscale(2) end, "Grayscale: num_output_channels should be either 1 or 3, got 2")
    assert.has_error(function() T.Pad(2, { padding_mode = "wrap" }) end,
      "Pad: padding_mode should be either constant, edge, reflect or symmetric, got wrap")
    local img = sb.image.load(fixtures .. "crop_420.jpg")
    local ok, err = pcall(T.FiveCrop(300), img)
    assert.is_false(ok)
    assert.truthy(err:find("FiveCrop: requested crop size (300, 300) is bigger than input size (151, 201)", 1, true), err)
  end)

  it("give the shapes torchvision gives", function()
    local img = sb.image.load(fixtures .. "flower.jpg") -- 427 x 640
    local r = T.Resize(256)(img)
    assert.same({ 256, 383, 3 }, { r:size(1), r:size(2), r:size(3) })
    local r2 = T.Resize({ 100, 50 }, { interpolation = "bicubic" })(img)
    assert.same({ 100, 50 }, { r2:size(1), r2:size(2) })
    local tc = T.Compose { T.TenCrop(64), T.ToTensor() }(img)
    assert.same({ 10, 3, 64, 64 }, { tc:size(1), tc:size(2), tc:size(3), tc:size(4) })
    assert.equal(1, T.Grayscale()(img):size(3))
    local p = T.Pad({ 1, 2, 3, 4 }, { fill = { 10, 20, 30 } })(img)
    assert.same({ 433, 644 }, { p:size(1), p:size(2) })
    assert.same({ 10, 20, 30 }, p[1][1]:totable())
  end)
end)

describe("sb.data.ImageFolder", function()
  it("lists classes and files as torchvision does, skipping other files", function()
    local root = folder("tree", {
      ["dog/b.jpg"] = "@crop_420.jpg", ["dog/A.JPG"] = "@crop_444.jpg",
      ["cat/z/x.png"] = "@small_rgb.png", ["cat/y.jpeg"] = "@crop_gray.jpg",
      ["cat/notes.txt"] = "not an image", ["cat/z-a/w.png"] = "@small_la.png",
    })
    local ds = sb.data.ImageFolder { root = root }
    assert.same({ "cat", "dog" }, ds.classes)
    assert.same({ cat = 0, dog = 1 }, ds.class_to_idx)
    assert.equal(5, #ds)
    local files = {}
    for i = 1, #ds do
      local path, class = ds:path(i)
      files[i] = path:sub(#root + 2) .. ":" .. class
    end
    -- torchvision sorts os.walk's tuples by folder path: ".../cat/z" before ".../cat/z-a".
    assert.same({ "cat/y.jpeg:0", "cat/z/x.png:0", "cat/z-a/w.png:0", "dog/A.JPG:1", "dog/b.jpg:1" }, files)
    local x, y = ds:get(1)
    assert.same({ 151, 201, 3 }, { x:size(1), x:size(2), x:size(3) })
    assert.equal(0, y)
  end)

  it("decodes and transforms in the worker threads, same bytes as one by one", function()
    local root = folder("loader", {
      ["a/1.jpg"] = "@flower.jpg", ["a/2.jpg"] = "@crop_progressive.jpg", ["b/3.png"] = "@small_p8.png",
      ["b/4.jpg"] = "@crop_cmyk.jpg", ["b/5.jpg"] = "@tall_3x5000.jpg",
    })
    local tf = T.Compose { T.Resize(64), T.CenterCrop(48), T.ToTensor(),
                           T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }) }
    local ds = sb.data.ImageFolder { root = root, transform = tf }
    local loader = sb.data.DataLoader(ds, { batch_size = 2, num_workers = 2 })
    assert.is_true(loader.threaded)
    local n = 0
    for _, x, y in loader:iter() do
      for j = 1, x:size(1) do
        n = n + 1
        local want, class = ds:get(n)
        assert.is_true(same(x[j], want))
        assert.equal(class, y[j])
      end
    end
    assert.equal(5, n)
  end)

  it("reports bad folders and bad files clearly", function()
    local empty = folder("empty_class", { ["a/1.jpg"] = "@crop_420.jpg", ["b/readme.txt"] = "x" })
    local ok, err = pcall(sb.data.ImageFolder, { root = empty })
    assert.is_false(ok)
    assert.truthy(err:find("found no valid file for the classes b", 1, true), err)
    os.execute("mkdir -p '" .. tmp .. "/no_classes'")
    ok, err = pcall(sb.data.ImageFolder, { root = tmp .. "/no_classes" })
    assert.truthy(err:find("couldn't find any class folder", 1, true), err)
    ok, err = pcall(sb.data.ImageFolder, { root = tmp .. "/absent" })
    assert.truthy(err:find("No such file or directory", 1, true), err)

    local bad = folder("bad_file", { ["a/1.jpg"] = "@crop_420.jpg", ["a/2.jpg"] = "@bad_truncated.jpg" })
    local ds = sb.data.ImageFolder { root = bad, transform = T.Compose { T.CenterCrop(8), T.ToTensor() } }
    ok, err = pcall(function()
      for _ in sb.data.DataLoader(ds, { batch_size = 1, num_workers = 2 }):iter() do end
    end)
    assert.is_false(ok)
    assert.truthy(err:find("dataset index 2", 1, true), err)
    assert.truthy(err:find("2.jpg': image file is truncated", 1, true), err)

    ok, err = pcall(sb.data.DataLoader, sb.data.ImageFolder { root = bad }, { batch_size = 2 })
    assert.truthy(err:find("samples differ in size", 1, true), err)
    local ragged = sb.data.ImageFolder { root = bad, transform = T.Resize(20) } -- sizes still differ
    ok, err = pcall(sb.data.DataLoader, ragged, { batch_size = 1 })
    assert.truthy(err:find("after the transform", 1, true), err)
  end)
end)
