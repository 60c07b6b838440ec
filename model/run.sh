#!/usr/bin/env bash
# Checks model/fpu.pml with SPIN: the clean model under every policy (in the
# configurations below), then every mutant, each of which must produce a
# counterexample. And model/shared.pml (I10: one buffer's fields shared
# between CPUs, every store a step of its own), clean and its mutants. Prints a table: run, verdict, trail length, states, time.
# Exit status 0 only if every clean run has no error and every mutant has one.
#
#   model/run.sh           the default configurations (a few minutes on 2 cores)
#   model/run.sh large     the clean model with fork/exec/exit, with signals, with
#                          the vCPU (each apart, per policy: long)
#   model/run.sh full      the clean model with every feature on, per policy (longer)
#   model/run.sh NAME...   only the runs named (or: clean, mutant)
#
# Environment: BUILD (default build), JOBS (default 2), NV (versions, default 2),
# TIMEOUT (seconds per run, default none: a run stopped by it reports how far
# it got, and fails: it proves nothing).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BUILD:-$root/build}/model
jobs=${JOBS:-2}
nv=${NV:-2}
mkdir -p "$out"

if ! command -v spin >/dev/null; then
	echo "model: spin is not installed (scripts/setup.sh installs it)" >&2
	exit 77
fi

# Feature sets (see the F_* switches at the top of fpu.pml).
BASE="-DF_LIFE=0 -DF_SIGNAL=0 -DF_GUEST=0 -DF_PKRU=0"
LIFE="-DF_LIFE=1 -DF_SIGNAL=0 -DF_GUEST=0 -DF_PKRU=0"
SIG="-DF_LIFE=0 -DF_SIGNAL=1 -DF_GUEST=0 -DF_PKRU=0"
SIGLIFE="-DF_LIFE=1 -DF_SIGNAL=1 -DF_GUEST=0 -DF_PKRU=0"
GUEST="-DF_LIFE=0 -DF_SIGNAL=0 -DF_GUEST=1 -DF_PKRU=0"
FULL="-DF_LIFE=1 -DF_SIGNAL=1 -DF_GUEST=1 -DF_PKRU=1"

# name | expect (clean: no error; mutant: an error) | policy | features | mutant flag | versions | model
runs=()
clean() { runs+=("$1|clean|$2|$3||$nv|fpu.pml"); }
mutant() { runs+=("$1|mutant|$2|$3|-D$4=1|${5:-$nv}|fpu.pml"); }
# shared.pml: I10, one buffer's cross-CPU fields, each store a step of its own
shared() { runs+=("$1|$2|deferred|||-|shared.pml"); }
shared_mutant() { runs+=("$1|mutant|deferred||-D$2=1|-|shared.pml"); }

if [ "${1:-}" = full ]; then
	shift
	for p in eager rfc2015 linux deferred; do
		clean "full-$p" "$p" "$FULL"
	done
elif [ "${1:-}" = large ]; then
	shift
	for p in eager rfc2015 linux deferred; do
		clean "clean-$p-life" "$p" "$LIFE"
		clean "clean-$p-signal" "$p" "$SIG"
		clean "clean-$p-guest" "$p" "$GUEST"
	done
else
	for p in eager rfc2015 linux deferred; do
		clean "clean-$p-base" "$p" "$BASE"
	done
	# the --inject-bug switches that concern the protocol
	mutant skip-owner-check        linux    "$BASE"    BUG_SKIP_OWNER_CHECK
	mutant drop-keeps-owner        linux    "$LIFE"    BUG_DROP_KEEPS_OWNER
	mutant kthread-save            linux    "$BASE"    BUG_KTHREAD_SAVE
	mutant kfpu-no-save            linux    "$BASE"    BUG_KFPU_NO_SAVE
	mutant sigreturn-keeps-owner   linux    "$SIGLIFE" BUG_SIGRETURN_KEEPS_OWNER
	mutant guest-save-to-vmm       linux    "$GUEST"   BUG_GUEST_SAVE_TO_VMM
	mutant guest-scratch           linux    "$GUEST"   BUG_GUEST_SCRATCH
	mutant guest-enter-no-reload   linux    "$GUEST"   BUG_GUEST_ENTER_NO_RELOAD
	mutant no-remote-flush         deferred "$BASE"    BUG_NO_REMOTE_FLUSH
	mutant flush-active-buffer     deferred "$GUEST"   BUG_FLUSH_ACTIVE_BUFFER
	mutant kfpu-no-flush           deferred "$BASE"    BUG_KFPU_NO_FLUSH
	mutant exec-keeps-unsaved      deferred "$LIFE"    BUG_EXEC_KEEPS_UNSAVED
	# survivors of a mutation review (no --inject-bug switch)
	mutant forget-keeps-last-cpu   linux    "$LIFE"    BUG_FORGET_KEEPS_LAST_CPU
	mutant fork-saves-need-load    linux    "$LIFE"    BUG_FORK_SAVES_NEED_LOAD
	mutant guest-set-keeps-last-cpu linux   "$GUEST"   BUG_GUEST_SET_KEEPS_LAST_CPU
	mutant kfpu-irq-held           linux    "$SIG"     BUG_KFPU_IRQ_HELD
	mutant guest-init-no-copy      linux    "$GUEST"   BUG_GUEST_INIT_NO_COPY
	# the deadlock argument of I9: a CPU that waits for a remote flush while
	# its own unsaved image is still in its registers (and the FPU lock held,
	# so it cannot answer) can wait for a CPU that waits for it. Versions
	# play no part in it: one keeps the search small.
	mutant wait-holding-unsaved    deferred "$LIFE"    BUG_WAIT_HOLDING_UNSAVED 1
	# I10 (shared.pml): the store order of a write-back (the test-only bug
	# publish-unordered), the claim, and the discard's wait
	shared shared-clean clean
	shared_mutant shared-publish-unordered UNORDERED
	shared_mutant shared-no-claim NO_CLAIM
	shared_mutant shared-discard-no-wait NO_WAIT
fi

if [ $# -gt 0 ]; then
	keep=()
	for r in "${runs[@]}"; do
		for w in "$@"; do
			IFS='|' read -r n e _ <<<"$r"
			if [ "$n" = "$w" ] || [ "$e" = "$w" ]; then keep+=("$r"); break; fi
		done
	done
	runs=("${keep[@]}")
fi

# One run: spin -a, pan compiled for a safety check (assertions and invalid
# end states: a deadlock of the remote flushes), exhaustive: depth first
# with state compression for the clean model, breadth first for a mutant
# (its shortest counterexample); then the trail's length (steps).
one() {
	IFS='|' read -r name expect pol feat bug nv model <<<"$1"
	local d="$out/$name" t0 t1 res limit=
	[ -n "$timeout" ] && limit="timeout $timeout"
	rm -rf "$d"; mkdir -p "$d"; cp "$here/$model" "$d/"
	cd "$d" || return
	t0=$(date +%s.%N)
	{
		spin -DPOL_${pol^^} -DNV=$nv $feat $bug -a "$model" &&
		if [ "$expect" = clean ]; then
			# depth first, the states compressed: the clean model
			gcc -O1 -DSAFETY -DCOLLAPSE -o pan pan.c && $limit ./pan -m50000000 -w26
		else	# breadth first: the shortest counterexample; compiling dominates
			gcc -O0 -DSAFETY -DBFS -o pan pan.c && ./pan -w24
		fi
	} >pan.out 2>&1
	t1=$(date +%s.%N)
	local errors states depth trail verdict ok
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | tail -1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | tail -1)
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' pan.out | tail -1)
	trail=-
	if [ -f "$model.trail" ]; then
		# the counterexample's steps, as spin -t replays them
		spin -DPOL_${pol^^} -DNV=$nv $feat $bug -t -p "$model" >trail.txt 2>&1
		trail=$(wc -l <"$model.trail")
		verdict="counterexample: $(grep -m1 -o 'assertion violated.*\|invalid end state.*' pan.out | cut -c1-70)"
	elif grep -q 'max search depth too small' pan.out; then
		verdict="incomplete (depth)"
	else
		verdict="no error"
	fi
	if [ -z "$errors" ] && [ -n "$timeout" ] && grep -q '^Depth=' pan.out; then
		# stopped by TIMEOUT: how far it got (pan's last progress line)
		states=$(sed -n 's/.*States= *\([0-9.e+]*\).*/\1/p' pan.out | tail -1)
		depth=$(sed -n 's/^Depth= *\([0-9]*\).*/\1/p' pan.out | tail -1)
		verdict="not finished in $timeout s: more than $states states"
		errors=-
	fi
	[ -n "$errors" ] || { verdict="pan failed"; errors=-; }
	if [ "$expect" = clean ]; then
		[ "$errors" = 0 ] && ! grep -q 'max search depth too small' pan.out && ok=PASS || ok=FAIL
	else
		[ "$errors" != 0 ] && [ "$errors" != - ] && ok=PASS || ok=FAIL
	fi
	printf '%s|%s|%s|%s|%s|%s|%.1f|%s\n' "$ok" "$name" "$pol" "${trail}" "${states:--}" "${depth:--}" \
		"$(awk "BEGIN{print $t1 - $t0}")" "$verdict" >"$d/result"
}
export -f one
timeout=${TIMEOUT:-}
export here out nv timeout

t0=$(date +%s)
printf '%s\n' "${runs[@]}" | xargs -d '\n' -P "$jobs" -I{} bash -c 'one "$@"' _ {}
t1=$(date +%s)

fail=0
printf '%-4s  %-30s %-8s %6s %12s %9s %7s  %s\n' "" run policy trail states depth secs verdict
for r in "${runs[@]}"; do
	name=${r%%|*}
	IFS='|' read -r ok n pol trail states depth secs verdict <"$out/$name/result"
	printf '%-4s  %-30s %-8s %6s %12s %9s %7s  %s\n' "$ok" "$n" "$pol" "$trail" "$states" "$depth" "$secs" "$verdict"
	[ "$ok" = PASS ] || fail=$((fail + 1))
done
echo "model: ${#runs[@]} runs, $fail failed, $((t1 - t0)) s (NV=$nv; outputs in ${out#$root/})"
[ $fail -eq 0 ]
