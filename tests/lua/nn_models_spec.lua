-- The example models against PyTorch: LeNet-5 (trained weights, first 512 MNIST test
-- images) and the small ResNet defined in Lua (random-init PyTorch weights).
local sb = require "sbengine"

local src = os.getenv("SBENGINE_SOURCE_DIR")
local fixtures = os.getenv("SBENGINE_FIXTURES") .. "/nn/"

local function max_abs_diff(a, b)
  return (a - b):abs():max():item()
end

describe("examples/models/lenet5.lua", function()
  it("matches PyTorch on the first 512 MNIST test images", function()
    local model = dofile(src .. "/examples/models/lenet5.lua")
    assert.is_false(model.training)
    local fx = sb.io.load_safetensors(fixtures .. "lenet5_mnist_first512.safetensors")
    -- torchvision's ToTensor + Normalize((0.1307,), (0.3081,)), in float32
    local x = (fx.images:float() / 255 - 0.1307) / 0.3081
    local y = model(x)
    assert.same({512, 10}, {y:size(1), y:size(2)})
    local err = max_abs_diff(y, fx.logits)
    assert.is_true(err <= 1e-4, "max abs error " .. err)
    assert.equal(512, y:argmax(2):eq(fx.logits:argmax(2)):sum():item())
    -- and it is a good model: the labels agree with the argmax almost always
    local correct = y:argmax(2):eq(fx.labels + 1):sum():item()
    assert.is_true(correct >= 505, "correct " .. correct)
  end)

  it("gives the same outputs batch by batch", function()
    local model = dofile(src .. "/examples/models/lenet5.lua")
    local fx = sb.io.load_safetensors(fixtures .. "lenet5_mnist_first512.safetensors")
    local x = (fx.images:narrow(1, 101, 7):float() / 255 - 0.1307) / 0.3081
    local err = max_abs_diff(model(x), fx.logits:narrow(1, 101, 7))
    assert.is_true(err <= 1e-4, "max abs error " .. err)
  end)
end)

describe("examples/models/small_resnet.lua", function()
  it("loads PyTorch's state_dict (num_batches_tracked ignored) and matches within 1e-3", function()
    local model = dofile(src .. "/examples/models/small_resnet.lua")
    local r = model:load_state_dict(fixtures .. "small_resnet.safetensors")
    assert.same({}, r.missing_keys)
    assert.same({}, r.unexpected_keys)
    local io_fx = sb.io.load_safetensors(fixtures .. "small_resnet_io.safetensors")
    local y = model(io_fx.input)
    local err = max_abs_diff(y, io_fx.output)
    assert.is_true(err <= 1e-3, "max abs error " .. err)
    -- the names PyTorch uses, from fields assigned in Lua
    local sd = model:state_dict()
    assert.truthy(sd["layer2.0.downsample.1.running_var"])
    assert.truthy(sd["layer1.1.bn2.weight"])
    assert.truthy(sd["fc.bias"])
  end)
end)
