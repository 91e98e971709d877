-- sb.io.load_pytorch and load_state_dict(path.pth): every dtype in both torch.save formats,
-- views and strides, wrapped checkpoints, and the hostile files failing with clear errors.
-- Fixtures: tools/fixtures/io_pytorch.py (tests/fixtures/io/).
local sb = require "sbengine"

local dir = (os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") .. "/io/"
local expected = dofile(dir .. "expected.lua")

local function tmpname(ext)
  local p = os.tmpname()
  os.remove(p)
  return p .. ext
end

local files = require "tmpfiles"
local read, write = files.read, files.write

local function load_error(path, opts)
  local ok, err = pcall(sb.io.load_pytorch, path, opts)
  assert.is_false(ok)
  return tostring(err)
end

-- The error for a file made of `bytes`.
local function bytes_error(bytes)
  local path = tmpname(".pth")
  write(path, bytes)
  local err = load_error(path)
  os.remove(path)
  return err
end

local function flat(t)
  local out = {}
  local n = t:numel()
  if n == 0 then return out end
  local v = t:contiguous():view(n):to("float64")
  for i = 1, n do out[i] = v[i] end
  return out
end

describe("sb.io.load_pytorch", function()
  for _, format in ipairs({"zip", "legacy"} ) do
    it("loads every dtype, view and stride of a " .. format .. "-format checkpoint", function()
      local t, saved = sb.io.load_pytorch(dir .. "dtypes_" .. format .. ".pth")
      local count = 0
      for name, want in pairs(expected) do
        count = count + 1
        local x = t[name]
        assert.is_not_nil(x, name)
        assert.are.equal(want.dtype, x:dtype(), name)
        assert.are.equal(want.saved, saved[name], name)
        assert.are.same(want.shape, x:size(), name)
        local got = flat(x)
        assert.are.equal(#want.values, #got, name)
        for i, v in ipairs(want.values) do
          assert.are.equal(v, got[i], name .. "[" .. i .. "]")
        end
      end
      local n = 0
      for _ in pairs(t) do n = n + 1 end
      assert.are.equal(count, n)
      assert.is_false(t.transposed:is_contiguous())
      assert.are.same({1, 4}, {t.transposed:stride(1), t.transposed:stride(2)})
    end)

    it("keeps the tensors of one storage sharing it (" .. format .. ")", function()
      local t = sb.io.load_pytorch(dir .. "dtypes_" .. format .. ".pth")
      t.whole[2][3] = 100 -- row 2 is t.row, column 3 is t.col
      assert.are.equal(100, t.row[3])
      assert.are.equal(100, t.col[2])
    end)
  end

  it("converts dtypes the CPU lacks: int16 and int8 to int32, bool to uint8", function()
    local t, saved = sb.io.load_pytorch(dir .. "dtypes_zip.pth")
    assert.are.equal("int32", t.i16:dtype())
    assert.are.equal("int16", saved.i16)
    assert.are.equal(-32768, t.i16[1])
    assert.are.equal(-128, t.i8[1])
    assert.are.same({1, 0, 1}, t.bool:totable())
  end)

  it("reads big-endian and deflated checkpoints", function()
    local t = sb.io.load_pytorch(dir .. "big_endian.pth")
    assert.are.same({{2, 4}, {3, 5}}, t.w:totable())
    assert.are.same({-2, 1, 300}, t.s:totable())
    assert.are.same({1, 4, 7}, sb.io.load_pytorch(dir .. "deflated.pth").w:totable())
  end)

  it("finds the state dict inside a wrapping checkpoint, and strips prefixes", function()
    local t = sb.io.load_pytorch(dir .. "wrapped.pth")
    assert.is_not_nil(t["module.0.weight"])
    t = sb.io.load_pytorch(dir .. "wrapped.pth", {strip_prefix = "module."})
    assert.are.same({2, 3}, t["0.weight"]:size())
    assert.is_nil(t["module.0.weight"])
    t = sb.io.load_pytorch(dir .. "wrapped.pth", {key = "state_dict", strip_prefix = "module."})
    assert.is_not_nil(t["1.running_var"])
    t = sb.io.load_pytorch(dir .. "ambiguous.pth", {key = {"model_ema"}})
    assert.is_not_nil(t["0.bias"])
  end)

  it("says which keys there are when the choice is ambiguous or wrong", function()
    local err = load_error(dir .. "ambiguous.pth")
    assert.truthy(err:find("the checkpoint holds 2 state dicts: choose one with {key = ...}", 1, true))
    assert.truthy(err:find("'model' (dict of 7 tensors), 'model_ema' (dict of 7 tensors)", 1, true))
    err = load_error(dir .. "wrapped.pth", {key = "model"})
    assert.truthy(err:find("no key 'model' in the checkpoint; its keys are: 'epoch' (int), " ..
      "'arch' (str), 'state_dict' (dict of 7 tensors), 'optimizer' (dict of 2 entries)", 1, true))
    err = load_error(dir .. "wrapped.pth", {key = "epoch"})
    assert.truthy(err:find("the chosen entry is not a state dict (a dict of tensors): found int", 1, true))
    err = load_error(dir .. "wrapped.pth", {key = "optimizer"})
    assert.truthy(err:find("its keys are: 'state' (dict of 4 entries), 'param_groups' (list of 1)", 1, true))
  end)

  it("refuses a pickle that calls a global outside the allow-list, naming it", function()
    local err = load_error(dir .. "forbidden.pth")
    assert.truthy(err:find("refusing to call pickle global 'os.system'", 1, true), err)
  end)

  it("refuses a tensor that reaches past its storage, and a storage of the wrong size", function()
    local err = load_error(dir .. "past_storage.pth")
    assert.truthy(err:find("a tensor of size [3, 4], stride [4, 1] at offset 0 reaches element 11, " ..
      "past the end of its storage '0' (10 elements of float32)", 1, true), err)
    err = load_error(dir .. "wrong_size.pth")
    assert.truthy(err:find("storage '0' (archive/data/0) has 36 bytes, but the pickle declares 10 " ..
      "elements of float32 (40 bytes)", 1, true), err)
  end)

  it("fails cleanly on every truncation of both formats", function()
    for _, format in ipairs({"zip", "legacy"}) do
      local bytes = read(dir .. "dtypes_" .. format .. ".pth")
      for _, n in ipairs({0, 1, 20, #bytes // 3, #bytes // 2, #bytes - 30, #bytes - 1}) do
        local err = bytes_error(bytes:sub(1, n))
        assert.truthy(err:find("load_pytorch: ", 1, true), err)
      end
    end
    local zip = read(dir .. "dtypes_zip.pth")
    assert.truthy(bytes_error(zip:sub(1, #zip // 2)):find("truncated or not a zip archive", 1, true))
    local legacy = read(dir .. "dtypes_legacy.pth")
    assert.truthy(bytes_error(legacy:sub(1, #legacy - 30)):find("truncated file", 1, true))
    assert.truthy(bytes_error(""):find("empty file", 1, true))
    assert.truthy(bytes_error("hello, world"):find("not a PyTorch checkpoint", 1, true))
  end)

  it("names the right function for a safetensors file, and vice versa", function()
    local err = load_error(dir .. "../nn/small_resnet.safetensors")
    assert.truthy(err:find("this is a safetensors file, not a PyTorch checkpoint: load it with " ..
      "sb.io.load_safetensors", 1, true))
    local ok, e = pcall(sb.io.load_safetensors, dir .. "dtypes_legacy.pth")
    assert.is_false(ok)
    assert.truthy(e:find("this is a PyTorch checkpoint (torch.save, legacy format), not a " ..
      "safetensors file: load it with sb.io.load_pytorch", 1, true))
  end)

  it("checks its options", function()
    assert.truthy(load_error(dir .. "wrapped.pth", {prefix = "module."})
      :find("unknown option 'prefix' (known: device, key, strip_prefix)", 1, true))
    assert.truthy(load_error(dir .. "wrapped.pth", {key = 3}):find("key must be a string", 1, true))
    assert.truthy(load_error(dir .. "missing.pth"):find("cannot open", 1, true))
  end)
end)

describe("Module:load_state_dict(path.pth)", function()
  local nn = sb.nn
  local function net() return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)) end

  it("loads a PyTorch checkpoint with key and strip_prefix", function()
    local m = net()
    m:load_state_dict(dir .. "wrapped.pth", {key = "state_dict", strip_prefix = "module."})
    local t = sb.io.load_pytorch(dir .. "wrapped.pth", {strip_prefix = "module."})
    assert.are.same(t["0.weight"]:totable(), m[1].weight:totable())
    assert.are.same(t["1.running_mean"]:totable(), m[2].running_mean:totable())
  end)

  it("suggests strip_prefix for DataParallel keys, and the nearest names for unknown keys", function()
    local m = net()
    local ok, err = pcall(m.load_state_dict, m, dir .. "wrapped.pth")
    assert.is_false(ok)
    assert.truthy(err:find("unexpected key: module.0.weight (nearest: 0.weight, 1.weight, 0.bias)", 1, true))
    assert.truthy(err:find("pass {strip_prefix = 'module.'}", 1, true))
    local path = tmpname(".safetensors")
    local sd = net():state_dict()
    sd["0.weigth"], sd["0.weight"] = sd["0.weight"], nil
    sb.io.save_safetensors(path, sd)
    ok, err = pcall(m.load_state_dict, m, path)
    os.remove(path)
    assert.truthy(err:find("unexpected key: 0.weigth (nearest: 0.weight", 1, true), err)
  end)

  it("names the key and both shapes on a shape mismatch", function()
    local m = nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2))
    local ok, err = pcall(m.load_state_dict, m, dir .. "wrapped.pth", {strip_prefix = "module."})
    assert.is_false(ok)
    assert.truthy(err:find("shape mismatch for 0.weight: expected [2, 4], got [2, 3]", 1, true), err)
  end)
end)
