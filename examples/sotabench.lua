--- The submission script a user writes (torchbench's sotabench.py, in Lua): build the
-- model, load its weights, hand it to the benchmark. `make demo` runs it:
--
--   sbengine examples/sotabench.lua
--
-- It prints the result and the engine stores it in sotabench_results.json (or --out FILE).
local sb = require "sbengine"
local MNIST = require "sbengine.benchmarks.mnist"

-- examples/models/lenet5.lua builds LeNet-5 and loads lenet5_mnist.safetensors next to it
-- (weights trained by tools/train/lenet5_mnist.py).
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local model = dofile(here .. "models/lenet5.lua")

local result = MNIST.benchmark{
  model = model,
  paper_model_name = "LeNet-5",
  paper_arxiv_id = nil, -- LeNet-5 predates arXiv (LeCun et al., Proc. IEEE 1998)
  model_description = "LeNet-5 with ReLU and max pooling, trained on MNIST by "
    .. "tools/train/lenet5_mnist.py",
}
print(result)
