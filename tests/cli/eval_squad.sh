#!/usr/bin/env bash
# `sbengine eval squad`: an answers file against a SQuAD dataset file (the first v1.1 and v2.0
# cases of tests/fixtures/eval/squad.json, scored by the official scripts), stored.
. "$(dirname "$0")/lib/assert.sh"

"$SBENGINE" -e '
  local cjson = require "cjson"
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/eval/squad.json"))
  local fx = cjson.decode(f:read("a"))
  local cases = fx.cases
  f:close()
  local function write(name, text) local g = assert(io.open(name, "w")); g:write(text); g:close() end
  -- "na threshold 0.5": evaluate-v2.0.py --na-prob-file na.json --na-prob-thresh 0.5
  local na = fx.na_cases[4]
  assert(na.thresh == 0.5)
  write("na_data.json", na.data)
  write("na_answers.json", cjson.encode(na.predictions))
  local parts = {}
  for k, pair in ipairs(na.na_probs) do parts[k] = ("%q: %.17g"):format(pair[1], pair[2]) end
  write("na_probs.json", "{" .. table.concat(parts, ", ") .. "}")
  write("na_expected.txt", ("%.17g %.17g\n"):format(na.scores.exact, na.scores.best_f1))
  for _, c in ipairs(cases) do
    local tag = c.version == "1.1" and "v1" or "v2"
    if not io.open(tag .. ".json") then
      write(tag .. ".json", c.data)
      write(tag .. "_answers.json", cjson.encode(c.predictions))
      write(tag .. "_expected.txt", ("%.17g\n"):format(c.scores.exact_match or c.scores.exact))
    end
  end' || exit 1

case_ "eval squad (v1.1) stores EM and F1 as evaluate-v1.1.py computes them"
run_sb eval squad --data v1.json --predictions v1_answers.json --model-name Reader --out store.json
expect_exit 0
expect_out "exact_match"
run_sb -e '
  local r = require("cjson").decode(io.open("store.json"):read("a"))[1]
  print(r.dataset_name, r.task, r.model, ("%.17g"):format(r.results.EM))'
expect_out "SQuAD1.1	Question Answering	Reader	$(cat v1_expected.txt)"

case_ "eval squad --version 2.0"
run_sb eval squad --data v2.json --predictions v2_answers.json --version 2.0 --out store2.json --quiet
expect_exit 0
expect_no_out
run_sb -e '
  local r = require("cjson").decode(io.open("store2.json"):read("a"))[1]
  print(r.dataset_name, r.model, ("%.17g"):format(r.results.EM))'
expect_out "SQuAD2.0	v2_answers	$(cat v2_expected.txt)"

case_ "eval squad --na-prob-file --na-prob-thresh: evaluate-v2.0.py's thresholds"
run_sb eval squad --data na_data.json --predictions na_answers.json --version 2.0 \
  --na-prob-file na_probs.json --na-prob-thresh 0.5 --out store_na.json
expect_exit 0
expect_out "best_f1_thresh"
run_sb -e '
  local r = require("cjson").decode(io.open("store_na.json"):read("a"))[1]
  print(("%.17g"):format(r.results.EM), r.config.na_prob_thresh)'
expect_out "$(cut -d' ' -f1 na_expected.txt)	0.5"

case_ "--na-prob-file is for --version 2.0"
run_sb eval squad --data v1.json --predictions v1_answers.json --na-prob-file na_probs.json
expect_exit 2
expect_err "--na-prob-file and --na-prob-thresh need --version 2.0"

case_ "an answer to a question the dataset does not have is an error naming it"
echo '{"nope": "x"}' >bad.json
run_sb eval squad --data v1.json --predictions bad.json --out store3.json
expect_exit 1
expect_err "sb.eval.SQuAD:add: question nope is not in v1.json"

case_ "usage errors exit 2"
run_sb eval squad --predictions v1_answers.json
expect_exit 2
expect_err "squad needs --data FILE"
finish
