#!/usr/bin/env bash
# Usage: scripts/nolibc-check.sh NAME OBJ...
# Links OBJ... into one relocatable object and fails if it references any
# symbol it does not define: libc, or a memcpy/memset the compiler emitted.
# Allowed: the GOT symbol (position-independent code) and the exception
# table's bounds, which the final link defines; neither is a dependency.
set -eu
name=$1; shift
out=$(mktemp --suffix=.o)
trap 'rm -f "$out"' EXIT
ld -r -o "$out" "$@"
undefined=$(nm -u "$out" | grep -vE ' (_GLOBAL_OFFSET_TABLE_|__(start|stop)_fpuctx_extable)$' || true)
if [ -n "$undefined" ]; then
	echo "nolibc: $name objects reference symbols from outside:"
	echo "$undefined"
	exit 1
fi
echo "nolibc: $name objects are self-contained"
