#!/usr/bin/env bash
# Every test of the project. Usage: scripts/test.sh BUILD_DIR
# Ends with "N passed, M failed"; exits non-zero if anything failed.
set -u
build=${1:-build}
fpuctx=$build/bin/fpuctx
pass=0; fail=0; skipped=0; failed=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
# shellcheck source=scripts/verdict.sh
. "$(dirname "$0")/verdict.sh"

ok()   { pass=$((pass + 1)); printf '  ok    %s\n' "$1"; }
bad()  { fail=$((fail + 1)); failed+=("$1"); printf '  FAIL  %s\n' "$1"; sed 's/^/        /' "$2" | tail -n 25; }
# t NAME EXPECTED_STATUS CMD...: runs CMD, passes when its status matches.
t() {
	local name=$1 want=$2; shift 2
	"$@" >"$log/out" 2>&1; local got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else echo "exit $got, wanted $want" >>"$log/out"; bad "$name" "$log/out"; fi
}
# tgrep NAME PATTERN CMD...: passes when the output matches PATTERN (any exit status).
tgrep() {
	local name=$1 pat=$2; shift 2
	"$@" >"$log/out" 2>&1
	if grep -qE -- "$pat" "$log/out"; then ok "$name"; else echo "no match for: $pat" >>"$log/out"; bad "$name" "$log/out"; fi
}
# tcaught NAME BUG CMD...: passes when CMD passes clean and fails with BUG
# (scripts/verdict.sh); the buggy run's stdout is left in $log/bug.
tcaught() {
	local name=$1 bug=$2 v
	shift 2
	if v=$(caught "$log/bug" "$bug" "$@"); then ok "$name"; return 0; fi
	{ echo "verdict: $v"; echo "-- clean run:"; tail -n 8 "$log/bug.clean"
	  echo "-- with --inject-bug $bug:"; tail -n 8 "$log/bug.err" "$log/bug"; } >"$log/verdict"
	bad "$name: $v" "$log/verdict"
	return 1
}

echo "== unit tests"
for u in test_xstate test_core test_guest test_parse; do
	t "$u" 0 "$build/tests/$u"
done

echo "== signal frames against the host kernel (it is the oracle)"
t "difftest: frame bytes and 10000 sigreturn verdicts agree with Linux" 0 "$build/tests/difftest" "${DIFFTEST_N:-10000}" 1

echo "== the no-libc link check"
t "kernel objects are self-contained" 0 scripts/nolibc-check.sh kernel $build/core/*.o $build/sim/kernel/*.o $build/sim/oracle/*.o $build/sim/hw/*.o $build/sim/user/*.o
# A kernel-side helper that calls memcpy(): the check must refuse it.
printf '#include <string.h>\nvoid copy(void *d, const void *s, unsigned long n) { memcpy(d, s, n); }\n' >"$log/leak.c"
gcc -O2 -ffreestanding -mgeneral-regs-only -c "$log/leak.c" -o "$log/leak.o"
tgrep "a memcpy reference is caught" 'reference symbols from outside:|memcpy' \
	scripts/nolibc-check.sh seeded $build/core/*.o "$log/leak.o"
t "the seeded object fails the check" 1 scripts/nolibc-check.sh seeded $build/core/*.o "$log/leak.o"

echo "== scenarios (every policy; their expect lines are the assertions)"
for f in scenarios/*.scn; do
	t "run $f" 0 "$fpuctx" run "$f" --policy all
done
t "acceptance: idle round trip, linux 1 save 0 restores" 0 \
	sh -c "$fpuctx run scenarios/idle-roundtrip.scn --policy all --json | python3 -c '
import json,sys
d=json.load(sys.stdin)[\"policies\"]
assert (d[\"linux\"][\"saves\"], d[\"linux\"][\"restores\"]) == (1, 0), d[\"linux\"]
assert d[\"eager\"][\"saves\"] > 1 and d[\"eager\"][\"restores\"] > 0, d[\"eager\"]
for p in d.values():
    for k in (\"saves\",\"restores\",\"skipped_restores\",\"bytes_saved\",\"bytes_restored\",\"violations\"):
        assert k in p, k
'"
t "every save instruction passes the mix" 0 sh -c "
	for x in xsave xsaveopt xsavec fxsave; do
		$fpuctx run scenarios/mix-2cpu.scn --xsave=\$x --quiet || exit 1
	done"
t "x87+sse only still passes" 0 "$fpuctx" run scenarios/mix-4cpu.scn --features=x87,sse --quiet

echo "== a bug is caught only when the same run passes clean first"
# verdict_is WANT BUG CMD...: caught's verdict on CMD and BUG is WANT, and its
# status says success exactly when WANT is "caught".
verdict_is() {
	local want=$1 bug=$2 v st
	shift 2
	v=$(caught "$log/self" "$bug" "$@")
	st=$?
	echo "verdict: $v (status $st)"
	[ "$v" = "$want" ] || return 1
	if [ "$want" = caught ]; then [ $st -eq 0 ]; else [ $st -ne 0 ]; fi
}
# fakerun CLEAN BUGGY [--inject-bug B]: exits CLEAN, or BUGGY when given a bug.
fakerun() { if [ $# -gt 2 ]; then return "$2"; fi; return "$1"; }
t "clean 0, buggy 1: caught" 0 verdict_is caught x fakerun 0 1
t "clean 1, buggy 1: not a proof" 0 verdict_is "baseline fails: not a proof" x fakerun 1 1
t "clean 2, buggy 1: not a proof" 0 verdict_is "baseline fails: not a proof" x fakerun 2 1
t "clean 0, buggy 0: missed" 0 verdict_is MISSED x fakerun 0 0
t "clean 0, buggy 2: an error" 0 verdict_is "error (exit 2)" x fakerun 0 2
# A scenario broken on purpose (an expectation no run meets) fails clean, so
# its failure with the bug proves nothing.
{ cat scenarios/linux-bug8-stale-owner.scn; echo 'expect all signals=99'; } >"$log/broken.scn"
t "a scenario that fails clean is not a proof" 0 \
	verdict_is "baseline fails: not a proof" sigframe-stale-owner "$fpuctx" run "$log/broken.scn"

echo "== each Linux regression scenario catches its bug"
for pair in "linux-bug8-stale-owner sigframe-stale-owner" "linux-bug9-restore-owner sigreturn-keeps-owner" \
	    "linux-bug10-unvalidated sigreturn-unvalidated" "linux-bug11-no-reset sigreturn-no-reset" \
	    "linux-bug7-kfpu-before-entry guest-enter-no-reload" "linux-bug3-guest-xcr0 guest-xcr0-leak" \
	    "seed-kvm-preempt guest-save-to-vmm" "seed-kvm-preempt guest-scratch"; do
	set -- $pair
	tcaught "scenario $1 catches --inject-bug $2" "$2" "$fpuctx" run "scenarios/$1.scn"
done
# Bug 8 must show whatever the size of the frame: from 580 bytes (x87 and SSE) up.
managed=$("$fpuctx" info | sed -n 's/^managed features *[^ ]* (\(.*\))$/\1/p')
for fs in x87,sse x87,sse,avx x87,sse,avx,opmask,zmm_hi256,hi16_zmm; do
	here=1
	for c in ${fs//,/ }; do case ",$managed," in *",$c,"* | *",$c("*) ;; *) here=0 ;; esac; done
	if [ $here -eq 0 ]; then echo "  skip  bug 8 with --features=$fs: not on this CPU"; skipped=$((skipped + 1)); continue; fi
	tcaught "scenario linux-bug8-stale-owner catches its bug with --features=$fs" sigframe-stale-owner \
		"$fpuctx" run scenarios/linux-bug8-stale-owner.scn --features="$fs"
done
tgrep "bug 8 is seen in the frame itself" 'in the signal frame just written: .*found B.s state' \
	"$fpuctx" run scenarios/linux-bug8-stale-owner.scn --inject-bug sigframe-stale-owner --policy linux

tgrep "2018's bug is seen by the VMM's own check" 'task qemu .* at (check|return to user).*found gt.s state' \
	"$fpuctx" run scenarios/seed-kvm-preempt.scn --inject-bug guest-save-to-vmm --policy linux
tgrep "5.2's bug puts another task's registers into the VMM's state" 'task qemu .*found other.s state' \
	"$fpuctx" run scenarios/seed-kvm-preempt.scn --inject-bug guest-scratch --policy linux

echo "== the seeds' hypervisor chain, exact counts (host and guest apart)"
t "seed-kvm-idle: eager 6+6, rfc2015 2+1, linux 2+0" 0 \
	sh -c "$fpuctx run scenarios/seed-kvm-idle.scn --policy all --json | python3 -c '
import json,sys
d=json.load(sys.stdin)[\"policies\"]
want={\"eager\": (6,6,4,4,2,2), \"rfc2015\": (2,1,1,1,1,0), \"linux\": (2,0,1,0,1,0)}
for p,w in want.items():
    got=tuple(d[p][k] for k in (\"saves\",\"restores\",\"host_saves\",\"host_restores\",\"guest_saves\",\"guest_restores\"))
    assert got==w, (p, got, w)
'"
t "seed-kvm-idle timeline has host and guest tracks" 0 sh -c "
	$fpuctx run scenarios/seed-kvm-idle.scn --policy linux --trace $log/kvm.json --quiet >/dev/null &&
	python3 -c '
import json
d=json.load(open(\"$log/kvm.json\"))
names={e[\"args\"][\"name\"] for e in d[\"traceEvents\"] if e[\"ph\"]==\"M\" and e[\"name\"]==\"thread_name\"}
assert names=={\"cpu 0\",\"G vcpu 0\"}, names
ev={e[\"name\"] for e in d[\"traceEvents\"]}
assert {\"vm_entry\",\"vm_exit\",\"guest_begin\",\"skip_restore\"} <= ev, ev
'"
tgrep "the VM-entry check sees host state in a guest (seeded skip-owner-check)" \
	'task qemu .* in the registers at VM entry: .*other.s state' \
	"$fpuctx" run scenarios/seed-kvm-preempt.scn --policy linux --inject-bug skip-owner-check
tgrep "the vCPU thread really migrates mid-run" '\[cpu 1\] .*vm_entry: vmm=qemu' \
	"$fpuctx" run scenarios/kvm-migrate.scn --policy linux --trace-text

echo "== an expectation that does not hold fails the run"
sed 's/expect linux saves=1 /expect linux saves=2 /' scenarios/idle-roundtrip.scn >"$log/wrong.scn"
t "wrong expect exits 1" 1 "$fpuctx" run "$log/wrong.scn"
tgrep "wrong expect names line and values" 'wrong.scn:[0-9]+: expectation failed: linux saves=2, got 1' \
	"$fpuctx" run "$log/wrong.scn"

t "expectations hold for 10 seeds" 0 sh -c "
	for s in 1 2 3 4 5 6 7 8 9 10; do
		for f in scenarios/*.scn; do $fpuctx run \$f --seed \$s --quiet >/dev/null || { echo \"seed \$s: \$f\"; exit 1; }; done
	done"

echo "== run-time failures are reported, not hidden"
printf 'task A user {\n    dirty\n    wait\n}\n' >"$log/deadlock.scn"
t "a task waiting forever exits 1" 1 "$fpuctx" run "$log/deadlock.scn"
tgrep "deadlock names the task and line" 'deadlock: .* A \(waiting at .*deadlock.scn:3\)' "$fpuctx" run "$log/deadlock.scn"
printf 'task A user {\n    spin 1000000\n}\n' >"$log/long.scn"
tgrep "a scenario that does not finish is reported" 'did not finish within 1000 steps' \
	"$fpuctx" run "$log/long.scn" --max-steps 1000

echo "== bad input: exit 2 and a message naming what and where"
printf 'cpus 1\ntask A user {\n    dirt\n}\n' >"$log/typo.scn"
t "unknown op exits 2" 2 "$fpuctx" run "$log/typo.scn"
tgrep "unknown op names file:line:col" 'typo.scn:3:5: .*dirt' "$fpuctx" run "$log/typo.scn"
t "missing file exits 2" 2 "$fpuctx" run "$log/nope.scn"
t "unknown policy exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --policy lazy
t "unknown bug exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --inject-bug nosuch
t "bad --cpus exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --cpus 0
t "--cpus below a task's cpu exits 2" 2 "$fpuctx" run scenarios/migrate.scn --cpus 1
t "unknown feature exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --features=x87,sse,avx1024
t "unknown command exits 2" 2 "$fpuctx" frobnicate
t "stress without a number exits 2" 2 "$fpuctx" stress --seeds x
# A VM that asks for more than the host manages: the boot error names the 'vm' line.
printf 'cpus 1\nvm G vcpus=1 features=avx\ntask q user {\n    run G 0\n}\ntask g user vm=G {\n    io\n}\n' >"$log/vmavx.scn"
for host in --features=x87,sse --xsave=fxsave; do
	t "a VM's avx on a host with $host exits 2" 2 "$fpuctx" run "$log/vmavx.scn" "$host"
	tgrep "a VM's avx on a host with $host names line and features" \
		'^[^ ]*vmavx.scn:2: vm G: feature avx is not managed by the host \(host manages x87,sse\)$' \
		"$fpuctx" run "$log/vmavx.scn" "$host"
done
# The second VM fails after the first booted: still a clean report.
printf 'cpus 1\nvm H vcpus=1\nvm G vcpus=1 features=xtilecfg,xtiledata\ntask q user {\n    run G 0\n}\n' >"$log/vmamx.scn"
t "a VM's AMX the host does not manage exits 2" 2 "$fpuctx" run "$log/vmamx.scn" --features=x87,sse
tgrep "a VM's AMX the host does not manage names line and features" \
	'vmamx.scn:3: vm G: features xtilecfg,xtiledata are not managed by the host \(host manages x87,sse\)$' \
	"$fpuctx" run "$log/vmamx.scn" --features=x87,sse
# XCR0 rules: in a VM's features= (at the word) and in --features.
printf 'cpus 1\nvm G vcpus=1 features=avx,opmask\ntask q user {\n    run G 0\n}\n' >"$log/vmxcr0.scn"
t "a VM's partial AVX-512 exits 2" 2 "$fpuctx" run "$log/vmxcr0.scn"
tgrep "a VM's partial AVX-512 names file:line:col and the rule" \
	'vmxcr0.scn:2:27: features=avx,opmask: opmask, zmm_hi256 and hi16_zmm \(AVX-512, XCR0 bits 5-7\) must be all enabled' \
	"$fpuctx" run "$log/vmxcr0.scn"
for rule in "sse,avx:x87 must always be enabled" \
	    "x87,avx:avx needs sse" \
	    "x87,sse,bndregs:bndregs and bndcsr \(MPX" \
	    "x87,sse,avx,opmask:opmask, zmm_hi256 and hi16_zmm \(AVX-512, XCR0" \
	    "x87,sse,opmask,zmm_hi256,hi16_zmm:opmask, zmm_hi256 and hi16_zmm \(AVX-512\) need avx" \
	    "x87,sse,xtiledata:xtilecfg and xtiledata \(AMX" \
	    "x87:sse must be enabled"; do
	f=${rule%%:*}
	t "--features=$f exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --features="$f"
	tgrep "--features=$f names the rule" "^fpuctx: --features=$f: ${rule#*:}" \
		"$fpuctx" run scenarios/pingpong.scn --features="$f"
done

echo "== traces"
t "chrome trace is valid JSON with one track per CPU" 0 sh -c "
	$fpuctx run scenarios/migrate.scn --policy linux --trace $log/t.json --quiet >/dev/null &&
	python3 -c '
import json
d=json.load(open(\"$log/t.json\"))
names={e[\"args\"][\"name\"] for e in d[\"traceEvents\"] if e[\"ph\"]==\"M\" and e[\"name\"]==\"thread_name\"}
assert names=={\"cpu 0\",\"cpu 1\"}, names
assert any(e[\"name\"]==\"restore\" for e in d[\"traceEvents\"])
'"
tgrep "text trace shows the skipped restore" 'skip_restore: ctx=A' \
	"$fpuctx" run scenarios/idle-roundtrip.scn --policy linux --trace-text

echo "== stress: 1,000,000 events per policy on 2 CPUs, 400,000 on 4"
t "stress 2 cpus, 0 violations, VMs included" 0 sh -c "$fpuctx stress --seeds 100 --events 10000 --policy all --cpus 2 --json | python3 -c '
import json,sys
d=json.load(sys.stdin)
assert d[\"ok\"], d
for p,v in d[\"policies\"].items():
    assert v[\"violations\"]==0 and v[\"events\"]>=1000000, (p,v)
    assert v[\"vm_exits\"]>=100000 and v[\"run_calls\"]>=1000 and v[\"vm_gets\"]>=100, (p,v)
'"
t "stress 4 cpus, 0 violations" 0 "$fpuctx" stress --seeds 20 --events 20000 --policy all --cpus 4
tgrep "stress with --xsave=fxsave runs its VMs on x87 and sse" '^linux +seeds 5 events 10000 ' \
	"$fpuctx" stress --seeds 5 --events 2000 --policy linux --xsave=fxsave

echo "== every injected bug is caught, and its seed replays to the same failure"
for bug in $("$fpuctx" bugs | awk '/cannot show here/ {print $1}'); do
	echo "  skip  bug $bug: $("$fpuctx" bugs | grep "^$bug " | sed 's/.*\[//; s/\]$//')"
	skipped=$((skipped + 1))
done
# Bugs that need a --pretend CPU behaviour have their own section below.
for bug in $("$fpuctx" bugs | awk '!/cannot show here|needs --pretend/ {print $1}'); do
	tcaught "bug $bug caught" "$bug" "$fpuctx" stress --seeds 10 --events 20000 --policy linux || continue
	first=$(grep -m1 '^seed ' "$log/bug")
	viol=$(grep -m1 -A1 '^seed ' "$log/bug" | tail -n 1)
	replay=$(grep -m1 'replay: ' "$log/bug" | sed 's/.*replay: fpuctx //')
	# shellcheck disable=SC2086
	"$fpuctx" $replay >"$log/replay" 2>&1
	if grep -qF -- "$first" "$log/replay" && grep -qF -- "$viol" "$log/replay"; then
		ok "bug $bug replays"
	else
		{ echo "expected: $first"; echo "          $viol"; } >>"$log/replay"; bad "bug $bug replays" "$log/replay"
	fi
done

echo "== x87 pointers: the leak of older AMD CPUs (CVE-2006-1056), emulated where the CPU keeps them"
if "$fpuctx" info | grep -q '^x87 FOP/FIP/FDP *kept without'; then
	leak="--pretend fxsave-leak"
	for f in scenarios/cve-2006-1056-x87-leak.scn scenarios/pingpong.scn scenarios/fork-exec.scn; do
		# shellcheck disable=SC2086
		tcaught "$f under $leak: x87-no-scrub caught" x87-no-scrub "$fpuctx" run "$f" $leak
	done
	# shellcheck disable=SC2086
	tgrep "the leak is named, with whose pointer it is" \
		"task B .*component x87, offset 8 .*found A's state.*holds another context's value: a leak" \
		"$fpuctx" run scenarios/cve-2006-1056-x87-leak.scn --policy linux $leak --inject-bug x87-no-scrub
	# shellcheck disable=SC2086
	t "stress under $leak: 0 violations" 0 "$fpuctx" stress --seeds 10 --events 10000 --policy all $leak
	# shellcheck disable=SC2086
	tcaught "stress under $leak: x87-no-scrub caught" x87-no-scrub \
		"$fpuctx" stress --seeds 10 --events 10000 --policy linux $leak
	t "scrubs are counted in the trace" 0 sh -c "$fpuctx run scenarios/pingpong.scn --policy linux $leak --trace-text | grep -q 'x87_scrub'"
else
	echo "  skip  the leak emulation: this CPU's restores do not load FOP/FIP/FDP ($("$fpuctx" info | sed -n 's/^x87 FOP\/FIP\/FDP *//p'))"
	skipped=$((${skipped:-0} + 1))
fi

echo "== the CPU matrix: this CPU and other models under qemu-x86_64 (x87 pointers, FXSAVE-only, MPX, AMD)"
if command -v qemu-x86_64 >/dev/null; then
	for m in native Nehalem SandyBridge max EPYC; do
		t "cpu matrix: $m" 0 scripts/cpu-matrix.sh "$build" "$m"
		sed -n '2p' "$log/out" >>"$log/matrix"
	done
	scripts/cpu-matrix.sh "$build" 2>/dev/null | head -n 1
	cat "$log/matrix"
else
	bad "cpu matrix: qemu-x86_64 is missing (scripts/setup.sh installs qemu-user)" /dev/null
fi

echo "== sanitizers (ASan+UBSan on hosted code, UBSan on kernel code)"
if make --no-print-directory test-asan >"$log/asan" 2>&1; then
	ok "asan build"
	for u in test_core test_guest test_parse test_xstate; do t "asan $u" 0 build-asan/tests/$u; done
	t "asan difftest" 0 build-asan/tests/difftest 2000 1
	for f in scenarios/*.scn; do t "asan run $f" 0 build-asan/bin/fpuctx run "$f" --quiet; done
	t "asan stress" 0 build-asan/bin/fpuctx stress --seeds 5 --events 10000 --policy all --cpus 3
	t "asan bad input" 2 build-asan/bin/fpuctx run "$log/typo.scn"
else
	bad "asan build" "$log/asan"
fi

echo "== fuzzing (libFuzzer; make fuzz SECONDS=600 for a long run)"
for ft in sigframe parse; do
	t "fuzz $ft: ${FUZZ_SECONDS:-20} s, no crash, invariants hold" 0 fuzz/run.sh "${FUZZ_SECONDS:-20}" "$ft"
done
tcaught "fuzz sigframe catches an injected bug (sigreturn-no-reset)" sigreturn-no-reset \
	fuzz/run.sh 20 sigframe

echo
if [ $fail -ne 0 ]; then printf 'failed: %s\n' "${failed[@]}"; fi
echo "$pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ]
