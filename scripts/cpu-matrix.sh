#!/usr/bin/env bash
# The CPU matrix: unit tests, every scenario under every policy and a short
# stress on this CPU and on other CPU models under QEMU's user-mode emulator.
#
#   scripts/cpu-matrix.sh BUILD_DIR MODEL...    MODEL: native or a qemu-x86_64 -cpu name
#
# Prints one table row per model (model, XCR0, save instruction, buffer size,
# unit tests, scenarios passed, stress events, violations, injected bugs
# caught by stress after the same seeds passed clean, and whether a
# deliberately broken oracle that compares FOP/FIP/FDP is caught where the
# CPU does not keep them). Exits 0 only if every row passed.
set -u
build=$1; shift
status=0
seeds=${MATRIX_SEEDS:-10}
events=${MATRIX_EVENTS:-10000}

# The regression scenario of each bug that has one (scripts/test.sh pairs them too).
bug_scenario() {
	case $1 in
	sigframe-stale-owner) echo scenarios/linux-bug8-stale-owner.scn ;;
	sigreturn-keeps-owner) echo scenarios/linux-bug9-restore-owner.scn ;;
	sigreturn-unvalidated) echo scenarios/linux-bug10-unvalidated.scn ;;
	sigreturn-no-reset) echo scenarios/linux-bug11-no-reset.scn ;;
	sigreturn-pkru-default) echo scenarios/linux-bug13-pkru-init.scn ;;
	guest-enter-no-reload) echo scenarios/linux-bug7-kfpu-before-entry.scn ;;
	guest-xcr0-leak) echo scenarios/linux-bug3-guest-xcr0.scn ;;
	guest-save-to-vmm | guest-scratch) echo scenarios/seed-kvm-preempt.scn ;;
	no-remote-flush) echo scenarios/deferred-remote-flush.scn ;;
	flush-active-buffer) echo scenarios/deferred-guest-swap.scn ;;
	kfpu-no-flush) echo scenarios/deferred-kfpu-flush.scn ;;
	exec-keeps-unsaved) echo scenarios/deferred-exec.scn ;;
	esac
}

row() { printf '%-12s %-8s %-9s %7s  %-6s %-9s %9s %5s %6s  %s\n' "$@"; }
row model XCR0 save buffer unit scenarios "stress ev" viol bugs "broken oracle (--pretend x87-kept)"

for model in "$@"; do
	if [ "$model" = native ]; then run=(); else run=(qemu-x86_64 -cpu "$model"); fi
	fail=()
	info=$("${run[@]}" "$build/bin/fpuctx" info 2>/dev/null)
	xcr0=$(printf '%s\n' "$info" | awk '/^XCR0/ {print $2}')
	insn=$(printf '%s\n' "$info" | awk '/^save instruction/ {print $3}')
	size=$(printf '%s\n' "$info" | awk '/^context buffer/ {print $3}')
	kept=$(printf '%s\n' "$info" | sed -n 's/^x87 FOP\/FIP\/FDP *//p')
	[ -n "$insn" ] || fail+=("fpuctx info failed")

	unit=ok
	for u in test_xstate test_core test_guest; do
		if ! "${run[@]}" "$build/tests/$u" >/dev/null 2>&1; then unit=FAIL; fail+=("$u"); fi
	done

	# A scenario whose VM asks for a component this CPU lacks, or that edits
	# XSAVE frame fields on a CPU without XSAVE, must be refused (exit 2,
	# naming what is missing), not run: it counts as not applicable.
	total=0 passed=0 na=0
	for f in scenarios/*.scn; do
		total=$((total + 1))
		out=$("${run[@]}" "$build/bin/fpuctx" run "$f" --policy all --quiet 2>&1)
		case $?:$out in
		0:*) passed=$((passed + 1)) ;;
		2:*"not managed by the host"* | 2:*"needs an XSAVE signal frame"*) na=$((na + 1)) ;;
		*) fail+=("$f") ;;
		esac
	done
	[ $na = 0 ] || passed="$passed+$na n/a"

	stress=$("${run[@]}" "$build/bin/fpuctx" stress --seeds "$seeds" --events "$events" --policy all --json 2>/dev/null)
	read -r sev sviol < <(printf '%s' "$stress" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    p = d["policies"].values()
    print(sum(v["events"] for v in p), sum(v["violations"] for v in d["policies"].values()))
except Exception:
    print("0 -1")')
	[ "$sviol" = 0 ] && [ "$sev" -gt 0 ] || fail+=("stress: $sviol violations")

	# Every bug this model can show: by stress on the seeds that just passed
	# clean, or else by its regression scenario after that passed clean
	# (stress finds sigreturn-keeps-owner only on some seeds).
	nbugs=0 caught=0
	if [ "$sviol" = 0 ]; then
		for bug in $("${run[@]}" "$build/bin/fpuctx" bugs 2>/dev/null |
				awk '!/cannot show here|needs --pretend|CPUs running at once/ {print $1}'); do
			nbugs=$((nbugs + 1))
			pol=linux
			"${run[@]}" "$build/bin/fpuctx" bugs 2>/dev/null | grep "^$bug " |
				grep -q -- '--policy deferred' && pol=deferred
			"${run[@]}" "$build/bin/fpuctx" stress --seeds "$seeds" --events 20000 --policy $pol \
				--inject-bug "$bug" >/dev/null 2>&1
			st=$?
			scn=$(bug_scenario "$bug")
			if [ $st != 1 ] && [ -n "$scn" ] &&
			   "${run[@]}" "$build/bin/fpuctx" run "$scn" --quiet >/dev/null 2>&1; then
				"${run[@]}" "$build/bin/fpuctx" run "$scn" --quiet --inject-bug "$bug" >/dev/null 2>&1
				st=$?
			fi
			if [ $st = 1 ]; then caught=$((caught + 1)); else fail+=("bug $bug not caught"); fi
		done
	fi

	# Where the CPU does not keep the pointers, an oracle that compares them
	# must fail on a scenario that passes clean: proof that the matrix can fail.
	if printf '%s' "$kept" | grep -q '^kept without'; then
		broken="n/a: this CPU keeps them"
	elif "${run[@]}" "$build/bin/fpuctx" run scenarios/pingpong.scn --policy linux --quiet >/dev/null 2>&1 &&
	     ! "${run[@]}" "$build/bin/fpuctx" run scenarios/pingpong.scn --policy linux --pretend x87-kept \
		--quiet >/dev/null 2>&1; then
		broken="fails, as it must"
	else
		broken="NOT CAUGHT"
		fail+=("broken oracle not caught")
	fi

	row "$model" "${xcr0:-?}" "${insn:-?}" "${size:-?}" "$unit" "$passed/$total" "$sev" "$sviol" \
		"$caught/$nbugs" "$broken"
	if [ ${#fail[@]} -gt 0 ]; then
		status=1
		printf '    %s: failed: %s\n' "$model" "${fail[*]}"
	fi
done
exit $status
