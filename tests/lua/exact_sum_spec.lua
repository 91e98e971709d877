-- The exact accumulator of the meters' "sum" states (lua/sbengine/_exact_sum.lua) against
-- Python's math.fsum and exact rational arithmetic (tests/fixtures/metrics/exact_sum.json,
-- written by tools/fixtures/exact_sum.py): each list summed in order, shuffled, and cut into
-- groups summed apart then merged, gives the fixture's double bit for bit.
require "sbengine"
local cjson = require "cjson"
local exact = require "sbengine._exact_sum"

local function load_fixture()
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/metrics/exact_sum.json"))
  local d = cjson.decode(f:read("a"))
  f:close()
  return d
end

local function term(s)
  if s:sub(1, 1) == "i" then return assert(math.tointeger(tonumber(s:sub(2)))) end
  return assert(tonumber(s), s)
end

local function bits(x) return ("%a"):format(x) end

local function same(expected, got, what)
  assert(bits(expected) == bits(got), ("%s: expected %s (%.17g), got %s (%.17g)")
    :format(what, bits(expected), expected, bits(got), got))
end

local function sum_of(terms)
  local p = exact.new()
  for _, t in ipairs(terms) do exact.add_number(p, t) end
  return p
end

describe("exact sums (sbengine._exact_sum)", function()
  local cases = load_fixture()
  local rng = 12345
  local function random(n) -- a small deterministic LCG: the spec gives the same run every time
    rng = (rng * 1103515245 + 12345) % 2147483648
    return rng % n + 1
  end

  it("equal math.fsum and the exactly rounded rational sum, in any order and grouping", function()
    assert.is_true(#cases > 50)
    for _, case in ipairs(cases) do
      local terms = {}
      for i, s in ipairs(case.terms) do terms[i] = term(s) end
      local expected = tonumber(case.sum)
      same(expected, exact.value(sum_of(terms)), case.name .. " (in order)")
      same(expected, exact.of(terms), case.name .. " (of)")
      for trial = 1, 3 do
        local shuffled = table.move(terms, 1, #terms, 1, {})
        for i = #shuffled, 2, -1 do
          local j = random(i)
          shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
        end
        -- cut into 1..4 groups, as ranks would, and merge them in a random order
        local groups, parts = random(4), {}
        for g = 1, groups do parts[g] = exact.new() end
        for i, t in ipairs(shuffled) do exact.add_number(parts[(i * groups) // (#shuffled + 1) + 1], t) end
        local total = exact.new()
        for g = groups, 1, -1 do exact.merge(total, exact.copy(parts[g])) end
        same(expected, exact.value(total), ("%s (shuffled, %d groups, trial %d)")
          :format(case.name, groups, trial))
      end
    end
  end)

  it("has cases where adding in order and in another order differ (so the check means something)", function()
    local naive_differs = 0
    for _, case in ipairs(cases) do
      local forward, backward = 0.0, 0.0
      for i = 1, #case.terms do forward = forward + term(case.terms[i]) end
      for i = #case.terms, 1, -1 do backward = backward + term(case.terms[i]) end
      if bits(forward) ~= bits(backward) then naive_differs = naive_differs + 1 end
    end
    assert.is_true(naive_differs >= 10, naive_differs .. " cases")
  end)

  it("merges a sum into itself (doubling it)", function()
    local p = sum_of { 1e16, 1.0, 1.0 }
    same(2e16 + 4, exact.value(exact.merge(p, p)), "p + p")
  end)

  it("sums infinities and NaNs apart, and gives one NaN", function()
    same(math.huge, exact.of { 1.0, math.huge, -5.0 }, "inf")
    same(-math.huge, exact.of { -math.huge, 1.0, 1e308 }, "-inf")
    local a, b = exact.of { math.huge, -math.huge }, exact.of { 0 / 0, 1.0 }
    assert.is_true(a ~= a and b ~= b)
    assert.are.equal(string.pack("<d", a), string.pack("<d", b))
    same(math.huge, exact.of { 1.7e308, 1.7e308 }, "overflow")
  end)

  it("is 0.0 when empty and keeps integers beyond 2^53 exact", function()
    same(0.0, exact.value(exact.new()), "empty")
    same(2.0 ^ 63 - 1024, exact.of { math.maxinteger, -1023 }, "maxinteger - 1023")
    same(-2.0 ^ 63, exact.of { math.mininteger }, "mininteger")
    same(1.0, exact.of { (1 << 53) + 1, -(1 << 53) }, "integers 2^53 + 1 - 2^53")
  end)
end)
