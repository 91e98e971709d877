#!/usr/bin/env bash
# benchmarks/wikitext103.lua and wikitext2.lua on the small trees of tests/fixtures/wikitext
# (tools/fixtures/wikitext.py) with examples/models/wikitext_bigram.lua: the test perplexity
# equals what PyTorch's word_language_model evaluate loop gives for the same model.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
fx="$SBENGINE_FIXTURES/wikitext"
model="$src/examples/models/wikitext_bigram.lua"

# expected.json's bigram perplexity for a tree and (batch_size, bptt), and its token count
cat >expected.lua <<'LUA'
local tree, bsz, bptt = ...
local e = require("cjson").decode(io.open(os.getenv("SBENGINE_FIXTURES")
  .. "/wikitext/expected.json"):read("a"))
for _, c in ipairs(e[tree].perplexity) do
  if c.model == "bigram" and c.batch_size == tonumber(bsz) and c.bptt == tonumber(bptt) then
    print(("%.17g %d"):format(c.perplexity, c.tokens))
  end
end
LUA
expected() { "$SBENGINE" expected.lua "$@"; }

# |got - want| <= 1e-12 * want
cat >close_to.lua <<'LUA'
local got, want = tonumber((...)), tonumber((select(2, ...)))
print(got and math.abs(got - want) <= 1e-12 * want and "close" or ("%s vs %s"):format(got, want))
LUA
close_to() { "$SBENGINE" close_to.lua "$1" "$2"; }

case_ "WikiText-103: the bigram model's perplexity as word_language_model computes it"
read -r want tokens <<<"$(expected wikitext-103 10 35)"
run_sb bench --data-root "$fx" --out w103.json --quiet wikitext103 "$model" wikitext103
expect_exit 0
OUT=$(json w103.json 'r.dataset_name, r.task, r.model, r.speed_mem_metrics.Tasks, r.config.bptt')
expect_out "WikiText-103	Language Modelling	wikitext_bigram	$tokens	35"
OUT=$(close_to "$(json w103.json 'r.results["Test perplexity"]')" "$want")
expect_out "close"

case_ "WikiText-2 with --batch-size 4"
read -r want tokens <<<"$(expected wikitext-2 4 35)"
run_sb --data-root "$fx" --out w2.json --quiet "$src/benchmarks/wikitext2.lua" --batch-size 4 "$model"
expect_exit 0
OUT=$(json w2.json 'r.dataset_name, r.speed_mem_metrics.Tasks')
expect_out "WikiText-2	$tokens"
OUT=$(close_to "$(json w2.json 'r.results["Test perplexity"]')" "$want")
expect_out "close"

case_ "bptt and batch_size from the Lua API"
cat >bptt.lua <<LUA
local W = require "sbengine.benchmarks.wikitext2"
local model = loadfile("$model")("wikitext2", "$fx")
local r = W.benchmark { model = model, data_root = "$fx", bptt = 7, batch_size = 3,
  paper_model_name = "bigram" }
print(("%.17g"):format(r.results["Test perplexity"]))
LUA
read -r want tokens <<<"$(expected wikitext-2 3 7)"
run_sb --quiet --no-store bptt.lua
expect_exit 0
OUT=$(close_to "$OUT" "$want")
expect_out "close"

case_ "a model that returns (seq_len, batch, V) is told how to reshape"
cat >shaped.lua <<'LUA'
local sb = require "sbengine"
return function(input) return sb.zeros(input:size(1), input:size(2), 33) end
LUA
run_sb bench --data-root "$fx" --no-store wikitext2 shaped.lua
expect_exit 1
expect_err "output:reshape(-1, 33)"

case_ "a missing tree names the file and what to do"
run_sb bench --data-root nowhere --no-store wikitext103 shaped.lua
expect_exit 1
expect_err "wiki.test.tokens is not in nowhere"
expect_err "wikitext-103/wiki.test.tokens"
finish
