#!/usr/bin/env python3
"""Checks what `fpuctx bench --json` printed, whatever the times: the keys
are there, the spreads are ordered, and its operation counts are exactly
those `fpuctx run` reports for the same scenarios (both are deterministic).

    scripts/bench-check.py BENCH.json FPUCTX [SCENARIO_DIR]

Exits 0 if everything holds, 1 with the first failures listed if not.
"""
import json
import subprocess
import sys

SCENARIOS = ["seed-kvm-idle", "idle-roundtrip", "kthread-roundtrip", "pingpong", "mix-2cpu", "mix-4cpu",
             "mix-kernel"]
SCENARIO_KEYS = ["saves", "restores", "bytes_saved", "bytes_restored", "remote_flushes", "ipis",
                 "cycles_median", "cycles_min", "cycles_max"]
# What `fpuctx run` reports (the counting window where the scenario has one).
RUN_KEYS = ["saves", "restores", "bytes_saved", "bytes_restored"]


def check(bench, fpuctx, scndir):
    errors = []

    def need(cond, what):
        if not cond:
            errors.append(what)
        return cond

    for k in ("cpu", "floor", "scenarios", "pingpong", "pingpong_vs_floor", "ratios"):
        need(k in bench, "missing top-level key %s" % k)
    if errors:
        return errors
    for insn, row in bench["floor"].items():
        for k in ("init", "dirty"):
            need(isinstance(row.get(k), (int, float)) and row[k] > 0, "floor %s: %s missing or not > 0" % (insn, k))
    for insn in ("fxsave", "fxrstor"):
        need(insn in bench["floor"], "floor: no %s row (every x86-64 CPU has it)" % insn)
    policies = None
    for s in SCENARIOS:
        if not need(s in bench["scenarios"], "scenario %s missing" % s):
            continue
        run = subprocess.run([fpuctx, "run", "%s/%s.scn" % (scndir, s), "--policy", "all", "--json"],
                             capture_output=True, text=True)
        if not need(run.returncode == 0, "fpuctx run %s failed: %s" % (s, run.stderr.strip())):
            continue
        ran = json.loads(run.stdout)["policies"]
        policies = list(ran)
        need(sorted(bench["scenarios"][s]) == sorted(ran),
             "%s: bench has policies %s, run %s" % (s, sorted(bench["scenarios"][s]), sorted(ran)))
        for p, r in bench["scenarios"][s].items():
            if not all([need(isinstance(r.get(k), (int, float)), "%s/%s: %s missing" % (s, p, k))
                        for k in SCENARIO_KEYS]):
                continue
            need(r["cycles_min"] <= r["cycles_median"] <= r["cycles_max"], "%s/%s: cycles spread out of order" % (s, p))
            counted = r.get("window", r)
            for k in RUN_KEYS:
                if p in ran:
                    need(counted[k] == ran[p][k], "%s/%s: %s is %s in bench, %s in run" % (s, p, k, counted[k], ran[p][k]))
    if policies:
        need(sorted(bench["pingpong_vs_floor"]) == sorted(policies), "pingpong_vs_floor: policies %s" % sorted(bench["pingpong_vs_floor"]))
        for p in policies:
            pp = bench["pingpong"].get(p, {})
            need(pp.get("saves_per_switch") == 1 and pp.get("restores_per_switch") == 1,
                 "pingpong/%s: not one save and one restore per switch: %s" % (p, pp))
            need(pp.get("cycles_min", 1) <= pp.get("cycles_median", 0) <= pp.get("cycles_max", 0),
                 "pingpong/%s: cycles spread missing or out of order" % p)
            need(isinstance(bench["pingpong_vs_floor"].get(p), (int, float)) and bench["pingpong_vs_floor"][p] > 0,
                 "pingpong_vs_floor/%s not a positive number" % p)
        for s in (s for s in SCENARIOS if s.startswith("mix-")):
            for p in policies:
                for base in ("eager", "linux"):
                    if base in policies:
                        need("vs_" + base in bench["ratios"].get(s, {}).get(p, {}), "ratios/%s/%s: no vs_%s" % (s, p, base))
    return errors


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: bench-check.py BENCH.json FPUCTX [SCENARIO_DIR]")
    errors = check(json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else "scenarios")
    for e in errors[:20]:
        print("bench-check: " + e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
