#!/usr/bin/env bash
# Floating sums across ranks are exact (docs/distributed.md, "What is merged how"): mpirun
# -n 1, 2, 3 store, bit for bit, the numbers one process stores, for the shipped mse/mae over
# a dataset whose batch sums, added naively, round differently by rank split; and for MNIST
# with perplexity and a metric script that adds floats.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/mpi.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
lenet5="$src/examples/models/lenet5.lua"

# every number of the last stored result, as "%.17g" (the store writes the shortest digits
# that read back to the same double: equal text is equal bits)
numbers() {
    "$SBENGINE" -e "local f = assert(io.open('$1')); local a = require('cjson').decode(f:read('a'))
        local r, out = a[#a], {}
        for _, k in ipairs($2) do out[#out + 1] = ('%s=%.17g'):format(k, r.results[k]) end
        print(table.concat(out, ' '), r.run_hash)"
}

# 12 values, one of them 1e8: the squared errors of the 6 batches of 2 are ~1e16 and small
# numbers whose naive running sum differs for 1, 2 and 3 ranks (checked below).
cat >regression.lua <<'EOF2'
local xs = { 0.3, 2.8, 2.4, 1e8, 0.2, 2.7, 2.7, 2.0, 2.4, 0.3, 0.7, 0.8 }
local B = sb.bench.define {
  name = "Spread", task = "Regression", num_classes = 1,
  metrics = { "mse", "mae" },
  dataset = function()
    return sb.data.TensorDataset(sb.tensor(xs, { dtype = "float64" }):view(#xs, 1),
                                 sb.zeros(#xs, { dtype = "int64" }))
  end,
  defaults = { batch_size = 2 },
}
if arg[1] == "naive" then -- the batch parts added in order, and as 2 and 3 ranks would
  local parts = {}
  for b = 1, #xs // 2 do parts[b] = xs[2 * b - 1] * xs[2 * b - 1] + xs[2 * b] * xs[2 * b] end
  local function grouped(n)
    local total = 0.0
    for r = 0, n - 1 do
      local per, extra = #parts // n, #parts % n
      local first = r * per + math.min(r, extra)
      local s = 0.0
      for b = first + 1, first + per + (r < extra and 1 or 0) do s = s + parts[b] end
      total = total + s
    end
    return total
  end
  print(("%a %a %a"):format(grouped(1), grouped(2), grouped(3)))
  return
end
B.benchmark { model = function(x) return x end, paper_model_name = "identity" }
EOF2
case_ "the naive sums of this dataset's batches differ by rank split (so the case means something)"
run_sb regression.lua naive
expect_exit 0
read -r n1 n2 n3 <<<"$OUT"
if [ "$n1" != "$n2" ] && [ "$n1" != "$n3" ] && [ "$n2" != "$n3" ]; then sb_ok; else sb_fail "naive sums agree: $OUT"; fi

run_sb --threads 1 --out single.json --quiet regression.lua
expect_exit 0
reference=$(numbers single.json '{ "mse", "mae" }')
for n in 1 2 3; do
    case_ "mse and mae under mpirun -n $n: the single process's bits"
    run_mpi $n --threads 1 --out r$n.json --quiet regression.lua
    expect_exit 0
    OUT=$(numbers r$n.json '{ "mse", "mae" }')
    if [ "$OUT" = "$reference" ]; then sb_ok; else sb_fail "$OUT; one process: $reference"; fi
done

# MNIST (512 images in 6 batches of 100, 4 ranks share them 1, 1, 2, 2) with perplexity and
# a metric script whose "sum" state adds one float per image.
mkdir -p metrics
cat >metrics/score_sum.lua <<'EOF2'
local metrics = require "sbengine.metrics"
metrics.register("score_sum", metrics.define {
  name = "score_sum",
  state = { score = "sum", squares = "sum" },
  init = function() return { score = 0, squares = 0 } end,
  update = function(s, output)
    local best = output:max(2):totable()
    for i = 1, #best do
      s.score = s.score + best[i]
      s.squares = s.squares + best[i] * best[i] * 1e6
    end
  end,
  compute = function(s) return { ["Score Sum"] = s.score, ["Square Sum"] = s.squares } end,
})
EOF2
cat >mnist_sums.lua <<'EOF2'
local B = sb.bench.define {
  name = "MNIST-sums", task = "Image Classification", num_classes = 10,
  metrics = { "perplexity", "score_sum", { "topk_accuracy", { k = { 1, 5 } } } },
  dataset = function(o)
    return sb.data.MNIST { root = o.data_root, train = false,
      transform = sb.transforms.Compose { sb.transforms.ToTensor(),
        sb.transforms.Normalize({ 0.1307 }, { 0.3081 }) } }
  end,
  defaults = { batch_size = 100 },
}
B.benchmark { model = dofile(arg[1]), paper_model_name = "sums" }
EOF2
keys='{ "perplexity", "Score Sum", "Square Sum", "Top 1 Accuracy", "Top 5 Accuracy" }'
run_sb --threads 1 --metrics metrics --data-root "$data" --out msingle.json --quiet mnist_sums.lua "$lenet5"
expect_exit 0
reference=$(numbers msingle.json "$keys")
for n in 1 2 3 4; do
    case_ "MNIST perplexity and a metric script's float sums under mpirun -n $n: the single process's bits"
    run_mpi $n --threads 1 --metrics metrics --data-root "$data" --out m$n.json --quiet mnist_sums.lua "$lenet5"
    expect_exit 0
    OUT=$(numbers m$n.json "$keys")
    if [ "$OUT" = "$reference" ]; then sb_ok; else sb_fail "$OUT; one process: $reference"; fi
done

finish
