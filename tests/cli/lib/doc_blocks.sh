# Runs every code block of a Markdown page, in order, in one folder (sourced by the docs
# tests after lib/assert.sh): the ```lua blocks with sbengine, the ```sh blocks with bash
# (sbengine on PATH, HOME a fresh folder so `luarocks --local` installs there). A
# `<!-- file: NAME -->` line before a block saves it under NAME instead: a module or model
# file that later blocks require or pass to sbengine (it is compiled here, and runs there),
# or a rockspec for the sh block that installs it; a named block with an `expect` is a
# script and runs here too; a named ```json or ```text block is a data file (with LANGS naming it);
# `<!-- expect: TEXT -->` after it says what its stdout must contain. A lua block with a
# `-- needs a GPU` line runs only where a GPU is visible. The folder holds the 512-image
# MNIST fixture at ./.data/vision/mnist and links `benchmarks`, `examples` and `tests/fixtures`
# to the source tree's folders. This is the one runner of the docs' examples; the busted specs only check
# that every public function has one (tests/lua/docs_helper.lua).
# Usage: run_doc_blocks DOC.md MIN_BLOCKS [LANGS]   (LANGS: e.g. "lua" to leave out the sh
# blocks of a page whose shell blocks are build instructions, not examples; default lua,sh)
run_doc_blocks() {
    local doc=$1 min=$2 langs=${3:-lua,sh} blocks="$SB_TMP/blocks" work="$SB_TMP/work"
    mkdir -p "$blocks" "$work/.data/vision" "$SB_TMP/home"
    # Once per test, also when a test runs several pages (a second `ln -s` would put a link
    # inside the source tree's benchmarks/).
    [ -e "$work/.data/vision/mnist" ] || cp -r "$SBENGINE_FIXTURES/bench/mnist512" "$work/.data/vision/mnist"
    [ -e "$work/benchmarks" ] || ln -s "$SBENGINE_SOURCE_DIR/benchmarks" "$work/benchmarks"
    [ -e "$work/examples" ] || ln -s "$SBENGINE_SOURCE_DIR/examples" "$work/examples"
    [ -e "$work/tests/fixtures" ] || { mkdir -p "$work/tests" && ln -s "$SBENGINE_FIXTURES" "$work/tests/fixtures"; }
    local gpu=no
    "$SBENGINE" -e 'os.exit(sb.cuda.available() and 0 or 1)' 2>/dev/null && gpu=yes
    export HOME="$SB_TMP/home"
    PATH="$(cd "$(dirname "$SBENGINE")" && pwd):$PATH"
    export PATH

    rm -rf "$blocks" && mkdir -p "$blocks"
    lua5.4 "$SBENGINE_SOURCE_DIR/tests/lib/markdown_blocks.lua" "$doc" "$blocks" "$langs" \
        >"$blocks/index" || exit 1
    local count
    count=$(grep -c . "$blocks/index")
    case_ "$(basename "$doc") has code blocks"
    RC=0 OUT="$count blocks" ERR=""
    if [ "$count" -ge "$min" ]; then sb_ok; else sb_fail "expected at least $min blocks, found $count"; fi

    cd "$work" || exit 1
    local id lang name expect file
    while IFS=$'\x1f' read -r id lang name expect; do
        file=${name:-block$id.$lang}
        mkdir -p "$(dirname "$file")"
        cp "$blocks/$id.$lang" "$file"
        case_ "$(basename "$doc") block $id ($lang${name:+, $name})"
        if [ "$lang" = json ] || [ "$lang" = text ]; then
            continue # a data file (named) that later blocks read
        elif [ "$lang" = lua ] && [ "$gpu" = no ] && grep -q -- '-- needs a GPU' "$file"; then
            echo "SKIP [$sb_current] needs a GPU"
            continue
        elif [ "$lang" = lua ] && [ -n "$name" ] && [ -z "$expect" ]; then
            [ "${name%.lua}" = "$name" ] && continue # a rockspec: the sh block after it uses it
            run_sb -e "assert(loadfile('$file'))"
        elif [ "$lang" = sh ]; then
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
        [ -z "$expect" ] || expect_out "$expect"
        cd "$work" || exit 1
    done <"$blocks/index"
}
