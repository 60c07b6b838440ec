#!/usr/bin/env bash
# make ring0: boots the kernel built against the installed library once per
# policy and CPU count and prints a table from each run's last lines (logs in
# DIR/POLICY-cpusN.log). CPU counts: RING0_CPUS if set, else 2 and 4 for
# every policy. "in lock": timer interrupts that landed in the library's
# code while it held the FPU lock (saves, restores, write-backs).
#
#   ring0/boot-all.sh DIR POLICY...       (RING0_ARGS: more kernel options)
set -u
dir=${1:?usage: ring0/boot-all.sh DIR POLICY...}
shift
here=$(dirname "$0")
status=0
rows=()
runs=()
for p in "$@"; do
	for n in ${RING0_CPUS:-2 4}; do runs+=("$p:$n"); done
done
for pn in "${runs[@]}"; do
	p=${pn%%:*} n=${pn#*:}
	log=$dir/$p-cpus$n.log
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086 # RING0_ARGS splits into options on purpose
	"$here/boot.sh" "$dir/kernel.elf" "policy=$p" "cpus=$n" ${RING0_ARGS:-} >"$log" 2>&1
	st=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	last=$(tr -d '\r' <"$log" | grep '^ring0: policy=' | tail -n 1)
	smp=$(tr -d '\r' <"$log" | grep -E '^ring0: [0-9]+ migrations' | tail -n 1)
	[ -n "$smp" ] && echo "$smp"
	echo "${last:-ring0: $p: no summary line (see $log)}"
	case $st in 0) verdict=pass ;; 1) verdict=FAIL; status=1 ;; *) verdict="no verdict"; status=1 ;; esac
	field() { echo "$last" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
	migr=$(echo "$smp" | sed -n 's/^ring0: \([0-9]*\) migrations.*/\1/p')
	ipis=$(echo "$smp" | sed -n 's/.* migrations, \([0-9]*\) IPIs.*/\1/p')
	flushes=$(echo "$smp" | sed -n 's/.* \([0-9]*\) remote flushes$/\1/p')
	inlock=$(tr -d '\r' <"$log" | sed -n 's/^ring0: [0-9]* timer interrupts hit ring 0: .*, \([0-9]*\) while it held the FPU lock.*/\1/p')
	rows+=("$(printf '%-9s %4s %-10s %10s %7s %9s %7s %9s %9s %10s %10s %5s %7s %7.1f' "$p" "$n" "$verdict" \
		"$(field interrupts)" "$inlock" "$(field switches)" "$(field signals)" "$(field saves)" "$(field restores)" \
		"$(field violations)" "$migr" "$ipis" "$flushes" "$secs")")
done
printf '\n%-9s %4s %-10s %10s %7s %9s %7s %9s %9s %10s %10s %5s %7s %7s\n' policy cpus verdict interrupts "in lock" \
	switches signals saves restores violations migrations IPIs flushes seconds
printf '%s\n' "${rows[@]}"
exit $status
