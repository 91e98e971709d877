#!/usr/bin/env bash
# `sbengine eval squad`: an answers file against a SQuAD dataset file (the first v1.1 and v2.0
# cases of tests/fixtures/eval/squad.json, scored by the official scripts), stored.
. "$(dirname "$0")/lib/assert.sh"

"$SBENGINE" -e '
  local cjson = require "cjson"
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/eval/squad.json"))
  local cases = cjson.decode(f:read("a")).cases
  f:close()
  local function write(name, text) local g = assert(io.open(name, "w")); g:write(text); g:close() end
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
