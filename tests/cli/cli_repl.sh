#!/usr/bin/env bash
# sbengine -i (issue 18, item 7): expressions and `=expr` print as lua5.4 prints them, and
# statements continue over lines; on a terminal (a pty here) the prompt edits lines with
# libedit or readline, loaded only then (not by `sbengine -e`), completes globals, fields and
# methods with TAB, recalls history with the up arrow and keeps it in ~/.sbengine_history.
. "$(dirname "$0")/lib/assert.sh"

case_ "expressions and =expr print their values as lua5.4 does; statements continue"
printf '1 + 1\n=sb.version\n"a", nil, 3\nfor i = 1, 2 do\nprint(i * 10)\nend\nlocal t = {}\n' \
    | "$SBENGINE" -i >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "> 2"
expect_out_re "> [0-9]+\.[0-9]+\.[0-9]+"
expect_out "> a	nil	3"
expect_out ">> >> 10"
expect_out "20"
ours="$OUT"
printf '1 + 1\n"a", nil, 3\n' | lua5.4 -i >"$SB_TMP/.lua" 2>&1
if grep -q "a	nil	3" "$SB_TMP/.lua"; then sb_ok; else OUT=$(cat "$SB_TMP/.lua"); sb_fail "lua5.4 prints it differently"; fi

case_ "a run that is not interactive does not load a line editor"
run_sb -e 'for l in io.lines("/proc/self/maps") do if l:find("libedit") or l:find("libreadline") then print(l) end end'
expect_exit 0
expect_no_out

case_ "on a terminal: line editing, TAB completion, history"
if ! ls /usr/lib/*/libedit.so.2 /lib/*/libedit.so.2 /usr/lib/*/libreadline.so.8 >/dev/null 2>&1; then
    echo "note: neither libedit2 nor libreadline8 is installed; the terminal case is skipped" >&2
else
    mkdir -p home
    HOME="$SB_TMP/home" python3 - "$SBENGINE" >"$SB_TMP/.out" 2>"$SB_TMP/.err" <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "-i"])
out = b""
def read_for(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            out += chunk
def send(data, wait=1.5):
    os.write(fd, data)
    read_for(wait)
read_for(3)
send(b"sb.vers\t\r")                 # completes to sb.version
send(b"t = sb.zeros(3)\r")
send(b"t:nu\t()\r")                  # a method: t:numel()
send(b"\x1b[A\r")                    # the up arrow recalls t:numel()
send(b"for l in io.lines('/proc/self/maps') do if l:find('libedit') or l:find('libreadline') then print('EDITOR LOADED') break end end\r")
send(b"\x04", 2)
sys.stdout.write(out.decode("utf-8", "replace"))
PY
    RC=$?; OUT=$(tr -d '\r' <"$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 0
    # the terminal redraws the completed word with cursor moves: its value is what shows it
    expect_out_re "^[0-9]+\.[0-9]+\.[0-9]+$"
    expect_out "t:numel()"
    n=$(printf '%s\n' "$OUT" | grep -cx "3")
    if [ "$n" -ge 2 ]; then sb_ok; else sb_fail "t:numel() did not print 3 twice (TAB, then history)"; fi
    expect_out "EDITOR LOADED"
    if grep -q "t:numel()" home/.sbengine_history 2>/dev/null; then sb_ok; else sb_fail "no ~/.sbengine_history"; fi
fi

finish
