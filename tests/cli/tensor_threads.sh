#!/usr/bin/env bash
# The thread setting reaches the engine's pool and OpenBLAS from the CLI and the
# environment (docs/tensor.md, Threads), and tensor errors leave the CLI as script errors.
. "$(dirname "$0")/lib/assert.sh"

case_ "SBENGINE_NUM_THREADS sets the pool"
SBENGINE_NUM_THREADS=3 run_sb -e 'print(sb.get_num_threads())'
expect_exit 0
expect_out "3"

case_ "--threads wins over the environment"
SBENGINE_NUM_THREADS=3 run_sb --threads 1 -e 'print(sb.get_num_threads())'
expect_exit 0
expect_out "1"

case_ "a tensor error is a script error naming the op and both shapes"
run_sb -e 'local x = sb.zeros(2, 3) + sb.zeros(4)'
expect_exit 1
expect_err "add: shapes [2, 3] and [4] cannot be broadcast together"

finish
