-- coco_segmentation, sb.eval.COCO{iou_type = "segm"} and the mask functions against pycocotools
-- (tests/fixtures/eval/coco_segm.json, written by tools/fixtures/coco_segm_fixtures.py): the
-- stats to 1e-12 through the meter, two merged shards and the evaluator; RLE strings, areas,
-- boxes and IoUs exactly; then the errors.
local sb = require "sbengine"
local core = require "sbengine.core"
local cjson = require "cjson"
local helper = require "eval_helper"
local tmp = require "tmpfiles"

local fixture = helper.fixture("coco_segm.json")
local cases, masks = fixture.cases, fixture.masks
local dir = helper.dir

local function annotations_file(i, case)
  return helper.file(("segm_case%d.json"):format(i), case.gt)
end

local same_stats = helper.same_stats

describe("coco_segmentation equals pycocotools' COCOeval (segm)", function()
  for i, case in ipairs(cases) do
    it(case.name, function()
      local path = annotations_file(i, case)
      helper.check_coco_case(case, path, "coco_segmentation", "segm")
      if not case.images and #case.dets > 0 then -- and from a results file
        local file = dir .. ("/segm_dets%d.json"):format(i)
        tmp.write(file, cjson.encode(case.dets))
        local ev2 = sb.eval.COCO { annotations = path, images = "all", iou_type = "segm" }
        ev2:add_results(file)
        same_stats(case.stats, ev2:stats().stats, case.name .. " (results file)")
      end
    end)
  end
end)

describe("sb.eval.COCO with iou_type segm", function()
  it("takes torchvision's {masks = (K, 1, H, W) probabilities, scores, labels}", function()
    local case = cases[1]
    local path = annotations_file(1, case)
    local groups = helper.coco_by_image(case)
    local ev = sb.eval.COCO { annotations = path, images = "all", iou_type = "segm" }
    local preds = {}
    for id, list in pairs(groups) do
      local h, w = list[1].segmentation.size[1], list[1].segmentation.size[2]
      local masks, scores, labels = {}, {}, {}
      for k, d in ipairs(list) do
        local bytes = core.eval.coco_rle_decode { h, w, d.segmentation.counts } -- column-major
        local rows = {}
        for y = 1, h do
          local row = {}
          for x = 1, w do
            row[x] = bytes:byte((x - 1) * h + y) == 1 and 0.75 or 0.5 -- > 0.5 is inside
          end
          rows[y] = row
        end
        masks[k], scores[k], labels[k] = { rows }, d.score, d.category_id
      end
      preds[id] = { masks = sb.tensor(masks, { dtype = "float32" }), scores = scores,
                    labels = sb.tensor(labels, { dtype = "int64" }) }
    end
    ev:add(preds)
    same_stats(case.stats, ev:stats().stats, "torchvision masks")
    local ok, err = pcall(function()
      sb.eval.COCO { annotations = path, iou_type = "segm" }:add {
        [cjson.decode(case.gt).images[1].id] = { masks = sb.zeros(2, 3, 4, 5), scores = { 1, 1 },
                                                 labels = { 1, 1 } } }
    end)
    assert.is_false(ok)
    assert.matches("masks must be a (K, H, W) or (K, 1, H, W) tensor, got [2, 3, 4, 5]", err, 1,
      true)
  end)
end)

describe("the COCO mask functions equal pycocotools.mask", function()
  it("rasterises polygons (frPyObjects + merge) and gives their area and box", function()
    local n = 0
    for k, c in ipairs(masks) do
      if c.op == "poly" then
        local r = core.eval.coco_rle(cjson.encode(c.segmentation), c.h, c.w)
        assert.are.equal(c.counts, r.counts, "case " .. k)
        assert.are.equal(c.area, r.area, "case " .. k)
        assert.are.same(c.bbox, r.bbox, "case " .. k)
        n = n + 1
      end
    end
    assert.is_true(n >= 40)
  end)

  it("encodes and decodes masks, and compresses uncompressed RLE", function()
    for k, c in ipairs(masks) do
      if c.op == "encode" then
        local bytes = {}
        for j, v in ipairs(c.mask) do bytes[j] = string.char(v) end
        bytes = table.concat(bytes)
        assert.are.equal(c.counts, core.eval.coco_rle_encode(c.h, c.w, bytes), "case " .. k)
        assert.are.equal(bytes, core.eval.coco_rle_decode { c.h, c.w, c.counts }, "case " .. k)
        local r = core.eval.coco_rle(cjson.encode { size = { c.h, c.w }, counts = c.counts })
        assert.are.equal(c.area, r.area, "case " .. k)
        assert.are.same(c.bbox, r.bbox, "case " .. k)
      elseif c.op == "rle" then
        local r = core.eval.coco_rle(cjson.encode(c.segmentation), c.h, c.w)
        assert.are.equal(c.counts, r.counts, "case " .. k)
      end
    end
  end)

  it("computes IoUs (with the crowd rule) and merges", function()
    for k, c in ipairs(masks) do
      if c.op == "iou" then
        local got = core.eval.coco_rle_iou(c.dts, c.gts, c.iscrowd)
        assert.are.equal(#c.iou, #got, "case " .. k)
        for d = 1, #c.iou do
          for g = 1, #c.iou[d] do
            assert.are.equal(c.iou[d][g], got[d][g], ("case %d [%d][%d]"):format(k, d, g))
          end
        end
      elseif c.op == "merge" then
        local got = core.eval.coco_rle_merge(c.rles, c.intersect == 1)
        assert.are.equal(c.counts, got[3], "case " .. k)
      end
    end
  end)
end)

describe("coco_segmentation refuses bad masks, naming the annotation", function()
  local function gt_with(segm, image)
    image = image or { id = 1, height = 10, width = 10 }
    return cjson.encode { images = { image }, categories = { { id = 1 } },
      annotations = { { id = 42, image_id = 1, category_id = 1, area = 4, bbox = { 0, 0, 2, 2 },
        iscrowd = 0, segmentation = segm } } }
  end
  local function fails(text, expected)
    if type(text) ~= "string" then text = cjson.encode(text) end
    local path = helper.file("segm_bad.json", text)
    local ok, err = pcall(sb.eval.COCO, { annotations = path, iou_type = "segm" })
    assert.is_false(ok)
    assert.matches(expected, err, 1, true)
  end

  it("a malformed RLE string", function()
    fails(gt_with { size = { 10, 10 }, counts = "0a~" },
      "annotation 42: malformed RLE string: character 3 (byte 126) is outside '0'..'o'")
    fails(gt_with { size = { 10, 10 }, counts = "0`" }, "annotation 42: malformed RLE string: it ends")
  end)

  it("counts that do not sum to height * width", function()
    fails(gt_with { size = { 10, 10 }, counts = { 5, 10, 80 } },
      "annotation 42: the RLE counts sum to 95, but a 10 x 10 mask has 100 pixels")
    fails(gt_with { size = { 10, 10 }, counts = "52" },
      "annotation 42: the RLE counts sum to 7, but a 10 x 10 mask has 100 pixels")
  end)

  it("a polygon with an odd number of coordinates, or too few", function()
    fails(gt_with { { 1, 1, 5, 1, 5, 5, 1 } },
      "annotation 42: polygon segmentation[0] has an odd number of coordinates (7)")
    fails(gt_with { { 1, 1, 5, 1 } }, "annotation 42: segmentation[0] has 4 coordinates")
    fails((gt_with("[]"):gsub('"segmentation":"%[%]"', '"segmentation":[]')),
      "annotation 42: \"segmentation\" is an empty list")
  end)

  it("an image without its size, an annotation without a segmentation", function()
    fails(gt_with({ { 1, 1, 5, 1, 5, 5 } }, { id = 1 }),
      "image 1 needs whole numbers \"height\" and \"width\"")
    fails(cjson.encode { images = { { id = 1, height = 5, width = 5 } }, categories = { { id = 1 } },
      annotations = { { id = 7, image_id = 1, category_id = 1, area = 1, bbox = { 0, 0, 1, 1 } } } },
      "annotation 7 has no \"segmentation\"")
  end)

  it("reads annotations that come before the images", function()
    local text = '{"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 16, '
      .. '"bbox": [1, 1, 4, 4], "iscrowd": 0, "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]]}], '
      .. '"categories": [{"id": 1}], "images": [{"id": 1, "height": 8, "width": 8}]}'
    local path = helper.file("segm_late_images.json", text)
    local r = core.eval.coco_rle('[[1, 1, 5, 1, 5, 5, 1, 5]]', 8, 8)
    local ev = sb.eval.COCO { annotations = path, iou_type = "segm", images = "all" }
    ev:add { [1] = { { segmentation = { size = { 8, 8 }, counts = r.counts }, score = 1,
      category_id = 1 } } }
    assert(math.abs(ev:results()["mask AP"] - 1) < 1e-12)
  end)

  it("a detection's bad mask, naming the detection", function()
    local path = helper.file("segm_ok.json", gt_with { { 1, 1, 5, 1, 5, 5 } })
    local ev = sb.eval.COCO { annotations = path, iou_type = "segm" }
    ev:add { [1] = { { segmentation = { size = { 10, 10 }, counts = { 1, 2 } }, score = 1,
      category_id = 1 } } }
    local ok, err = pcall(ev.results, ev)
    assert.is_false(ok)
    assert.matches("detection 1: the RLE counts sum to 3", err, 1, true)
    local file = dir .. "/segm_bad_dets.json"
    tmp.write(file, '[{"image_id": 1, "category_id": 1, "score": 1, '
      .. '"segmentation": {"size": [10, 10], "counts": "0!"}}]')
    local ev2 = sb.eval.COCO { annotations = path, iou_type = "segm" }
    ok, err = pcall(ev2.add_results, ev2, file)
    assert.is_false(ok)
    assert.matches("segm_bad_dets.json: detection 1 (image 1): malformed RLE string", err, 1, true)
    assert.has_error(function() sb.eval.COCO { annotations = path, iou_type = "mask" } end,
      'sb.eval.COCO: option iou_type must be "bbox" or "segm", got mask')
  end)

  it("saves an Instance Segmentation result with mask AP", function()
    local case = cases[1]
    local path = annotations_file(1, case)
    local ev = sb.eval.COCO { annotations = path, images = "all", iou_type = "segm",
      model_name = "My Masks" }
    ev:add_results(case.dets)
    local saved = ev:save():to_dict()
    assert.are.equal("Instance Segmentation", saved.task)
    assert.are.equal("COCO minival", saved.dataset_name)
    assert.is_number(ev:results()["mask AP"])
    assert.is_nil(ev:results()["box AP"])
  end)
end)
