-- sb.bench on a GPU: the MNIST benchmark with LeNet-5 on "cuda" gives the CPU's correct
-- counts on the 512-image fixture, and "Max Memory Allocated (Total)" is the CUDA caching
-- allocator's peak. Skipped (pending) without a GPU.
local sb = require "sbengine"
local session = require "sbengine.session"

if require("gpu_helper").skip_without_gpu("sb.bench on CUDA") then return end

local src = os.getenv("SBENGINE_SOURCE_DIR")
local data = os.getenv("SBENGINE_FIXTURES") .. "/bench/mnist512"

describe("sb.bench on CUDA", function()
  local saved
  before_each(function() saved = session.config; session.config = { metric_dirs = {} } end)
  after_each(function() session.config = saved end)

  it("gives the CPU's results for LeNet-5 on MNIST and measures the GPU's memory", function()
    local MNIST = require "sbengine.benchmarks.mnist"
    local model = dofile(src .. "/examples/models/lenet5.lua")
    local cpu = MNIST.benchmark{ model = model, device = "cpu", data_root = data, num_workers = 0 }
    local gpu = MNIST.benchmark{ model = model, device = "cuda", data_root = data, num_workers = 2 }
    assert.are.equal(cpu.results["Top 1 Accuracy"], gpu.results["Top 1 Accuracy"])
    assert.are.equal(cpu.results["Top 5 Accuracy"], gpu.results["Top 5 Accuracy"])
    assert.are.equal(512, gpu.speed_mem_metrics["Tasks"])
    local peak = gpu.speed_mem_metrics["Max Memory Allocated (Total)"]
    assert.is_true(peak > 0 and peak <= sb.cuda.memory_stats().reserved)
    assert.are.equal("cuda", gpu.config.device)
  end)
end)
