#!/usr/bin/env bash
# benchmarks/sbengine-benchmarks-scm-1.rockspec: `luarocks make --local` installs the
# benchmark definitions into ~/.luarocks, where sbengine finds them on package.path.
. "$(dirname "$0")/lib/assert.sh"
command -v luarocks >/dev/null || { echo "luarocks is not installed (tools/setup installs it): skipped"; exit 77; }
export HOME="$SB_TMP/home"
mkdir -p "$HOME"
cp -r "$SBENGINE_SOURCE_DIR/benchmarks" rock # luarocks make builds in the current folder

case_ "luarocks make --local installs the benchmarks"
(cd rock && luarocks --lua-version 5.4 make --local sbengine-benchmarks-scm-1.rockspec) \
    >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "sbengine-benchmarks scm-1 is now installed"

case_ "sbengine finds them in the LuaRocks tree, and they load"
run_sb -e 'for _, name in ipairs { "mnist", "cifar10", "cifar100", "coco", "wikitext103", "wikitext2", "ade20k", "voc_segmentation" } do
  local path = package.searchpath("sbengine.benchmarks." .. name, package.path)
  print(path, dofile(path).name)
end'
expect_exit 0
expect_out "$HOME/.luarocks/share/lua/5.4/sbengine/benchmarks/mnist.lua	MNIST"
expect_out "$HOME/.luarocks/share/lua/5.4/sbengine/benchmarks/cifar10.lua	CIFAR10"
expect_out "$HOME/.luarocks/share/lua/5.4/sbengine/benchmarks/cifar100.lua	CIFAR100"
expect_out "$HOME/.luarocks/share/lua/5.4/sbengine/benchmarks/coco.lua	COCO"
expect_out "$HOME/.luarocks/share/lua/5.4/sbengine/benchmarks/wikitext103.lua	WikiText103"
expect_out "$HOME/.luarocks/share/lua/5.4/sbengine/benchmarks/wikitext2.lua	WikiText2"
expect_out "$HOME/.luarocks/share/lua/5.4/sbengine/benchmarks/ade20k.lua	ADE20K"
expect_out "$HOME/.luarocks/share/lua/5.4/sbengine/benchmarks/voc_segmentation.lua	PASCALVOC"

finish
