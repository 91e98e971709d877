-- sb.image.load's label-map modes against PIL (np.array(Image.open(p)), recorded by
-- tools/fixtures/segmentation_tree.py), and the VOCSegmentation and ADE20K datasets over that
-- tree (tests/fixtures/segmentation_tree).
local cjson = require "cjson"
local sb = require "sbengine"

local tree = os.getenv("SBENGINE_FIXTURES") .. "/segmentation_tree"
local expected
do
  local f = assert(io.open(tree .. "/expected.json"))
  expected = cjson.decode(f:read("a"))
  f:close()
end

local function equal_to_pil(t, want, what)
  assert.same(want.shape, { t:size(1), t:size(2) })
  local flat = t:contiguous():view(-1):totable()
  for i, v in ipairs(want.values) do
    if flat[i] ~= v then
      error(("%s: pixel %d is %s, PIL gives %d"):format(what, i, tostring(flat[i]), v))
    end
  end
end

describe("sb.image.load label maps", function()
  for path, want in pairs(expected.labels) do
    local mode = path:match("VOCdevkit") and "P" or "L"
    it(mode .. " " .. path, function()
      local t = sb.image.load(tree .. "/" .. path, { mode = mode })
      assert.equal("uint8", t:dtype())
      equal_to_pil(t, want, path)
      local f = assert(io.open(tree .. "/" .. path, "rb"))
      local bytes = f:read("a")
      f:close()
      equal_to_pil(sb.image.decode(bytes, path, { mode = mode }), want, path)
      equal_to_pil(sb.image.decode(bytes, { mode = mode }), want, path)
    end)
  end

  for _, case in ipairs(expected.images) do
    it(case.mode .. " of the decoder corpus's " .. case.file, function()
      local t = sb.image.load(os.getenv("SBENGINE_FIXTURES") .. "/images/" .. case.file,
        { mode = case.mode })
      assert.same(case.shape, { t:size(1), t:size(2) })
      local hex = {}
      for i, v in ipairs(t:contiguous():view(-1):totable()) do hex[i] = ("%02x"):format(v) end
      assert.equal(case.hex, table.concat(hex))
    end)
  end

  it("L of an RGB image is PIL's convert('L'), as the Grayscale transform", function()
    local path = tree .. "/ADEChallengeData2016/images/validation/ADE_val_00000001.jpg"
    local gray = sb.image.load(path, { mode = "L" })
    local via = sb.transforms.Grayscale()(sb.image.load(path))
    assert.equal(0, (gray:float() - via:view(gray:size(1), gray:size(2)):float()):abs():max():item())
  end)

  it("refuses P for a file without a palette and unknown modes or options", function()
    local path = tree .. "/ADEChallengeData2016/annotations/validation/ADE_val_00000001.png"
    local ok, err = pcall(sb.image.load, path, { mode = "P" })
    assert.is_false(ok)
    assert.matches("not a palette PNG", err, 1, true)
    ok, err = pcall(sb.image.load, tree .. "/ADEChallengeData2016/images/validation/ADE_val_00000001.jpg",
      { mode = "P" })
    assert.is_false(ok)
    assert.matches('mode "P" reads palette PNGs, and this is not a PNG file', err, 1, true)
    ok, err = pcall(sb.image.load, path, { mode = "RGBA" })
    assert.is_false(ok)
    assert.matches('option mode must be "RGB", "L" or "P", got RGBA', err, 1, true)
    ok, err = pcall(sb.image.load, path, { mdoe = "L" })
    assert.is_false(ok)
    assert.matches("unknown option 'mdoe'", err, 1, true)
  end)
end)

describe("segmentation datasets", function()
  it("VOCSegmentation reads val.txt, JPEGImages and the palette indices", function()
    local ds = sb.data.VOCSegmentation { root = tree }
    assert.equal(3, #ds)
    assert.equal("VOCSegmentation", ds.name)
    assert.equal("2007_000039", ds.ids[2])
    local img, target = ds:get(2)
    assert.same({ 36, 33, 3 }, { img:size(1), img:size(2), img:size(3) })
    equal_to_pil(target,
      expected.labels["VOCdevkit/VOC2012/SegmentationClass/2007_000039.png"], "target")
  end)

  it("transforms resize the target with nearest, or run jointly", function()
    local T = sb.transforms
    local ds = sb.data.VOCSegmentation { root = tree, transform = T.Resize(20),
      target_transform = T.Resize(20, { interpolation = "nearest" }) }
    local img, target = ds:get(1)
    assert.same({ 20, 26 }, { img:size(1), img:size(2) })
    assert.same({ 20, 26 }, { target:size(1), target:size(2) })
    local joint = sb.data.VOCSegmentation { root = tree,
      transforms = function(i, t) return i:size(1), t:size(1) end }
    assert.same({ 30, 30 }, { joint:get(1) })
    local ok, err = pcall(sb.data.VOCSegmentation, { root = tree, transforms = print,
      transform = T.Resize(20) })
    assert.is_false(ok)
    assert.matches("not both", err)
  end)

  it("ADE20K lists images/validation and reads the gray annotations", function()
    local ds = sb.data.ADE20K { root = tree }
    assert.equal(3, #ds)
    assert.same({ "ADE_val_00000001", "ADE_val_00000002", "ADE_val_00000003" }, ds.ids)
    local _, target = ds:get(3)
    equal_to_pil(target,
      expected.labels["ADEChallengeData2016/annotations/validation/ADE_val_00000003.png"], "target")
    -- root may also be ADEChallengeData2016 itself
    assert.equal(3, #sb.data.ADE20K { root = tree .. "/ADEChallengeData2016" })
  end)

  it("errors name what is missing", function()
    local ok, err = pcall(sb.data.ADE20K, { root = "no/such" })
    assert.is_false(ok)
    assert.matches("ADEChallengeData2016/images/validation", err, 1, true)
    ok, err = pcall(sb.data.VOCSegmentation, { root = "no/such" })
    assert.is_false(ok)
    assert.matches("VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt", err, 1, true)
    ok, err = pcall(sb.data.VOCSegmentation, { root = tree, image_set = "test" })
    assert.is_false(ok)
    assert.matches("image_set must be train, trainval, val, got test", err, 1, true)
  end)
end)
