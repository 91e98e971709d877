-- sb.models: every architecture has torchvision 0.14's state_dict keys and shapes (committed
-- fixture tests/fixtures/models/keys.lua), and, when Debian's python3-torchvision is
-- installed, matches torchvision's outputs on random weights loaded from .pth (zip and legacy)
-- and .safetensors files written at test time by tools/fixtures/models_torchvision.py (cached
-- in $SBENGINE_MODEL_CACHE, default ~/.cache/sbengine/torchvision-fixtures).
local sb = require "sbengine"
local init = require "sbengine.nn._weight_init"

local source = os.getenv("SBENGINE_SOURCE_DIR") or "."
local keys = dofile((os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") .. "/models/keys.lua")

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

describe("sb.models", function()
  it("lists every architecture of the keys fixture", function()
    assert.are.same(sorted_keys(keys), sb.models.list())
  end)

  for _, name in ipairs(sorted_keys(keys)) do
    it(name .. " has torchvision's state_dict keys and shapes", function()
      local model = init.without_random(sb.models[name])
      local sd = model:state_dict()
      local want = {}
      for _, e in ipairs(keys[name]) do
        want[e[1]] = true
        local t = sd[e[1]]
        assert.is_not_nil(t, name .. ": missing " .. e[1])
        assert.are.same(e[2], t:size(), name .. ": " .. e[1])
      end
      for k in pairs(sd) do assert.is_true(want[k] ~= nil, name .. ": extra key " .. k) end
      assert.is_false(model.training)
      model, sd = nil, nil
      collectgarbage()
    end)
  end

  it("builds the classifier for num_classes, and checks its options", function()
    local m = sb.models.resnet18{num_classes = 7}
    assert.are.same({7, 512}, m.fc.weight:size())
    assert.are.same({2, 7}, m(sb.randn(2, 3, 32, 32)):size())
    local ok, err = pcall(sb.models.resnet18, {num_class = 7})
    assert.is_false(ok)
    assert.truthy(err:find("sb.models.resnet18: unknown option 'num_class' (known: num_classes, " ..
      "progress, strip_prefix, weights, weights_key)", 1, true), err)
    ok, err = pcall(sb.models.vgg16, {num_classes = 0})
    assert.truthy(err:find("num_classes must be a positive integer, got 0", 1, true))
    ok, err = pcall(sb.models.resnet18, {weights = "/nonexistent.pth"})
    assert.truthy(err:find("sb.models.resnet18: ", 1, true) and err:find("cannot open", 1, true), err)
  end)

  it("names the mismatch when the weights are another architecture's", function()
    local path = os.tmpname() .. ".safetensors"
    sb.io.save_safetensors(path, sb.models.resnet18{num_classes = 3}:state_dict())
    local ok, err = pcall(sb.models.resnet18, {weights = path})
    os.remove(path)
    assert.is_false(ok)
    assert.truthy(err:find("shape mismatch for fc.weight: expected [1000, 512], got [3, 512]", 1, true), err)
  end)
end)

-- ---- parity with torchvision (needs python3-torchvision) -------------------------------

local python = "/usr/bin/python3"
local function have_torchvision()
  return os.execute(python .. " -c 'import torchvision' >/dev/null 2>&1") == true
end

-- FNV-1a of the generator script, so that a changed script never reuses stale files.
local function script_hash(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  local h = 2166136261
  for i = 1, #text do h = ((h ~ text:byte(i)) * 16777619) & 0xffffffff end
  return ("%08x"):format(h)
end

-- {name, format[, size]}: the architectures of the issue that sb.models has, the three file formats.
local parity = {
  {"resnet18", "zip"}, {"resnet34", "legacy"}, {"resnet50", "safetensors"},
  {"resnet101", "zip"}, {"resnet152", "legacy"}, {"resnext50_32x4d", "zip"},
  {"wide_resnet50_2", "legacy"}, {"vgg16", "zip"}, {"vgg16_bn", "safetensors"},
  {"alexnet", "legacy"}, {"mobilenet_v2", "legacy"}, {"mobilenet_v3_large", "zip"},
  {"mobilenet_v3_small", "safetensors"}, {"efficientnet_b0", "zip"},
  {"efficientnet_b1", "safetensors"}, {"efficientnet_b2", "legacy"}, {"efficientnet_b3", "zip"},
  {"efficientnet_b4", "safetensors"}, {"efficientnet_b5", "legacy"}, {"efficientnet_b6", "zip"},
  {"efficientnet_b7", "legacy"},
  {"densenet121", "safetensors"}, {"squeezenet1_0", "zip"}, {"squeezenet1_1", "legacy"},
  {"convnext_tiny", "zip"}, {"vit_b_16", "legacy", size = 224}, -- a ViT takes its image size only
}

-- The sanitizer build checks memory safety, not numerics (the release build does): there one
-- small architecture per file format keeps the suite short.
if os.getenv("SB_LUA_SANITIZER_PRELOAD") then
  parity = {{"resnet18", "zip"}, {"mobilenet_v3_small", "safetensors"}, {"squeezenet1_1", "legacy"}}
end

describe("sb.models parity with torchvision", function()
  if not have_torchvision() then
    pending("needs Debian's python3-torchvision (tools/setup's dev packages)")
    return
  end
  local script = source .. "/tools/fixtures/models_torchvision.py"
  local cache = (os.getenv("SBENGINE_MODEL_CACHE") or
    ((os.getenv("HOME") or "/tmp") .. "/.cache/sbengine/torchvision-fixtures")) .. "/" ..
    script_hash(script)
  for _, case in ipairs(parity) do
    local name, format = case[1], case[2]
    it(name .. " (" .. format .. ") matches torchvision within 1e-4 with the same argmax", function()
      local ext = format == "safetensors" and ".safetensors" or ".pth"
      local dir = cache .. "/" .. format
      local weights = dir .. "/" .. name .. ext
      local io_path = dir .. "/" .. name .. "_io.safetensors"
      local f = io.open(io_path, "rb")
      if f then
        f:close()
      else
        local cmd = ("%s %s %s %s --format %s"):format(python, script, name, dir, format)
        if case.size then cmd = cmd .. " --size " .. case.size .. " --batch 1" end
        assert.is_true(os.execute(cmd) == true, cmd)
      end
      local model = sb.models[name]{weights = weights}
      local ref = sb.io.load_safetensors(io_path)
      local y = model(ref.input)
      local want = ref.output
      local diff = (y - want):abs():max():item()
      local scale = want:abs():max():item()
      assert.is_true(diff <= 1e-4 * scale, ("%s: max abs diff %g, max |ref| %g"):format(name, diff, scale))
      assert.are.same(want:argmax(2):totable(), y:argmax(2):totable())
      model = nil
      collectgarbage()
    end)
  end
end)
