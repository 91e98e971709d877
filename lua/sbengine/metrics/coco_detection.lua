-- coco_detection{annotations = PATH, images = "added"|"all"}: bounding-box AP and AR exactly as
-- pycocotools' COCOeval (iouType "bbox") computes them (engine/eval/coco.c; docs/evaluators.md).
--   add(output, target): output is a list with one prediction per image, either torchvision's
--     {boxes = (K, 4) x1 y1 x2 y2, scores = (K), labels = (K) category ids} or a COCO results
--     list {{bbox = {x, y, w, h}, score =, category_id =}, ...}; target is the list (or a 1-D
--     tensor) of their image ids, or of tables with an image_id (torchbench's targets).
--   value(): {AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl, stats = {12}};
--     -1 where COCOeval gives -1 (nothing to score against).
-- images = "added" (default) evaluates the images given to add, as torchvision's and
-- sotabench-eval's CocoEvaluator do; "all" every image of the annotation file (COCOeval's
-- default). The state is the detections and image ids ("cat"): shards of images merge exactly.
local coco = require "sbengine._coco"
local metrics = require "sbengine.metrics"

metrics.register("coco_detection", metrics.define {
  name = "coco_detection",
  state = { dets = "cat", images = "cat" },
  setup = function(opts)
    opts.images = opts.images or "added"
    if opts.images ~= "added" and opts.images ~= "all" then
      error(("coco_detection: option images must be \"added\" or \"all\", got %s")
        :format(tostring(opts.images)), 3)
    end
    -- parsed once, at create: a wrong path fails there, and add() checks ids against it
    -- (sb.eval.COCO hands over the one it parsed)
    opts._gt = opts._gt or coco.annotations(opts.annotations, 3)
    return opts
  end,
  init = function() return { dets = {}, images = {} } end,
  update = function(state, output, target, opts)
    -- level 3: update <- m:add <- the line that called m:add
    local gt = opts._gt
    if type(target) == "userdata" and target.totable then target = target:totable() end
    if type(output) ~= "table" or type(target) ~= "table" or #output ~= #target then
      error(("coco_detection: add(output, target) takes a list of predictions and the list of "
        .. "their image ids, of the same length (got %d and %d)")
        :format(type(output) == "table" and #output or 0,
          type(target) == "table" and #target or 0), 3)
    end
    for i = 1, #target do
      local t = target[i]
      if type(t) == "table" then t = t.image_id end
      local id = coco.image_id(t, "coco_detection", 3)
      if not gt:has_image(id) then
        error(("coco_detection: image %d is not in %s"):format(id, opts.annotations), 3)
      end
      state.images[#state.images + 1] = id
      coco.append(state.dets, id, output[i], ("coco_detection: image %d"):format(id), 3)
    end
  end,
  compute = function(state, opts)
    local gt = opts._gt
    local stats = gt:evaluate(opts.images == "added" and state.images or nil, state.dets)
    local v = { stats = stats }
    for i, name in ipairs(coco.STAT_NAMES) do v[name] = stats[i] end
    return v
  end,
})
