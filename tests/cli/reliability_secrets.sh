#!/usr/bin/env bash
# Secrets on the wire and on screen (issue 16, defect 8, and the small ones of defect 9):
# the token is not sent over plain http:// to anything but loopback unless --insecure-http
# (or SBENGINE_INSECURE_HTTP=1) says so; a password in the server URL never reaches a
# message; a profile line without '=' is warned about; `submit DIR` says DIR is a folder.
. "$(dirname "$0")/lib/assert.sh"
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL SBENGINE_INSECURE_HTTP
export SOTABENCH_TOKEN="tok-SECRET-123" SBENGINE_HTTP_RETRIES=0 SBENGINE_HTTP_CONNECT_TIMEOUT=0.3
export SBENGINE_HTTP_TIMEOUT=1 HOME="$SB_TMP/home"
mkdir -p "$HOME"
printf 'sb.BenchmarkResult{model="M", task="T", dataset="D", results={a=1}}\n' >one.lua
"$SBENGINE" --out store.json one.lua 2>/dev/null

expect_no_secret() {
    if printf '%s%s' "$OUT" "$ERR" | grep -qE "tok-SECRET-123|pass-XYZ"; then
        sb_fail "a secret was printed"; else sb_ok; fi
}

case_ "the token is not sent over plain http:// to a host that is not loopback"
run_sb submit --server "http://alice:pass-XYZ@192.0.2.1:8000/" store.json
expect_exit 3
expect_err "refusing to send the token in cleartext over plain http:// to 192.0.2.1 (http://***@192.0.2.1:8000/): use an https:// server URL, or pass --insecure-http"
expect_no_secret

case_ "--insecure-http sends it anyway (here to an address that never answers)"
run_sb submit --insecure-http --server "http://alice:pass-XYZ@192.0.2.1:8000/" store.json
expect_exit 3
expect_err "the results server did not answer"
expect_err "http://***@192.0.2.1:8000/results/"
expect_no_secret
SBENGINE_INSECURE_HTTP=1 run_sb submit --server "http://192.0.2.1:8000/" store.json
expect_err "the results server did not answer"

case_ "loopback over http:// is fine, and the password in the URL is not printed"
run_sb submit --server "http://alice:pass-XYZ@127.0.0.1:1/" store.json
expect_exit 3
expect_err "the results server did not answer: POST http://***@127.0.0.1:1/results/"
expect_no_secret
run_sb submit --server "http://[::1]:1/" store.json
expect_err "the results server did not answer"

case_ "without a token, plain http:// is allowed"
SOTABENCH_TOKEN= run_sb submit --server "http://192.0.2.1:8000/" store.json
expect_err "the results server did not answer"

case_ "a profile line without '=' is warned about, without its value"
mkdir -p "$HOME/.sotabench"
printf '[default]\ntoken eyJhbGciOiJIUzI1NiJ9.pass-XYZ\n' >"$HOME/.sotabench/sotabenchapi.ini"
SOTABENCH_TOKEN= run_sb submit --server "http://127.0.0.1:1/" store.json
expect_err "sotabenchapi.ini line 2 ('token ...') has no '=' and is ignored; write it as KEY = VALUE"
expect_no_secret
rm -rf "$HOME/.sotabench"

case_ "sbengine submit DIR says DIR is a folder"
mkdir -p results_dir
run_sb submit results_dir
expect_exit 2
expect_err "store file results_dir is a folder, not a file"

finish
