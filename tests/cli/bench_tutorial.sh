#!/usr/bin/env bash
# docs/how-to-create-a-benchmark.md: every code block runs (lib/doc_blocks.sh says how).
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/doc_blocks.sh"
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/how-to-create-a-benchmark.md" 12
finish
