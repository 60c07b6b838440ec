#!/usr/bin/env bash
# Every test of the project, printed as TAP version 13 (`prove` reads it).
#
#   scripts/test.sh BUILD_DIR [SECTION,...]     (or T=SECTION,... in the environment)
#
# SECTION: the ids of the "section" lines below (make test T=unit,traces);
# none given runs them all, an unknown one is an error naming the known ones.
# Ends with the plan "1..N" and the line "N passed, M failed, K skipped";
# exits non-zero if anything failed.
set -u
build=${1:-build}
only=${2:-${T:-}}
fpuctx=$build/bin/fpuctx
n=0; pass=0; fail=0; skipped=0; failed=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
# shellcheck source=scripts/verdict.sh
. "$(dirname "$0")/verdict.sh"

# A '#' in a name would start a TAP directive.
tap_name() { printf '%s' "${1//#/\\#}"; }
ok()   { n=$((n + 1)); pass=$((pass + 1)); printf 'ok %d - %s\n' "$n" "$(tap_name "$1")"; }
bad()  {
	n=$((n + 1)); fail=$((fail + 1)); failed+=("$1")
	printf 'not ok %d - %s\n' "$n" "$(tap_name "$1")"; sed 's/^/# /' "$2" | tail -n 25
}
# skip NAME REASON: a test this machine cannot run.
skip() { n=$((n + 1)); skipped=$((skipped + 1)); printf 'ok %d - %s # SKIP %s\n' "$n" "$(tap_name "$1")" "$2"; }
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

# section ID TITLE, then a function sec_ID: one part of the tests.
sections=(); declare -A titles
section() { sections+=("$1"); titles[$1]=$2; }

section unit "unit tests"
sec_unit() {
	for u in test_xstate test_core test_guest test_parse; do
		t "$u" 0 "$build/tests/$u"
	done
}

section difftest "signal frames against the host kernel (it is the oracle)"
sec_difftest() {
	t "difftest: frame bytes and 10000 sigreturn verdicts agree with Linux" 0 "$build/tests/difftest" "${DIFFTEST_N:-10000}" 1
}

section nolibc "the no-libc link check"
sec_nolibc() {
	t "kernel objects are self-contained" 0 scripts/nolibc-check.sh kernel $build/core/*.o $build/sim/kernel/*.o $build/sim/oracle/*.o $build/sim/hw/*.o $build/sim/user/*.o
	# A kernel-side helper that calls memcpy(): the check must refuse it.
	printf '#include <string.h>\nvoid copy(void *d, const void *s, unsigned long n) { memcpy(d, s, n); }\n' >"$log/leak.c"
	gcc -O2 -ffreestanding -mgeneral-regs-only -c "$log/leak.c" -o "$log/leak.o"
	tgrep "a memcpy reference is caught" 'reference symbols from outside:|memcpy' \
		scripts/nolibc-check.sh seeded $build/core/*.o "$log/leak.o"
	t "the seeded object fails the check" 1 scripts/nolibc-check.sh seeded $build/core/*.o "$log/leak.o"
}

section production "the production library: no test-only switches, no libc"
sec_production() {
	# no_test_switches ARCHIVE: fails if ARCHIVE defines or uses the bug table.
	no_test_switches() {
		if nm "$1" | grep -E ' fpu_n?bugs$'; then echo "test-only symbols in $1"; return 1; fi
	}
	text_size() { size "$1" | awk 'NR == 2 { print $1 }'; }
	t "libfpuctx.a has no bug table" 0 no_test_switches "$build/lib/libfpuctx.a"
	ar rcs "$log/testing.a" "$build"/core/*.o
	t "the check refuses the testing objects" 1 no_test_switches "$log/testing.a"
	# Together, not one by one: without the bug branches the compiler may
	# inline more into one object (fpu.o) and make it the larger.
	text_sum() { local d=$1 o n=0; for o in fpu signal guest backend; do n=$((n + $(text_size "$d/$o.o"))); done; echo $n; }
	t "production fpu, signal, guest and backend are smaller than the testing ones (bug branches compiled out)" 0 \
		test "$(text_sum "$build/lib/core")" -lt "$(text_sum "$build/core")"
	t "production core objects are self-contained" 0 scripts/nolibc-check.sh production "$build"/lib/core/*.o
	printf '#include "fpuctx/types.h"\nunsigned f(struct fpu_system *s) { return s->bugs; }\n' >"$log/bugs-field.c"
	t "without FPUCTX_TESTING, struct fpu_system has no bugs field" 1 gcc -fsyntax-only -Iinclude "$log/bugs-field.c"
	t "with FPUCTX_TESTING it has (the check above can pass)" 0 gcc -fsyntax-only -Iinclude -DFPUCTX_TESTING "$log/bugs-field.c"
}

section install "embedding: make install, pkg-config, the minimal port built out of tree, make uninstall"
sec_install() {
	# The seeded memcpy object of the nolibc section, made here so this section runs alone.
	printf '#include <string.h>\nvoid copy(void *d, const void *s, unsigned long n) { memcpy(d, s, n); }\n' >"$log/leak.o.c"
	gcc -O2 -ffreestanding -mgeneral-regs-only -c -x c "$log/leak.o.c" -o "$log/leak.o"
	inst=$log/inst ex=$log/example
	mkdir -p "$ex"
	pc() { PKG_CONFIG_SYSROOT_DIR=$inst PKG_CONFIG_PATH=$inst/usr/lib/pkgconfig pkg-config "$@"; }
	t "make install DESTDIR=... PREFIX=/usr" 0 make --no-print-directory install BUILD="$build" DESTDIR="$inst" PREFIX=/usr
	t "the testing header is not installed" 1 test -e "$inst/usr/include/fpuctx/testing.h"
	tgrep "the installed fpuctx --version says the version of version.h" \
		"^fpuctx $(sed -n 's/^#define FPUCTX_VERSION_STRING "\(.*\)"/\1/p' include/fpuctx/version.h)\$" "$inst/usr/bin/fpuctx" --version
	t "every installed header compiles alone, freestanding, general-regs-only" 0 sh -c "
		for h in '$inst'/usr/include/fpuctx/*.h; do
			echo \"\$h\"; echo '#include \"fpuctx/'\"\${h##*/}\"'\"' |
			gcc -fsyntax-only -std=c11 -Wall -Wextra -Werror -ffreestanding -mgeneral-regs-only -I'$inst/usr/include' -x c - || exit 1
		done"
	# unprefixed_macros DIR: lists the macros DIR's headers define outside FPU_/FPUCTX_.
	unprefixed_macros() {
		local out
		out=$(grep -hoE '^#[[:space:]]*define[[:space:]]+[A-Za-z_0-9]+' "$1"/*.h | awk '{print $NF}' |
			grep -vE '^(FPU_|FPUCTX_)')
		if [ -n "$out" ]; then echo "unprefixed: $out"; return 1; fi
	}
	t "the installed headers define only FPU_/FPUCTX_ macros (no clash with libc or a kernel)" 0 \
		unprefixed_macros "$inst/usr/include/fpuctx"
	mkdir -p "$log/hdr" && cp "$inst"/usr/include/fpuctx/*.h "$log/hdr/" && echo '#define MXCSR_DEFAULT 0x1f80' >>"$log/hdr/xstate.h"
	t "the macro check sees an unprefixed one" 1 unprefixed_macros "$log/hdr"
	t "the public headers and libc's <signal.h> compile together" 0 sh -c "
		printf '#include <signal.h>\\n#include \"fpuctx/signal.h\"\\n#include \"fpuctx/api.h\"\\nint x;\\n' |
		gcc -fsyntax-only -std=c11 -Wall -Wextra -Werror -I'$inst/usr/include' -x c -"
	tgrep "pkg-config: the version of version.h" \
		"^$(sed -n 's/^#define FPUCTX_VERSION_STRING "\(.*\)"/\1/p' include/fpuctx/version.h)\$" pc --modversion fpuctx
	cp examples/minimal-port.c "$ex/"
	# shellcheck disable=SC2046 # pkg-config's flags split on purpose
	t "examples/minimal-port.c builds out of tree with pkg-config's flags" 0 \
		gcc -O2 -Wall -Wextra -Werror -ffreestanding -mgeneral-regs-only "$ex/minimal-port.c" \
		$(pc --cflags --libs fpuctx) -o "$ex/minimal-port"
	t "the minimal port: A gets its MXCSR and FCW back after B ran" 0 "$ex/minimal-port"
	# Seeded: a switch that saves nothing must make the example fail.
	printf 'void __wrap_fpu_switch(void *c, void *p, void *n) { (void)c; (void)p; (void)n; }\n' >"$ex/noswitch.c"
	# shellcheck disable=SC2046
	gcc -O2 -ffreestanding -mgeneral-regs-only "$ex/minimal-port.c" "$ex/noswitch.c" -Wl,--wrap=fpu_switch \
		$(pc --cflags --libs fpuctx) -o "$ex/minimal-port-broken" 2>"$log/out"
	t "the minimal port fails when fpu_switch saves nothing" 1 "$ex/minimal-port-broken"
	# archive_self_contained A: every symbol A's members leave undefined is
	# defined by another member (the linker supplies the GOT and the extable bounds).
	archive_self_contained() {
		local out
		out=$(comm -23 <(nm -u "$1" | awk '$1 == "U" { print $2 }' | sort -u) \
			<(nm --defined-only "$1" | awk 'NF == 3 { print $3 }' | sort -u) |
			grep -vE '^(_GLOBAL_OFFSET_TABLE_|__(start|stop)_fpuctx_extable)$')
		if [ -n "$out" ]; then echo "undefined outside the archive:"; echo "$out"; return 1; fi
	}
	t "nm -u: the installed libfpuctx.a needs nothing outside itself (no libc)" 0 \
		archive_self_contained "$inst/usr/lib/libfpuctx.a"
	cp "$inst/usr/lib/libfpuctx.a" "$ex/leaky.a" && ar rs "$ex/leaky.a" "$log/leak.o" 2>/dev/null
	t "the archive check refuses a member calling memcpy" 1 archive_self_contained "$ex/leaky.a"
	render() { if man -l "$1" 2>/dev/null | grep -q .; then man -l "$1"; else groff -man -Tutf8 "$1"; fi; }
	man1=$inst/usr/share/man/man1/fpuctx.1 man3=$inst/usr/share/man/man3/libfpuctx.3
	tgrep "man fpuctx(1) renders: exit status" '^EXIT STATUS' render "$man1"
	tgrep "man fpuctx(1) renders: examples" '^ +fpuctx run scenarios/' render "$man1"
	tgrep "man libfpuctx(3) renders: the port contract" '^THE PORT' render "$man3"
	tgrep "man libfpuctx(3) renders: a minimal embedding" '^ +fpu_switch\(&cpu, &a, &b\);' render "$man3"
	t "the man pages have no roff warnings" 0 sh -c \
		"! groff -man -Tutf8 -ww -z man/fpuctx.1 man/libfpuctx.3 2>&1 | grep ."
	mkdir -p "$inst/usr/lib/pkgconfig" && echo keep >"$inst/usr/lib/pkgconfig/other.pc"
	t "make uninstall" 0 make --no-print-directory uninstall BUILD="$build" DESTDIR="$inst" PREFIX=/usr
	# only_left DIR FILE: FILE is the one non-directory left under DIR.
	only_left() { local left; left=$(find "$1" ! -type d); echo "$left"; [ "$left" = "$2" ]; }
	t "uninstall leaves empty directories and the file it did not install" 0 \
		only_left "$inst" "$inst/usr/lib/pkgconfig/other.pc"
	t "the leftover check sees a file left behind" 1 only_left "$inst" /nonexistent
}

section scenarios "scenarios (every policy; their expect lines are the assertions)"
sec_scenarios() {
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
    for k in (\"saves\",\"restores\",\"skipped_restores\",\"bytes_saved\",\"bytes_restored\",
              \"bytes_saved_full\",\"bytes_restored_full\",\"violations\"):
        assert k in p, k
    assert p[\"bytes_saved\"] <= p[\"bytes_saved_full\"] and p[\"bytes_restored\"] <= p[\"bytes_restored_full\"], p
'"
	t "every save instruction passes the mix" 0 sh -c "
		for x in xsave xsaveopt xsavec fxsave; do
			$fpuctx run scenarios/mix-2cpu.scn --xsave=\$x --quiet || exit 1
		done"
	t "x87+sse only still passes" 0 "$fpuctx" run scenarios/mix-4cpu.scn --features=x87,sse --quiet
}

section verdict "a bug is caught only when the same run passes clean first"
sec_verdict() {
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
}

section regressions "each Linux regression scenario catches its bug"
sec_regressions() {
	for pair in "linux-bug8-stale-owner sigframe-stale-owner" "linux-bug9-restore-owner sigreturn-keeps-owner" \
		    "linux-bug10-unvalidated sigreturn-unvalidated" "linux-bug11-no-reset sigreturn-no-reset" \
		    "linux-bug7-kfpu-before-entry guest-enter-no-reload" "linux-bug3-guest-xcr0 guest-xcr0-leak" \
		    "seed-kvm-preempt guest-save-to-vmm" "seed-kvm-preempt guest-scratch" \
		    "deferred-remote-flush no-remote-flush" "deferred-guest-swap flush-active-buffer" \
		    "deferred-kfpu-flush kfpu-no-flush" "deferred-exec exec-keeps-unsaved"; do
		set -- $pair
		tcaught "scenario $1 catches --inject-bug $2" "$2" "$fpuctx" run "scenarios/$1.scn"
	done
	# Bug 8 must show whatever the size of the frame: from 580 bytes (x87 and SSE) up.
	managed=$("$fpuctx" info | sed -n 's/^managed features *[^ ]* (\(.*\))$/\1/p')
	for fs in x87,sse x87,sse,avx x87,sse,avx,opmask,zmm_hi256,hi16_zmm; do
		here=1
		for c in ${fs//,/ }; do case ",$managed," in *",$c,"* | *",$c("*) ;; *) here=0 ;; esac; done
		if [ $here -eq 0 ]; then
			skip "scenario linux-bug8-stale-owner catches its bug with --features=$fs" "not on this CPU"; continue
		fi
		tcaught "scenario linux-bug8-stale-owner catches its bug with --features=$fs" sigframe-stale-owner \
			"$fpuctx" run scenarios/linux-bug8-stale-owner.scn --features="$fs"
	done
	tgrep "bug 8 is seen in the frame itself" 'in the signal frame just written: .*found B.s state' \
		"$fpuctx" run scenarios/linux-bug8-stale-owner.scn --inject-bug sigframe-stale-owner --policy linux

	tgrep "2018's bug is seen by the VMM's own check" 'task qemu .* at (check|return to user).*found gt.s state' \
		"$fpuctx" run scenarios/seed-kvm-preempt.scn --inject-bug guest-save-to-vmm --policy linux
	tgrep "5.2's bug puts another task's registers into the VMM's state" 'task qemu .*found other.s state' \
		"$fpuctx" run scenarios/seed-kvm-preempt.scn --inject-bug guest-scratch --policy linux
}

section kvm "the seeds' hypervisor chain, exact counts (host and guest apart)"
sec_kvm() {
	t "seed-kvm-idle: eager 6+6, rfc2015 2+1, linux 2+0, deferred 0+0" 0 \
		sh -c "$fpuctx run scenarios/seed-kvm-idle.scn --policy all --json | python3 -c '
import json,sys
d=json.load(sys.stdin)[\"policies\"]
want={\"eager\": (6,6,4,4,2,2), \"rfc2015\": (2,1,1,1,1,0), \"linux\": (2,0,1,0,1,0), \"deferred\": (0,0,0,0,0,0)}
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
	tgrep "the vCPU thread really migrates mid-run" '^ *qemu-[0-9]+ +\[001\] +[0-9]+\.[0-9]{6}: vm_entry: vmm=qemu vcpu=G:0$' \
		"$fpuctx" run scenarios/kvm-migrate.scn --policy linux --trace-text
}

section expect "an expectation that does not hold fails the run"
sec_expect() {
	sed 's/expect linux saves=1 /expect linux saves=2 /' scenarios/idle-roundtrip.scn >"$log/wrong.scn"
	t "wrong expect exits 1" 1 "$fpuctx" run "$log/wrong.scn"
	tgrep "wrong expect names line and values" 'wrong.scn:[0-9]+: expectation failed: linux saves=2, got 1' \
		"$fpuctx" run "$log/wrong.scn"

	t "expectations hold for 10 seeds" 0 sh -c "
		for s in 1 2 3 4 5 6 7 8 9 10; do
			for f in scenarios/*.scn; do $fpuctx run \$f --seed \$s --quiet >/dev/null || { echo \"seed \$s: \$f\"; exit 1; }; done
		done"
}

section runtime "run-time failures are reported, not hidden"
sec_runtime() {
	printf 'task A user {\n    dirty\n    wait\n}\n' >"$log/deadlock.scn"
	t "a task waiting forever exits 1" 1 "$fpuctx" run "$log/deadlock.scn"
	tgrep "deadlock names the task and line" 'deadlock: .* A \(waiting at .*deadlock.scn:3\)' "$fpuctx" run "$log/deadlock.scn"
	printf 'task A user {\n    spin 1000000\n}\n' >"$log/long.scn"
	tgrep "a scenario that does not finish is reported" 'did not finish within 1000 steps' \
		"$fpuctx" run "$log/long.scn" --max-steps 1000
	# An edit needs a guest task whose state the vCPU's registers hold.
	printf 'cpus 1\nvm G vcpus=1\ntask q user {\n    run G 0\n    vget G 0\n    vset G 0 edit\n}\ntask g kthread vm=G {\n    io\n}\n' >"$log/vedit.scn"
	tgrep "vset edit without a live guest task is reported at its line" \
		'vedit.scn:6: vset edit: the guest task on this vCPU has no live FPU state to edit' \
		"$fpuctx" run "$log/vedit.scn"
	t "vset edit without a live guest task exits 1" 1 "$fpuctx" run "$log/vedit.scn"
}

section input "bad input: exit 2 and a message naming what and where"
sec_input() {
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
}

section traces "traces"
sec_traces() {
	t "chrome trace is valid JSON with one track per CPU" 0 sh -c "
		$fpuctx run scenarios/migrate.scn --policy linux --trace $log/t.json --quiet >/dev/null &&
		python3 -c '
import json
d=json.load(open(\"$log/t.json\"))
names={e[\"args\"][\"name\"] for e in d[\"traceEvents\"] if e[\"ph\"]==\"M\" and e[\"name\"]==\"thread_name\"}
assert names=={\"cpu 0\",\"cpu 1\"}, names
assert any(e[\"name\"]==\"restore\" for e in d[\"traceEvents\"])
'"
	tgrep "text trace shows the skipped restore" '^ *A-[0-9]+ +\[000\] +[0-9]+\.[0-9]{6}: skip_restore: ctx=A state=A bytes=0$' \
		"$fpuctx" run scenarios/idle-roundtrip.scn --policy linux --trace-text
	tgrep "text trace names a guest's vCPU and its task" '^ *gt-[0-9]+ +\[G:000\] +[0-9]+\.[0-9]{6}: restore: ctx=gt state=gt bytes=[1-9]' \
		"$fpuctx" run scenarios/seed-kvm-idle.scn --policy linux --trace-text
	# Fields are key=value with no space inside a value: a line splits on spaces.
	t "text trace lines are TASK-PID [CPU] TIME: EVENT: key=value..." 0 sh -c "
		$fpuctx run scenarios/seed-kvm-idle.scn --policy all --trace-text --quiet >$log/tt.txt &&
		grep -q ': vm_exit: vmm=qemu vcpu=G:0 reason=interrupt_window$' $log/tt.txt &&
		! grep -vE '^#|^seed-kvm-idle: ok$|^ *[^ ]+-[0-9]+ +\\[([A-Za-z0-9_]+:)?[0-9]{3}\\] +[0-9]+\\.[0-9]{6}: [a-z0-9_]+:( [a-z_]+=[^ =]+)+$' $log/tt.txt"
	# The JSON's properties (scripts/trace-check.py): a few scenarios, every policy.
	t "chrome traces hold: metadata, time order, slices, counters, args" 0 sh -c "
		for f in migrate kfpu-irq mix-2cpu seed-kvm-idle kvm-migrate linux-bug8-stale-owner; do
			$fpuctx run scenarios/\$f.scn --policy all --trace $log/tc-\$f.{policy}.json --quiet >/dev/null || exit 1
		done
		scripts/trace-check.py $log/tc-*.json"
	# ...and the check fails on a trace broken by hand, each property apart.
	if ! python3 - "$log/tc-kfpu-irq.linux.json" "$log/broken" >"$log/gen" 2>&1 <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
def load(): return json.load(open(src))
def save(name, d): json.dump(d, open(out + "-" + name + ".json", "w"))
def events(d, pred): return [e for e in d["traceEvents"] if pred(e)]
def drop(d, pred): d["traceEvents"] = [e for e in d["traceEvents"] if not pred(e)]
regs = {e["pid"] for e in load()["traceEvents"] if e["name"] == "process_name" and e["args"]["name"].endswith("FPU registers")}
kfpu = {e["pid"] for e in load()["traceEvents"] if e["name"] == "process_name" and e["args"]["name"].endswith("kernel FPU")}
d = load(); d["traceEvents"].remove(events(d, lambda e: e["name"] == "thread_name")[0]); save("thread-name", d)
d = load(); del events(d, lambda e: e["name"] == "process_name")[0]["tid"]; save("meta-tid", d)
d = load(); events(d, lambda e: e["ph"] == "E" and (e["pid"], e["tid"]) == (1, 0))[-1]["ts"] = 0; save("time-back", d)
d = load()
for e in events(d, lambda e: e["ph"] == "i"):
    e["args"] = {"detail": " ".join("%s=%s" % kv for kv in e["args"].items())}
save("args-string", d)
d = load(); d["traceEvents"].remove(events(d, lambda e: e["ph"] == "E")[-1]); save("unclosed", d)
d = load(); drop(d, lambda e: e["ph"] == "C"); save("no-counters", d)
d = load(); drop(d, lambda e: e["pid"] in regs and e["ph"] != "M"); save("no-owner", d)
d = load(); drop(d, lambda e: e["pid"] in kfpu and e["ph"] != "M"); save("no-kfpu", d)
PY
	then
		bad "trace-check: the traces broken by hand are made" "$log/gen"
		return
	fi
	for b in thread-name meta-tid time-back args-string unclosed no-counters no-owner no-kfpu; do
		t "trace-check fails a trace broken by hand: $b" 1 scripts/trace-check.py "$log/broken-$b.json"
	done
}

section stress "stress: 1,000,000 events per policy on 2 CPUs, 400,000 on 4"
sec_stress() {
	t "stress 2 cpus, 0 violations, VMs included" 0 sh -c "$fpuctx stress --seeds 100 --events 10000 --policy all --cpus 2 --json | python3 -c '
import json,sys
d=json.load(sys.stdin)
assert d[\"ok\"], d
for p,v in d[\"policies\"].items():
    assert v[\"violations\"]==0 and v[\"events\"]>=1000000, (p,v)
    assert v[\"vm_exits\"]>=100000 and v[\"run_calls\"]>=1000 and v[\"vm_gets\"]>=100, (p,v)
    # deferred: both ways of fetching an unsaved image run; the others never defer
    if p == \"deferred\":
        assert v[\"remote_flushes\"]>=1000 and v[\"ipis\"]>=100, (p,v)
    else:
        assert v[\"remote_flushes\"]==0 and v[\"ipis\"]==0, (p,v)
assert \"deferred\" in d[\"policies\"], d[\"policies\"].keys()
'"
	t "stress 4 cpus, 0 violations" 0 "$fpuctx" stress --seeds 20 --events 20000 --policy all --cpus 4
	tgrep "stress with --xsave=fxsave runs its VMs on x87 and sse" '^linux +seeds 5 events 10000 ' \
		"$fpuctx" stress --seeds 5 --events 2000 --policy linux --xsave=fxsave
}

section bugs "every injected bug is caught, and its seed replays to the same failure"
sec_bugs() {
	for bug in $("$fpuctx" bugs | awk '/cannot show here/ {print $1}'); do
		skip "bug $bug caught" "$("$fpuctx" bugs | grep "^$bug " | sed 's/.*\[//; s/\]$//')"
	done
	# Bugs that need a --pretend CPU behaviour have their own section below.
	# Races of CPUs running at once are the ring0 section's.
	for bug in $("$fpuctx" bugs | awk '!/cannot show here|needs --pretend|CPUs running at once/ {print $1}'); do
		pol=linux
		"$fpuctx" bugs | grep "^$bug " | grep -q -- '--policy deferred' && pol=deferred
		tcaught "bug $bug caught" "$bug" "$fpuctx" stress --seeds 10 --events 20000 --policy $pol || continue
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
}

section mutants "the mutants of make mutate still apply, and bugs.list names every injected bug"
sec_mutants() {
	for p in mutants/*.patch; do
		t "mutant $(basename "$p" .patch) applies" 0 patch -p1 --dry-run -s -i "$p"
	done
	for bug in $("$fpuctx" bugs | awk '{print $1}'); do
		t "bugs.list names $bug" 0 grep -q "^$bug\( \|\$\)" mutants/bugs.list
	done
}

section x87 "x87 pointers: the leak of older AMD CPUs (CVE-2006-1056), emulated where the CPU keeps them"
sec_x87() {
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
		t "scrubs are counted in the trace" 0 sh -c "$fpuctx run scenarios/pingpong.scn --policy linux $leak --trace-text | grep -qE '\\[000\\] +[0-9]+\\.[0-9]{6}: x87_scrub: ctx=- state=A '"
	else
		skip "the leak emulation" "this CPU's restores do not load FOP/FIP/FDP ($("$fpuctx" info | sed -n 's/^x87 FOP\/FIP\/FDP *//p'))"
	fi
}

section matrix "the CPU matrix: this CPU and other models under qemu-x86_64 (x87 pointers, FXSAVE-only, MPX, AMD)"
sec_matrix() {
	if command -v qemu-x86_64 >/dev/null; then
		for m in native Nehalem SandyBridge max EPYC; do
			t "cpu matrix: $m" 0 scripts/cpu-matrix.sh "$build" "$m"
			sed -n '2p' "$log/out" >>"$log/matrix"
		done
		{ scripts/cpu-matrix.sh "$build" 2>/dev/null | head -n 1; cat "$log/matrix"; } | sed 's/^/# /'
	else
		bad "cpu matrix: qemu-x86_64 is missing (scripts/setup.sh installs qemu-user)" /dev/null
	fi
}

section ring0 "ring 0 under QEMU: the installed library switching real ring-3 tasks on the APIC timers of 1, 2 and 4 CPUs, per policy, with signal frames (real page faults, PKRU); injected bugs caught"
sec_ring0() {
	if ! command -v qemu-system-x86_64 >/dev/null; then
		skip "ring0" "qemu-system-x86_64 is missing (scripts/setup.sh installs qemu-system-x86)"; return
	fi
	local img=$build/ring0/kernel.elf timg=$build/ring0/kernel-testing.elf p last
	local -A saves restores_skipped
	t "ring0: both kernel images build (installed library via pkg-config; testing core)" 0 \
		make --no-print-directory BUILD="$build" "$img" "$timg"
	# field NAME: from the summary line in $last
	field() { echo "$last" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
	# The run stops at interrupts=10000 (the default, all CPUs' timer
	# interrupts together), about 2 s of TCG time. One, two and four CPUs
	# for every policy.
	local pn nc migr flushes sig pk inlib sched fk resched=0
	# sigcount NAME: the count before NAME on the signals line, pkcount on
	# the pkru line, fkcount on the fork line
	sigcount() { echo "$sig" | sed -n "s/.* \([0-9]*\) $1.*/\1/p"; }
	pkcount() { echo "$pk" | sed -n "s/.* \([0-9]*\) $1.*/\1/p"; }
	fkcount() { echo "$fk" | sed -n "s/.* \([0-9]*\) $1.*/\1/p"; }
	for pn in eager:1 eager:2 eager:4 rfc2015:1 rfc2015:2 rfc2015:4 linux:1 linux:2 linux:4 deferred:1 deferred:2 deferred:4; do
		p=${pn%%:*} nc=${pn#*:}
		t "ring0: policy=$p cpus=$nc boots, runs and passes (exit 0)" 0 ring0/boot.sh "$img" "policy=$p" "cpus=$nc"
		tr -d '\r' <"$log/out" >"$log/ring0.serial"
		last=$(grep '^ring0: policy=' "$log/ring0.serial" | tail -n 1)
		t "ring0: policy=$p cpus=$nc: the last line is the summary" 0 sh -c \
			"tail -n 1 '$log/ring0.serial' | grep -qE '^ring0: policy=$p cpus=$nc interrupts=[0-9]+ switches=[0-9]+ signals=[0-9]+ saves=[0-9]+ restores=[0-9]+ violations=[0-9]+\$'"
		t "ring0: policy=$p cpus=$nc: violations=0, interrupts >= 10000, switches > 0, restores > 0" 0 \
			test "$(field violations)" = 0 -a "$(field interrupts)" -ge 10000 -a "$(field switches)" -gt 0 \
			-a "$(field restores)" -gt 0
		migr=$(sed -n 's/^ring0: \([0-9]*\) migrations, .*/\1/p' "$log/ring0.serial")
		flushes=$(sed -n 's/^ring0: [0-9]* migrations, .* \([0-9]*\) remote flushes$/\1/p' "$log/ring0.serial")
		if [ "$nc" -gt 1 ]; then
			t "ring0: policy=$p cpus=$nc: every CPU took timer interrupts, tasks migrated (migrations > 0)" 0 \
				test "$(grep -cE "^ring0: cpu [0-9]+: [1-9][0-9]* interrupts" "$log/ring0.serial")" = "$nc" -a "${migr:-0}" -gt 0
		fi
		# Signals (ring0/signal.c): delivered and returned from, corrupted
		# frames refused, frames faulted in by the library's fault_in after
		# a real #PF on its XSAVE, PKRU checked; frames on a page whose key
		# the task write-disabled refused with a PK fault.
		sig=$(grep '^ring0: signals: ' "$log/ring0.serial")
		pk=$(grep '^ring0: pkru: ' "$log/ring0.serial")
		t "ring0: policy=$p cpus=$nc: signals=G on the summary line is the count delivered, and > 0" 0 \
			test "$(field signals)" -gt 0 -a "$(field signals)" = "$(sigcount delivered)"
		t "ring0: policy=$p cpus=$nc: sigreturns, rejected frames and frames faulted in > 0" 0 \
			test "$(sigcount sigreturns)" -gt 0 -a "$(sigcount 'frames rejected')" -gt 0 \
			-a "$(sigcount 'frames faulted in')" -gt 0
		t "ring0: policy=$p cpus=$nc: PKRU checks, PK faults and frames refused by PKRU > 0" 0 \
			test "$(pkcount 'PKRU checks')" -gt 0 -a "$(pkcount 'PK faults')" -gt 0 \
			-a "$(pkcount 'frames refused by PKRU')" -gt 0
		# The scheduler: yields that sleep, wake-ups by the timer, idle
		# loops that halt; with more CPUs, reschedule IPIs to halted CPUs
		# and kernel FPU requests by IPI (the library may refuse those).
		sched=$(grep '^ring0: scheduler: ' "$log/ring0.serial")
		schedcount() { echo "$sched" | sed -n "s/.* \([0-9]*\) $1.*/\1/p"; }
		t "ring0: policy=$p cpus=$nc: timed sleeps, wake-ups and idle halts > 0" 0 \
			test "$(schedcount 'timed sleeps')" -gt 0 -a "$(schedcount wakeups)" -gt 0 -a "$(schedcount 'idle halts')" -gt 0
		if [ "$nc" -gt 1 ]; then
			t "ring0: policy=$p cpus=$nc: kernel FPU IPIs taken (> 0)" 0 \
				test "$(echo "$sched" | sed -n 's/.*kernel FPU IPIs (\([0-9]*\) taken).*/\1/p')" -gt 0
			# a CPU halted just when a task is queued: a handful on 2
			# CPUs, so counted over all the runs
			resched=$((resched + $(schedcount 'reschedule IPIs')))
		fi
		# Fork (ring0/fork.c): children that checked they hold the parent's
		# registers and PKRU (a mismatch is a violation, asserted 0 above),
		# ran their own generations and exited for good.
		fk=$(grep '^ring0: fork: ' "$log/ring0.serial")
		t "ring0: policy=$p cpus=$nc: forks > 0 and children exited > 0" 0 \
			test "$(fkcount forks)" -gt 0 -a "$(fkcount 'children exited')" -gt 0
		# Ring 0 runs with interrupts on: some timer interrupts land in the
		# library's code while it holds the FPU lock (saves, restores). With
		# one CPU the library is too small a share of the instructions for
		# the guest clock to stop there; with more, waits and the order in
		# which QEMU runs the CPUs make it happen.
		inlib=$(sed -n "s/^ring0: [0-9]* timer interrupts hit ring 0: \([0-9]*\) in the library's code, \([0-9]*\) while.*/\1 \2/p" "$log/ring0.serial")
		if [ "$nc" -gt 1 ]; then
			t "ring0: policy=$p cpus=$nc: timer interrupts landed in the library's code, and in its FPU lock (both > 0)" 0 \
				test "${inlib% *}" -gt 0 -a "${inlib#* }" -gt 0
		fi
		if [ "$p" = deferred ] && [ "$nc" -gt 1 ]; then
			t "ring0: policy=deferred cpus=$nc: images left unsaved on another CPU were fetched by IPI (remote flushes > 0)" 0 \
				test "${flushes:-0}" -gt 0
		fi
		if [ "$p" = eager ]; then
			t "ring0: policy=eager saves at switches (saves > 0)" 0 test "$(field saves)" -gt 0
		fi
		if [ "$nc" = 2 ]; then
			saves[$p]=$(field saves)
			restores_skipped[$p]=$(sed -n 's/.* \([0-9]*\) skipped restores.*/\1/p' "$log/ring0.serial")
		fi
	done
	t "ring0: reschedule IPIs woke halted CPUs (sent, over the 2- and 4-CPU runs: $resched)" 0 test "$resched" -gt 0
	# The kernel worker and the kernel SIMD sections make the policies differ.
	t "ring0: eager saves more than linux (it saves the kernel worker's context too)" 0 \
		test "${saves[eager]:-0}" -gt "${saves[linux]:-0}"
	t "ring0: linux skips restores (a task back from the kernel worker still owns the registers)" 0 \
		test "${restores_skipped[linux]:-0}" -gt 0 -a "${restores_skipped[eager]:-1}" -eq 0
	# summary IMAGE OPTIONS...: the last line of one boot
	ring0_summary() { ring0/boot.sh "$@" 2>&1 | tr -d '\r' | tail -n 1; }
	t "ring0: two boots give the same summary line (the guest clock counts instructions)" 0 \
		test "$(ring0_summary "$img" policy=deferred interrupts=3000)" = \
		"$(ring0_summary "$img" policy=deferred interrupts=3000)"
	t "ring0: a corrupted saved image fails the run (exit 1), not the machine" 1 \
		ring0/boot.sh "$img" policy=linux interrupts=3000 corrupt_state=1
	cp "$log/out" "$log/ring0.corrupt"
	t "ring0: its XRSTOR fault resumes at the library's fixup, which loads the init state" 0 sh -c \
		"grep -q 'exception 13 on the library.s instruction at 0x[0-9a-f]*: resumed at its fixup' '$log/ring0.corrupt' &&
		 grep -q 'restoring a context buffer faulted: loaded the init state instead' '$log/ring0.corrupt'"
	t "ring0: an unknown policy fails the boot" 1 ring0/boot.sh "$img" policy=eagr interrupts=100
	t "ring0: a bad fork_every= fails the boot" 1 ring0/boot.sh "$img" fork_every=8x interrupts=100
	t "ring0: the installed library refuses bug= (production build)" 1 ring0/boot.sh "$img" bug=skip-owner-check interrupts=100
	# A bug is caught only when the same run passes clean first. Where an
	# interrupt lands depends on the code, so a bug may show in one timing
	# and not in another: each is tried in up to three boots (2 CPUs and
	# 3000 interrupts, then 3 and 4 CPUs and 10000), each of which passes
	# clean first, and must be caught in one of them, by a violation or by
	# the library's warning that an unsaved image is gone.
	#   sigreturn-pkru-default: a frame with PKRU 0 (init) comes back with
	# the default PKRU; sigreturn-unvalidated: the frame goes to the kernel
	# buffer unchecked, and PKRU (not in the buffer) stays the handler's;
	# both are seen by the kernel's and the task's PKRU checks.
	# sigframe-stale-owner: the frame is written from registers that are
	# another task's after the port's fault_in slept. sigreturn-no-reset: a
	# refused frame leaves the handler's registers; the SIGSEGV frame after
	# it must hold the reset state. no-remote-flush needs a task whose
	# generation changed since its last save to move; publish-unordered (a
	# write-back that says "saved" before "by which CPU", the order a
	# compiler may pick for plain stores, its window held open) needs
	# another CPU to take the image inside the window, which no
	# single-stepped simulator can show.
	local pb pol bug cfg caught
	local cfgs=("cpus=2 interrupts=3000" "cpus=3 interrupts=10000" "cpus=4 interrupts=10000")
	for pol in linux deferred; do
		for cfg in "${cfgs[@]}"; do
			# shellcheck disable=SC2086 # cfg is two options
			t "ring0: the testing build passes clean (policy=$pol $cfg)" 0 ring0/boot.sh "$timg" "policy=$pol" $cfg
		done
	done
	for pb in linux:skip-owner-check linux:kfpu-no-save linux:kthread-save linux:drop-keeps-owner \
		deferred:kfpu-no-flush deferred:no-remote-flush deferred:publish-unordered \
		linux:sigreturn-pkru-default deferred:sigreturn-pkru-default \
		linux:sigreturn-unvalidated linux:sigframe-stale-owner linux:sigreturn-no-reset; do
		pol=${pb%%:*} bug=${pb#*:} caught=
		for cfg in "${cfgs[@]}"; do
			# shellcheck disable=SC2086
			ring0/boot.sh "$timg" "policy=$pol" $cfg "bug=$bug" >"$log/ring0.bug" 2>&1
			[ $? = 1 ] || continue
			last=$(tr -d '\r' <"$log/ring0.bug" | grep '^ring0: policy=' | tail -n 1)
			if [ "$(field violations)" -gt 0 ] ||
				grep -q 'library warning on cpu [0-9]*: an unsaved image is no longer' "$log/ring0.bug"; then
				caught=$cfg
				break
			fi
		done
		t "ring0: with bug=$bug (policy=$pol) a boot that passed clean fails with a violation (caught with: ${caught:-none})" 0 \
			test -n "$caught"
		if [ "$bug" = sigreturn-pkru-default ] && [ -n "$caught" ]; then
			t "ring0: $bug ($pol): the default PKRU denies the task its keyed page (a PK fault in ring 3)" 0 \
				grep -q 'a page fault in ring 3' "$log/ring0.bug"
		fi
	done
}

section asan "sanitizers (ASan+UBSan on hosted code, UBSan on kernel code)"
sec_asan() {
	printf 'cpus 1\ntask A user {\n    dirt\n}\n' >"$log/typo.scn"
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
}

section fuzz "fuzzing (libFuzzer; make fuzz SECONDS=600 for a long run)"
sec_fuzz() {
	# libFuzzer comes with clang: without it these tests fail, saying so.
	if ! command -v "${CLANG:-clang}" >/dev/null && ! command -v clang-14 >/dev/null; then
		echo "clang is missing: the fuzz targets need clang and libFuzzer (scripts/setup.sh installs them)" >"$log/noclang"
		bad "fuzz: needs clang (libFuzzer)" "$log/noclang"
		return
	fi
	for ft in sigframe parse; do
		t "fuzz $ft: ${FUZZ_SECONDS:-20} s, no crash, invariants hold" 0 fuzz/run.sh "${FUZZ_SECONDS:-20}" "$ft"
	done
	tcaught "fuzz sigframe catches an injected bug (sigreturn-no-reset)" sigreturn-no-reset \
		fuzz/run.sh 20 sigframe
}
section model "the Promela model: clean under eager, rfc2015 and linux (deferred: make model), every mutant a counterexample (SPIN)"
sec_model() {
	if ! command -v spin >/dev/null; then
		skip "the model" "spin is not installed (scripts/setup.sh installs it)"; return
	fi
	# The deferred policy's clean run (20 million states, about 6 GB, minutes)
	# is left to make model; here the other policies' and every mutant.
	model/run.sh clean-eager-base clean-rfc2015-base clean-linux-base shared-clean mutant >"$log/model" 2>&1
	local st=$?
	while read -r ok name _; do
		case $ok in PASS) ok "model: $name" ;; FAIL) echo "$name" >"$log/one"; grep -- " $name " "$log/model" >>"$log/one"; bad "model: $name" "$log/one" ;; esac
	done < <(grep -E '^(PASS|FAIL) ' "$log/model")
	t "model: the runner's verdict" 0 test $st -eq 0
	# From the model to the hardware: counterexamples replayed as scenarios.
	model/replay.sh >"$log/replay" 2>&1
	st=$?
	while read -r name pol _ _ clean bug verdict; do
		case $verdict in
		ok) ok "replay: $name's counterexample passes clean, fails with the bug ($pol)" ;;
		*) grep -- "^$name " "$log/replay" >"$log/one"; bad "replay: $name" "$log/one" ;;
		esac
		t "replay: scenarios/model-$name.scn is what trail2scn produces" 0 \
			cmp -s "build/model/replay/$name/model-$name.scn" "scenarios/model-$name.scn"
	done < <(grep -E '^[a-z-]+ +(linux|deferred|eager|rfc2015) ' "$log/replay")
	t "replay: the runner's verdict" 0 test $st -eq 0
	printf '@ 0 user 0\n@ 0 run_begin\n' >"$log/guest.steps"
	tgrep "trail2scn names the step it cannot translate" \
		'^trail2scn: step 2 \(run_begin on CPU 0\): no scenario op takes this step$' \
		python3 model/trail2scn.py "$log/guest.steps"
	t "trail2scn: an untranslatable trail exits 2" 2 python3 model/trail2scn.py "$log/guest.steps"
	printf 'nothing here\n' >"$log/empty.steps"
	t "trail2scn: a file without steps exits 2" 2 python3 model/trail2scn.py "$log/empty.steps"
}

section cli "the command line"
sec_cli() {
	printf 'cpus 1\ntask A user {\n    dirt\n}\n' >"$log/typo.scn"
	t "--version prints fpuctx 0.9.0" 0 sh -c "test \"\$($fpuctx --version)\" = 'fpuctx 0.9.0' && test \"\$($fpuctx -V)\" = 'fpuctx 0.9.0'"
	for pair in run:--trace stress:--jobs replay:--events bugs:--help info:--features bench:--policy; do
		c=${pair%%:*} opt=${pair#*:}
		t "help $c and $c --help: exit 0, usage on stdout naming $opt" 0 sh -c "
			$fpuctx help $c 2>/dev/null | grep -q -- '^usage: fpuctx $c' &&
			$fpuctx help $c 2>/dev/null | grep -q -- ' $opt' &&
			$fpuctx $c --help 2>/dev/null | grep -q -- ' $opt' && $fpuctx $c -h >/dev/null 2>&1"
	done
	t "the usage lists every policy and option" 0 sh -c "
		u=\$($fpuctx help) || exit 1
		for w in eager rfc2015 linux deferred --quiet --pretend --jobs --seeds --max-steps --trace-text; do
			echo \"\$u\" | grep -q -- \" \$w\" || { echo \"missing \$w\"; exit 1; }
		done"
	t "an unknown option exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --polcy linux
	tgrep "an unknown option: did you mean" "unknown option '--polcy'; did you mean '--policy'\?" \
		"$fpuctx" run scenarios/pingpong.scn --polcy linux
	t "an unknown command exits 2" 2 "$fpuctx" strss
	tgrep "an unknown command: did you mean" "unknown command 'strss'; did you mean 'stress'\?" "$fpuctx" strss
	t "an unknown policy exits 2" 2 "$fpuctx" run scenarios/pingpong.scn -p eagr
	tgrep "an unknown policy: did you mean, and every policy listed" \
		"unknown policy 'eagr'; did you mean 'eager'\? \(eager, rfc2015, linux, deferred, all\)" \
		"$fpuctx" run scenarios/pingpong.scn -p eagr
	tgrep "an unknown bug: did you mean" "did you mean 'skip-owner-check'\?" \
		"$fpuctx" run scenarios/pingpong.scn --inject-bug skip-owner-chek
	tgrep "an unknown feature: did you mean" "unknown component 'avxx'; did you mean 'avx'\?" \
		"$fpuctx" run scenarios/pingpong.scn --features=x87,sse,avxx
	t "an option a command does not use exits 2" 2 "$fpuctx" info --json
	t "short options -p -s -q" 0 "$fpuctx" run scenarios/pingpong.scn -p linux -s 3 -q
	t "- reads the scenario from standard input" 0 sh -c "$fpuctx run - -p linux < scenarios/idle-roundtrip.scn | grep -q '^<stdin>: ok$'"
	t "an unknown op on standard input exits 2" 2 sh -c "$fpuctx run - < $log/typo.scn"
	tgrep "an unknown op: <stdin>:line:col and did you mean" "^<stdin>:3:5: unknown op 'dirt'; did you mean 'dirty'\?$" \
		sh -c "$fpuctx run - < $log/typo.scn"
	mkdir -p "$log/cl/dir"
	t "--trace FILE with every policy exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --trace "$log/cl/t.json"
	t "--trace FILE with every policy creates no file" 0 sh -c "[ -z \"\$(ls $log/cl | grep -v '^dir$')\" ]"
	tgrep "--trace FILE with every policy says how to name them" 'put \{policy\} in the name' \
		"$fpuctx" run scenarios/pingpong.scn --trace "$log/cl/t.json"
	t "--trace /dev/full with every policy exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --trace /dev/full
	t "--trace with {policy} writes exactly 4 files" 0 sh -c "
		$fpuctx run scenarios/pingpong.scn --trace '$log/cl/t-{policy}.json' --quiet >/dev/null &&
		[ \"\$(ls $log/cl | grep -v '^dir$' | tr '\n' ' ')\" = 't-deferred.json t-eager.json t-linux.json t-rfc2015.json ' ]"
	t "--trace DIR writes DIR/SCENARIO-POLICY.json" 0 sh -c "
		$fpuctx run scenarios/pingpong.scn --trace '$log/cl/dir' --quiet >/dev/null &&
		[ \"\$(ls $log/cl/dir | tr '\n' ' ')\" = 'pingpong-deferred.json pingpong-eager.json pingpong-linux.json pingpong-rfc2015.json ' ]"
	t "--trace FILE with one policy writes FILE" 0 sh -c "
		$fpuctx run scenarios/pingpong.scn -p linux --trace '$log/cl/one.json' --quiet >/dev/null &&
		python3 -c 'import json; json.load(open(\"$log/cl/one.json\"))'"
	t "stress --trace exits 2" 2 "$fpuctx" stress --seeds 1 --events 100 --trace "$log/cl/s.json"
	tgrep "stress --trace points at replay --trace" 'replay command: add --trace' \
		"$fpuctx" stress --seeds 1 --events 100 --trace "$log/cl/s.json"
	t "stress -j 2 prints what -j 1 prints (totals, hashes, replay lines)" 0 sh -c "
		a=\$($fpuctx stress --seeds 6 --events 3000 -p all -j 1 --inject-bug skip-owner-check)
		b=\$($fpuctx stress --seeds 6 --events 3000 -p all -j 2 --inject-bug skip-owner-check)
		echo \"\$a\" | grep -q '^seed .* hash ' && echo \"\$a\" | grep -q 'replay: ' &&
		echo \"\$a\" | grep -q '^stress: 6 seeds, .*: FAILED$' && [ \"\$a\" = \"\$b\" ] &&
		c=\$($fpuctx stress --seeds 6 --events 3000 -p all -j 1) && d=\$($fpuctx stress --seeds 6 --events 3000 -p all -j 2) &&
		echo \"\$c\" | grep -q '^stress: 6 seeds, .* 0 violations: ok$' && [ \"\$c\" = \"\$d\" ]"
	t "stress --json lists the violations of an injected bug" 0 sh -c "$fpuctx stress --seeds 2 --events 3000 -p linux -j 2 --inject-bug skip-owner-check --json | python3 -c '
import json,sys
d=json.load(sys.stdin)
assert not d[\"ok\"] and d[\"failures\"], d
f=d[\"failures\"][0]
assert f[\"policy\"]==\"linux\" and f[\"replay\"].startswith(\"fpuctx replay --seed \"), f
r=[v for v in f[\"records\"] if v[\"kind\"]==\"state\"][0]
for k in (\"where\",\"task\",\"component\",\"offset\",\"expected\",\"found\",\"whose\"):
    assert k in r, (k, r)
'"
	# bench is a benchmark, not a timed test: --quick, and only what holds whatever the times.
	t "bench --json --quick: every key, and the op counts of fpuctx run, exactly" 0 sh -c "
		$fpuctx bench --json --quick --output $log/bench >$log/bench.json &&
		scripts/bench-check.py $log/bench.json $fpuctx"
	t "bench --output writes the same JSON, and the text" 0 sh -c "
		cmp $log/bench.json $log/bench/bench.json && grep -q '^ping-pong: ' $log/bench/bench.txt"
	t "bench-check fails a bench whose op counts are off by one" 1 sh -c "
		python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); d[\"scenarios\"][\"mix-kernel\"][\"linux\"][\"saves\"]+=1
json.dump(d,open(sys.argv[2],\"w\"))' $log/bench.json $log/bench-off.json &&
		scripts/bench-check.py $log/bench-off.json $fpuctx"
	t "bench-plot draws an SVG from it" 0 sh -c "
		scripts/bench-plot.py $log/bench.json $log/bench.svg &&
		python3 -c 'import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); assert r.tag.endswith(\"svg\")' $log/bench.svg"
	t "bench --quick=1 exits 2" 2 "$fpuctx" bench --quick=1
	t "bench with a positional argument exits 2" 2 "$fpuctx" bench scenarios/pingpong.scn
	tgrep "bench --scenarios DIR without the files names them" 'nope/seed-kvm-idle.scn: cannot read' \
		"$fpuctx" bench --quick -p linux --scenarios "$log/nope"
	t "--features=sse exits 2" 2 "$fpuctx" run scenarios/pingpong.scn --features=sse
	t "--features=sse names what was asked and what is missing" 0 sh -c "
		m=\$($fpuctx run scenarios/pingpong.scn --features=sse 2>&1)
		echo \"\$m\" | grep -q '^fpuctx: --features=sse: x87 must always be enabled' && ! echo \"\$m\" | grep -q 'asked for: x87'"
}
run=()
IFS=, read -ra want <<<"$only"
for w in "${want[@]}"; do
	if [ -z "${titles[$w]+x}" ]; then
		echo "test.sh: unknown section '$w'; known: ${sections[*]}" >&2
		exit 2
	fi
done
for s in "${sections[@]}"; do
	if [ ${#want[@]} -eq 0 ] || [[ ",$only," == *",$s,"* ]]; then run+=("$s"); fi
done
echo "TAP version 13"
for s in "${run[@]}"; do
	echo "# == $s: ${titles[$s]}"
	"sec_$s"
done

echo "1..$n"
if [ $fail -ne 0 ]; then printf '# failed: %s\n' "${failed[@]}"; fi
echo "$pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ]
