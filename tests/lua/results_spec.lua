-- BenchmarkResult, the store file and the run hash (docs/results.md).
local sb = require "sbengine"
local cjson = require "cjson"
local core = require "sbengine.core"
local store = require "sbengine._store"
local results = require "sbengine.results"

local files = require "tmpfiles"
local tmpdir, read = files.tmpdir, files.read

local function fields(extra)
  local f = { model = "LeNet-5", task = "Image Classification", dataset = "MNIST",
              results = { ["Top 1 Accuracy"] = 0.9912, ["Top 5 Accuracy"] = 0.9999 } }
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

describe("sb.BenchmarkResult", function()
  it("validates at construction and names the field", function()
    local cases = {
      { { task = "t", dataset = "d" }, "model: required" },
      { { model = "m", dataset = "d" }, "task: required" },
      { { model = "m", task = "t" }, "dataset: required" },
      { { model = 5, task = "t", dataset = "d" }, "model: expected a string, got number" },
      { fields { results = { acc = "high" } }, 'results["acc"]: expected a number, got string' },
      { fields { results = { acc = 0 / 0 } }, 'results["acc"]: expected a finite number, got NaN' },
      { fields { paper_results = { acc = math.huge } }, "got inf" },
      { fields { speed_mem_metrics = 3 }, "speed_mem_metrics: expected a table" },
      { fields { config = { fn = print } }, 'config["fn"]: a function cannot be stored' },
      { fields { run_hash = "xyz" }, "run_hash: expected 64 lowercase hexadecimal" },
      { fields { modle = "x" }, "unknown field 'modle'" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(sb.BenchmarkResult, c[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(c[2], 1, true), tostring(err) .. " lacks " .. c[2])
    end
    assert.has_error(function() sb.BenchmarkResult("LeNet") end,
      "BenchmarkResult: expected a table of fields {model=, task=, dataset=, results=, ...}, got string")
  end)

  it("raises at the caller's line, not inside the engine", function()
    local ok, err = pcall(function() sb.BenchmarkResult(fields { model = "" }) end)
    assert.is_false(ok)
    assert.matches("^[^:]*results_spec%.lua:%d+: BenchmarkResult: model: must not be empty", err)
    ok, err = pcall(function() sb.results.run_hash(sb.zeros(2), { a = "x" }) end)
    assert.is_false(ok)
    assert.matches('^[^:]*results_spec%.lua:%d+: run_hash: metrics%["a"%]', err)
  end)

  it("serialises with sotabench's key order, then config, extra, environment, idempotency_key", function()
    local r = sb.BenchmarkResult(fields { config = { batch_size = 128 }, arxiv_id = "1234.5678" })
    local json = r:to_json()
    local keys = {}
    for k in json:gmatch('"([%w_]+)":') do keys[#keys + 1] = k end
    local top = {}
    local want = { "model", "model_description", "task", "dataset_name", "results",
      "speed_mem_metrics", "arxiv_id", "pwc_id", "pytorch_hub_id", "paper_results", "run_hash",
      "config", "extra", "environment", "idempotency_key" }
    local wanted = {}
    for _, k in ipairs(want) do wanted[k] = true end
    for _, k in ipairs(keys) do if wanted[k] and not top[k] then top[#top + 1] = k; top[k] = true end end
    assert.are.same(want, { table.unpack(top) })
    local d = cjson.decode(json)
    assert.are.equal(0.9912, d.results["Top 1 Accuracy"])
    assert.are.equal(cjson.null, d.pwc_id)
    assert.are.equal("1234.5678", d.arxiv_id)
    assert.are.equal(128, d.config.batch_size)
    assert.truthy(r:to_json { pretty = true }:find('\n  "model": "LeNet-5",\n', 1, true))
  end)

  it("records the environment and a UUID idempotency key", function()
    local r = sb.BenchmarkResult(fields())
    local env = r.environment
    assert.are.equal(core.sys.build_info().version, env.engine_version)
    assert.truthy(env.blas:find("OpenBLAS"))
    -- The kernel set OpenBLAS runs, also named inside its configuration string.
    assert.truthy(env.blas_kernel:match("^%w+$"))
    assert.truthy(env.blas:find(env.blas_kernel, 1, true))
    assert.is_string(env.host)
    assert.is_string(env.device)
    assert.truthy(r.idempotency_key:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$"))
    assert.are_not.equal(r.idempotency_key, sb.BenchmarkResult(fields()).idempotency_key)
  end)

  it("reads fields, gives to_dict(), prints a table and is read-only", function()
    local r = sb.BenchmarkResult(fields { model_description = "five layers" })
    assert.are.equal("LeNet-5", r.model)
    assert.are.equal("MNIST", r.dataset)
    assert.is_nil(r.arxiv_id)
    local d = r:to_dict()
    assert.are.equal("MNIST", d.dataset_name)
    assert.are.equal(0.9999, d.results["Top 5 Accuracy"])
    local text = tostring(r)
    assert.truthy(text:find("^BenchmarkResult\n"))
    assert.truthy(text:find("  model             LeNet%-5\n"))
    assert.truthy(text:find("    Top 1 Accuracy  0.9912\n", 1, true))
    assert.has_error(function() r.model = "x" end)
  end)

  it("saves atomically as one JSON object", function()
    local dir = tmpdir()
    local r = sb.BenchmarkResult(fields())
    r:save(dir .. "/r.json")
    assert.are.equal("LeNet-5", cjson.decode(read(dir .. "/r.json")).model)
    assert.has_error(function() r:save(dir .. "/missing/r.json") end)
    os.execute("rm -rf " .. dir)
  end)

  it("is collected for the store file", function()
    results.take()
    local a = sb.BenchmarkResult(fields())
    local b = sb.BenchmarkResult(fields { model = "B" })
    local list = results.collected()
    assert.are.equal(2, #list)
    assert.are.equal(a, list[1])
    assert.are.equal(b, list[2])
    results.take()
  end)

  it("leaves the store file's list with discard(r) and discard()", function()
    results.take()
    local a = sb.BenchmarkResult(fields())
    local b = sb.BenchmarkResult(fields { model = "B" })
    assert.are.equal(1, results.discard(a))
    assert.are.equal(0, results.discard(a))
    assert.are.same({ b }, results.collected())
    sb.BenchmarkResult(fields { model = "C" })
    assert.are.equal(2, results.discard())
    assert.are.equal(0, #results.collected())
    local ok, err = pcall(results.discard, "B")
    assert.is_false(ok)
    assert.matches("expected a BenchmarkResult", err)
  end)

  it("builds the resubmit command from the run's server settings, without secrets", function()
    local session = require "sbengine.session"
    local saved = session.config
    session.config = { server = "https://alice:pw-XYZ@example.org/api/", profile = "ci job",
      insecure_http = true, metric_dirs = {} }
    local cmd = results.submit_command("my store.json", "--allow-nonfinite")
    session.config = saved
    assert.are.equal("sbengine submit --server 'https://***@example.org/api/' --profile 'ci job' "
      .. "--insecure-http --allow-nonfinite 'my store.json'", cmd)
  end)

  it("keeps what is not a number in extra, as JSON between config and environment", function()
    local r = sb.BenchmarkResult(fields { extra = { matrix = { { 1, 0 }, { 0, 1 } }, note = "x" } })
    assert.are.same({ { 1, 0 }, { 0, 1 } }, r.extra.matrix)
    assert.matches('"config":null,"extra":{"matrix":%[%[1,0%],%[0,1%]%],"note":"x"},"environment"',
      r:to_json())
    local ok, err = pcall(sb.BenchmarkResult, fields { extra = { 1, 2 } })
    assert.is_false(ok)
    assert.matches("extra: expected a table of name = value", err)
    results.take()
  end)

  it("round-trips through the store file with from_dict", function()
    local r = sb.BenchmarkResult(fields { config = { device = "cpu", sizes = { 1, 2 } },
      speed_mem_metrics = { Tasks = 10000, ["Evaluation Time"] = 1.25 } })
    local again = core.result.from_dict(cjson.decode(r:to_json()))
    assert.are.equal(r:to_json(), again:to_json())
  end)
end)

describe("the store file", function()
  it("is created, appended to without touching older entries, and never truncated", function()
    local dir = tmpdir()
    local path = dir .. "/store.json"
    local a = sb.BenchmarkResult(fields { model = "A" })
    store.append(path, { a })
    local first = read(path)
    local b = sb.BenchmarkResult(fields { model = "B" })
    local c = sb.BenchmarkResult(fields { model = "C" })
    store.append(path, { b, c })
    local text = read(path)
    local d = cjson.decode(text)
    assert.are.same({ "A", "B", "C" }, { d[1].model, d[2].model, d[3].model })
    assert.are.equal(first:gsub("%s*%]%s*$", ""), text:sub(1, #first:gsub("%s*%]%s*$", "")))
    results.take()
    os.execute("rm -rf " .. dir)
  end)

  it("appends to an empty array and an empty file", function()
    local dir = tmpdir()
    for _, initial in ipairs { "[]\n", "", "  [ ]  " } do
      local f = io.open(dir .. "/s.json", "w"); f:write(initial); f:close()
      store.append(dir .. "/s.json", { sb.BenchmarkResult(fields()) })
      assert.are.equal(1, #cjson.decode(read(dir .. "/s.json")))
    end
    results.take()
    os.execute("rm -rf " .. dir)
  end)

  it("leaves a file that is not a JSON array alone (the caller rescues the results)", function()
    local dir = tmpdir()
    local path = dir .. "/s.json"
    local f = io.open(path, "w"); f:write("{\"not\": \"an array\"}"); f:close()
    local ok, err = pcall(store.append, path, { sb.BenchmarkResult(fields()) })
    assert.is_false(ok)
    assert.are.equal("not_array", err.kind)
    assert.truthy(tostring(err):find("was not appended to because it is not a JSON array", 1, true))
    assert.are.equal("{\"not\": \"an array\"}", read(path))
    results.take()
    os.execute("rm -rf " .. dir)
  end)

  it("takes its path from --out, SOTABENCH_STORE_FILENAME, or the default", function()
    local session = require "sbengine.session"
    local saved = session.config
    session.config = { out = "x.json", metric_dirs = {} }
    assert.are.equal("x.json", store.path())
    session.config = { metric_dirs = {} }
    if not os.getenv("SOTABENCH_STORE_FILENAME") then
      assert.are.equal("sotabench_results.json", store.path())
    end
    session.config = saved
  end)
end)

describe("sb.results.run_hash", function()
  it("follows the documented recipe", function()
    -- docs/results.md: the canonical text for a 2x2 output and two metrics
    local text = "sbengine-run-hash-v1\nshape 2,2\n0.100\n0.200\n-1.000\n2.000\n"
      .. "metrics 2\nTop 1 Accuracy=0.500\nTop 5 Accuracy=1.000\n"
    local tmp = os.tmpname()
    local out = assert(io.open(tmp, "wb"))
    out:write(text)
    out:close()
    local f = io.popen("sha256sum " .. tmp)
    local expected = f:read("a"):match("^(%x+)")
    f:close()
    os.remove(tmp)
    local got = sb.results.run_hash({ { 0.1000001, 0.19999 }, { -1, 2.0004 } },
      { ["Top 5 Accuracy"] = 1.0, ["Top 1 Accuracy"] = 0.5 })
    assert.are.equal(expected, got)
  end)

  it("gives equal hashes for equal rounded outputs whatever the dtype or device string", function()
    -- values exactly representable in float16/float32/float64, and a nearby float32 value
    -- that rounds to the same 3 decimals
    local values = { { 0.125, -2.5, 3.0 }, { 0.0, 1.75, -0.0078125 } }
    local metrics = { ["Top 1 Accuracy"] = 0.5 }
    local want = sb.results.run_hash(values, metrics)
    for _, dtype in ipairs { "float32", "float64" } do
      for _, device in ipairs { "cpu" } do
        local t = sb.tensor(values, { dtype = dtype, device = device })
        assert.are.equal(want, sb.results.run_hash(t, metrics), dtype .. " on " .. device)
        -- a non-contiguous view with the same values hashes the same
        assert.are.equal(want, sb.results.run_hash(t:t():contiguous():t(), metrics))
      end
    end
    local near = sb.tensor({ { 0.12500001, -2.5000002, 3.0 }, { 0.0, 1.7500001, -0.0078 } })
    assert.are.equal(want, sb.results.run_hash(near, metrics))
    local ints = sb.tensor({ { 1, 2 }, { 3, 4 } }, { dtype = "int64" })
    assert.are.equal(sb.results.run_hash({ { 1, 2 }, { 3, 4 } }, {}), sb.results.run_hash(ints, {}))
    assert.are.equal(sb.results.run_hash({ { 1, 2 }, { 3, 4 } }, {}),
      sb.results.run_hash(sb.tensor({ { 1, 2 }, { 3, 4 } }, { dtype = "uint8" }), {}))
  end)

  it("depends on rounded values and shape only", function()
    local a = sb.results.run_hash({ { 0.1234 }, { 0.5 } }, { acc = 0.5 })
    assert.are.equal(a, sb.results.run_hash({ { 0.12349 }, { 0.50004 } }, { acc = 0.50001 }))
    assert.are_not.equal(a, sb.results.run_hash({ { 0.1234, 0.5 } }, { acc = 0.5 }))
    assert.are_not.equal(a, sb.results.run_hash({ { 0.1244 }, { 0.5 } }, { acc = 0.5 }))
    assert.are_not.equal(a, sb.results.run_hash({ { 0.1234 }, { 0.5 } }, { acc = 0.6 }))
    assert.has_error(function() sb.results.run_hash({ { 1, 2 }, { 3 } }, {}) end)
    assert.has_error(function() sb.results.run_hash({ 1 }, { acc = "x" }) end,
      'run_hash: metrics["acc"]: expected a number, got string')
  end)
end)
