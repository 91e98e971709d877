#!/usr/bin/env bash
# docs/bench.md: every code block runs (lib/doc_blocks.sh says how).
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/doc_blocks.sh"
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/bench.md" 8
finish
