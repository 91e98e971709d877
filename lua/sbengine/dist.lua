--- sb.dist: the ranks of an MPI job (docs/distributed.md).
--
--   mpirun -n 3 sbengine benchmarks/mnist.lua MODEL.lua
--
-- Under a launcher (mpirun, srun) each process is one rank; the benchmark loop shards the
-- dataset, merges every meter's declared state on rank 0 and stores one result. Without a
-- launcher every function answers for rank 0 of 1 and MPI is never loaded.
local core = require "sbengine.core"

local cdist = core.dist
local dist = {}

--- rank() -> this process's rank, 0 .. size() - 1.
function dist.rank() return cdist.rank() end

--- size() -> the number of ranks (1 without a launcher).
function dist.size() return cdist.size() end

--- local_rank() -> this process's rank among the ranks of its machine.
function dist.local_rank() return cdist.local_rank() end

--- barrier(): returns when every rank has called it.
function dist.barrier() cdist.barrier() end

-- ---- values on the wire: nil, booleans, integers, floats, strings and plain tables ------

local MAX_DEPTH = 64

local function encode(v, out, where, seen, depth)
  local t = type(v)
  if v == nil then
    out[#out + 1] = "z"
  elseif t == "boolean" then
    out[#out + 1] = v and "T" or "F"
  elseif math.type(v) == "integer" then
    out[#out + 1] = string.pack("<c1j", "i", v)
  elseif t == "number" then
    out[#out + 1] = string.pack("<c1n", "n", v) -- the double's bits: exact
  elseif t == "string" then
    out[#out + 1] = string.pack("<c1s4", "s", v)
  elseif t == "table" and getmetatable(v) == nil then
    if seen[v] then error(("%s: the value holds a table that contains itself"):format(where), 0) end
    if depth > MAX_DEPTH then
      error(("%s: tables nested deeper than %d levels"):format(where, MAX_DEPTH), 0)
    end
    seen[v] = true
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    out[#out + 1] = string.pack("<c1j", "t", n)
    for k, x in pairs(v) do
      encode(k, out, where, seen, depth + 1)
      encode(x, out, where, seen, depth + 1)
    end
    seen[v] = nil
  else
    error(("%s: cannot send a %s between ranks (numbers, strings, booleans and plain tables of "
      .. "them can be sent; a tensor as t:totable())"):format(where,
        t == "table" and "table with a metatable" or t), 0)
  end
end

local function decode(s, pos)
  local tag = s:sub(pos, pos)
  if tag == "z" then return nil, pos + 1 end
  if tag == "T" then return true, pos + 1 end
  if tag == "F" then return false, pos + 1 end
  if tag == "i" or tag == "n" or tag == "s" then
    local fmt = tag == "i" and "<j" or tag == "n" and "<n" or "<s4"
    return string.unpack(fmt, s, pos + 1)
  end
  assert(tag == "t", "sb.dist: a message that was not made by sb.dist")
  local n
  n, pos = string.unpack("<j", s, pos + 1)
  local t = {}
  for _ = 1, n do
    local k, x
    k, pos = decode(s, pos)
    x, pos = decode(s, pos)
    t[k] = x
  end
  return t, pos
end

--- pack(v) -> bytes; unpack(bytes) -> v (internal: the messages of gather and broadcast).
function dist._pack(v, where)
  local out = {}
  encode(v, out, where or "sb.dist", {}, 0)
  return table.concat(out)
end

function dist._unpack(s)
  return (decode(s, 1))
end

-- ---- collectives --------------------------------------------------------------------------

--- gather(v) -> on rank 0 the list {v of rank 0, v of rank 1, ...}; nil on the other ranks.
-- `v` is a number, string, boolean or plain table of them; numbers arrive bit for bit.
function dist.gather(v)
  local list = cdist.gather(dist._pack(v, "sb.dist.gather"))
  if list == nil then return nil end
  for i, s in ipairs(list) do list[i] = dist._unpack(s) end
  return list
end

--- broadcast(v) -> rank 0's `v` on every rank (the other ranks' argument is ignored).
function dist.broadcast(v)
  local bytes = cdist.rank() == 0 and dist._pack(v, "sb.dist.broadcast") or nil
  return dist._unpack(cdist.broadcast(bytes))
end

--- all_reduce(t, op) -> t reduced over every rank, op "sum" (default), "min" or "max".
-- `t` is a CPU tensor (float32, float64, int32, int64; reduced in place and returned) or a
-- number (the reduced number is returned). Floating sums are added on rank 0 in rank order,
-- so the result does not depend on timing; integer sums are exact.
function dist.all_reduce(t, op)
  if op ~= nil and op ~= "sum" and op ~= "min" and op ~= "max" then
    error(("sb.dist.all_reduce: op must be \"sum\", \"min\" or \"max\", got %s")
      :format(tostring(op)), 2)
  end
  if type(t) == "number" then
    local sb = require "sbengine"
    local box = sb.tensor({ t }, { dtype = math.type(t) == "integer" and "int64" or "float64" })
    cdist.all_reduce(box, op or "sum")
    local v = box[1]
    return math.type(t) == "integer" and math.tointeger(v) or v
  end
  local ok, err = pcall(cdist.all_reduce, t, op or "sum")
  if not ok then error(("sb.dist.all_reduce: %s"):format(tostring(err):gsub("^all_reduce: ", "")), 2) end
  return t
end

--- device([device]) -> the device this rank should use: "cuda" becomes
-- "cuda:(local_rank mod device count)" when several ranks run; anything else is returned as
-- it is (an explicit "cuda:N" is the user's choice).
function dist.device(device)
  if device ~= "cuda" or cdist.size() == 1 then return device end
  local count = core.sys.cuda_device_count()
  if count < 1 then return device end
  return ("cuda:%d"):format(cdist.local_rank() % count)
end

return dist
