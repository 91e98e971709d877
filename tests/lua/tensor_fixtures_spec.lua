-- Parity with PyTorch: every case of tests/fixtures/tensor/ops.json (written by
-- tools/fixtures/tensor_ops.py) run through the Lua API.
local sb = require "sbengine"
local cjson = require "cjson"

local path = (os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") .. "/tensor/ops.json"
local f = assert(io.open(path))
local fixtures = cjson.decode(f:read("a"))
f:close()

local function decode(spec)
  local t = sb.tensor(spec.data, { dtype = spec.dtype })
  return t:view(spec.shape)
end

local function check(expected, got, tol, name)
  assert.are.equal(expected.dtype, got:dtype(), name .. ": dtype")
  assert.are.same(expected.shape, { table.unpack(got:size()) }, name .. ": shape")
  local flat = got:reshape(-1):totable()
  for i, want in ipairs(expected.data) do
    local have = flat[i]
    assert(math.abs(have - want) <= tol * math.max(1, math.abs(want)),
      ("%s: element %d: expected %.9g, got %.9g"):format(name, i, want, have))
  end
end

describe("PyTorch parity (" .. fixtures.torch .. ")", function()
  for _, case in ipairs(fixtures.cases) do
    it(case.name, function()
      local self = decode(case.self)
      local args = {}
      for i, a in ipairs(case.args) do
        if a == cjson.null then
          args[i] = nil
        elseif type(a) == "table" then
          args[i] = decode(a)
        else
          args[i] = a
        end
      end
      local results = { self[case.method](self, table.unpack(args, 1, #case.args)) }
      assert.are.equal(#case.expected, #results, case.name .. ": number of results")
      for i, want in ipairs(case.expected) do check(want, results[i], case.tol, case.name) end
    end)
  end

  for _, case in ipairs(fixtures.prints) do
    it("prints " .. case.name, function()
      local t = decode(case.self)
      if #case.self.shape == 0 then t = t:view({}) end
      assert.are.equal(case.text, tostring(t))
    end)
  end
end)
