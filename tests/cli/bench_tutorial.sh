#!/usr/bin/env bash
# docs/how-to-create-a-benchmark.md: every code block runs (lib/doc_blocks.sh says how).
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/doc_blocks.sh"
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/how-to-create-a-benchmark.md" 12

case_ "the tutorial's placeholder results stay out of the store file (sb.results.discard)"
RC=0 OUT=$(cat "$SB_TMP/work/sotabench_results.json" 2>&1) ERR=""
if printf '%s' "$OUT" | grep -q '"Linear (untrained)"' && ! printf '%s' "$OUT" | grep -q '"none yet"\|"My Model"'
then sb_ok; else sb_fail "sotabench_results.json should hold the finished benchmark's results only"; fi
finish
