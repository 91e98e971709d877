#!/usr/bin/env bash
# Dataset roots that cannot be used (issue 5 "Bad input"): an unreadable root folder, a root
# that is a file, a missing one. Each is a Lua error at the script's line that names the
# dataset, the folder and the reason. Root ignores folder permissions, so as root the
# unreadable case runs as user nobody (setpriv) when that user can run the engine here.
. "$(dirname "$0")/lib/assert.sh"
chmod 755 "$SB_TMP"
mkdir locked
chmod 000 locked
echo "not a folder" >afile

as_user=()
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null &&
        setpriv --reuid=65534 --regid=65534 --clear-groups "$SBENGINE" -e '' 2>/dev/null; then
        as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    else
        as_user=(skip)
    fi
fi

for ds in MNIST CIFAR10 CIFAR100; do
    case_ "$ds: an unreadable root"
    if [ "${as_user[0]:-}" = skip ]; then
        echo "skipped: running as root without a way to drop privileges"
    else
        OUT="" ERR=""
        "${as_user[@]}" "$SBENGINE" -e "sb.data.$ds { root = '$SB_TMP/locked', train = false }" \
            >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
        RC=$?
        ERR=$(cat "$SB_TMP/.err")
        expect_exit 1
        expect_err "(command line):1: $ds: cannot read directory '$SB_TMP/locked': Permission denied"
    fi

    case_ "$ds: a root that is a file, a missing root"
    run_sb -e "sb.data.$ds { root = 'afile', train = false }"
    expect_exit 1
    expect_err "(command line):1: $ds: 'afile' is not a directory"
    run_sb -e "sb.data.$ds { root = 'missing/root', train = false }"
    expect_exit 1
    expect_err "$ds: "
    expect_err "missing/root"
done

finish
