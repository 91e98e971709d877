-- sb.data, sb.transforms, sb.progress on small generated files (no network, no real MNIST).
local sb = require "sbengine"
local core = require "sbengine.core"
local session = require "sbengine.session"
local H = require "data_helper"

local tmp
setup(function() tmp = H.tmpdir() end)
teardown(function() H.rmtree(tmp) end)

local function mnist_root(name, n_images, n_labels, opts)
  opts = opts or {}
  local root = tmp .. "/" .. name
  os.execute("mkdir -p '" .. root .. "'")
  local images = opts.images or H.idx_images(n_images, 28, 28)
  local labels = opts.labels or H.idx_labels(n_labels or n_images)
  H.write(root .. "/t10k-images-idx3-ubyte", images)
  H.write(root .. "/t10k-labels-idx1-ubyte", labels)
  return root
end

local function flat(t)
  local out = {}
  local function walk(v)
    if type(v) == "table" then for _, x in ipairs(v) do walk(x) end else out[#out + 1] = v end
  end
  walk(t:totable())
  return out
end

describe("sb.transforms", function()
  local T = sb.transforms

  it("ToTensor turns uint8 HW into float32 1xHxW in [0,1] and HWC into CHW", function()
    local img = sb.tensor({ { 0, 255 }, { 51, 102 } }, { dtype = "uint8" })
    local x = T.ToTensor()(img)
    assert.are.equal("float32", x:dtype())
    assert.are.same({ 1, 2, 2 }, { x:size(1), x:size(2), x:size(3) })
    local v = flat(x)
    assert.are.equal(0, v[1]); assert.are.equal(1, v[2])
    assert.is_true(math.abs(v[3] - 0.2) < 1e-7)
    local hwc = sb.tensor({ { { 1, 2, 3 }, { 4, 5, 6 } } }, { dtype = "uint8" }) -- 1x2x3
    local chw = T.ToTensor()(hwc)
    assert.are.same({ 3, 1, 2 }, { chw:size(1), chw:size(2), chw:size(3) })
    local c = flat(chw)
    assert.is_true(math.abs(c[1] - 1 / 255) < 1e-7) -- channel 0: 1, 4
    assert.is_true(math.abs(c[2] - 4 / 255) < 1e-7)
    assert.is_true(math.abs(c[3] - 2 / 255) < 1e-7) -- channel 1: 2, 5
  end)

  it("Compose{ToTensor, Normalize} gives torchvision's numbers and is a C transform", function()
    local t = T.Compose { T.ToTensor(), T.Normalize({ 0.1307 }, { 0.3081 }) }
    assert.is_true(T.is_c(t))
    local x = t(sb.tensor({ { 0, 128 } }, { dtype = "uint8" }))
    local v = flat(x)
    assert.is_true(math.abs(v[1] - (0 - 0.1307) / 0.3081) < 1e-6)
    assert.is_true(math.abs(v[2] - (128 / 255 - 0.1307) / 0.3081) < 1e-6)
    assert.are.equal("Compose(ToTensor(), Normalize(mean={0.1307}, std={0.3081}))", tostring(t))
  end)

  it("Lambda and plain functions make a Lua transform", function()
    local t = T.Compose { T.ToTensor(), function(x) return x * 2 end }
    assert.is_false(T.is_c(t))
    local v = flat(t(sb.tensor({ { 255 } }, { dtype = "uint8" })))
    assert.are.equal(2, v[1])
    assert.has_error(function() T.Lambda(3) end, "Lambda: expected a function, got number")
  end)

  it("rejects bad Normalize arguments and wrong inputs with named errors", function()
    assert.has_error(function() T.Normalize({ 0.5, 0.5 }, { 0.5 }) end,
      "Normalize: mean has 2 entries but std has 1")
    assert.has_error(function() T.Normalize({ 0.5 }, { 0 }) end,
      "Normalize: std[1] is 0 (division by zero)")
    local ok, err = pcall(T.Normalize({ 0.5 }, { 0.5 }), sb.tensor({ { 1 } }, { dtype = "uint8" }))
    assert.is_false(ok)
    assert.truthy(err:find("put ToTensor first", 1, true))
    ok, err = pcall(T.Compose { T.ToTensor(), T.Normalize({ 1, 2, 3 }, { 1, 1, 1 }) },
      sb.tensor({ { 1 } }, { dtype = "uint8" }))
    assert.is_false(ok)
    assert.truthy(err:find("3 means/stds for a sample with 1 channels", 1, true))
  end)
end)

describe("sb.data.MNIST on generated IDX files", function()
  it("reads files placed directly in ROOT, 1-based get, integer labels, name and #ds", function()
    local ds = sb.data.MNIST { root = mnist_root("ok", 12), train = false }
    assert.are.equal("MNIST", ds.name)
    assert.are.equal(12, #ds)
    local x, y = ds:get(4)
    assert.are.equal("uint8", x:dtype())
    assert.are.same({ 28, 28 }, { x:size(1), x:size(2) })
    assert.are.equal(3, y)
    assert.are.equal(math.type(y), "integer")
    assert.are.equal((3 + 5) % 256, flat(x)[6])
    assert.has_error(function() ds:get(13) end)
  end)

  it("reads the torchvision layout ROOT/MNIST/raw with .gz files", function()
    local root = tmp .. "/gz"
    os.execute("mkdir -p '" .. root .. "/MNIST/raw'")
    H.write(root .. "/MNIST/raw/t10k-images-idx3-ubyte.raw", H.idx_images(5, 28, 28))
    H.write(root .. "/MNIST/raw/t10k-labels-idx1-ubyte.raw", H.idx_labels(5))
    os.execute("cd '" .. root .. "/MNIST/raw' && for f in *.raw; do gzip -c $f > ${f%.raw}.gz; rm $f; done")
    local ds = sb.data.MNIST { root = root, train = false }
    assert.are.equal(5, #ds)
    local _, y = ds:get(5)
    assert.are.equal(4, y)
  end)

  local function mnist_error(root)
    local ok, err = pcall(sb.data.MNIST, { root = root, train = false })
    assert.is_false(ok)
    return err
  end

  it("raises a clear error for each kind of bad input", function()
    local images = H.idx_images(6, 28, 28)
    assert.truthy(mnist_error(mnist_root("trunc", 6, 6, { images = images:sub(1, -100) }))
      :find("truncated IDX file", 1, true))
    assert.truthy(mnist_error(mnist_root("magic", 6, 6, { images = "\0\0\8\4" .. images:sub(5) }))
      :find("wrong magic number", 1, true))
    local err = mnist_error(mnist_root("count", 6, 5))
    assert.truthy(err:find("6 images", 1, true) and err:find("5 labels", 1, true))
    local root = mnist_root("corrupt", 6)
    H.write(root .. "/t10k-images-idx3-ubyte.gz", "\31\139\8\0garbage garbage garbage")
    os.remove(root .. "/t10k-images-idx3-ubyte")
    assert.truthy(mnist_error(root):find("corrupt gzip file", 1, true))
    assert.truthy(mnist_error(tmp .. "/no/such/root"):find("cannot access", 1, true))
    os.execute("mkdir -p '" .. tmp .. "/empty'")
    err = mnist_error(tmp .. "/empty")
    assert.truthy(err:find("sbengine fetch mnist", 1, true))
    assert.truthy(err:find("download = true", 1, true))
  end)

  it("rejects unknown options", function()
    assert.has_error(function() sb.data.MNIST { rot = "x" } end)
  end)
end)

describe("sb.data.CIFAR10/CIFAR100 on generated binary files", function()
  local function records(n, label_bytes)
    local parts = {}
    for r = 0, n - 1 do
      local lbl = label_bytes == 1 and string.char(r % 10) or string.char(r % 20, r % 100)
      parts[#parts + 1] = lbl .. string.rep(string.char(r), 1024) .. string.rep(string.char(100 + r), 1024)
        .. string.rep(string.char(200), 1024)
    end
    return table.concat(parts)
  end

  it("reads test_batch.bin into HWC images with labels", function()
    local root = tmp .. "/cifar10"
    os.execute("mkdir -p '" .. root .. "/cifar-10-batches-bin'")
    H.write(root .. "/cifar-10-batches-bin/test_batch.bin", records(4, 1))
    local ds = sb.data.CIFAR10 { root = root, train = false, transform = sb.transforms.ToTensor() }
    assert.are.equal("CIFAR10", ds.name)
    assert.are.equal(4, #ds)
    local x, y = ds:get(3)
    assert.are.same({ 3, 32, 32 }, { x:size(1), x:size(2), x:size(3) })
    assert.are.equal(2, y)
    local raw = sb.data.CIFAR10 { root = root, train = false }:get(3)
    assert.are.same({ 32, 32, 3 }, { raw:size(1), raw:size(2), raw:size(3) })
    assert.are.same({ 2, 102, 200 }, { flat(raw)[1], flat(raw)[2], flat(raw)[3] })
    H.write(root .. "/cifar-10-batches-bin/test_batch.bin", records(4, 1):sub(1, -2))
    local ok, err = pcall(sb.data.CIFAR10, { root = root, train = false })
    assert.is_false(ok)
    assert.truthy(err:find("not a whole number of 3073-byte", 1, true))
  end)

  it("reads CIFAR-100 fine and coarse labels", function()
    local root = tmp .. "/cifar100"
    os.execute("mkdir -p '" .. root .. "'")
    H.write(root .. "/test.bin", records(30, 2))
    local fine = sb.data.CIFAR100 { root = root, train = false }
    local coarse = sb.data.CIFAR100 { root = root, train = false, coarse = true }
    assert.are.equal("CIFAR100", fine.name)
    assert.are.equal(25, select(2, fine:get(26)))
    assert.are.equal(5, select(2, coarse:get(26)))
  end)
end)

describe("sb.data.DataLoader", function()
  local n = 37
  local function synthetic()
    return sb.data.MNIST { root = mnist_root("loader", n), train = false }
  end

  local function collect(loader)
    local batches = {}
    for i, x, y in loader:iter() do
      batches[#batches + 1] = { i = i, x = flat(x), y = flat(y), shape = { x:size(1), x:dim() } }
    end
    return batches
  end

  it("gives the same batches for num_workers 0, 1, 2, 4, in order, with and without shuffle", function()
    local ds = synthetic()
    local want = collect(sb.data.DataLoader(ds, { batch_size = 8 }))
    assert.are.equal(5, #want)
    assert.are.same({ 5, 3 }, want[5].shape)
    for b = 1, 5 do assert.are.equal(b, want[b].i) end
    for b = 1, 4 do -- labels are index % 10 in order
      for j = 1, 8 do assert.are.equal(((b - 1) * 8 + j - 1) % 10, want[b].y[j]) end
    end
    local shuffled = collect(sb.data.DataLoader(ds, { batch_size = 8, shuffle = true, seed = 5 }))
    local order = core.data.permutation(n, 5, 0)
    for j = 1, 8 do assert.are.equal((order[j] - 1) % 10, shuffled[1].y[j]) end
    for _, w in ipairs { 1, 2, 4 } do
      assert.are.same(want, collect(sb.data.DataLoader(ds, { batch_size = 8, num_workers = w })))
      assert.are.same(shuffled, collect(sb.data.DataLoader(ds,
        { batch_size = 8, num_workers = w, shuffle = true, seed = 5, prefetch = 1 })))
    end
  end)

  it("reshuffles on each pass, deterministically for a seed", function()
    local ds = synthetic()
    local a = sb.data.DataLoader(ds, { batch_size = n, shuffle = true, seed = 9 })
    local b = sb.data.DataLoader(ds, { batch_size = n, shuffle = true, seed = 9 })
    local a1, a2, b1 = collect(a), collect(a), collect(b)
    assert.are.same(a1, b1)
    assert.are_not.same(a1[1].y, a2[1].y)
  end)

  it("drop_last drops the short batch", function()
    local l = sb.data.DataLoader(synthetic(), { batch_size = 8, drop_last = true, num_workers = 2 })
    assert.are.equal(4, #l)
    assert.are.equal(4, #collect(l))
  end)

  it("applies C transforms in the workers and Lua transforms on the Lua thread, equally", function()
    local root = mnist_root("loader", n)
    local T = sb.transforms
    local c = sb.data.MNIST { root = root, train = false,
      transform = T.Compose { T.ToTensor(), T.Normalize({ 0.5 }, { 0.25 }) } }
    local lua = sb.data.MNIST { root = root, train = false,
      transform = T.Compose { T.ToTensor(), T.Lambda(function(x) return (x - 0.5) / 0.25 end) } }
    local lc = sb.data.DataLoader(c, { batch_size = 10, num_workers = 2, shuffle = true, seed = 1 })
    local ll = sb.data.DataLoader(lua, { batch_size = 10, num_workers = 2, shuffle = true, seed = 1 })
    assert.is_true(lc.threaded)
    assert.is_false(ll.threaded)
    local bc, bl = collect(lc), collect(ll)
    assert.are.equal(#bc, #bl)
    for b = 1, #bc do
      assert.are.same(bc[b].y, bl[b].y)
      for k = 1, #bc[b].x, 97 do assert.is_true(math.abs(bc[b].x[k] - bl[b].x[k]) < 1e-5) end
    end
    assert.are.same({ 10, 4 }, bc[1].shape)
  end)

  it("loads Lua datasets (#ds and ds:get(i)) and TensorDataset", function()
    local Squares = setmetatable({}, { __len = function() return 10 end })
    function Squares:get(i) return sb.tensor({ i, i * i }), i % 3 end
    local batches = collect(sb.data.DataLoader(Squares, { batch_size = 4 }))
    assert.are.equal(3, #batches)
    assert.are.same({ 1, 1, 2, 4, 3, 9, 4, 16 }, batches[1].x)
    assert.are.same({ 1, 2, 0, 1 }, batches[1].y)

    local inputs = sb.tensor({ { 1, 2 }, { 3, 4 }, { 5, 6 } })
    local targets = sb.tensor({ 7, 8, 9 }, { dtype = "int64" })
    local td = sb.data.TensorDataset(inputs, targets)
    assert.are.equal(3, #td)
    local x, y = td:get(2)
    assert.are.same({ 3, 4 }, x:totable())
    assert.are.equal(8, y)
    local tb = collect(sb.data.DataLoader(td, { batch_size = 2, num_workers = 2 }))
    assert.are.same({ 1, 2, 3, 4 }, tb[1].x)
    assert.are.same({ 9 }, tb[2].y)
  end)

  it("names the dataset index when a Lua dataset fails", function()
    local Bad = setmetatable({ name = "Bad" }, { __len = function() return 10 end })
    function Bad:get(i)
      if i == 7 then error("cannot read sample") end
      return sb.tensor({ i }), i
    end
    local ok, err = pcall(collect, sb.data.DataLoader(Bad, { batch_size = 3 }))
    assert.is_false(ok)
    assert.truthy(err:find("Bad: dataset index 7", 1, true))
    assert.truthy(err:find("cannot read sample", 1, true))
  end)

  it("rejects unknown and mistyped options", function()
    local ds = synthetic()
    local ok, err = pcall(sb.data.DataLoader, ds, { batchsize = 4 })
    assert.is_false(ok)
    assert.truthy(err:find("unknown option 'batchsize'", 1, true))
    assert.has_error(function() sb.data.DataLoader(ds, { batch_size = 0 }) end)
    assert.has_error(function() sb.data.DataLoader(ds, { shuffle = "yes" }) end)
    assert.has_error(function() sb.data.DataLoader(42) end)
  end)

  it("stops every worker thread when the loop is left early", function()
    local ds = synthetic()
    local before = H.threads()
    local loader = sb.data.DataLoader(ds, { batch_size = 2, num_workers = 4, prefetch = 4 })
    for i in loader:iter() do
      assert.are.equal(before + 4, H.threads())
      if i == 2 then break end
    end
    assert.are.equal(before, H.threads())
    -- and after an error in the loop body
    pcall(function()
      for _ in loader:iter() do error("boom") end
    end)
    assert.are.equal(before, H.threads())
    -- and after a full pass
    for _ in loader:iter() do end
    assert.are.equal(before, H.threads())
  end)

  it("pin_memory without CUDA is ordinary memory, with the reason recorded", function()
    local l = sb.data.DataLoader(synthetic(), { batch_size = 4, pin_memory = true })
    if not l.pinned then
      assert.truthy(l.pin_memory_note:find("CUDA is not available", 1, true))
    end
    assert.are.equal(10, #collect(l))
  end)
end)

describe("sb.progress", function()
  local function sink()
    local s = { text = {} }
    function s:write(...) for _, v in ipairs { ... } do self.text[#self.text + 1] = v end end
    function s:flush() end
    function s:get() return table.concat(self.text) end
    return s
  end

  local function fake_clock()
    local t = 100
    return function() return t end, function(dt) t = t + dt end
  end

  it("draws count, percentage, rate and ETA like tqdm", function()
    local clock, advance = fake_clock()
    local out = sink()
    local bar = sb.progress.bar { desc = "eval", total = 10, file = out, enabled = true, tty = false,
                                  interval = 1, width = 60, _clock = clock }
    for _ = 1, 4 do advance(0.5); bar:update() end
    bar:close()
    local text = out:get()
    assert.truthy(text:find("eval:  40%|", 1, true), text)
    assert.truthy(text:find("| 4/10 [00:02<00:03, 2.00it/s]", 1, true), text)
    assert.are.equal(3, select(2, text:gsub("\n", ""))) -- one line per second off a terminal, plus the last
  end)

  it("redraws in place on a terminal and scales bytes", function()
    local clock, advance = fake_clock()
    local out = sink()
    local bar = sb.progress.bar { desc = "dl", total = 4 * 1048576, unit = "B", file = out,
                                  enabled = true, tty = true, _clock = clock }
    advance(1); bar:set(1048576)
    bar:close()
    local text = out:get()
    assert.truthy(text:find("\r", 1, true))
    assert.truthy(text:find("1.00MiB/4.00MiB", 1, true), text)
    assert.truthy(text:find("1.00MiB/s", 1, true), text)
  end)

  it("is silent with --quiet and off a terminal, forced by --progress", function()
    local saved = session.config
    session.config = { quiet = true, progress = true }
    assert.is_false(sb.progress.bar { file = sink() }.enabled)
    session.config = { progress = true }
    assert.is_true(sb.progress.bar { file = sink() }.enabled)
    session.config = {}
    assert.is_false(sb.progress.bar { file = sink(), tty = false }.enabled)
    session.config = saved
  end)

  it("wraps loaders, lists and numbers, yielding what they yield, and closes on break", function()
    local saved = session.config
    session.config = { quiet = true }
    local seen = {}
    for i, v in sb.progress({ "a", "b", "c" }, { desc = "x" }) do seen[i] = v end
    assert.are.same({ "a", "b", "c" }, seen)
    local count = 0
    for i in sb.progress(5) do count = count + i end
    assert.are.equal(15, count)
    local ds = sb.data.MNIST { root = mnist_root("progress", 37), train = false }
    local loader = sb.data.DataLoader(ds, { batch_size = 4, num_workers = 2 })
    local before = H.threads()
    local batches = 0
    for i, x, y in sb.progress(loader, { desc = "eval" }) do
      batches = i
      assert.are.equal(4, x:size(1)); assert.are.equal(4, y:size(1))
      if i == 3 then break end
    end
    assert.are.equal(3, batches)
    assert.are.equal(before, H.threads())
    session.config = saved
    assert.has_error(function() sb.progress(loader, { dsec = "typo" }) end)
  end)
end)
