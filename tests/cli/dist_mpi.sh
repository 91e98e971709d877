#!/usr/bin/env bash
# Evaluation across processes with a real Open MPI (docs/distributed.md): a single process
# never loads MPI; mpirun -n 1, 2, 3 (and more ranks than batches) store one result equal to
# the single process's; a metric script's state merges with no code of its own; an error on
# rank 1 and a killed rank stop every rank, store nothing and exit non-zero.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
lenet5="$src/examples/models/lenet5.lua"

case_ "a single process is rank 0 of 1 and never loads libmpi"
run_sb -e 'sb.dist.barrier(); print(sb.dist.rank(), sb.dist.size(), sb.dist.local_rank())
  for line in io.lines("/proc/self/maps") do assert(not line:find("libmpi"), line) end'
expect_exit 0
expect_out "0	1	0"

. "$(dirname "$0")/lib/mpi.sh"

case_ "--version says MPI support is built"
run_sb --version
expect_out "MPI: Open MPI"

case_ "sb.dist under mpirun -n 3: ranks, all_reduce, gather, broadcast"
run_mpi 3 --threads 1 -e '
  local d = sb.dist
  local t = sb.tensor({ d.rank() + 0.25, 1 }, { dtype = "float64" })
  d.all_reduce(t)
  local g = d.gather({ rank = d.rank(), x = 2 ^ -40 + d.rank() })
  local b = d.broadcast(d.rank() == 0 and { word = "from rank 0" } or nil)
  d.barrier()
  print(("rank %d of %d: sum %g %g, max %d, %s"):format(d.rank(), d.size(), t[1], t[2],
    d.all_reduce(d.rank(), "max"), b.word))
  if g then print(("gathered %d: %d %d %d, exact %s"):format(#g, g[1].rank, g[2].rank, g[3].rank,
    tostring(g[3].x == 2 ^ -40 + 2))) end'
expect_exit 0
expect_out "rank 0 of 3: sum 3.75 3, max 2, from rank 0"
expect_out "rank 2 of 3: sum 3.75 3, max 2, from rank 0"
expect_out "gathered 3: 0 1 2, exact true"

# The reference: one process, no launcher.
run_sb --threads 1 --data-root "$data" --out single.json --quiet "$src/benchmarks/mnist.lua" \
    --batch-size 100 "$lenet5"
reference=$(json single.json 'r.results["Top 1 Accuracy"], r.results["Top 5 Accuracy"], r.run_hash, r.speed_mem_metrics.Tasks')

# 512 images in batches of 100: 6 batches, which 4 ranks share as 1, 1, 2, 2 and 7 ranks as
# 1 each with one rank left without a batch.
for n in 1 2 3 4 7; do
    case_ "mpirun -n $n: one stored result with the single process's numbers and run hash"
    run_mpi $n --threads 1 --data-root "$data" --out r$n.json --quiet "$src/benchmarks/mnist.lua" \
        --batch-size 100 "$lenet5"
    expect_exit 0
    expect_err "1 result stored in r$n.json"
    OUT=$(json r$n.json '#a')
    expect_out "1"
    OUT=$(json r$n.json 'r.results["Top 1 Accuracy"], r.results["Top 5 Accuracy"], r.run_hash, r.speed_mem_metrics.Tasks')
    if [ "$OUT" = "$reference" ]; then sb_ok; else sb_fail "results differ from one process's: $reference"; fi
    OUT=$(json r$n.json 'r.environment.ranks or "none", r.environment.max_memory_allocated_sum ~= nil')
    if [ "$n" = 1 ]; then expect_out "none	false"; else expect_out "$n	true"; fi
done

case_ "sbengine check under mpirun -n 3: rank 0's first batch, as in one process; nothing stored"
run_sb check --threads 1 --data-root "$data" --out check.json --quiet "$src/benchmarks/mnist.lua" \
    --batch-size 100 "$lenet5"
single_check=$(printf '%s\n' "$OUT" | grep -E "run_hash|Accuracy")
run_mpi 3 check --threads 1 --data-root "$data" --out check.json --quiet "$src/benchmarks/mnist.lua" \
    --batch-size 100 "$lenet5"
expect_exit 0
expect_err "check mode: 1 result built, not stored"
if [ "$(printf '%s\n' "$OUT" | grep -E "run_hash|Accuracy")" = "$single_check" ]; then sb_ok; else sb_fail "differs from one process's: $single_check"; fi
[ -e check.json ] && sb_fail "check mode stored a result" || sb_ok

case_ "only rank 0 prints the result and shows a progress bar, over every rank's batches"
run_mpi 3 --threads 1 --data-root "$data" --out printed.json --progress "$src/benchmarks/mnist.lua" \
    --batch-size 100 "$lenet5"
expect_exit 0
n=$(printf '%s\n' "$OUT" | grep -c "Top 1 Accuracy")
if [ "$n" = 1 ]; then sb_ok; else sb_fail "the result was printed $n times"; fi
expect_err_re "Evaluation: 100%\|#+\| 6/6 "
n=$(printf '%s\n' "$ERR" | grep -c "Evaluation: 100%")
if [ "$n" = 1 ]; then sb_ok; else sb_fail "$n progress bars reached 100%"; fi
n=$(printf '%s\n' "$ERR" | grep "Evaluation:" | grep -vc "/6 ")
if [ "$n" = 0 ]; then sb_ok; else sb_fail "a bar counts something else than the 6 batches of the job"; fi

# A metric script with integer sums, a floating sum and a "cat" state: merged by the
# registry's declared state alone (tests/cli/dist_mpi_exact.sh checks floating sums further).
mkdir -p metrics
cat >metrics/argmax_stats.lua <<'EOF'
local metrics = require "sbengine.metrics"
metrics.register("argmax_stats", metrics.define {
  name = "argmax_stats",
  state = { rows = "sum", argmax_sum = "sum", score_sum = "sum", argmaxes = "cat", best = "max" },
  init = function() return { rows = 0, argmax_sum = 0, score_sum = 0.0, argmaxes = {}, best = -math.huge } end,
  update = function(s, output, target)
    local _, idx = output:max(2)
    for i = 1, output:size(1) do
      local a = math.tointeger(idx[i]) - 1
      s.rows = s.rows + 1
      s.argmax_sum = s.argmax_sum + a
      s.argmaxes[#s.argmaxes + 1] = a
      s.score_sum = s.score_sum + output[i][a + 1]
      s.best = math.max(s.best, output[i][a + 1])
    end
  end,
  compute = function(s)
    local ordered = 0 -- depends on the order of the concatenation
    for i, a in ipairs(s.argmaxes) do ordered = (ordered * 31 + a * i) % 1000003 end
    return { Rows = s.rows, ["Argmax Sum"] = s.argmax_sum, ["Score Sum"] = s.score_sum,
             Ordered = ordered, Best = s.best }
  end,
})
EOF
cat >metric_bench.lua <<'EOF'
local B = sb.bench.define {
  name = "MNIST-stats", task = "Image Classification", num_classes = 10,
  metrics = { "argmax_stats" },
  dataset = function(o)
    return sb.data.MNIST { root = o.data_root, train = false,
      transform = sb.transforms.Compose { sb.transforms.ToTensor(),
        sb.transforms.Normalize({ 0.1307 }, { 0.3081 }) } }
  end,
  defaults = { batch_size = 50 },
}
return B
EOF
cat >run_metric.lua <<'EOF'
local B = dofile("metric_bench.lua")
local r = B.benchmark { model = dofile(arg[1]), paper_model_name = "stats" }
if sb.dist.rank() == 0 then
  local v = r.results
  print(("%d %d %d %.17g %.17g"):format(v.Rows, v["Argmax Sum"], v.Ordered, v.Best, v["Score Sum"]))
end
EOF
run_sb --threads 1 --metrics metrics --data-root "$data" --out m1.json --quiet run_metric.lua "$lenet5"
expect_exit 0
single_stats="$OUT"
case_ "a metric script's declared state merges across 3 ranks as one process computes it"
run_mpi 3 --threads 1 --metrics metrics --data-root "$data" --out m3.json --quiet run_metric.lua "$lenet5"
expect_exit 0
# The floating sum too, bit for bit: "sum" states add exactly (docs/distributed.md).
if [ "$OUT" = "$single_stats" ]; then sb_ok; else sb_fail "$OUT; one process: $single_stats"; fi

cat >broken_model.lua <<EOF
local model = dofile("$lenet5")
return function(x)
  if sb.dist.rank() == 1 then error("rank one's model is broken") end
  return model(x)
end
EOF
case_ "an error on rank 1 stops every rank with its message; nothing is stored; exit 1"
run_mpi 3 --threads 1 --data-root "$data" --out broken.json --quiet "$src/benchmarks/mnist.lua" \
    --batch-size 100 broken_model.lua
expect_exit 1
expect_err "rank one's model is broken"
expect_err "stack traceback"
expect_err "the error above is rank 1's (of 3); stopping every rank"
[ -e broken.json ] && sb_fail "broken.json was written" || sb_ok

cat >leaving_model.lua <<EOF
if sb.dist.rank() == 1 then io.stderr:write("rank 1 leaves\n"); os.exit(2) end
return dofile("$lenet5")
EOF
case_ "a rank that leaves with os.exit(2) stops the others (which would wait for it) with its status"
run_mpi 3 --threads 1 --data-root "$data" --out left.json --quiet "$src/benchmarks/mnist.lua" \
    --batch-size 100 leaving_model.lua
expect_exit 2
expect_err "rank 1 leaves"
[ -e left.json ] && sb_fail "left.json was written" || sb_ok

cat >killed_model.lua <<EOF
local model = dofile("$lenet5")
return function(x)
  if sb.dist.rank() == 1 then
    local pid = io.open("/proc/self/stat"):read("n")
    os.execute("kill -9 " .. pid)
  end
  return model(x)
end
EOF
case_ "a rank killed by the OS makes the others exit (no hang); nothing is stored"
run_mpi 3 --threads 1 --data-root "$data" --out killed.json --quiet "$src/benchmarks/mnist.lua" \
    --batch-size 100 killed_model.lua
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; then sb_ok; else sb_fail "expected a non-zero exit before the 120 s timeout"; fi
expect_err "exited on signal 9"
[ -e killed.json ] && sb_fail "killed.json was written" || sb_ok

cat >slow_model.lua <<EOF
local model = dofile("$lenet5")
return function(x)
  local t = os.clock() + 2
  while os.clock() < t do end
  return model(x)
end
EOF
case_ "SIGINT at mpirun stops every rank; nothing is stored"
"${mpi[@]}" -n 2 "$SBENGINE" --threads 1 --data-root "$data" --out interrupted.json --quiet \
    "$src/benchmarks/mnist.lua" --batch-size 50 "$SB_TMP/slow_model.lua" >/dev/null 2>&1 </dev/null &
launcher=$!
# Once both ranks run (the launcher and each rank name the model file), interrupt the launcher.
for _ in $(seq 300); do
    [ "$(pgrep -fc "$SB_TMP/slow_model.lua")" -ge 3 ] && break
    sleep 0.1
done
sleep 1
kill -INT $launcher
for _ in $(seq 600); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
if kill -0 $launcher 2>/dev/null; then
    sb_fail "mpirun still runs 60 s after SIGINT"
    kill -KILL $launcher
fi
wait $launcher
RC=$?
if [ "$RC" -ne 0 ]; then sb_ok; else sb_fail "exit 0 after SIGINT"; fi
[ -e interrupted.json ] && sb_fail "interrupted.json was written" || sb_ok
sleep 1
left=$(pgrep -f "$SB_TMP/slow_model.lua" || true)
if [ -z "$left" ]; then sb_ok; else sb_fail "ranks left running: $left"; fi

finish
