--- The distributed part of the benchmark loop (internal; docs/distributed.md says what it
-- promises): each rank evaluates one contiguous shard of the batches, rank 0 learns the run
-- hash from the globally first batch, and after the loop every meter's declared state is
-- gathered on rank 0 and merged in rank order, so the numbers equal a single process's.
local dist = require "sbengine.dist"

local M = {}

--- Whether this process is one of several ranks.
function M.active() return dist.size() > 1 end

--- The DataLoader options `opts` with this rank's shard added (unchanged in one process).
function M.loader_options(opts)
  if dist.size() > 1 then opts.shard, opts.shards = dist.rank(), dist.size() end
  return opts
end

--- Checks, before anything runs, that the loop can be merged: a loader cut into one shard
-- per rank and meters that declare their state. Raises the same error on every rank.
function M.check(loader, meters, where)
  local size = dist.size()
  if (loader.shards or 1) ~= size or loader.shard ~= dist.rank() then
    error(("%s: %d ranks evaluate together, so the loader must give this rank's shard: "
      .. "sb.data.DataLoader(ds, {shards = sb.dist.size(), shard = sb.dist.rank(), ...})")
      :format(where, size), 0)
  end
  for _, m in ipairs(meters) do
    if type(m.meter.state) ~= "function" or type(m.meter.merge) ~= "function" then
      error(("%s: metric '%s' has no state() and merge(), so the parts the %d ranks computed "
        .. "cannot be combined; declare its state with sb.metrics.define (docs/metrics.md, "
        .. "\"Writing a metric\")"):format(where, tostring(m.metric), size), 0)
    end
  end
end

local REPORT_EVERY = 0.25 -- seconds between a rank's progress reports to rank 0

--- `for i, input, target in M.batches(loader, desc)`: the loader's batches, and one progress
-- bar, on rank 0, over every rank's batches: the other ranks report their count now and
-- then (a message of 8 bytes that never blocks) and once when they finish; rank 0's bar keeps
-- moving after its own last batch until every rank has finished.
function M.batches(loader, desc)
  local core = require "sbengine.core"
  local progress = require "sbengine.progress"
  local cdist, clock = core.dist, core.sys.monotonic
  local rank, size = dist.rank(), dist.size()
  local f, s, c, closing = loader:iter()
  local bar, mine, reported, others, polled = nil, 0, clock(), 0, clock()
  if rank == 0 then
    bar = progress.bar { desc = desc, unit = "batch", total = loader:_all_batches() }
    cdist.progress_poll(0, true)
  end
  local ended = false
  local function last_batch_done()
    ended = true
    if rank ~= 0 then
      cdist.progress_send(mine, true)
      return
    end
    local finished
    others, finished = cdist.progress_poll(0)
    while finished < size - 1 do
      bar:set(mine + others)
      others, finished = cdist.progress_poll(0.2)
    end
    bar.n = mine + others -- drawn once more by close
    bar:close()
  end
  local closer = setmetatable({}, { __close = function(_, err)
    -- Left early without an error (check mode, a cache hit: every rank leaves after the
    -- first batch): the same last report, so that no message is left in flight.
    if not ended and err == nil then last_batch_done() end
    if bar then bar:close() end
    local mt = closing and getmetatable(closing)
    if mt and mt.__close then mt.__close(closing, nil) end
  end })
  local function step(_, control)
    local r = table.pack(f(s, control))
    if r[1] == nil then
      last_batch_done()
      return nil
    end
    mine = mine + 1
    if rank == 0 then
      -- Polled as often as the others report: a poll that finds nothing makes MPI yield
      -- the core (mpi_yield_when_idle), which after every batch would slow rank 0 down.
      if clock() - polled >= REPORT_EVERY then
        others = cdist.progress_poll(0)
        polled = clock()
      end
      bar:set(mine + others)
    elseif clock() - reported >= REPORT_EVERY then
      cdist.progress_send(mine, false)
      reported = clock()
    end
    return table.unpack(r, 1, r.n)
  end
  return step, nil, c, closer
end

--- After rank 0's first batch (or, on a rank that has no batch, after its loop): every rank
-- gets rank 0's run hash and what the server's cache said about it.
function M.first_batch(run_hash, cached)
  local got = dist.broadcast({ run_hash = run_hash, cached = cached })
  return got.run_hash, got.cached
end

--- After the loop: gathers every rank's meter states and figures on rank 0 and merges them
-- there in rank order (integers stay exact; floating sums are added in one fixed order;
-- "cat" states come out in dataset order because the shards are contiguous). In check mode
-- only rank 0's first batch counts, as in one process. `mine` = {elapsed, tasks, memory,
-- nonfinite = counter}. Returns, on rank 0 only, {elapsed = slowest, tasks = total,
-- memory = largest, memory_sum, nonfinite = {rows, total, first_batch}}.
function M.merge(meters, mine, check_mode)
  local rank = dist.rank()
  local payload = {
    elapsed = mine.elapsed, tasks = mine.tasks, memory = mine.memory,
    nonfinite = { rows = mine.nonfinite.rows, total = mine.nonfinite.total,
                  first_batch = mine.nonfinite.first_batch },
  }
  if not check_mode or rank == 0 then
    payload.states = {}
    for i, m in ipairs(meters) do payload.states[i] = m.meter:state() end
  end
  local all = dist.gather(payload)
  if all == nil then return nil end
  local merged = { elapsed = 0, tasks = 0, memory = 0, memory_sum = 0,
                   nonfinite = { rows = 0, total = 0 } }
  for r, p in ipairs(all) do
    if r > 1 and p.states then
      for i, m in ipairs(meters) do m.meter:merge(p.states[i]) end
    end
    merged.elapsed = math.max(merged.elapsed, p.elapsed)
    merged.tasks = merged.tasks + p.tasks
    merged.memory = math.max(merged.memory, p.memory)
    merged.memory_sum = merged.memory_sum + p.memory
    local nf = merged.nonfinite
    nf.rows, nf.total = nf.rows + p.nonfinite.rows, nf.total + p.nonfinite.total
    if p.nonfinite.first_batch and not nf.first_batch then nf.first_batch = p.nonfinite.first_batch end
  end
  return merged
end

--- Rank 0's `v` on every rank (the merged results, so every rank returns the same).
function M.share(v) return dist.broadcast(v) end

return M
