-- NaN and infinities against PyTorch: every case of tests/fixtures/nonfinite/cases.json
-- (written by tools/fixtures/nonfinite.py) through the Lua API. JSON has no NaN or
-- infinity: the fixture spells them "nan", "inf", "-inf".
local sb = require "sbengine"
local cjson = require "cjson"

local path = (os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") .. "/nonfinite/cases.json"
local f = assert(io.open(path))
local fixtures = cjson.decode(f:read("a"))
f:close()

local SPECIAL = { nan = 0 / 0, inf = math.huge, ["-inf"] = -math.huge }

local function number(v)
  if type(v) == "string" then return assert(SPECIAL[v], "unknown number " .. v) end
  return v
end

local function decode(spec)
  local data = {}
  for i, v in ipairs(spec.data) do data[i] = number(v) end
  return sb.tensor(data, { dtype = spec.dtype }):view(spec.shape)
end

-- NaN matches NaN; infinities match exactly; finite values within a relative 1e-6.
local function same(want, have)
  if want ~= want then return have ~= have end
  if want == math.huge or want == -math.huge then return have == want end
  return have == have and math.abs(have - want) <= 1e-6 * math.max(1, math.abs(want))
end

local function check(expected, got, name)
  assert.are.equal(expected.dtype, got:dtype(), name .. ": dtype")
  assert.are.same(expected.shape, { table.unpack(got:size()) }, name .. ": shape")
  local flat = got:reshape(-1):totable()
  for i, v in ipairs(expected.data) do
    local want = number(v)
    assert(same(want, flat[i]),
      ("%s: element %d: PyTorch gives %s, sbengine %s"):format(name, i, want, flat[i]))
  end
end

local F = sb.nn.functional

describe("NaN and infinity: tensor ops match PyTorch (" .. fixtures.torch .. ")", function()
  for _, case in ipairs(fixtures.cases) do
    it(case.name, function()
      local self = decode(case.self)
      local args = {}
      for i, a in ipairs(case.args) do args[i] = type(a) == "table" and decode(a) or a end
      local results
      if case.method == "softmax" or case.method == "log_softmax" then
        results = { F[case.method](self, table.unpack(args)) }
      else
        results = { self[case.method](self, table.unpack(args, 1, #case.args)) }
      end
      if case.method:match("^[eng][qet]$") or case.method:match("^[lg][te]$") then
        results[1] = results[1]:long()
      end
      assert.are.equal(#case.expected, #results, case.name .. ": number of results")
      for i, want in ipairs(case.expected) do check(want, results[i], case.name) end
    end)
  end
end)

describe("NaN and infinity: metrics match PyTorch's definitions", function()
  for _, case in ipairs(fixtures.metrics) do
    it(case.name, function()
      local m = sb.metrics.create(case.metric, case.options)
      m:add(decode(case.output), decode(case.target))
      local value = m:value()
      for key, v in pairs(case.expected) do
        local have = type(value) == "table" and value[key] or value
        assert(same(number(v), have),
          ("%s: %s: PyTorch gives %s, sbengine %s"):format(case.name, key, number(v), have))
      end
    end)
  end
end)

describe("non-finite outputs are counted", function()
  it("counts the rows that hold a NaN or an infinity", function()
    local core = require "sbengine.core"
    local t = sb.tensor({ { 1, 2 }, { 0 / 0, 1 }, { 3, math.huge }, { 4, 5 } })
    assert.are.equal(2, core.metric.nonfinite_rows(t))
    assert.are.equal(1, core.metric.nonfinite_rows(t:t():contiguous():narrow(1, 2, 1)))
    assert.are.equal(0, core.metric.nonfinite_rows(sb.tensor({ 1, 2 }, { dtype = "int64" })))
    assert.are.equal(1, core.metric.nonfinite_rows(sb.tensor({ { -math.huge } }, { dtype = "float64" })))
  end)
end)
