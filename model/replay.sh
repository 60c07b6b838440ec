#!/usr/bin/env bash
# From the model to the hardware: for each mutant below, SPIN finds the
# shortest counterexample among the interleavings the simulated kernel can
# take (-DSIM_ORDER=1) that ends where user code sees a wrong register
# (-DVISIBLE_ONLY=1); model/trail2scn.py turns its steps into a scenario;
# fpuctx runs it on the real registers, clean (every policy must pass) and
# with the same bug injected (it must fail). Prints a table.
#
#   model/replay.sh            check every mutant of the list
#   model/replay.sh --write    also (re)write scenarios/model-NAME.scn
#   model/replay.sh NAME...    only those
#
# Environment: BUILD (default build), FPUCTX (default $BUILD/bin/fpuctx).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD:-$root/build}
fpuctx=${FPUCTX:-$build/bin/fpuctx}
out=$build/model/replay
write=0
[ "${1:-}" = --write ] && { write=1; shift; }

if ! command -v spin >/dev/null; then
	echo "replay: spin is not installed (scripts/setup.sh installs it)" >&2
	exit 77
fi
[ -x "$fpuctx" ] || { echo "replay: $fpuctx not built (make all)" >&2; exit 2; }

BASE="-DF_LIFE=0 -DF_SIGNAL=0 -DF_GUEST=0 -DF_PKRU=0"
LIFE="-DF_LIFE=1 -DF_SIGNAL=0 -DF_GUEST=0 -DF_PKRU=0"

# name (the --inject-bug switch) | policy | features | model switch
list=(
	"skip-owner-check|linux|$BASE|BUG_SKIP_OWNER_CHECK"
	"kfpu-no-save|linux|$BASE|BUG_KFPU_NO_SAVE"
	"kthread-save|linux|$BASE|BUG_KTHREAD_SAVE"
	"drop-keeps-owner|linux|$LIFE|BUG_DROP_KEEPS_OWNER"
	"no-remote-flush|deferred|$BASE|BUG_NO_REMOTE_FLUSH"
	"kfpu-no-flush|deferred|$BASE|BUG_KFPU_NO_FLUSH"
)
if [ $# -gt 0 ]; then
	keep=()
	for r in "${list[@]}"; do
		for w in "$@"; do [ "${r%%|*}" = "$w" ] && keep+=("$r"); done
	done
	list=("${keep[@]}")
fi

fail=0
printf '%-18s %-9s %6s %6s  %-6s %-6s %s\n' mutant policy states steps clean bug scenario
for r in "${list[@]}"; do
	IFS='|' read -r name pol feat bug <<<"$r"
	d=$out/$name
	rm -rf "$d"; mkdir -p "$d"; cp "$here/fpu.pml" "$d/"
	flags="-DSIM_ORDER=1 -DVISIBLE_ONLY=1 -DPOL_${pol^^} -DNV=2 $feat -D$bug=1"
	(
		cd "$d" && spin $flags -a fpu.pml && gcc -O0 -DSAFETY -DBFS -o pan pan.c && ./pan -w24 &&
		spin $flags -t fpu.pml >steps.txt
	) >"$d/pan.out" 2>&1
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$d/pan.out" | tail -1)
	scn=$d/model-$name.scn
	clean=- buggy=- verdict=FAIL
	if [ ! -s "$d/steps.txt" ]; then
		verdict="FAIL: no counterexample (see ${d#$root/}/pan.out)"
	elif ! python3 "$here/trail2scn.py" --name "model-$name" \
		--note "Mutant $name (--inject-bug $name) under $pol: model/replay.sh." \
		"$d/steps.txt" >"$scn" 2>"$d/trail2scn.err"; then
		verdict="FAIL: $(cat "$d/trail2scn.err")"
	else
		"$fpuctx" run -q "$scn" >"$d/clean.out" 2>&1 && clean=pass || clean=FAIL
		"$fpuctx" run -q -p "$pol" --inject-bug "$name" "$scn" >"$d/bug.out" 2>&1
		[ $? -eq 1 ] && grep -q 'FAILED' "$d/bug.out" && buggy=caught || buggy=missed
		if [ $clean = pass ] && [ $buggy = caught ]; then
			verdict=ok
			[ $write = 1 ] && cp "$scn" "$root/scenarios/model-$name.scn"
		fi
	fi
	printf '%-18s %-9s %6s %6s  %-6s %-6s %s\n' "$name" "$pol" "${states:--}" \
		"$(grep -c '^@\|[[:space:]]@ ' "$d/steps.txt" 2>/dev/null || echo -)" "$clean" "$buggy" "$verdict"
	[ "$verdict" = ok ] || fail=$((fail + 1))
done
echo "replay: ${#list[@]} counterexamples, $fail failed (outputs in ${out#$root/})"
[ $fail -eq 0 ]
