#!/usr/bin/env bash
# The main job: every scenario under every policy, saves and restores side by side.
set -u
fpuctx=${1:-build/bin/fpuctx}
status=0
"$fpuctx" info | sed -n '1,5p;10p'
echo
printf '%-25s %-7s %7s %9s %8s %9s %6s %6s  %s\n' scenario policy saves restores skipped switches kfpu viol expect
for f in scenarios/*.scn; do
	out=$("$fpuctx" run "$f" --policy all --json) || status=1
	printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for name, p in d["policies"].items():
    print("%-25s %-7s %7d %9d %8d %9d %6d %6d  %s" % (d["scenario"], name, p["saves"], p["restores"],
          p["skipped_restores"], p["switches"], p["kfpu_sections"], p["violations"],
          "ok" if p["expect_failures"] == 0 else "FAILED %d" % p["expect_failures"]))
'
done
echo
echo "Counts are inside each scenario's window when it has one (see docs/scenarios.md)."
echo "Reproduce one: $fpuctx run scenarios/idle-roundtrip.scn --policy all --trace-text"
exit $status
