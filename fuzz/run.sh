#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ and runs each for
# SECONDS on a copy of its seed corpus (in a temporary directory: nothing is
# written into the repository but build-fuzz/).
#
#   fuzz/run.sh SECONDS [TARGET...] [--inject-bug NAME]...
#
# TARGET: sigframe, parse (default: both). SECONDS 0 only builds.
# --inject-bug NAME adds NAME to FPUCTX_FUZZ_BUGS (the sigframe target's
# injected library bugs), so scripts/verdict.sh can run it clean and buggy.
# Environment: CLANG (default: clang, else clang-14), FUZZ_BUILD (build-fuzz),
# FUZZ_ARTIFACTS (where crash reproducers go; default: the temporary
# directory, kept when a target fails), FUZZ_JOBS (parallel compiles, 4).
# Prints one line per target: "fuzz TARGET: ok|FAILED, N execs in S s ...".
# Exits 0 if every target ran its time without a crash, 1 if one crashed
# (or broke an invariant, or leaked), 2 on a usage or build error.
set -u
cd "$(dirname "$0")/.." || exit 2

usage() { echo "usage: fuzz/run.sh SECONDS [sigframe|parse]... [--inject-bug NAME]..." >&2; exit 2; }
[ $# -ge 1 ] || usage
secs=$1; shift
case $secs in '' | *[!0-9]*) usage ;; esac
targets=()
bugs=${FPUCTX_FUZZ_BUGS:-}
while [ $# -gt 0 ]; do
	case $1 in
	--inject-bug) [ $# -ge 2 ] || usage; bugs=${bugs:+$bugs,}$2; shift 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ -z "$bugs" ] || export FPUCTX_FUZZ_BUGS="$bugs"
[ ${#targets[@]} -gt 0 ] || targets=(sigframe parse)
for t in "${targets[@]}"; do
	case $t in sigframe | parse) ;; *) echo "fuzz/run.sh: unknown target '$t'" >&2; usage ;; esac
done

cc=${CLANG:-}
if [ -z "$cc" ]; then
	for c in clang clang-14; do
		if command -v "$c" >/dev/null; then cc=$c; break; fi
	done
fi
if [ -z "$cc" ]; then
	echo "fuzz/run.sh: clang not found (scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2
	exit 2
fi
out=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-4}

# Library objects: the same freestanding, general-regs-only flags as the
# Makefile's kernel side, plus ASan+UBSan and libFuzzer's coverage (the
# fuzz target's register-sensitive code is not instrumented; the callbacks
# these flags insert into the library use no vector registers).
base="-std=c11 -O1 -g -Iinclude -DFPUCTX_TESTING -fno-omit-frame-pointer"
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
kflags="$base -ffreestanding -fno-builtin -mgeneral-regs-only -fno-stack-protector $san"
hflags="$base -Wall -Wextra $san"

core_src="core/xstate.c core/x87.c core/backend.c core/policy.c core/fpu.c core/signal.c core/extable.c core/testing.c"
declare -A srcs=(
	[sigframe]="$core_src sim/oracle/pattern.c sim/machine/fault.c"
	[parse]="tool/parse.c"
)
declare -A dict=([sigframe]=fuzz/sigframe.dict [parse]=fuzz/parse.dict)
# sigframe: the largest seed (a full frame) sets it; parse: room for lines
# over the 4096-byte limit and files near the task/op limits.
declare -A maxlen=([sigframe]="" [parse]=65536)

log=$(mktemp -d "${TMPDIR:-/tmp}/fpuctx-fuzz.XXXXXX")
keep=0
# shellcheck disable=SC2317 # called by the trap
cleanup() { if [ "$keep" -eq 0 ]; then rm -rf "$log"; else echo "fuzz: logs and reproducers kept in $log" >&2; fi; }
trap cleanup EXIT

# compile SRC FLAGS...: build-fuzz/obj/SRC.o, rebuilt when the source, any
# header of the project or the flags changed (every header counts as a
# dependency: cheap and safe).
compile() {
	local src=$1; shift
	local obj=$out/obj/${src%.c}.o flags="$*"
	mkdir -p "$(dirname "$obj")"
	if [ -f "$obj" ] && [ "$obj" -nt "$src" ] &&
	   [ -z "$(find include core sim tool tests fuzz -name '*.h' -newer "$obj" | head -n 1)" ] &&
	   [ "$(cat "$obj.flags" 2>/dev/null)" = "$cc $flags" ]; then
		return 0
	fi
	# shellcheck disable=SC2086
	if ! $cc $flags -c "$src" -o "$obj" 2>"$obj.log"; then
		echo "fuzz/run.sh: compiling $src failed:" >&2
		cat "$obj.log" >&2
		return 1
	fi
	[ -s "$obj.log" ] && cat "$obj.log" >&2
	echo "$cc $flags" >"$obj.flags"
}

build() {
	local t=$1 objs=() pids=() s f ok=0
	for s in ${srcs[$t]} fuzz/fuzz_$t.c; do
		case $s in
		core/* | sim/kernel/* | sim/oracle/* | sim/hw/*) f=$kflags ;;
		*) f=$hflags ;;
		esac
		# shellcheck disable=SC2086 # flags split on purpose
		compile "$s" $f &
		pids+=($!)
		objs+=("$out/obj/${s%.c}.o")
		if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}" || ok=1; pids=("${pids[@]:1}"); fi
	done
	for p in "${pids[@]}"; do wait "$p" || ok=1; done
	[ $ok -eq 0 ] || return 1
	# shellcheck disable=SC2086
	$cc -fsanitize=fuzzer,address,undefined "${objs[@]}" -o "$out/fuzz_$t"
}

mkdir -p "$out"
for t in "${targets[@]}"; do
	if ! build "$t"; then
		echo "fuzz $t: FAILED to build" >&2
		exit 2
	fi
done

[ "$secs" -gt 0 ] || { echo "fuzz: built ${targets[*]} in $out/"; exit 0; }
status=0
for t in "${targets[@]}"; do
	dir=$log/$t
	corpus=$dir/corpus
	art=${FUZZ_ARTIFACTS:-$dir/artifacts}
	mkdir -p "$corpus" "$art"
	cp fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
	if [ "$t" = sigframe ]; then
		# Machine-specific seeds: full-size frames this CPU's library writes.
		FPUCTX_FUZZ_SEED_DIR=$corpus "$out/fuzz_$t" >"$dir/seeds.log" 2>&1
		rc=$?
		# 2: it cannot start (an unknown bug name...): bad input, not a finding
		if [ $rc -eq 2 ]; then echo "fuzz $t: cannot start:"; cat "$dir/seeds.log"; exit 2; fi
		[ $rc -eq 0 ] || { echo "fuzz $t: cannot write seeds:"; cat "$dir/seeds.log"; }
	fi
	extra=()
	[ -f "${dict[$t]}" ] && extra+=("-dict=${dict[$t]}")
	[ -n "${maxlen[$t]}" ] && extra+=("-max_len=${maxlen[$t]}")
	start=$(date +%s)
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$out/fuzz_$t" "$corpus" "${extra[@]}" -max_total_time="$secs" -rss_limit_mb=2048 \
		-timeout=25 -print_final_stats=1 -artifact_prefix="$art/" >"$dir/log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$dir/log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "fuzz $t: ok, ${execs:-?} execs in ${took} s (${cov:-no coverage line})"
	else
		status=1
		keep=1
		echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} execs in ${took} s; log: $dir/log"
		grep -E 'INVARIANT BROKEN|ERROR: |SUMMARY: |runtime error|Test unit written|Base64' "$dir/log" | head -n 20 | sed 's/^/    /'
		for a in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
			[ -f "$a" ] || continue
			echo "    reproducer $a: $(od -An -tx1 -v "$a" | tr -d ' \n' | cut -c1-400)"
		done
	fi
done
exit $status
