#!/usr/bin/env bash
# The main job: every scenario under every policy, saves and restores side by side.
# Exits non-zero, naming the rows, when a clean run has violations or failed
# expectations, or an injected bug is not proven caught.
set -u
fpuctx=${1:-build/bin/fpuctx}
# shellcheck source=scripts/verdict.sh
. "$(dirname "$0")/verdict.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/failed" # one line per failed row, said again at the end

# rows FILE PYTHON: runs FILE under every policy and prints the rows PYTHON
# makes of the JSON (in d). A policy with violations or failed expectations
# is recorded, and so is a run that fails without any.
rows() {
	local f=$1 py=$2 out st before
	out=$("$fpuctx" run "$f" --policy all --json 2>"$tmp/err")
	st=$?
	before=$(wc -l <"$tmp/failed")
	[ -n "$out" ] && printf '%s' "$out" | python3 -c "$py"'
with open(sys.argv[1], "a") as f:
    for name, p in d["policies"].items():
        if p["violations"] or p["expect_failures"]:
            f.write("%s %s: %d violations, %d failed expectations\n" % (d["scenario"], name,
                    p["violations"], p["expect_failures"]))
' "$tmp/failed"
	if { [ "$st" -ne 0 ] || [ -z "$out" ]; } && [ "$(wc -l <"$tmp/failed")" = "$before" ]; then
		echo "$f: exit $st $(head -n 1 "$tmp/err")" | tee -a "$tmp/failed"
	fi
}

"$fpuctx" info | grep -E '^(XCR0|managed|instructions|save instruction|context buffer|legacy area|x87 FOP|x87 pointer)' 
echo
echo "== The seeds' hypervisor chains, computed live (host and guest counted apart)"
printf '%-17s %-8s %13s %13s %13s   %s\n' scenario policy "host s/r" "guest s/r" "total s/r" "the seed says"
for f in scenarios/seed-kvm-idle.scn scenarios/seed-kvm-preempt.scn; do
	rows "$f" '
import json, sys
seed = {"seed-kvm-idle": {"eager": "6 + 6 (before the series)", "rfc2015": "2 + 1 (with the series)",
                          "linux": "2 + 0 (5.2+, 4.15 run-call swap)",
                          "deferred": "\"the load could be optimized away\", and the saves too"},
        "seed-kvm-preempt": {"eager": "VMM state intact", "rfc2015": "VMM state intact",
                             "linux": "VMM state intact (2018 design broke it)",
                             "deferred": "VMM state intact"}}
d = json.load(sys.stdin)
for name, p in d["policies"].items():
    ok = p["expect_failures"] == 0 and p["violations"] == 0
    print("%-17s %-8s %6d + %-4d %6d + %-4d %6d + %-4d   %s%s" % (d["scenario"], name,
          p["host_saves"], p["host_restores"], p["guest_saves"], p["guest_restores"],
          p["saves"], p["restores"], seed[d["scenario"]].get(name, ""),
          "" if ok else "   FAILED"))
'
done
# An injected bug is caught only if the same run passes without it.
for bug in guest-save-to-vmm guest-scratch; do
	verdict=$(caught "$tmp/bug" "$bug" "$fpuctx" run scenarios/seed-kvm-preempt.scn --policy linux --json) ||
		echo "seed-kvm-preempt linux with --inject-bug $bug: $verdict" >>"$tmp/failed"
	n=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["policies"]["linux"]["violations"])' \
		<"$tmp/bug" 2>/dev/null) || n='?'
	printf '%-17s %-8s with --inject-bug %-18s %4s violations: %s\n' seed-kvm-preempt linux "$bug" "$n" "$verdict"
done
# The deferred policy's own failure modes, each against its regression scenario.
for pair in "deferred-remote-flush no-remote-flush" "deferred-guest-swap flush-active-buffer" \
	    "deferred-kfpu-flush kfpu-no-flush" "deferred-exec exec-keeps-unsaved"; do
	set -- $pair
	verdict=$(caught "$tmp/bug" "$2" "$fpuctx" run "scenarios/$1.scn" --policy deferred --json) ||
		echo "$1 deferred with --inject-bug $2: $verdict" >>"$tmp/failed"
	n=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["policies"]["deferred"]["violations"])' \
		<"$tmp/bug" 2>/dev/null) || n='?'
	printf '%-22s %-8s with --inject-bug %-20s %4s violations: %s\n' "$1" deferred "$2" "$n" "$verdict"
done
echo
printf '%-28s %-7s %7s %9s %8s %9s %6s %6s  %s\n' scenario policy saves restores skipped switches kfpu viol expect
for f in scenarios/*.scn; do
	rows "$f" '
import json, sys
d = json.load(sys.stdin)
for name, p in d["policies"].items():
    verdict = "ok" if p["expect_failures"] == 0 else "FAILED %d" % p["expect_failures"]
    if p["violations"] and not p["expect_failures"]:
        verdict = "FAILED (violations)"
    print("%-28s %-7s %7d %9d %8d %9d %6d %6d  %s" % (d["scenario"], name, p["saves"], p["restores"],
          p["skipped_restores"], p["switches"], p["kfpu_sections"], p["violations"], verdict))
'
done
echo
echo "Counts are inside each scenario's window when it has one (see docs/scenarios.md)."
echo "Reproduce one: $fpuctx run scenarios/seed-kvm-idle.scn --policy all --trace-text"
echo "A timeline for Perfetto: $fpuctx run scenarios/seed-kvm-idle.scn --policy linux --trace out.json"
if [ -s "$tmp/failed" ]; then
	echo
	echo "demo FAILED: clean runs with violations or failed expectations, or bugs not proven caught:"
	awk '!seen[$0]++ { print "  " $0 }' "$tmp/failed"
	exit 1
fi
