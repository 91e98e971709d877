#!/usr/bin/env bash
# docs/evaluators.md: every ```lua and ```sh block runs, the named ```json blocks are the files
# they read (lib/doc_blocks.sh says how); tests/lua/eval_docs_spec.lua checks that every public
# function of sb.eval has an example there.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/doc_blocks.sh"
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/evaluators.md" 10 lua,sh,json,text
finish
