-- coco_detection and sb.eval.COCO against pycocotools (tests/fixtures/eval/coco_bbox.json,
-- written by tools/fixtures/coco_fixtures.py): every case through the meter, through two
-- merged shards and through the evaluator, to 1e-12; then the errors.
local sb = require "sbengine"
local cjson = require "cjson"
local helper = require "eval_helper"
local tmp = require "tmpfiles"

local cases = helper.fixture("coco_bbox.json")
local dir = helper.dir

local function annotations_file(i, case)
  return helper.file(("case%d.json"):format(i), case.gt)
end

local same_stats, by_image = helper.same_stats, helper.coco_by_image

describe("coco_detection equals pycocotools' COCOeval", function()
  for i, case in ipairs(cases) do
    it(case.name, function()
      helper.check_coco_case(case, annotations_file(i, case), "coco_detection", "bbox")
    end)
  end
end)

describe("sb.eval.COCO", function()
  local whole -- the case with whole-number boxes: x2 - x1 is exact
  for i, case in ipairs(cases) do
    if case.name == "whole-number boxes" then whole = i end
  end

  it("takes torchvision's {boxes, scores, labels} (x1, y1, x2, y2) like the results form", function()
    local case = cases[whole]
    local path = annotations_file(whole, case)
    local groups = by_image(case)
    local ev = sb.eval.COCO { annotations = path, images = "all" }
    local preds = {}
    for id, list in pairs(groups) do
      local boxes, scores, labels = {}, {}, {}
      for k, d in ipairs(list) do
        local b = d.bbox
        boxes[k] = { b[1], b[2], b[1] + b[3], b[2] + b[4] }
        scores[k], labels[k] = d.score, d.category_id
      end
      preds[id] = { boxes = sb.tensor(boxes, { dtype = "float64" }),
                    scores = sb.tensor(scores, { dtype = "float64" }),
                    labels = sb.tensor(labels, { dtype = "int64" }) }
    end
    ev:add(preds)
    same_stats(case.stats, ev:stats().stats, "torchvision form")
  end)

  it("reads a results file and saves a BenchmarkResult with sotabench's names", function()
    local case = cases[1]
    local path = annotations_file(1, case)
    local dets = dir .. "/dets1.json"
    tmp.write(dets, cjson.encode(case.dets))
    local ev = sb.eval.COCO { annotations = path, images = "all", model_name = "My Detector" }
    ev:add_results(dets)
    local r = ev:results()
    for _, k in ipairs { "box AP", "AP50", "AP75", "APS", "APM", "APL" } do
      assert.is_number(r[k], k)
    end
    local saved = ev:save():to_dict()
    assert.are.equal("COCO minival", saved.dataset_name)
    assert.are.equal("Object Detection", saved.task)
    assert.are.equal("My Detector", saved.model)
  end)

  it("refuses an image id that is not in the annotations, naming it", function()
    local path = annotations_file(1, cases[1])
    local ev = sb.eval.COCO { annotations = path }
    assert.has_error(function() ev:add { [987654321] = {} } end,
      "sb.eval.COCO:add: image 987654321 is not in " .. path)
  end)

  it("refuses an image added twice, naming it", function()
    local case = cases[1]
    local path = annotations_file(1, case)
    local id = cjson.decode(case.gt).images[1].id
    local ev = sb.eval.COCO { annotations = path }
    ev:add { [id] = {} }
    assert.has_error(function() ev:add { [id] = {} } end,
      ("sb.eval.COCO:add: image %d was already added"):format(id))
  end)

  it("says where an annotation file is malformed", function()
    local path = dir .. "/broken.json"
    tmp.write(path, '{"images": [{"id": 1}],\n "categories": [{"id": 1}, ]}')
    local ok, err = pcall(sb.eval.COCO, { annotations = path })
    assert.is_false(ok)
    assert.matches("broken.json: line 2, column", err, 1, true)
    tmp.write(path, '{"images": [], "categories": []}')
    ok, err = pcall(sb.eval.COCO, { annotations = path })
    assert.is_false(ok)
    assert.matches('no "annotations" array', err, 1, true)
    ok, err = pcall(sb.eval.COCO, { annotations = dir .. "/missing.json" })
    assert.is_false(ok)
    assert.matches("missing.json: No such file", err, 1, true)
  end)

  it("rejects unknown options and a bad images option", function()
    local path = annotations_file(1, cases[1])
    assert.has_error(function() sb.eval.COCO { annotations = path, image = "all" } end)
    assert.has_error(function() sb.eval.COCO { annotations = path, images = "some" } end)
  end)
end)
