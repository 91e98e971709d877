#!/usr/bin/env bash
# libcurl is loaded on the first transfer (engine/net/curl_lazy.c). When it cannot be loaded,
# a download and a submission fail with a message that says so and how to fix it, and the
# results of the run are still stored (nothing lost). A stand-in libcurl.so.4 without curl's
# symbols, found first through LD_LIBRARY_PATH, plays the broken installation.
. "$(dirname "$0")/lib/assert.sh"
CC=${CC:-cc}
command -v "$CC" >/dev/null || { echo "no C compiler for the stand-in libcurl: skipped"; exit 77; }
mkdir fakecurl
echo 'int sb_not_curl;' >fakecurl/empty.c
"$CC" -shared -fPIC -o fakecurl/libcurl.so.4 fakecurl/empty.c || exit 1
mkdir mirror
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK

case_ "a download without a usable libcurl: every mirror fails with the reason and the way out"
LD_LIBRARY_PATH="$SB_TMP/fakecurl" SBENGINE_MNIST_MIRRORS="file://$SB_TMP/mirror/" \
    run_sb -e 'sb.data.MNIST { root = "mnist", train = false, download = true }'
expect_exit 1
expect_err "MNIST: could not download t10k-images-idx3-ubyte.gz"
expect_err "libcurl could not start: libcurl.so.4 lacks curl_global_init; install libcurl4 (tools/setup)"
expect_err "run: sbengine fetch mnist mnist"
if [ -z "$(find mnist -type f 2>/dev/null)" ]; then sb_ok; else sb_fail "files were left under mnist/"; fi

case_ "a submission without a usable libcurl: stored first, exit 3, how to resubmit"
printf 'sb.BenchmarkResult{model="M", task="T", dataset="D"}\n' >one.lua
LD_LIBRARY_PATH="$SB_TMP/fakecurl" SOTABENCH_URL="http://127.0.0.1:9/" SOTABENCH_TOKEN="tok-NOCURL" \
    run_sb --out store.json --submit one.lua
expect_exit 3
expect_err "1 result stored in store.json"
expect_err "libcurl could not start: libcurl.so.4 lacks curl_global_init"
expect_err "Resubmit with: sbengine submit --server http://127.0.0.1:9/ store.json"
if printf '%s%s' "$OUT" "$ERR" | grep -qF "tok-NOCURL"; then sb_fail "the token was printed"; else sb_ok; fi
if lua5.4 -e 'local f = assert(io.open("store.json")); local t = f:read("a"); os.exit(t:match("^%[") and t:find("\"model\": \"M\"", 1, true) and 0 or 1)'; then
    sb_ok; else sb_fail "store.json does not hold the result"; fi

case_ "without a stand-in, the same run loads the real libcurl (connection refused, not a load error)"
SOTABENCH_URL="http://127.0.0.1:9/" SBENGINE_HTTP_RETRIES=0 run_sb --out store.json --submit one.lua
expect_exit 3
expect_err "connection refused"
if printf '%s' "$ERR" | grep -qF "libcurl could not"; then sb_fail "libcurl did not load"; else sb_ok; fi

finish
