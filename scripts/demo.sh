#!/usr/bin/env bash
# The main job: every scenario under every policy, saves and restores side by side.
set -u
fpuctx=${1:-build/bin/fpuctx}
status=0
"$fpuctx" info | sed -n '1,5p;10p'
echo
echo "== The seeds' hypervisor chains, computed live (host and guest counted apart)"
printf '%-17s %-8s %13s %13s %13s   %s\n' scenario policy "host s/r" "guest s/r" "total s/r" "the seed says"
for f in scenarios/seed-kvm-idle.scn scenarios/seed-kvm-preempt.scn; do
	out=$("$fpuctx" run "$f" --policy all --json) || status=1
	printf '%s' "$out" | python3 -c '
import json, sys
seed = {"seed-kvm-idle": {"eager": "6 + 6 (before the series)", "rfc2015": "2 + 1 (with the series)",
                          "linux": "2 + 0 (5.2+, 4.15 run-call swap)"},
        "seed-kvm-preempt": {"eager": "VMM state intact", "rfc2015": "VMM state intact",
                             "linux": "VMM state intact (2018 design broke it)"}}
d = json.load(sys.stdin)
for name, p in d["policies"].items():
    ok = p["expect_failures"] == 0 and p["violations"] == 0
    print("%-17s %-8s %6d + %-4d %6d + %-4d %6d + %-4d   %s%s" % (d["scenario"], name,
          p["host_saves"], p["host_restores"], p["guest_saves"], p["guest_restores"],
          p["saves"], p["restores"], seed[d["scenario"]].get(name, ""),
          "" if ok else "   FAILED"))
'
done
for bug in guest-save-to-vmm guest-scratch; do
	n=$("$fpuctx" run scenarios/seed-kvm-preempt.scn --policy linux --inject-bug "$bug" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["policies"]["linux"]["violations"])')
	if [ "$n" -gt 0 ]; then verdict=caught; else verdict=MISSED; status=1; fi
	printf '%-17s %-8s with --inject-bug %-18s %4s violations: %s\n' seed-kvm-preempt linux "$bug" "$n" "$verdict"
done
echo
printf '%-28s %-7s %7s %9s %8s %9s %6s %6s  %s\n' scenario policy saves restores skipped switches kfpu viol expect
for f in scenarios/*.scn; do
	out=$("$fpuctx" run "$f" --policy all --json) || status=1
	printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for name, p in d["policies"].items():
    print("%-28s %-7s %7d %9d %8d %9d %6d %6d  %s" % (d["scenario"], name, p["saves"], p["restores"],
          p["skipped_restores"], p["switches"], p["kfpu_sections"], p["violations"],
          "ok" if p["expect_failures"] == 0 else "FAILED %d" % p["expect_failures"]))
'
done
echo
echo "Counts are inside each scenario's window when it has one (see docs/scenarios.md)."
echo "Reproduce one: $fpuctx run scenarios/seed-kvm-idle.scn --policy all --trace-text"
echo "A timeline for Perfetto: $fpuctx run scenarios/seed-kvm-idle.scn --policy linux --trace out.json"
exit $status
