-- ImageNet end to end: zoo models from PyTorch checkpoints, evaluated by the ImageNet benchmark
-- on a tree of real JPEGs at ImageNet's sizes and encodings (tests/fixtures/imagenet_tree,
-- from tools/fixtures/imagenet_tree.py), give the same per-image top-1 and top-5 predictions,
-- and the same accuracies, as torchvision's own evaluation (ImageFolder + the default
-- transforms + the same checkpoint: tools/fixtures/imagenet_e2e.py, run here when Debian's
-- python3-torchvision is installed, cached in $SBENGINE_MODEL_CACHE).
-- One model goes through the command line (`sbengine benchmarks/imagenet.lua MODEL.lua`), one
-- through a submission script's `require("sbengine.benchmarks.imagenet").benchmark{...}`.
local sb = require "sbengine"
local H = require "data_helper"

local source = os.getenv("SBENGINE_SOURCE_DIR") or "."
local tree = (os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") .. "/imagenet_tree"
local python = "/usr/bin/python3"

-- FNV-1a of the generator scripts, so that a changed script never reuses stale files.
local function scripts_hash(paths)
  local h = 2166136261
  for _, path in ipairs(paths) do
    local text = H.read(path)
    for i = 1, #text do h = ((h ~ text:byte(i)) * 16777619) & 0xffffffff end
  end
  return ("%08x"):format(h)
end

local function reference(name, format)
  local script = source .. "/tools/fixtures/imagenet_e2e.py"
  local dir = (os.getenv("SBENGINE_MODEL_CACHE") or
    ((os.getenv("HOME") or "/tmp") .. "/.cache/sbengine/torchvision-fixtures")) .. "/imagenet-e2e-" ..
    scripts_hash { script, source .. "/tools/fixtures/models_torchvision.py" } .. "/" .. format
  local predictions = dir .. "/" .. name .. "_predictions.lua"
  if not io.open(predictions) then
    local cmd = ("%s %s %s %s %s --format %s >/dev/null"):format(python, script, name, tree, dir, format)
    assert.is_true(os.execute(cmd) == true, cmd)
  end
  local ext = format == "safetensors" and ".safetensors" or ".pth"
  return dir .. "/" .. name .. ext, dofile(predictions)
end

-- Per image, in the loader's (file) order: the top-6 class ids of torchvision's output.
-- Ranks are compared where torchvision's scores are apart by more than float32 noise: two
-- scores within 1e-4 of each other may come in either order (the same tolerance as the
-- architecture parity test).
local function assert_same_predictions(want, got_rows)
  assert.equal(#want.images, #got_rows)
  for i, w in ipairs(want.images) do
    local got = got_rows[i]
    for r = 1, 5 do
      if got[r] ~= w.top[r] then
        local tied = false
        for s = 1, 6 do
          if w.top[s] == got[r] and math.abs(w.scores[s] - w.scores[r]) <= 1e-4 * math.abs(w.scores[1]) then tied = true end
        end
        assert.is_true(tied, ("%s: rank %d is class %d, torchvision's is %d (%s vs %s)"):format(
          w.file, r, got[r], w.top[r], table.concat(got, " ", 1, 5), table.concat(w.top, " ", 1, 5)))
      end
    end
  end
end

describe("ImageNet end to end against torchvision", function()
  if os.execute(python .. " -c 'import torchvision' >/dev/null 2>&1") ~= true then
    pending("needs Debian's python3-torchvision (tools/setup's dev packages)")
    return
  end
  if os.getenv("SB_LUA_SANITIZER_PRELOAD") then
    pending("numerics are checked in the release build (224x224 convnets are slow under ASan)")
    return
  end
  local tmp
  setup(function() tmp = H.tmpdir() end)
  teardown(function() H.rmtree(tmp) end)

  it("resnet18 from a zip .pth through `sbengine benchmarks/imagenet.lua MODEL.lua`", function()
    local weights, want = reference("resnet18", "zip")
    -- The model file returns a function that records each row's top-5 before returning the output.
    H.write(tmp .. "/model.lua", ([[
local sb = require "sbengine"
local model = sb.models.resnet18{weights = %q}
local log = assert(io.open(%q, "w"))
return function(x)
  local y = model(x)
  local _, ids = y:topk(5, 2)
  for _, row in ipairs(ids:totable()) do log:write(table.concat(row, " "), "\n") end -- 1-based
  log:flush()
  return y
end
]]):format(weights, tmp .. "/rows.txt"))
    local store = tmp .. "/store.json"
    local cmd = ("SOTABENCH_STORE_FILENAME=%q %q --data-root %q %s/benchmarks/imagenet.lua " ..
      "--batch-size 3 --num-workers 2 %q >%q 2>&1"):format(store, os.getenv("SBENGINE"), tree,
      source, tmp .. "/model.lua", tmp .. "/out.txt")
    assert.is_true(os.execute(cmd) == true, H.read(tmp .. "/out.txt"))
    local rows = {}
    for line in io.lines(tmp .. "/rows.txt") do
      local row = {}
      for id in line:gmatch("%d+") do row[#row + 1] = tonumber(id) - 1 end -- class ids from 0
      rows[#rows + 1] = row
    end
    assert_same_predictions(want, rows)
    local stored = require("cjson").decode(H.read(store))
    assert.equal(1, #stored)
    assert.equal("ImageNet", stored[1].dataset_name)
    assert.near(want.top1, stored[1].results["Top 1 Accuracy"], 1e-12)
    assert.near(want.top5, stored[1].results["Top 5 Accuracy"], 1e-12)
  end)

  it("efficientnet_b0 from a legacy .pth through a submission script's benchmark{...}", function()
    local weights, want = reference("efficientnet_b0", "legacy")
    local model = sb.models.efficientnet_b0{weights = weights}
    local rows = {}
    local ImageNet = require "sbengine.benchmarks.imagenet"
    local result = ImageNet.benchmark{
      model = function(x)
        local y = model(x)
        local _, ids = y:topk(5, 2)
        for _, row in ipairs(ids:totable()) do -- 1-based positions; class ids count from 0
          for r = 1, #row do row[r] = row[r] - 1 end
          rows[#rows + 1] = row
        end
        return y
      end,
      paper_model_name = "EfficientNet-B0", data_root = tree, batch_size = 3, num_workers = 2,
      pytorch_hub_url = "pytorch/vision:v0.14.1/efficientnet_b0",
    }
    assert_same_predictions(want, rows)
    local r = result:to_dict()
    assert.near(want.top1, r.results["Top 1 Accuracy"], 1e-12)
    assert.near(want.top5, r.results["Top 5 Accuracy"], 1e-12)
    assert.equal("pytorch/vision:v0.14.1/efficientnet_b0", r.pytorch_hub_id)
  end)
end)
