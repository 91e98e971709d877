-- sb.dist in one process (rank 0 of 1) and the DataLoader's shards; the ranks of a real
-- MPI job are tests/cli/dist_mpi.sh's.
local sb = require "sbengine"
local docs = require "docs_helper"

describe("sb.dist in one process", function()
  it("is rank 0 of 1 and its collectives give back what they are given", function()
    assert.are.equal(0, sb.dist.rank())
    assert.are.equal(1, sb.dist.size())
    assert.are.equal(0, sb.dist.local_rank())
    sb.dist.barrier()
    assert.are.equal(7, sb.dist.all_reduce(7))
    assert.are.equal("integer", math.type(sb.dist.all_reduce(7, "max")))
    assert.are.equal(0.1, sb.dist.all_reduce(0.1, "min"))
    local t = sb.tensor({ 1.5, 2.5 })
    assert.are.equal(t, sb.dist.all_reduce(t))
    assert.are.same({ 1.5, 2.5 }, t:totable())
    assert.are.same({ { a = 1 } }, sb.dist.gather({ a = 1 }))
    assert.are.same({ "x", { 1, 2 } }, sb.dist.broadcast({ "x", { 1, 2 } }))
    assert.are.equal("cpu", sb.dist.device("cpu"))
    assert.are.equal("cuda", sb.dist.device("cuda")) -- one rank: the default GPU
  end)

  it("sends values bit for bit: integers stay integers, floats keep every bit", function()
    local v = { 1, 2.0, -0.0, 1 / 3, math.huge, math.mininteger, "a\0b", true, false,
                nested = { deep = { 2 ^ -1074 } } }
    local back = sb.dist._unpack(sb.dist._pack(v))
    assert.are.equal("integer", math.type(back[1]))
    assert.are.equal("float", math.type(back[2]))
    assert.are.equal(-math.huge, 1 / back[3]) -- -0.0 kept its sign
    assert.are.equal(1 / 3, back[4])
    assert.are.equal(math.huge, back[5])
    assert.are.equal(math.mininteger, back[6])
    assert.are.equal("a\0b", back[7])
    assert.are.same({ true, false }, { back[8], back[9] })
    assert.are.equal(2 ^ -1074, back.nested.deep[1])
    local nan = sb.dist._unpack(sb.dist._pack(0 / 0))
    assert.is_true(nan ~= nan)
  end)

  it("names what cannot be sent", function()
    local ok, err = pcall(sb.dist.gather, { f = print })
    assert.is_false(ok)
    assert.matches("sb.dist.gather: cannot send a function between ranks", err, 1, true)
    local loop = {}
    loop.self = loop
    ok, err = pcall(sb.dist.broadcast, loop)
    assert.is_false(ok)
    assert.matches("a table that contains itself", err, 1, true)
    ok, err = pcall(sb.dist.all_reduce, 1, "prod")
    assert.is_false(ok)
    assert.matches("op must be \"sum\", \"min\" or \"max\", got prod", err, 1, true)
    ok, err = pcall(sb.dist.all_reduce, sb.tensor({ 1 }, { dtype = "uint8" }))
    assert.is_false(ok)
    assert.matches("float32, float64, int32 or int64, got uint8", err, 1, true)
  end)
end)

describe("DataLoader shards", function()
  -- The dataset indices each shard's batches hold, one list per shard.
  local function shard_indices(ds, opts, shards)
    local all = {}
    for shard = 0, shards - 1 do
      local o = {}
      for k, v in pairs(opts) do o[k] = v end
      o.shard, o.shards = shard, shards
      local loader = sb.data.DataLoader(ds, o)
      local seen, nb = {}, 0
      for _, input in loader:iter() do
        nb = nb + 1
        for i = 1, input:size(1) do seen[#seen + 1] = math.tointeger(input[i][1]) end
      end
      assert.are.equal(#loader, nb)
      all[#all + 1] = seen
    end
    return all
  end

  local function concat(lists)
    local out = {}
    for _, l in ipairs(lists) do table.move(l, 1, #l, #out + 1, out) end
    return out
  end

  -- Sample i holds i: the indices read back say which samples a shard gave.
  local n = 23
  local values = {}
  for i = 1, n do values[i] = { i } end
  local c_dataset = sb.data.TensorDataset(sb.tensor(values, { dtype = "int64" }))
  local lua_dataset = { name = "lua", get = function(_, i) return sb.tensor({ i }, { dtype = "int64" }) end }
  setmetatable(lua_dataset, { __len = function() return n end })

  for _, case in ipairs {
    { "the C loader", c_dataset, {} },
    { "the C loader with workers", c_dataset, { num_workers = 2 } },
    { "a Lua dataset", lua_dataset, {} },
  } do
    local name, ds, extra = case[1], case[2], case[3]
    it(name .. ": every sample exactly once, in order, for any number of shards", function()
      for _, bs in ipairs { 1, 4, 5, 23, 30 } do
        local whole = {}
        for i = 1, n do whole[i] = i end
        for shards = 1, 7 do
          local opts = { batch_size = bs }
          for k, v in pairs(extra) do opts[k] = v end
          local parts = shard_indices(ds, opts, shards)
          assert.are.same(whole, concat(parts), ("batch_size %d, %d shards"):format(bs, shards))
          -- The last (batches mod shards) shards hold one batch more than the rest; with
          -- fewer batches than shards, the first ones hold one each.
          local batches = (n + bs - 1) // bs
          local per, extra = batches // shards, batches % shards
          for s = 1, shards do
            local want = per == 0 and ((s - 1) < extra and 1 or 0)
              or per + ((s - 1) >= shards - extra and 1 or 0)
            assert.are.equal(want, (#parts[s] + bs - 1) // bs, ("batch_size %d, shard %d of %d")
              :format(bs, s - 1, shards))
          end
        end
      end
    end)
  end

  it("a shuffled loader's shards cut one permutation (the seed is required)", function()
    local parts = shard_indices(c_dataset, { batch_size = 4, shuffle = true, seed = 7 }, 3)
    local whole = shard_indices(c_dataset, { batch_size = 4, shuffle = true, seed = 7 }, 1)[1]
    assert.are.same(whole, concat(parts))
    local ok, err = pcall(sb.data.DataLoader, c_dataset, { shuffle = true, shards = 2, shard = 0 })
    assert.is_false(ok)
    assert.matches("shuffle with shards needs a seed", err, 1, true)
  end)

  it("rejects a shard outside 0 .. shards - 1", function()
    local ok, err = pcall(sb.data.DataLoader, c_dataset, { shards = 3, shard = 3 })
    assert.is_false(ok)
    assert.matches("shard must be in 0..2 (shards = 3), got 3", err, 1, true)
    assert.matches("shard 1 of 3", tostring(sb.data.DataLoader(c_dataset, { shards = 3, shard = 1 })), 1, true)
  end)
end)

describe("docs/distributed.md", function()
  docs.check_examples_cover("docs/distributed.md", "sb.dist function",
    docs.public_names(require "sbengine.dist", true),
    function(name) return "sb%.dist%." .. name .. "%(" end)
end)
