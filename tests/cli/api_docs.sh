#!/usr/bin/env bash
# docs/tensor.md, docs/nn.md and docs/cuda.md: every ```lua block runs (lib/doc_blocks.sh says
# how); tests/lua/*_docs_spec.lua check that every public function has an example there.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/doc_blocks.sh"
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/tensor.md" 16 lua
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/nn.md" 15 lua
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/cuda.md" 4 lua
finish
