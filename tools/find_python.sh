#!/bin/sh
# Print the path of a Python interpreter >= 3.12 (Mesa 3.5 needs it), or exit 1.
#
# Candidates, in order: $PYTHON (if set), python3.13, python3.12, python3 on PATH, then
# pyenv installs (/root/.pyenv/versions/3.1[2-9]*/bin/python3) and /usr/bin, /usr/local/bin
# python3.1[2-9]. A candidate counts only if *running* it reports >= 3.12: pyenv shims such
# as `python3.12` exist on PATH but fail unless pyenv selects that version.
# Usage: tools/find_python.sh            -> prints e.g. /root/.pyenv/versions/3.12.1/bin/python3

ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

try() {
    for c in "$@"; do
        case "$c" in
            */*) [ -x "$c" ] || continue; p=$c ;;
            *) p=$(command -v "$c" 2>/dev/null) || continue ;;
        esac
        if ok "$p"; then
            # resolve to the real interpreter so the venv does not point at a shim
            "$p" -c 'import sys; print(sys.executable)'
            exit 0
        fi
    done
}

if [ -n "${PYTHON:-}" ]; then
    try "$PYTHON"
    echo "find_python: PYTHON=$PYTHON is not a runnable Python >= 3.12; trying others" >&2
fi
try python3.13 python3.12 python3
try /root/.pyenv/versions/3.1[2-9]*/bin/python3 \
    /usr/bin/python3.1[2-9] /usr/local/bin/python3.1[2-9]

echo "Python >= 3.12 is required (Mesa 3.5); install it or pass PYTHON=/path/to/python3.12" >&2
exit 1
