#!/usr/bin/env bash
# docs/results.md and docs/metrics.md: every code block runs (lib/doc_blocks.sh says how).
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/doc_blocks.sh"
unset SOTABENCH_URL SOTABENCH_TOKEN SOTABENCH_CHECK # the examples show the engine without a server
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/results.md" 3
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/metrics.md" 5
finish
