#!/usr/bin/env bash
# docs/results.md and docs/metrics.md: every code block runs (lib/doc_blocks.sh says how).
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/doc_blocks.sh"
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/results.md" 2
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/metrics.md" 5
finish
