-- sb.io.load_safetensors / save_safetensors through Lua: round trips, metadata, and the
-- hostile files (written here byte by byte) failing with clear errors.
local sb = require "sbengine"

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".safetensors"
end

local write = require("tmpfiles").write

-- A file from a header string and raw data bytes.
local function file(header, data)
  return string.pack("<I8", #header) .. header .. (data or "")
end

local function load_error(bytes)
  local path = tmpname()
  write(path, bytes)
  local ok, err = pcall(sb.io.load_safetensors, path)
  os.remove(path)
  assert.is_false(ok)
  return tostring(err)
end

describe("sb.io safetensors", function()
  it("round-trips every dtype, shapes and metadata", function()
    local path = tmpname()
    local t = {
      f32 = sb.tensor({{1.5, -2}, {3, 4}}),
      f64 = sb.tensor({1 / 3}, {dtype = "float64"}),
      i64 = sb.tensor({-(2 ^ 40), 7}, {dtype = "int64"}),
      i32 = sb.tensor({-5}, {dtype = "int32"}),
      u8 = sb.tensor({0, 255}, {dtype = "uint8"}),
      scalar = sb.full({}, 2.5),
      empty = sb.zeros(0, 3),
      noncontig = sb.tensor({{1, 2, 3}, {4, 5, 6}}):narrow(2, 2, 2),
    }
    sb.io.save_safetensors(path, t, {metadata = {format = "pt", note = "a \"quoted\" line"}})
    local back, meta = sb.io.load_safetensors(path)
    assert.same({format = "pt", note = "a \"quoted\" line"}, meta)
    for name, v in pairs(t) do
      assert.equal(v:dtype(), back[name]:dtype(), name)
      assert.same(v:totable(), back[name]:totable(), name)
    end
    assert.equal(0, back.scalar:dim())
    assert.same({{2, 3}, {5, 6}}, back.noncontig:totable())
    os.remove(path)
  end)

  it("reads F16 and BF16 as float16 and bfloat16 (storage types on the CPU)", function()
    local header = '{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},' ..
                   '"b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}}'
    local data = string.pack("<I2I2I2I2I2", 0x3c00, 0xc000, 0x3555, 0x3f80, 0xc049)
    local path = tmpname()
    write(path, file(header, data))
    local t = sb.io.load_safetensors(path)
    os.remove(path)
    assert.equal("float16", t.h:dtype())
    assert.equal("bfloat16", t.b:dtype())
    local h = t.h:float()
    assert.same({1, -2}, h:narrow(1, 1, 2):totable())
    assert.is_true(math.abs(h[3] - 0.33325195) < 1e-7)
    assert.same({1, -3.140625}, t.b:float():totable())
    -- and they round-trip unchanged
    local path2 = tmpname()
    sb.io.save_safetensors(path2, t)
    local again = sb.io.load_safetensors(path2)
    os.remove(path2)
    assert.equal("float16", again.h:dtype())
    assert.same(h:totable(), again.h:float():totable())
  end)

  it("loaded tensors are writable copies-on-write of the file", function()
    local path = tmpname()
    sb.io.save_safetensors(path, {w = sb.ones(4)})
    local a = sb.io.load_safetensors(path)
    a.w[1] = 9
    assert.equal(1, sb.io.load_safetensors(path).w[1])
    os.remove(path)
  end)

  it("refuses hostile files with a clear error", function()
    local entry = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
    local cases = {
      {"\1\0\0", "shorter than the 8-byte header length"},
      {string.pack("<I8", 1000) .. "{}", "runs past the end of the file"},
      {string.pack("<I8", 1 << 40) .. "{}", "above the limit"},
      {file('{"a":' .. entry, "\0\0\0\0"), "expected ',' or '}'"},
      {file('{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}', "\0\0\0\0"), "dtype 'Q7'"},
      {file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', "\0\0\0\0"), "beyond the 4 data bytes"},
      {file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', "\0\0\0\0"), "end before begin"},
      {file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' ..
            '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', ("\0"):rep(8)), "overlaps"},
      {file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', ("\0"):rep(8)), "unused data bytes"},
      {file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}', "\0\0\0\0"), "shape [3]) needs a different number of bytes"},
      {file('{"a":' .. entry .. '}', ("\0"):rep(12)), "8 data bytes after the last tensor"},
    }
    for _, c in ipairs(cases) do
      local err = load_error(c[1])
      assert.truthy(err:find("load_safetensors: ", 1, true), err)
      assert.truthy(err:find(c[2], 1, true), err)
    end
  end)

  it("names missing files and bad arguments", function()
    local ok, err = pcall(sb.io.load_safetensors, "/nonexistent/w.safetensors")
    assert.is_false(ok)
    assert.truthy(tostring(err):find("cannot open /nonexistent/w.safetensors: No such file", 1, true))
    ok, err = pcall(sb.io.save_safetensors, tmpname(), {w = 5})
    assert.truthy(tostring(err):find("value for 'w' must be a tensor, got number", 1, true))
    ok, err = pcall(sb.io.save_safetensors, tmpname(), {sb.ones(1)})
    assert.truthy(tostring(err):find("tensor names must be strings", 1, true))
    ok, err = pcall(sb.io.save_safetensors, "/nonexistent/dir/w.safetensors", {w = sb.ones(1)})
    assert.truthy(tostring(err):find("save_safetensors: cannot create", 1, true), tostring(err))
  end)

  -- Renaming over a device replaces the node (as root, save_safetensors("/dev/null", ...)
  -- replaced /dev/null); a link replaced by a file no longer points where it did.
  it("never replaces a pipe or a device, and keeps a link a link", function()
    local dir = tmpname()
    os.remove(dir)
    assert.is_true(os.execute("mkdir " .. dir .. " && mkfifo " .. dir .. "/pipe"
      .. " && ln -s real.safetensors " .. dir .. "/link.safetensors"))
    local ok, err = pcall(sb.io.save_safetensors, dir .. "/pipe", {w = sb.ones(1)})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("is not a regular file", 1, true), tostring(err))
    assert.is_true(os.execute("test -p " .. dir .. "/pipe"))
    sb.io.save_safetensors(dir .. "/link.safetensors", {w = sb.ones(3)})
    assert.is_true(os.execute("test -L " .. dir .. "/link.safetensors"))
    assert.are.equal(3, sb.io.load_safetensors(dir .. "/real.safetensors").w:numel())
    os.execute("rm -rf " .. dir)
  end)
end)
