#!/usr/bin/env bash
# Runs every code block of docs/how-to-create-a-benchmark.md, in order, in one folder: the
# ```lua blocks with sbengine, the ```sh blocks with bash (sbengine on PATH, HOME a fresh
# folder so `luarocks --local` installs there). A `<!-- file: NAME -->` line before a block
# saves it under NAME (later blocks require it; a non-.lua NAME such as a rockspec is only
# saved, for the sh block that uses it); `<!-- expect: TEXT -->` after it says what its
# output must contain. The MNIST data is the 512-image fixture under ./.data/vision/mnist.
. "$(dirname "$0")/lib/assert.sh"

doc="$SBENGINE_SOURCE_DIR/docs/how-to-create-a-benchmark.md"
blocks="$SB_TMP/blocks"
work="$SB_TMP/work"
mkdir -p "$blocks" "$work/.data/vision" "$SB_TMP/home"
cp -r "$SBENGINE_FIXTURES/bench/mnist512" "$work/.data/vision/mnist"
export HOME="$SB_TMP/home"
PATH="$(cd "$(dirname "$SBENGINE")" && pwd):$PATH"
export PATH

lua5.4 "$(dirname "$0")/lib/markdown_blocks.lua" "$doc" "$blocks" >"$blocks/index" || exit 1
count=$(grep -c . "$blocks/index")
case_ "the tutorial has code blocks"
RC=0 OUT="$count blocks" ERR=""
if [ "$count" -ge 10 ]; then sb_ok; else sb_fail "expected at least 10 code blocks, found $count"; fi

cd "$work" || exit 1
while IFS=$'\t' read -r id lang name expect; do
    file=${name:-block$id.$lang}
    mkdir -p "$(dirname "$file")"
    cp "$blocks/$id.$lang" "$file"
    case_ "block $id ($lang${name:+, $name})"
    if [ "$lang" = lua ] && [ -n "$name" ] && [ "${name%.lua}" = "$name" ]; then
        continue # a rockspec or other file that a later sh block uses
    fi
    if [ "$lang" = sh ]; then
        if grep -q luarocks "$file" && ! command -v luarocks >/dev/null; then
            echo "SKIP [$sb_current] luarocks is not installed (tools/setup installs it)"
            continue
        fi
        bash -e "$file" >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
        RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    else
        run_sb "$file"
    fi
    expect_exit 0
    [ -n "$expect" ] && expect_out "$expect"
    cd "$work" || exit 1
done <"$blocks/index"

finish
