-- What the evaluators' specs share: their fixtures (tests/fixtures/eval/, written by
-- tools/fixtures/{coco_fixtures,coco_segm_fixtures,squad,bleu}.py), a folder for the files they
-- write, and the COCO specs' checks of a case.
local cjson = require "cjson"
local tmp = require "tmpfiles"
local assert = require "luassert"

local M = { dir = tmp.tmpdir() }

--- The decoded fixture tests/fixtures/eval/NAME.
function M.fixture(name)
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/eval/" .. name))
  local d = cjson.decode(f:read("a"))
  f:close()
  return d
end

--- Writes `text` to DIR/NAME and returns the path.
function M.file(name, text)
  local path = M.dir .. "/" .. name
  tmp.write(path, text)
  return path
end

--- Fails unless `got` holds the 12 numbers of `expected` (COCOeval.stats) to 1e-12.
function M.same_stats(expected, got, what)
  assert.are.equal(12, #got, what .. ": 12 numbers")
  for k = 1, 12 do
    assert(math.abs(expected[k] - got[k]) <= 1e-12,
      ("%s: stats[%d] expected %.17g, got %.17g"):format(what, k, expected[k], got[k]))
  end
end

-- a COCO case's detections grouped by image, and the evaluated image ids in a stable order
local function by_image(case)
  local groups, ids, seen = {}, {}, {}
  for _, d in ipairs(case.dets) do
    local id = d.image_id
    groups[id] = groups[id] or {}
    table.insert(groups[id], d)
    if not seen[id] then seen[id], ids[#ids + 1] = true, id end
  end
  if case.images then
    ids = {}
    for _, id in ipairs(case.images) do ids[#ids + 1] = id end
  end
  return groups, ids
end
M.coco_by_image = by_image

--- A case of coco_bbox.json / coco_segm.json (annotation file at `path`) through the meter
-- `meter` (coco_detection or coco_segmentation), two merged shards of it, and sb.eval.COCO
-- with iou_type `iou_type`: each must give the case's stats.
function M.check_coco_case(case, path, meter, iou_type)
  local sb = require "sbengine"
  local groups, ids = by_image(case)
  local images = case.images and "added" or "all"
  local m = sb.metrics.create(meter, { annotations = path, images = images })
  local output = {}
  for k, id in ipairs(ids) do output[k] = groups[id] or {} end
  m:add(output, ids)
  M.same_stats(case.stats, m:value().stats, case.name)

  local a = sb.metrics.create(meter, { annotations = path, images = images })
  local b = sb.metrics.create(meter, { annotations = path, images = images })
  local half = #ids // 2
  for k, id in ipairs(ids) do
    (k <= half and a or b):add({ groups[id] or {} }, { id })
  end
  a:merge(b:state())
  M.same_stats(case.stats, a:value().stats, case.name .. " (merged shards)")

  local ev = sb.eval.COCO { annotations = path, images = images, iou_type = iou_type }
  if case.images then
    local preds = {}
    for _, id in ipairs(ids) do preds[id] = groups[id] or {} end
    ev:add(preds)
  else
    ev:add_results(case.dets)
  end
  M.same_stats(case.stats, ev:stats().stats, case.name .. " (sb.eval.COCO)")
end

return M
