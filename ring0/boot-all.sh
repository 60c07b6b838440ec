#!/usr/bin/env bash
# make ring0: boots the kernel built against the installed library once per
# policy and prints a table from each run's last line (logs in DIR/POLICY.log).
#
#   ring0/boot-all.sh DIR POLICY...       (RING0_ARGS: more kernel options)
set -u
dir=${1:?usage: ring0/boot-all.sh DIR POLICY...}
shift
here=$(dirname "$0")
status=0
rows=()
for p in "$@"; do
	log=$dir/$p.log
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086 # RING0_ARGS splits into options on purpose
	"$here/boot.sh" "$dir/kernel.elf" "policy=$p" ${RING0_ARGS:-} >"$log" 2>&1
	st=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	last=$(tr -d '\r' <"$log" | grep '^ring0: policy=' | tail -n 1)
	echo "${last:-ring0: $p: no summary line (see $log)}"
	case $st in 0) verdict=pass ;; 1) verdict=FAIL; status=1 ;; *) verdict="no verdict"; status=1 ;; esac
	field() { echo "$last" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
	rows+=("$(printf '%-9s %-10s %10s %9s %9s %9s %10s %7.1f' "$p" "$verdict" "$(field interrupts)" \
		"$(field switches)" "$(field saves)" "$(field restores)" "$(field violations)" "$secs")")
done
printf '\n%-9s %-10s %10s %9s %9s %9s %10s %7s\n' policy verdict interrupts switches saves restores violations seconds
printf '%s\n' "${rows[@]}"
exit $status
