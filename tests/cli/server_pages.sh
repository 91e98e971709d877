#!/usr/bin/env bash
# The leaderboard pages as a browser sees them: headless Chromium (Debian's chromium) loads
# a real server's pages; --dump-dom gives the table contents and their order after sorting;
# a screenshot of the leaderboard is kept in BUILD/server-pages/ for a human to look at.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/serve.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser) || { echo "chromium not installed (Debian package chromium): skipped"; exit 77; }
SHOTS="$SBENGINE_BUILD_DIR/server-pages"
mkdir -p "$SHOTS"
browse() { # browse URL [extra chromium options]: the DOM after loading, in $OUT
    local url=$1
    shift
    OUT=$(timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$SB_TMP/chromium" "$@" --dump-dom "$url" 2>"$SB_TMP/chromium.err")
    RC=$?
    ERR=$(tail -5 "$SB_TMP/chromium.err")
}

TOKEN=$(add_user results.sqlite carol)
start_serve results.sqlite
export SOTABENCH_URL="$SERVE_URL" SOTABENCH_TOKEN="$TOKEN"
"$SBENGINE" --quiet --out store.json -e '
for i, m in ipairs { {"ResNet-50", 0.761, 1200}, {"EfficientNet-B0 <b>bold</b>", 0.773, 2600},
                     {"ViT-B/16", 0.811, 700}, {"MobileNet-V2", 0.718, 4100} } do
  sb.BenchmarkResult { model = m[1], task = "Image Classification", dataset = "ImageNet",
    results = { ["Top 1 Accuracy"] = m[2], ["Top 5 Accuracy"] = m[2] + 0.15 },
    speed_mem_metrics = { ["Tasks / Evaluation Time"] = m[3], ["Tasks"] = 50000, ["Evaluation Time"] = 50000 / m[3] },
    arxiv_id = i == 1 and "1512.03385" or nil }
end' 2>/dev/null
"$SBENGINE" submit store.json >/dev/null 2>&1
BASE="http://127.0.0.1:$SERVE_PORT"
models_in_order() { printf '%s' "$OUT" | grep -o '<td class="model"><a href="[^"]*">[^<]*' | sed 's/.*">//' | paste -sd '|'; }

case_ "the leaderboard in Chromium: best Top 1 first, the model's markup shown as text"
browse "$BASE/b/ImageNet/Image%20Classification"
expect_exit 0
[ "$(models_in_order)" = "ViT-B/16|EfficientNet-B0 &lt;b&gt;bold&lt;/b&gt;|ResNet-50|MobileNet-V2" ] && sb_ok || sb_fail "order: $(models_in_order)"
if printf '%s' "$OUT" | grep -q "<b>bold</b>"; then sb_fail "the model name became markup"; else sb_ok; fi
expect_out '<svg id="pareto"'
expect_out '<svg id="history"'
expect_out 'class="front"'

case_ "sorted by throughput, ascending"
browse "$BASE/b/ImageNet/Image%20Classification?sort=Tasks%20%2F%20Evaluation%20Time&order=asc"
[ "$(models_in_order)" = "ViT-B/16|ResNet-50|EfficientNet-B0 &lt;b&gt;bold&lt;/b&gt;|MobileNet-V2" ] && sb_ok || sb_fail "order: $(models_in_order)"

case_ "the index and a result page"
browse "$BASE/"
expect_out ">ImageNet</a>"
expect_out ">ViT-B/16</a>"
browse "$BASE/r/1"
expect_out "ResNet-50"
expect_out "https://arxiv.org/abs/1512.03385"

case_ "a screenshot of the leaderboard for a human"
(cd "$SHOTS" && timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$SB_TMP/chromium" --window-size=1280,1000 --screenshot="$SHOTS/leaderboard.png" \
    "$BASE/b/ImageNet/Image%20Classification" >/dev/null 2>&1)
[ -s "$SHOTS/leaderboard.png" ] && sb_ok || sb_fail "no screenshot in $SHOTS"
stop_serve TERM
finish
