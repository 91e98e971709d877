-- Fused inference convolutions: conv2d's batch_norm / residual / activation options,
-- sb.nn.conv_bn and Sequential's fused groups, against the same ops run one after another
-- (themselves checked against PyTorch in nn_functional_spec and nn_activations_spec).
-- Tolerance: 2e-6 of the output's largest magnitude (folding batch norm into the weights
-- rounds once instead of three times). Channel counts 8 and 64 cover the engine's own
-- kernel and oneDNN (from 32 output channels up) when oneDNN is present.
local sb = require "sbengine"
local nn = sb.nn
local F = nn.functional

local TOL = 2e-6

local function rel_diff(a, b)
  return (a - b):abs():max():item() / math.max(b:abs():max():item(), 1e-30)
end

local act_ref = {
  relu = function(x) return F.relu(x) end,
  relu6 = function(x) return x:clamp(0, 6) end,
  hardswish = function(x) return x * (x + 3):clamp(0, 6) / 6 end,
  silu = function(x) return x * F.sigmoid(x) end,
}

local function reference(x, w, b, bn, res, act, opts)
  local y = F.conv2d(x, w, b, opts)
  if bn then
    y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, {eps = bn.eps})
  end
  if res then y = y + res end
  if act then y = act_ref[act](y) end
  return y
end

local function fused(x, w, b, bn, res, act, opts)
  local o = {batch_norm = bn, residual = res, activation = act}
  for k, v in pairs(opts) do o[k] = v end
  return F.conv2d(x, w, b, o)
end

describe("conv2d with batch_norm, residual and activation fused", function()
  for _, o in ipairs({8, 64}) do
    for _, act in ipairs({"relu", "relu6", "hardswish", "silu", false}) do
      it(("matches the separate ops (%d channels, activation %s)"):format(o, tostring(act)), function()
        sb.manual_seed(o)
        local x = sb.randn(3, 16, 9, 9)
        local w, b = sb.randn(o, 16, 3, 3) * 0.1, sb.randn(o)
        local bn = {running_mean = sb.randn(o), running_var = sb.rand(o) + 0.5,
                    weight = sb.randn(o), bias = sb.randn(o), eps = 1e-3}
        local opts = {padding = 1, stride = 1}
        local res = sb.randn(3, o, 9, 9)
        act = act or nil
        for _, case in ipairs({{bn, res}, {bn, nil}, {nil, res}}) do
          local ref = reference(x, w, b, case[1], case[2], act, opts)
          assert.is_true(rel_diff(fused(x, w, b, case[1], case[2], act, opts), ref) < TOL)
          -- a second call uses the prepared weights
          assert.is_true(rel_diff(fused(x, w, b, case[1], case[2], act, opts), ref) < TOL)
        end
        -- no bias, no batch-norm affine parameters, strided
        local bn2 = {running_mean = bn.running_mean, running_var = bn.running_var}
        local o2 = {stride = 2, padding = 1}
        local ref = reference(x, w, nil, bn2, nil, act, o2)
        assert.is_true(rel_diff(fused(x, w, nil, bn2, nil, act, o2), ref) < TOL)
      end)
    end

    it(("follows in-place changes of every tensor involved (%d channels)"):format(o), function()
      sb.manual_seed(7)
      local x = sb.randn(2, 16, 6, 6)
      local w, b = sb.randn(o, 16, 3, 3) * 0.1, sb.randn(o)
      local bn = {running_mean = sb.randn(o), running_var = sb.rand(o) + 0.5,
                  weight = sb.randn(o), bias = sb.randn(o), eps = 1e-5}
      local function check()
        for _ = 1, 2 do
          local ref = reference(x, w, b, bn, nil, "relu", {padding = 1})
          assert.is_true(rel_diff(fused(x, w, b, bn, nil, "relu", {padding = 1}), ref) < TOL)
        end
      end
      check()
      w:mul_(-2); check()
      b:add_(1); check()
      bn.running_mean:copy(sb.randn(o)); check()
      bn.running_var:fill(2); check()
      bn.weight[1] = 5; check()
      bn.bias:sub_(3); check()
      bn.eps = 0.5; check()
    end)
  end

  it("rejects what it cannot do, naming the argument", function()
    local x, w = sb.zeros(1, 2, 8, 8), sb.zeros(4, 2, 3, 3)
    local bn = {running_mean = sb.zeros(4), running_var = sb.ones(4)}
    local function fails(pattern, opts)
      local ok, err = pcall(F.conv2d, x, w, nil, opts)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
    end
    fails("conv2d: residual must have the output's shape [1, 4, 6, 6], got [1, 4, 8, 8]",
          {residual = sb.zeros(1, 4, 8, 8)})
    fails("conv2d: batch_norm running_mean must have shape [4] (out_channels), got [2]",
          {batch_norm = {running_mean = sb.zeros(2), running_var = sb.ones(4)}})
    fails("conv2d: batch_norm needs running_mean and running_var", {batch_norm = {running_mean = sb.zeros(4)}})
    fails("conv2d: batch_norm: unknown field 'mean'", {batch_norm = {mean = sb.zeros(4)}})
    fails("conv2d: the fused max pooling combines only with the ReLU activation",
          {batch_norm = bn, max_pool = 2, activation = "relu"})
    fails("conv2d: residual must be a tensor, got number", {residual = 1})
  end)
end)

describe("sb.nn.conv_bn and Sequential's fused groups", function()
  local function model(c, o)
    sb.manual_seed(3)
    local conv, bn = nn.Conv2d(c, o, 3, {padding = 1, bias = false}), nn.BatchNorm2d(o)
    bn.running_mean:copy(sb.randn(o)); bn.running_var:copy(sb.rand(o) + 0.5)
    bn.weight:copy(sb.randn(o)); bn.bias:copy(sb.randn(o))
    bn:eval()
    return conv, bn
  end

  it("computes act(bn(conv(x)) + residual) and follows load_state_dict", function()
    for _, o in ipairs({8, 64}) do
      local conv, bn = model(16, o)
      local x, res = sb.randn(2, 16, 7, 7), sb.randn(2, o, 7, 7)
      local ref = F.relu(bn(conv(x)) + res)
      assert.is_true(rel_diff(nn.conv_bn(x, conv, bn, {activation = "relu", residual = res}), ref) < TOL)
      assert.is_true(rel_diff(nn.conv_bn(x, conv, bn, {activation = "relu", residual = res}), ref) < TOL)
      local sd = {weight = conv.weight * 0.5}
      conv:load_state_dict(sd)
      ref = F.relu(bn(conv(x)) + res)
      assert.is_true(rel_diff(nn.conv_bn(x, conv, bn, {activation = "relu", residual = res}), ref) < TOL)
      -- a new tensor assigned as the parameter
      conv.weight = nn.Parameter(sb.randn(o, 16, 3, 3))
      ref = bn(conv(x))
      assert.is_true(rel_diff(nn.conv_bn(x, conv, bn), ref) < TOL)
    end
  end)

  it("calls the modules when they cannot be fused (training mode, subclasses)", function()
    local conv, bn = model(4, 8)
    bn:train()
    local ok, err = pcall(nn.conv_bn, sb.randn(1, 4, 5, 5), conv, bn)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("BatchNorm2d: batch statistics", 1, true), tostring(err))
    bn:eval()
    local calls = 0
    function conv:forward(x) calls = calls + 1; return F.conv2d(x, self.weight, self.bias, self._opts) end
    nn.conv_bn(sb.randn(1, 4, 5, 5), conv, bn, {activation = "silu"})
    assert.are.equal(1, calls)
    local ok2, err2 = pcall(nn.conv_bn, sb.randn(1, 4, 5, 5), conv, bn, {activation = "gelu"})
    assert.is_false(ok2)
    assert.truthy(tostring(err2):find("conv_bn: activation must be", 1, true), tostring(err2))
  end)

  it("fuses Conv2d + BatchNorm2d + activation in a Sequential, and forward_add", function()
    for _, o in ipairs({8, 64}) do
      for _, Act in ipairs({nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU}) do
        local conv, bn = model(o, o)
        local conv2, bn2 = model(o, o)
        local seq = nn.Sequential(conv, bn, Act(), conv2, bn2):eval()
        local x = sb.randn(2, o, 6, 6)
        local ref = bn2(conv2(Act()(bn(conv(x)))))
        assert.is_true(rel_diff(seq(x), ref) < TOL)
        assert.is_true(rel_diff(seq:forward_add(x, x), ref + x) < TOL)
        -- ending in an activation: the add comes after it
        local seq2 = nn.Sequential(conv, bn, Act())
        local ref2 = Act()(bn(conv(x))) + x
        assert.is_true(rel_diff(seq2:forward_add(x, x), ref2) < TOL)
      end
    end
  end)
end)

describe("channels-last results between convolutions", function()
  it("gives the same values, laid out NHWC, and takes them back as inputs and residuals", function()
    for _, o in ipairs({8, 64}) do
      sb.manual_seed(11)
      local x = sb.randn(3, 16, 7, 7)
      local w1, w2 = sb.randn(o, 16, 3, 3) * 0.1, sb.randn(o, o, 1, 1) * 0.1
      local bn = {running_mean = sb.randn(o), running_var = sb.rand(o) + 0.5}
      local y = F.conv2d(x, w1, nil, {padding = 1, batch_norm = bn, activation = "relu",
                                      channels_last = true})
      local ref = reference(x, w1, nil, bn, nil, "relu", {padding = 1})
      assert.is_true(rel_diff(y, ref) < TOL)
      if o > 1 then
        -- on the CPU the values sit in NHWC order: a strided [N, C, H, W] view
        assert.is_false(y:is_contiguous())
        assert.are.equal(1, y:stride(2))
      end
      -- a channels-last input and residual give what their contiguous copies give
      local z = F.conv2d(y, w2, nil, {residual = y, activation = "silu"})
      local zref = F.conv2d(y:contiguous(), w2, nil, {residual = y:contiguous(), activation = "silu"})
      assert.is_true(z:is_contiguous())
      assert.is_true(rel_diff(z, zref) < TOL)
      local z2 = F.conv2d(y, w2, nil, {residual = y, channels_last = true})
      assert.is_true(rel_diff(z2, F.conv2d(y:contiguous(), w2, nil, {residual = y:contiguous()})) < TOL)
      -- ops other than conv2d read it as any strided tensor
      assert.is_true(rel_diff(F.max_pool2d(y, 2), F.max_pool2d(y:contiguous(), 2)) == 0)
    end
  end)

  it("fuses through nested Sequentials (Conv2dNormActivation) with the same result", function()
    local ops = require "sbengine.models.ops"
    sb.manual_seed(5)
    local seq = nn.Sequential(ops.Conv2dNormActivation(8, 48, {activation = nn.ReLU6}),
      ops.Conv2dNormActivation(48, 48, {groups = 48, activation = nn.ReLU6}),
      nn.Conv2d(48, 40, 1, {bias = false}), nn.BatchNorm2d(40)):eval()
    for _, m in ipairs(seq:modules()) do
      if m:class_name() == "BatchNorm2d" then
        m.running_mean:copy(sb.randn(m.num_features)); m.running_var:copy(sb.rand(m.num_features) + 0.5)
      end
    end
    local x = sb.randn(2, 8, 10, 10)
    local ref = x
    for _, m in ipairs({seq[1][1], seq[1][2], seq[1][3], seq[2][1], seq[2][2], seq[2][3], seq[3], seq[4]}) do
      ref = m(ref)
    end
    local y = seq(x)
    assert.is_true(y:is_contiguous())
    assert.is_true(rel_diff(y, ref) < TOL)
  end)
end)

describe("sb.models' ResNet with fused blocks", function()
  it("hands channels-last results between its own blocks only", function()
    sb.manual_seed(2)
    local m = sb.models.resnet18 {num_classes = 10}
    m:eval()
    local x = sb.randn(2, 64, 8, 8)
    local y = m.layer1(x) -- a layer called directly returns an ordinary contiguous tensor
    assert.is_true(y:is_contiguous())
    local ref = x
    for _, block in ipairs(m.layer1:children()) do ref = block(ref) end
    assert.is_true(rel_diff(y, ref) == 0)
    assert.is_true(m(sb.randn(2, 3, 32, 32)):is_contiguous())
  end)
end)
