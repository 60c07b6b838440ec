#!/usr/bin/env bash
# Mutation testing of the simulator: every mutant must be killed by the
# scenarios or by CI's stress budget (not by the unit tests).
#
#   scripts/mutate.sh [NAME...]      (make mutate; NAME filters, e.g. 03 or kfpu-no-flush)
#
# Mutants: mutants/NN-*.patch (a one-line bug in the tree, `patch -p1`; the
# first line says what it breaks) and mutants/bugs.list (the injectable bugs
# of `fpuctx bugs`, run with --inject-bug). For each one: a scratch copy of
# the tracked files, the patch, `make build/bin/fpuctx`, then every scenario
# under every policy and the stress budget below. Killed: any of them exits
# nonzero. The table names the scenarios that kill each mutant, and how many
# stress seeds fail (out of --seeds). A patch that does not build, or a bug `fpuctx bugs` lists and
# bugs.list does not, is an error of the list. Exit 0 only if every mutant
# is killed (1: survivors, 2: errors or a baseline that fails).
#
# Environment: MUTATE_JOBS (parallel mutants, default 2), MUTATE_STRESS (the
# stress options, default CI's), MUTATE_KEEP=1 keeps the scratch directory.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${MUTATE_JOBS:-2}
stress_opts=${MUTATE_STRESS:-"--seeds 10 --events 20000 --policy all"}

# One mutant: mutate.sh --one SCRATCH KIND NAME [OPTIONS...]; writes SCRATCH/res/NAME.
if [ "${1:-}" = --one ]; then
	scratch=$2 kind=$3 name=$4
	shift 4
	out=$scratch/res/$name log=$scratch/log/$name
	bin=$scratch/base/build/bin/fpuctx opts=()
	if [ "$kind" = patch ]; then
		dir=$scratch/m/$name
		cp -a "$scratch/base" "$dir"
		if ! (cd "$dir" && patch -p1 -s <"$root/mutants/$name.patch") >"$log.build" 2>&1 ||
		   ! make -C "$dir" build/bin/fpuctx >>"$log.build" 2>&1; then
			printf 'BUILD\t-\t-\n' >"$out"
			rm -rf "$dir"
			exit 0
		fi
		bin=$dir/build/bin/fpuctx
	else
		opts=("$@" --inject-bug "$name")
		# A bug that needs other options: the same options must pass clean.
		if [ $# -gt 0 ]; then
			for f in "$root"/scenarios/*.scn; do
				timeout 120 "$bin" run "$f" --policy all --quiet "$@" >/dev/null 2>&1 ||
					{ printf 'BASELINE\t%s\t-\n' "$(basename "$f" .scn)" >"$out"; exit 0; }
			done
			# shellcheck disable=SC2086
			timeout 600 "$bin" stress $stress_opts -j 1 "$@" >/dev/null 2>&1 ||
				{ printf 'BASELINE\tstress\t-\n' >"$out"; exit 0; }
		fi
	fi
	killers=()
	for f in "$root"/scenarios/*.scn; do
		timeout 120 "$bin" run "$f" --policy all --quiet "${opts[@]}" >>"$log" 2>&1 ||
			killers+=("$(basename "$f" .scn)")
	done
	# The stress column: how many seeds fail (under any policy), or why it died.
	rc=0
	# shellcheck disable=SC2086
	timeout 600 "$bin" stress $stress_opts -j 1 "${opts[@]}" >"$log.stress" 2>&1 || rc=$?
	seeds=$(grep -o '^seed [0-9]*' "$log.stress" | sort -u | wc -l)
	if [ $rc -eq 0 ]; then st=-
	elif [ $rc -eq 124 ]; then st=timeout
	elif [ "$seeds" -gt 0 ]; then st="$seeds seeds"
	else st="exit $rc"
	fi
	sc=-
	[ ${#killers[@]} -gt 0 ] && sc="${killers[*]}"
	if [ "$sc" = - ] && [ "$st" = - ]; then v=SURVIVED; else v=KILLED; fi
	printf '%s\t%s\t%s\n' "$v" "$sc" "$st" >"$out"
	[ "$kind" = patch ] && rm -rf "$scratch/m/$name"
	exit 0
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/fpuctx-mutate.XXXXXX")
[ "${MUTATE_KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/base" "$scratch/m" "$scratch/res" "$scratch/log"
start=$(date +%s)

# The tracked files as they are in the working tree, built once; mutants
# copy the build too, so only what a patch touches is compiled again.
(cd "$root" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$scratch/base"
if ! make -C "$scratch/base" -j"$jobs" build/bin/fpuctx >"$scratch/log/base.build" 2>&1; then
	cat "$scratch/log/base.build" >&2
	echo "mutate: the unmutated tree does not build" >&2
	exit 2
fi
fpuctx=$scratch/base/build/bin/fpuctx

# The baseline: nothing is killed by a check that fails without a mutant.
for f in "$root"/scenarios/*.scn; do
	"$fpuctx" run "$f" --policy all --quiet >/dev/null 2>&1 ||
		{ echo "mutate: $f fails on the unmutated tree" >&2; exit 2; }
done
# shellcheck disable=SC2086
"$fpuctx" stress $stress_opts >/dev/null 2>&1 ||
	{ echo "mutate: stress $stress_opts fails on the unmutated tree" >&2; exit 2; }

# The list of mutants: KIND NAME [OPTIONS...], one a line.
errors=0
filters=("$@")
selected() {
	local w
	[ ${#filters[@]} -eq 0 ] && return 0
	for w in "${filters[@]}"; do case "$1" in *"$w"*) return 0 ;; esac; done
	return 1
}
list=$scratch/list
: >"$list"
for p in "$root"/mutants/*.patch; do
	n=$(basename "$p" .patch)
	selected "$n" && echo "patch $n" >>"$list"
done
declare -A listed
while read -r n rest; do
	case "$n" in '' | '#'*) continue ;; esac
	listed[$n]=1
	selected "$n" && echo "bug $n${rest:+ $rest}" >>"$list"
done <"$root/mutants/bugs.list"
unshowable=() parallel=()
while read -r n rest; do
	if [ -z "${listed[$n]:-}" ]; then
		echo "mutate: injected bug $n is not in mutants/bugs.list" >&2
		errors=$((errors + 1))
	fi
	case "$rest" in *"cannot show here"*) unshowable+=("$n") ;; esac
	case "$rest" in *"CPUs running at once"*) parallel+=("$n") ;; esac
done < <("$fpuctx" bugs)

# Races of CPUs running at once cannot show in the simulator, which runs one
# CPU at a time: the ring-0 port's runs catch them (make ring0, make test).
for n in ${parallel[@]+"${parallel[@]}"}; do
	sed -i "/^bug $n\( \|\$\)/d" "$list"
	echo "bug $n" >>"$scratch/ring0"
done

# Bugs this CPU cannot show are skipped, not counted as survivors.
for n in ${unshowable[@]+"${unshowable[@]}"}; do
	sed -i "/^bug $n\( \|\$\)/d" "$list"
	printf 'SKIPPED\tcannot show on this CPU\t-\n' >"$scratch/res/$n"
	echo "bug $n" >>"$scratch/skipped"
done

n_mut=$(wc -l <"$list")
echo "mutate: $n_mut mutants, $jobs at a time; stress $stress_opts"
xargs -P "$jobs" -L 1 "$0" --one "$scratch" <"$list"

# The table, in list order.
survived=0 killed=0
printf '%-30s %-9s %-10s %s\n' mutant verdict stress "scenarios that kill it"
while read -r kind n rest; do
	r=$scratch/res/$n
	if [ ! -f "$r" ]; then v=ERROR sc="no result" st=-; else IFS=$'\t' read -r v sc st <"$r"; fi
	case $v in
	KILLED) killed=$((killed + 1)) ;;
	SURVIVED) survived=$((survived + 1)) ;;
	BUILD) v="NO BUILD"; errors=$((errors + 1)) ;;
	*) errors=$((errors + 1)) ;;
	esac
	label=$n
	[ "$kind" = bug ] && label="bug:$n"
	nsc=$(echo "$sc" | wc -w)
	[ "$sc" = - ] && nsc=0
	short=$sc
	[ "$nsc" -gt 3 ] && short="$(echo "$sc" | cut -d' ' -f1-3) (+$((nsc - 3)) more)"
	printf '%-30s %-9s %-10s %s\n' "$label" "$v" "$st" "$short"
done <"$list"
[ -f "$scratch/ring0" ] && while read -r kind n; do
	printf '%-30s %-9s %-10s %s\n' "bug:$n" RING0 - "a race of CPUs running at once: caught by make ring0"
done <"$scratch/ring0"
[ -f "$scratch/skipped" ] && while read -r kind n; do
	printf '%-30s %-9s %-10s %s\n' "bug:$n" SKIPPED - "cannot show on this CPU"
done <"$scratch/skipped"
echo "mutate: $killed killed, $survived survived, $errors errors ($(($(date +%s) - start)) s)"
[ "${MUTATE_KEEP:-0}" = 1 ] && echo "mutate: logs in $scratch/log"
[ $errors -gt 0 ] && exit 2
[ $survived -gt 0 ] && exit 1
exit 0
