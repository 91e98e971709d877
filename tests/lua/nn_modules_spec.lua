-- sb.nn modules: subclassing, registration order, state_dict, load_state_dict, modes.
local sb = require "sbengine"
local nn = sb.nn

local function shape(t)
  local s = {}
  for i = 1, t:dim() do s[i] = t:size(i) end
  return s
end

local function names(iter)
  local out = {}
  for name in iter do out[#out + 1] = name end
  return out
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".safetensors"
end

local function errmsg(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return tostring(err)
end

describe("sb.nn.Module", function()
  local Block = nn.Module:extend("Block")
  function Block:init(c)
    self.conv = nn.Conv2d(c, c, 3, {padding = 1})
    self.bn = nn.BatchNorm2d(c)
    self.act = nn.ReLU()
    self.scale = sb.nn.Parameter(sb.ones(c))
    self.note = "not registered"
  end
  function Block:forward(x)
    return self.act(self.bn(self.conv(x)) + x)
  end

  it("registers child modules under field names in assignment order", function()
    local b = Block(2)
    -- PyTorch's order: a module's own parameters, then its children's, depth first
    assert.same({"scale", "conv.weight", "conv.bias", "bn.weight", "bn.bias"}, names(b:named_parameters()))
    assert.same({"bn.running_mean", "bn.running_var"}, names(b:named_buffers()))
    assert.same({"", "conv", "bn", "act"}, names(b:named_modules()))
    assert.same({"conv", "bn", "act"}, names(b:named_children()))
    assert.equal(5, #b:parameters())
    assert.equal("not registered", b.note)
    assert.equal("Block", b:class_name())
  end)

  it("nests: keys follow PyTorch's dotted names", function()
    local Net = nn.Module:extend("Net")
    function Net:init()
      self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), Block(2))
      self.fc = nn.Linear(2, 3)
    end
    function Net:forward(x) return self.fc(x) end
    local sd = Net():state_dict()
    assert.same({"fc.bias", "fc.weight", "features.0.bias", "features.0.weight",
                 "features.2.bn.bias", "features.2.bn.running_mean", "features.2.bn.running_var",
                 "features.2.bn.weight", "features.2.conv.bias", "features.2.conv.weight",
                 "features.2.scale"}, keys(sd))
  end)

  it("replacing a child keeps its place; assigning a non-module removes it", function()
    local b = Block(2)
    b.conv = nn.Conv2d(2, 2, 1)
    assert.same({"conv", "bn", "act"}, names(b:named_children()))
    assert.same({2, 2, 1, 1}, shape(b.conv.weight))
    b.act = nil
    assert.same({"conv", "bn"}, names(b:named_children()))
  end)

  it("is callable and runs forward", function()
    local b = Block(2):eval()
    local y = b(sb.ones(1, 2, 4, 4))
    assert.same({1, 2, 4, 4}, shape(y))
  end)

  it("a class without forward says so", function()
    local Empty = nn.Module:extend("Empty")
    assert.truthy(errmsg(Empty(), sb.zeros(1)):find("Empty:forward is not implemented", 1, true))
  end)

  it("eval/train switch every module; Dropout is the identity in eval", function()
    local m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    assert.is_true(m.training)
    assert.is_true(m[2].training)
    m:eval()
    assert.is_false(m[2].training)
    local x = sb.ones(8, 4)
    assert.equal(0, (m[2](x) - x):abs():max():item())
    m:train()
    sb.manual_seed(1)
    local y = m[2](sb.ones(1000))
    local zeros = y:eq(0):sum():item()
    assert.is_true(zeros > 350 and zeros < 650, "dropped " .. zeros)
    assert.equal(2, y:max():item())
  end)

  it("BatchNorm needs eval mode", function()
    local bn = nn.BatchNorm2d(3)
    assert.truthy(errmsg(bn, sb.zeros(1, 3, 2, 2)):find("call model:eval()", 1, true))
    bn:eval()
    assert.truthy(errmsg(bn, sb.zeros(1, 3, 2)):find("BatchNorm2d: expected 4-D input (N,C,H,W), got 3-D [1, 3, 2]", 1, true))
    local bn1 = nn.BatchNorm1d(3):eval()
    assert.same({2, 3}, shape(bn1(sb.ones(2, 3))))
    assert.same({2, 3, 5}, shape(bn1(sb.ones(2, 3, 5))))
  end)

  it(":to() moves parameters and buffers and returns the module", function()
    local b = Block(2)
    assert.equal(b, b:to("cpu"))
    local d = b:to("float64")
    assert.equal("float64", d.conv.weight:dtype())
    assert.equal("float64", d.bn.running_var:dtype())
    b:float()
    assert.equal("float32", b.bn.running_var:dtype())
  end)

  it("prints like PyTorch", function()
    local m = nn.Sequential(nn.Conv2d(1, 6, 5, {padding = 2}), nn.ReLU(), nn.Flatten())
    assert.equal("Sequential(\n  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))\n" ..
                 "  (1): ReLU()\n  (2): Flatten(start_dim=2, end_dim=-1)\n)", tostring(m))
  end)

  it("checks constructor arguments", function()
    assert.truthy(errmsg(nn.Linear, 0, 3):find("Linear: in_features must be a positive integer, got 0", 1, true))
    assert.truthy(errmsg(nn.Conv2d, 3, 4, 3, {group = 2}):find("Conv2d: unknown option 'group'", 1, true))
    assert.truthy(errmsg(nn.Conv2d, 3, 4, 3, {groups = 2}):find("must be divisible by groups", 1, true))
    assert.truthy(errmsg(nn.Softmax):find("Softmax: dim must be a non-zero integer", 1, true))
    assert.truthy(errmsg(nn.Sequential, nn.ReLU(), 5):find("Sequential: argument #2 must be a module", 1, true))
    assert.truthy(errmsg(nn.Dropout, 2):find("Dropout: p must be a probability", 1, true))
  end)

  it("Sequential fuses Conv2d + ReLU without changing the result", function()
    local MyReLU = nn.ReLU:extend("MyReLU")
    local conv = nn.Conv2d(3, 4, 3, {padding = 1})
    local fused = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))
    local plain = nn.Sequential(conv, MyReLU(), nn.MaxPool2d(2))
    local x = sb.randn(2, 3, 12, 12)
    assert.equal(0, (fused(x) - plain(x)):abs():max():item())
    assert.equal(0, (fused(x) - nn.MaxPool2d(2)(nn.ReLU()(conv(x)))):abs():max():item())
    -- a pool that is not 2x2/2 is not fused, and still right
    local odd = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(3, {stride = 2, padding = 1}))
    assert.equal(0, (odd(x) - nn.MaxPool2d(3, {stride = 2, padding = 1})(nn.ReLU()(conv(x)))):abs():max():item())
    local x13 = sb.randn(2, 3, 13, 11)   -- odd sizes: floor, as MaxPool2d(2)
    assert.equal(0, (fused(x13) - plain(x13)):abs():max():item())
    assert.same({2, 4, 6, 5}, {fused(x13):size(1), fused(x13):size(2), fused(x13):size(3), fused(x13):size(4)})
  end)

  it("Sequential indexes children from 1 and appends", function()
    local s = nn.Sequential(nn.ReLU(), nn.Tanh())
    assert.equal(2, #s)
    assert.equal("Tanh", s[2]:class_name())
    s:append(nn.Sigmoid())
    assert.same({"0", "1", "2"}, names(s:named_children()))
  end)

  it("layers without parameters and the rest of the zoo run", function()
    local x = sb.rand(2, 3, 8, 8)
    assert.same({2, 3, 4, 4}, shape(nn.AvgPool2d(2)(x)))
    assert.same({2, 3, 1, 1}, shape(nn.AdaptiveAvgPool2d(1)(x)))
    assert.same({2, 3, 4, 2}, shape(nn.AdaptiveAvgPool2d({4, 2})(x)))
    assert.same({2, 3, 8, 8}, shape(nn.GELU()(x)))
    assert.same({2, 3, 8, 8}, shape(nn.GELU({approximate = "tanh"})(x)))
    assert.same({2, 3, 8, 8}, shape(nn.Sigmoid()(x)))
    assert.equal(x, nn.Identity(54, "anything")(x))
    local p = nn.Softmax(2)(x)
    assert.is_true(math.abs(p:sum(2):mean():item() - 1) < 1e-5)
    local lp = nn.LogSoftmax(-1)(x)
    assert.is_true(math.abs(lp:exp():sum(4):mean():item() - 1) < 1e-5)
    assert.same({2, 192}, shape(nn.Flatten()(x)))
    assert.same({2, 3, 64}, shape(nn.Flatten(3)(x)))
    assert.same({2, 24, 8}, shape(nn.Flatten({start_dim = 2, end_dim = 3})(x)))
    assert.same({2, 5, 6, 6}, shape(nn.Conv2d(3, 5, 3, {bias = false})(x)))
    assert.same({2, 6, 8, 8}, shape(nn.Conv2d(3, 6, 3, {padding = "same", groups = 3})(x)))
    assert.same({2, 3, 4, 4}, shape(nn.MaxPool2d(3, {stride = 2, padding = 1})(x)))
  end)
end)

describe("state_dict / load_state_dict", function()
  local function lenet()
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3), nn.BatchNorm1d(3))
  end

  it("round-trips through a table and through a safetensors file", function()
    local a, b = lenet(), lenet()
    b:load_state_dict(a:state_dict())
    for name, p in b:named_parameters() do
      assert.equal(0, (p - a:state_dict()[name]):abs():max():item(), name)
    end
    local path = tmpname()
    sb.io.save_safetensors(path, a:state_dict())
    local c = lenet()
    local r = c:load_state_dict(path)
    assert.same({}, r.missing_keys)
    assert.same({}, r.unexpected_keys)
    assert.equal(0, (c[4].weight - a[4].weight):abs():max():item())
    os.remove(path)
  end)

  it("copies values: the model keeps its own tensors", function()
    local a, b = lenet(), lenet()
    local w = b[1].weight
    b:load_state_dict(a:state_dict())
    assert.equal(w, b[1].weight)
    a[1].weight:fill(7)
    assert.is_true(b[1].weight:max():item() < 7)
  end)

  it("strict: lists every missing key, unexpected key and shape mismatch in one error", function()
    local m = lenet()
    local sd = lenet():state_dict()
    sd["0.bias"] = nil
    sd["3.weight"] = sb.zeros(3, 9)
    sd["4.running_var"] = sb.zeros(4)
    sd["extra.weight"] = sb.zeros(1)
    sd["4.num_batches_tracked"] = sb.zeros({}, {dtype = "int64"})
    local before = m[1].weight:clone()
    local err = errmsg(m.load_state_dict, m, sd)
    assert.truthy(err:find("load_state_dict: 4 problems loading Sequential (nothing was loaded):", 1, true), err)
    assert.truthy(err:find("missing key: 0.bias", 1, true), err)
    assert.truthy(err:find("unexpected key: extra.weight", 1, true), err)
    assert.truthy(err:find("shape mismatch for 3.weight: expected [3, 8], got [3, 9]", 1, true), err)
    assert.truthy(err:find("shape mismatch for 4.running_var: expected [3], got [4]", 1, true), err)
    assert.falsy(err:find("num_batches_tracked", 1, true), err)
    assert.equal(0, (m[1].weight - before):abs():max():item())
  end)

  it("non-strict: returns missing and unexpected keys and loads the rest", function()
    local m, src = lenet(), lenet()
    local sd = src:state_dict()
    sd["0.bias"] = nil
    sd["extra"] = sb.zeros(1)
    local r = m:load_state_dict(sd, {strict = false})
    assert.same({"0.bias"}, r.missing_keys)
    assert.same({"extra"}, r.unexpected_keys)
    assert.equal(0, (m[1].weight - src[1].weight):abs():max():item())
    -- shape mismatches fail even when not strict, as in PyTorch
    sd["3.weight"] = sb.zeros(2, 2)
    assert.truthy(errmsg(m.load_state_dict, m, sd, {strict = false}):find("shape mismatch for 3.weight", 1, true))
  end)

  it("names the file in errors and rejects non-tensor values", function()
    local m = lenet()
    local path = tmpname()
    sb.io.save_safetensors(path, {["0.weight"] = sb.zeros(2, 1, 3, 3)})
    local err = errmsg(m.load_state_dict, m, path)
    assert.truthy(err:find("loading Sequential from " .. path, 1, true), err)
    os.remove(path)
    assert.truthy(errmsg(m.load_state_dict, m, {["0.weight"] = 5}):find("value for '0.weight' must be a tensor", 1, true))
    assert.truthy(errmsg(m.load_state_dict, m, 5):find("expected a table {name = tensor} or the path of a safetensors file or PyTorch checkpoint", 1, true))
  end)

  it("rejects a misspelt option instead of loading strictly by surprise", function()
    local m = sb.nn.Linear(2, 2)
    local sd = m:state_dict()
    assert.truthy(errmsg(m.load_state_dict, m, sd, {stric = false})
      :find("load_state_dict: unknown option 'stric' (known: key, strict, strip_prefix)", 1, true))
    assert.truthy(errmsg(m.load_state_dict, m, sd, false)
      :find("load_state_dict: options must be a table, got boolean", 1, true))
    assert.truthy(errmsg(m.load_state_dict, m, sd, {strict = "no"})
      :find("load_state_dict: strict must be a boolean, got string", 1, true))
  end)

  it("converts dtypes on load (a float64 checkpoint into float32 parameters)", function()
    local m, src = lenet(), lenet():to("float64")
    m:load_state_dict(src:state_dict())
    assert.equal("float32", m[1].weight:dtype())
    assert.is_true((m[1].weight - src[1].weight:float()):abs():max():item() < 1e-7)
    -- a float16 checkpoint through a file
    local path = tmpname()
    sb.io.save_safetensors(path, lenet():to("float16"):state_dict())
    local r = m:load_state_dict(path)
    os.remove(path)
    assert.same({}, r.missing_keys)
    assert.equal("float32", m[4].weight:dtype())
  end)
end)
