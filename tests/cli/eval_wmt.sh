#!/usr/bin/env bash
# `sbengine eval wmt`: translations against reference files (the "three references" corpus of
# tests/fixtures/eval/bleu.json, scored by sacrebleu), stored with sacrebleu's signature.
. "$(dirname "$0")/lib/assert.sh"

"$SBENGINE" -e '
  local cjson = require "cjson"
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/eval/bleu.json"))
  local case
  for _, c in ipairs(cjson.decode(f:read("a")).cases) do
    if c.name == "three references" then case = c end
  end
  f:close()
  local function write(name, lines)
    local g = assert(io.open(name, "w")); g:write(table.concat(lines, "\n"), "\n"); g:close()
  end
  write("hyp.txt", case.hyps)
  for k, stream in ipairs(case.refs) do write("ref" .. k .. ".txt", stream) end
  write("expected.txt", { ("%.17g"):format(case.score), case.signature })' || exit 1

case_ "eval wmt prints sacrebleu's line and stores the score"
run_sb eval wmt --references ref1.txt,ref2.txt,ref3.txt --predictions hyp.txt \
    --dataset "WMT2014 English-German" --model-name MT --out store.json
expect_exit 0
expect_out "$(sed -n 2p expected.txt)"
run_sb -e '
  local r = require("cjson").decode(io.open("store.json"):read("a"))[1]
  print(r.dataset_name, r.task, ("%.17g"):format(r.results.SacreBLEU), r.config.signature)'
expect_out "WMT2014 English-German	Machine Translation	$(sed -n 1p expected.txt)	$(sed -n 2p expected.txt)"

case_ "a translations file shorter than the references is an error"
head -3 hyp.txt >short.txt
run_sb eval wmt --references ref1.txt --predictions short.txt --dataset X --out store2.json
expect_exit 1
expect_err "short.txt has 3 lines, the references 30"

case_ "usage errors exit 2"
run_sb eval wmt --references ref1.txt --predictions hyp.txt
expect_exit 2
expect_err "wmt needs --dataset NAME"
finish
