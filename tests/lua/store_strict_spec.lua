-- The store file is checked strictly (RFC 8259) before anything is appended to it (issue 16,
-- defect 6): lua-cjson accepts raw control characters, invalid UTF-8, NaN and 0x10, which are
-- not JSON, and refuses "\ud800", which is.
local sb = require "sbengine"
local core = require "sbengine.core"
local store = require "sbengine._store"
local results = require "sbengine.results"

local files = require "tmpfiles"
local tmpdir, read, write = files.tmpdir, files.read, files.write

local function result()
  return sb.BenchmarkResult { model = "M", task = "T", dataset = "D", results = { a = 1 } }
end

describe("the strict JSON check", function()
  local cases = {
    -- text, valid, what the message says
    { '[1, 2.5e-3, -0, "x", true, false, null, {"a": []}]', true },
    { '["\\ud800"]', true }, -- a lone surrogate escape: valid JSON
    { '["\\u00e9 caf\195\169 \240\159\152\128"]', true },
    { ' \t\r\n[] \n', true },
    { '["a\tb"]', false, "a raw control character in a string" },
    { '["\255"]', false, "invalid UTF-8" },
    { '["\192\175"]', false, "invalid UTF-8" }, -- overlong "/"
    { '["\237\160\128"]', false, "invalid UTF-8" }, -- U+D800 encoded in UTF-8
    { "[NaN]", false, "NaN or Infinity" },
    { "[Infinity]", false, "NaN or Infinity" },
    { "[0x10]", false, "leading zero (or hexadecimal)" },
    { "[01]", false, "leading zero" },
    { "[1.]", false, "no digit after its point" },
    { "[1e]", false, "empty exponent" },
    { "[1,]", false, "a missing value" },
    { "[1 2]", false, "a missing ',' or ']'" },
    { '{"a" 1}', false, "a missing ':'" },
    { "{a: 1}", false, "an object key that is not a string" },
    { '["\\x"]', false, "an unknown escape" },
    { '["\\u12"]', false, "four hex digits" },
    { '["abc', false, "a string that never ends" },
    { "[] []", false, "text after the JSON value" },
    { "", false, "a missing value" },
    { string.rep("[", 600) .. string.rep("]", 600), false, "nesting deeper than 512 levels" },
    { string.rep("[", 512) .. string.rep("]", 512), true },
  }
  for i, c in ipairs(cases) do
    it(("case %d: %s"):format(i, c[2] and "valid" or c[3]), function()
      local top, why = core.finish.json_shape(c[1])
      if c[2] then
        assert.truthy(top, tostring(why))
      else
        assert.is_nil(top)
        assert.truthy(why:find(c[3], 1, true), why)
      end
    end)
  end

  it("says where the problem is", function()
    local _, why = core.finish.json_shape('[\n  1,\n  NaN\n]')
    assert.truthy(why:find("at line 3, column 3", 1, true), why)
  end)
end)

describe("appending to the store file", function()
  for _, bad in ipairs { '[{"a": "x\001y"}]', '[{"a": "\255"}]', "[NaN]", "[0x10]" } do
    it("leaves alone a file that lua-cjson accepts but is not JSON: " .. bad:gsub("%c", "?"), function()
      local dir = tmpdir()
      local path = dir .. "/s.json"
      write(path, bad)
      local ok, err = pcall(store.append, path, { result() })
      assert.is_false(ok)
      assert.are.equal("not_array", err.kind)
      assert.truthy(tostring(err):find("is not valid JSON", 1, true), tostring(err))
      assert.are.equal(bad, read(path))
      results.take()
      os.execute("rm -rf " .. dir)
    end)
  end

  it("appends to a valid file that holds a lone surrogate escape", function()
    local dir = tmpdir()
    local path = dir .. "/s.json"
    local old = '[{"model": "\\ud800"}]'
    write(path, old)
    store.append(path, { result() })
    local text = read(path)
    assert.are.equal('[{"model": "\\ud800"}', text:sub(1, #old - 1))
    assert.truthy(core.finish.json_shape(text))
    results.take()
    os.execute("rm -rf " .. dir)
  end)

  it("says a folder is a folder", function()
    local dir = tmpdir()
    local dicts, err = store.read(dir)
    assert.is_nil(dicts)
    assert.truthy(err:find("is a folder, not a file", 1, true), err)
    os.execute("rm -rf " .. dir)
  end)
end)
