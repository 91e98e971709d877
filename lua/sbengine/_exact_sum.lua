--- sbengine._exact_sum: exact sums of floating-point numbers (internal; used by the meters'
-- "sum" states, docs/metrics.md "Writing a metric", and their merge across ranks,
-- docs/distributed.md).
--
-- A sum is a table holding a list of non-overlapping partials in increasing magnitude
-- (Shewchuk, "Adaptive Precision Floating-Point Arithmetic", 1997, as Python's math.fsum):
-- their exact total is the exact total of every term added, and value() rounds it once, to
-- nearest with ties to even. So the value is the correctly rounded sum of the terms, whatever
-- their order and however they were grouped (added in one sum or in several sums merged).
-- Usually 1 to 3 partials; adding a term costs a pass over them.
--
-- Infinities and NaNs are summed apart (`special`): inf + -inf gives NaN, always the same NaN.
-- A sum whose partials would exceed the largest double (the magnitudes of the terms adding
-- up past ~1.8e308) becomes that infinity: the one case where the order can matter.
local M = {}

local abs, mtype, huge = math.abs, math.type, math.huge
local NAN = -(0 / 0) -- one NaN for every sum that has one, so the bits never differ
local TWO32 = 4294967296

--- new() -> an empty sum (exactly 0).
function M.new() return {} end

local function add_special(p, x)
  p.special = (p.special or 0.0) + x
  return p
end

--- add(p, x): adds the float `x` to the sum `p`, exactly.
function M.add(p, x)
  if x ~= x or x == huge or x == -huge then return add_special(p, x) end
  local n, i = #p, 0
  for j = 1, n do
    local y = p[j]
    if abs(x) < abs(y) then x, y = y, x end
    local hi = x + y
    local lo = y - (hi - x)
    if lo ~= 0 then
      i = i + 1
      p[i] = lo
    end
    x = hi
  end
  if x == huge or x == -huge then -- the finite terms overflowed
    for j = n, 1, -1 do p[j] = nil end
    return add_special(p, x)
  end
  if x ~= 0 then
    i = i + 1
    p[i] = x
  end
  for j = n, i + 1, -1 do p[j] = nil end
  return p
end

--- add_number(p, x): adds a Lua number: a float, or an integer (exactly, all 64 bits).
function M.add_number(p, x)
  if mtype(x) == "float" then return M.add(p, x) end
  if x >= -9007199254740992 and x <= 9007199254740992 then return M.add(p, x + 0.0) end
  local lo = x % TWO32 -- 0 .. 2^32 - 1; x - lo is a multiple of 2^32, so both halves are exact
  M.add(p, ((x - lo) // TWO32) * (TWO32 + 0.0))
  return M.add(p, lo + 0.0)
end

--- merge(p, q): adds the sum `q` to the sum `p`, exactly (q is not changed).
function M.merge(p, q)
  local n = #q
  local terms = table.move(q, 1, n, 1, {}) -- q may be p
  for j = 1, n do M.add(p, terms[j]) end
  if q.special then add_special(p, q.special) end
  return p
end

--- copy(p) -> a copy of the sum `p`.
function M.copy(p)
  local out = table.move(p, 1, #p, 1, {})
  out.special = p.special
  return out
end

--- value(p) -> the exact sum of `p` rounded to the nearest double (ties to even); 0.0 for
-- an empty sum; the infinity or NaN when an infinity or NaN was added.
function M.value(p)
  local s = p.special
  if s then return s == s and s or NAN end
  local n = #p
  if n == 0 then return 0.0 end
  local hi, lo = p[n], 0.0
  n = n - 1
  -- Add the partials from the largest down while the sum stays exact.
  while n > 0 do
    local x, y = hi, p[n]
    n = n - 1
    hi = x + y
    lo = y - (hi - x)
    if lo ~= 0 then break end
  end
  -- hi + lo is exact; when lo is half an ulp of hi and the partials below lean the same way,
  -- round away from the tie (Python's fsum does the same).
  if n > 0 and ((lo < 0 and p[n] < 0) or (lo > 0 and p[n] > 0)) then
    local y = lo * 2
    local x = hi + y
    if y == x - hi then hi = x end
  end
  return hi
end

--- of(list) -> the correctly rounded sum of a list of numbers.
function M.of(list)
  local p = {}
  for i = 1, #list do M.add_number(p, list[i]) end
  return M.value(p)
end

return M
