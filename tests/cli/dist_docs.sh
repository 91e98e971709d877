#!/usr/bin/env bash
# docs/distributed.md: every ```lua block runs in one process (rank 0 of 1; lib/doc_blocks.sh
# says how); its sh blocks are launcher commands, run for real by dist_mpi.sh.
# tests/lua/dist_spec.lua checks that every sb.dist function has an example there.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/doc_blocks.sh"
run_doc_blocks "$SBENGINE_SOURCE_DIR/docs/distributed.md" 5 lua
finish
