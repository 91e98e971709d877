-- sb.bench: the shared evaluation loop, with small Lua models over a TensorDataset whose
-- inputs are already class scores (so the identity is a model with a known accuracy).
local sb = require "sbengine"
local session = require "sbengine.session"

-- 10 samples, 4 classes. Row i scores class (i % 4) highest, so with labels below the
-- identity model gets samples 1..7 right at top-1 and 9 of 10 within its top-2.
local N, C = 10, 4
local function make_data()
  local scores, labels = {}, {}
  for i = 1, N do
    local row = { 0.1, 0.2, 0.3, 0.4 }
    row[(i % C) + 1] = 1.0
    scores[i] = row
    labels[i] = i % C -- class ids are data: 0..3
  end
  labels[8] = (8 % C + 3) % C -- wrong at top-1, right at top-2 (score 0.4 is 2nd)
  labels[9] = 0               -- 9 % 4 = 1 is predicted; 0 scores 0.1: wrong at top-2
  labels[10] = 1              -- 10 % 4 = 2 predicted; 1 scores 0.2: wrong at top-2
  return sb.tensor(scores), sb.tensor(labels, { dtype = "int64" })
end

local function tiny_benchmark(extra)
  local spec = {
    name = "Tiny",
    task = "Image Classification",
    num_classes = C,
    dataset = function(o)
      local x, y = make_data()
      return sb.data.TensorDataset(x, y)
    end,
    defaults = { batch_size = 4, num_workers = 0 },
    metrics = { { "topk_accuracy", { k = { 1, 2 } } } },
  }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return sb.bench.define(spec)
end

local identity = function(x) return x end

describe("sb.bench", function()
  local saved_config
  before_each(function()
    saved_config = session.config
    session.config = { metric_dirs = {}, device = "cpu" }
  end)
  after_each(function() session.config = saved_config end)

  it("evaluates a model and fills results, run hash and exactly the four speed/memory metrics", function()
    local Tiny = tiny_benchmark()
    local r = Tiny.benchmark{ model = identity, paper_model_name = "identity" }
    local d = r:to_dict()
    assert.are.equal("identity", d.model)
    assert.are.equal("Tiny", d.dataset_name or d.dataset)
    assert.are.equal("Image Classification", d.task)
    assert.near(0.7, d.results["Top 1 Accuracy"], 1e-12)
    assert.near(0.8, d.results["Top 2 Accuracy"], 1e-12)
    local keys = {}
    for k in pairs(d.speed_mem_metrics) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.are.same({ "Evaluation Time", "Max Memory Allocated (Total)", "Tasks",
                      "Tasks / Evaluation Time" }, keys)
    assert.are.equal(N, d.speed_mem_metrics["Tasks"])
    assert.is_true(d.speed_mem_metrics["Evaluation Time"] > 0)
    assert.is_true(d.speed_mem_metrics["Max Memory Allocated (Total)"] > 0)
    assert.matches("^%x+$", d.run_hash)
    assert.are.equal(64, #d.run_hash)
    assert.are.equal(4, d.config.batch_size)
  end)

  it("gives the same run hash for the same first batch", function()
    local Tiny = tiny_benchmark()
    local a = Tiny.benchmark{ model = identity }
    local b = Tiny.benchmark{ model = function(x) return x:clone() end, batch_size = 4 }
    assert.are.equal(a:to_dict().run_hash, b:to_dict().run_hash)
    local c = Tiny.benchmark{ model = function(x) return x * 2 end }
    assert.are_not.equal(a:to_dict().run_hash, c:to_dict().run_hash)
  end)

  it("accepts MNIST:benchmark{...} as well as MNIST.benchmark{...}", function()
    local Tiny = tiny_benchmark()
    local r = Tiny:benchmark{ model = identity }
    assert.near(0.7, r:to_dict().results["Top 1 Accuracy"], 1e-12)
  end)

  it("rejects an unknown option and suggests the closest name", function()
    local Tiny = tiny_benchmark()
    local ok, err = pcall(Tiny.benchmark, { model = identity, batch_sise = 2 })
    assert.is_false(ok)
    assert.matches("Tiny.benchmark: unknown option 'batch_sise' %(did you mean 'batch_size'%?%)", err)
    assert.matches("the options are: .*num_workers", err)
  end)

  it("documents every option it accepts in docs/bench.md's table", function()
    local f = assert(io.open((os.getenv("SBENGINE_SOURCE_DIR") or ".") .. "/docs/bench.md"))
    local text = f:read("a")
    f:close()
    local table_text = text:match("### Options of `benchmark{...}`.-\n(|.-)\n\n")
    assert.is_truthy(table_text, "docs/bench.md has no options table")
    local missing = {}
    for _, name in ipairs(sb.bench._common_option_names()) do
      if not table_text:find("`" .. name .. "`", 1, true) then missing[#missing + 1] = name end
    end
    assert.are.equal("", table.concat(missing, ", "), "options missing from docs/bench.md")
  end)

  it("requires a callable model", function()
    local Tiny = tiny_benchmark()
    local ok, err = pcall(Tiny.benchmark, { paper_model_name = "x" })
    assert.is_false(ok)
    assert.matches("option 'model' is required", err)
    ok, err = pcall(Tiny.benchmark, { model = 42 })
    assert.is_false(ok)
    assert.matches("option 'model' must be callable", err)
  end)

  it("checks option types", function()
    local Tiny = tiny_benchmark()
    local ok, err = pcall(Tiny.benchmark, { model = identity, batch_size = 0 })
    assert.is_false(ok)
    assert.matches("option 'batch_size' must be a whole number >= 1, got 0", err)
    ok, err = pcall(Tiny.benchmark, { model = identity, num_gpu = 2 })
    assert.is_false(ok)
    assert.matches("num_gpu' must be 1", err)
  end)

  it("explains a model output of the wrong shape and how to fix it", function()
    local Tiny = tiny_benchmark()
    local ok, err = pcall(Tiny.benchmark, { model = function(x) return x:view(-1, 2, 2) end })
    assert.is_false(ok)
    assert.matches("the model returned a tensor of shape %[4, 2, 2%]; expected 2 dimensions", err)
    assert.matches("model_output_transform", err)
    ok, err = pcall(Tiny.benchmark, { model = function(x) return x:narrow(2, 1, 3) end })
    assert.is_false(ok)
    assert.matches("3 scores per input .* but the dataset has 4 classes", err)
    ok, err = pcall(Tiny.benchmark, { model = function(x) return "nope" end })
    assert.is_false(ok)
    assert.matches("the model returned a string", err)
    ok, err = pcall(Tiny.benchmark, { model = function(x) return x:narrow(1, 1, 2) end })
    assert.is_false(ok)
    assert.matches("the model returned 2 rows for a batch of 4 inputs", err)
  end)

  it("applies model_output_transform before the checks and metrics", function()
    local Tiny = tiny_benchmark()
    local seen_model
    local r = Tiny.benchmark{
      model = function(x) return x:view(-1, 2, 2) end,
      model_output_transform = function(output, target, model)
        seen_model = model
        return output:view(output:size(1), -1)
      end,
    }
    assert.near(0.7, r:to_dict().results["Top 1 Accuracy"], 1e-12)
    assert.is_function(seen_model)
  end)

  it("calls send_data_to_device for every batch", function()
    local Tiny = tiny_benchmark()
    local calls = 0
    Tiny.benchmark{ model = identity, send_data_to_device = function(input, target, device)
      calls = calls + 1
      assert.are.equal("cpu", device)
      return input, target
    end }
    assert.are.equal(3, calls) -- 10 samples in batches of 4
  end)

  it("stops after the first batch in check mode", function()
    session.config.check = "full"
    local Tiny = tiny_benchmark()
    local calls = 0
    local r = Tiny.benchmark{ model = function(x) calls = calls + 1; return x end }
    assert.are.equal(1, calls)
    local d = r:to_dict()
    assert.are.equal(4, d.speed_mem_metrics["Tasks"])
    assert.near(1.0, d.results["Top 1 Accuracy"], 1e-12) -- samples 1..4 are right
    assert.are.equal(64, #d.run_hash)
  end)

  it("builds the result from the parameters alone in params-check mode", function()
    session.config.check = "params"
    local Tiny = tiny_benchmark{ dataset = function() error("the data must not be read") end }
    local called = false
    local r = Tiny.benchmark{ model = function(x) called = true; return x end,
                              paper_model_name = "params only" }
    assert.is_false(called)
    assert.are.equal("params only", r:to_dict().model)
  end)

  it("names an unknown metric and says how to load metric scripts", function()
    local Tiny = tiny_benchmark{ metrics = { "no_such_metric" } }
    local ok, err = pcall(Tiny.benchmark, { model = identity })
    assert.is_false(ok)
    assert.matches("Tiny.benchmark: metric 1 %('no_such_metric'%)", err)
    assert.matches("The metrics are: .*topk_accuracy", err)
    assert.matches("%-%-metrics DIR", err)
  end)

  it("wraps a dataset that cannot load with what to do", function()
    local Tiny = tiny_benchmark{ dataset = function() error("no such folder", 0) end,
                                 data_help = "run tools/fetch-tiny" }
    local ok, err = pcall(Tiny.benchmark, { model = identity, data_root = "/nowhere" })
    assert.is_false(ok)
    assert.matches("cannot load the Tiny dataset from data_root \"/nowhere\": no such folder", err)
    assert.matches("To fix it: run tools/fetch%-tiny", err)
  end)

  it("uses --data-root and --device from the command line", function()
    session.config.data_root = "/from/cli"
    local seen
    local Tiny = tiny_benchmark{ dataset = function(o)
      seen = o.data_root
      local x, y = make_data()
      return sb.data.TensorDataset(x, y)
    end }
    Tiny.benchmark{ model = identity, data_root = "/from/script" }
    assert.are.equal("/from/cli", seen)
  end)

  describe("the results cache", function()
    local server = require "sbengine._server"
    local saved_lookup
    before_each(function()
      saved_lookup = server.get_results_by_hash
      session.config.server = "http://127.0.0.1:1"
    end)
    after_each(function() server.get_results_by_hash = saved_lookup end)

    it("returns the server's results for a known run hash without evaluating the rest", function()
      local asked
      server.get_results_by_hash = function(hash)
        asked = hash
        return { ["Top 1 Accuracy"] = 0.5, ["Top 2 Accuracy"] = 0.6 }
      end
      local calls = 0
      local Tiny = tiny_benchmark()
      local r = Tiny.benchmark{ model = function(x) calls = calls + 1; return x end }
      assert.are.equal(1, calls)
      local d = r:to_dict()
      assert.are.equal(asked, d.run_hash)
      assert.are.equal(0.5, d.results["Top 1 Accuracy"])
    end)

    it("evaluates everything when the lookup fails (fail-soft)", function()
      server.get_results_by_hash = function() return nil, "connection refused" end
      local Tiny = tiny_benchmark()
      local r = Tiny.benchmark{ model = identity }
      assert.near(0.7, r:to_dict().results["Top 1 Accuracy"], 1e-12)
    end)

    it("does not ask with --no-cache, nor without a server", function()
      local asked = false
      server.get_results_by_hash = function() asked = true end
      session.config.no_cache = true
      tiny_benchmark().benchmark{ model = identity }
      session.config.no_cache = nil
      session.config.server = nil
      local saved_env = os.getenv("SOTABENCH_URL")
      assert.is_nil(saved_env) -- ctest runs without it
      tiny_benchmark().benchmark{ model = identity }
      assert.is_false(asked)
    end)
  end)

  it("rejects a definition without a dataset function", function()
    local ok, err = pcall(sb.bench.define, { name = "X", task = "T" })
    assert.is_false(ok)
    assert.matches("field 'dataset' must be a function", err)
  end)
end)
