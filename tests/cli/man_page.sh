#!/usr/bin/env bash
# The man page sbengine(1) (docs/sbengine.1) is kept in step with the help (issue 18, item 3):
# every command of `sbengine --help` has its entry, every option that `sbengine help COMMAND`
# (and the server's own help) prints is described, every option the page describes exists,
# and the page is installed with the binary.
. "$(dirname "$0")/lib/assert.sh"
page="$SBENGINE_SOURCE_DIR/docs/sbengine.1"
# The page's text with roff's escapes taken out: \- is -, \fB...\fR are fonts.
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$page")

case_ "every command has an entry"
run_sb --help
commands=$(printf '%s\n' "$OUT" | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
[ -n "$commands" ] || sb_fail "no commands in sbengine --help"
for cmd in $commands; do
    if printf '%s\n' "$text" | grep -qx ".B $cmd"; then sb_ok; else sb_fail "no entry for '$cmd'"; fi
done

case_ "every option of every command's help is described"
options=""
for cmd in $commands; do
    run_sb help "$cmd"
    options="$options $(printf '%s\n%s\n' "$OUT" "$ERR" | grep -oE '(^  +|\(also )-{1,2}[a-z][a-z-]*' | sed 's/^(also //' | tr -d ' ')"
done
for opt in $(printf '%s\n' $options | sort -u); do
    if printf '%s\n' "$text" | grep -qE -- "(^|[^a-z-])$opt([^a-z-]|$)"; then sb_ok
    else sb_fail "the man page does not describe $opt"; fi
done

case_ "every option the page describes exists"
described=$(printf '%s\n' "$text" | sed -n '/^\.SH OPTIONS/,/^\.SH ENVIRONMENT/p' |
            grep -E '^\.(B|BI|BR) -' | grep -oE -- '-{1,2}[a-z][a-z-]*')
for opt in $described; do
    if printf '%s\n' $options | grep -qx -- "$opt"; then sb_ok
    else sb_fail "the man page describes $opt, which no command's help has"; fi
done

case_ "the page renders and is installed with the binary"
if command -v groff >/dev/null; then
    if groff -man -Tutf8 -ww -z "$page" 2>"$SB_TMP/groff.err" && [ ! -s "$SB_TMP/groff.err" ]; then sb_ok
    else ERR=$(cat "$SB_TMP/groff.err"); sb_fail "groff warns about the page"; fi
fi
if grep -q 'docs/sbengine.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1' "$SBENGINE_SOURCE_DIR/cmake/packaging.cmake"; then sb_ok
else sb_fail "cmake/packaging.cmake does not install docs/sbengine.1"; fi

finish
