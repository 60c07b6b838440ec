#!/usr/bin/env python3
"""Checks a Chrome/Perfetto trace written by `fpuctx run --trace FILE`.

Usage: scripts/trace-check.py FILE...   (exit 0: all good; 1: the problems are printed)

What it holds the trace to (docs/design.md, "Traces"):
- every event has name, ph, pid and tid; every pid has a process_name and
  every thread track a thread_name, each with pid, tid, ph, name and args.name;
- timestamps never go back on a track (a thread, or a process's counter);
- B/E slices pair up on their track, X slices have a duration >= 0;
- the registers' owner: each save, restore and skip_restore lies inside a
  slice named after its state on the CPU's "FPU registers" track, and an
  owner_drop ends one;
- every kfpu_begin..kfpu_end is a slice on the CPU's "kernel FPU" track;
- counters "fpu" (saves, restores, skipped_restores) and "fpu bytes" (saved,
  restored) end at what the process's instants add up to;
- instants carry their fields as separate args, no value with a space.
"""
import json
import sys
from collections import defaultdict

FPU_EVENTS = {"save", "restore", "skip_restore", "need_load", "owner_drop", "state_reset",
              "kfpu_begin", "kfpu_end", "kfpu_refused", "pkru_write", "switch",
              "sigframe_save", "sigframe_fault", "sigreturn", "sigreturn_failed",
              "guest_begin", "guest_end", "x87_scrub", "save_deferred", "flush_request"}


def check(path):
    errs = []

    def err(msg):
        if len(errs) < 20:
            errs.append(msg)

    try:
        with open(path) as f:
            doc = json.load(f)
        evs = doc["traceEvents"]
        assert isinstance(evs, list) and evs
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as e:
        return ["not a trace: %r" % (e,)]

    pname, tname = {}, {}
    for i, e in enumerate(evs):
        if not isinstance(e, dict):
            err("event %d is not an object" % i)
            continue
        for k, ty in (("name", str), ("ph", str), ("pid", int), ("tid", int)):
            if not isinstance(e.get(k), ty):
                err("event %d (%s) lacks %s" % (i, e.get("name"), k))
        if e.get("ph") == "M":
            if not isinstance(e.get("args"), dict):
                err("metadata event %d has no args" % i)
            elif e.get("name") in ("process_name", "thread_name"):
                n = e["args"].get("name")
                if not isinstance(n, str) or not n:
                    err("metadata event %d has no args.name" % i)
                elif e["name"] == "process_name":
                    pname[e.get("pid")] = n
                else:
                    tname[(e.get("pid"), e.get("tid"))] = n
    if errs:
        return errs

    last = {}
    stacks = defaultdict(list)
    slices = defaultdict(list)          # (pid, tid) -> [(name, begin, end)]
    instants = []
    counters = defaultdict(dict)        # pid -> {"fpu saves": last value, ...}
    for i, e in enumerate(evs):
        ph, pid, tid, name = e["ph"], e["pid"], e["tid"], e["name"]
        if ph == "M":
            continue
        if pid not in pname:
            err("pid %d has no process_name" % pid)
        ts = e.get("ts")
        if not isinstance(ts, (int, float)) or ts < 0:
            err("event %d (%s) has no timestamp" % (i, name))
            continue
        track = (pid, "counter", name) if ph == "C" else (pid, tid)
        if ph != "C" and track not in tname:
            err("track pid %d tid %d has no thread_name" % track)
        if ts < last.get(track, 0):
            err("event %d (%s): time goes back on its track, %s after %s" % (i, name, ts, last[track]))
        last[track] = ts
        if ph == "B":
            stacks[track].append((name, ts))
        elif ph == "E":
            if not stacks[track]:
                err("event %d: E %s with no open slice" % (i, name))
            else:
                n, b = stacks[track].pop()
                if n != name:
                    err("event %d: E %s closes %s" % (i, name, n))
                slices[track].append((n, b, ts))
        elif ph == "X":
            if not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0:
                err("event %d: X %s without a duration" % (i, name))
            else:
                slices[track].append((name, ts, ts + e["dur"]))
        elif ph == "C":
            a = e.get("args")
            if not isinstance(a, dict) or not a or not all(isinstance(v, (int, float)) for v in a.values()):
                err("event %d: counter %s without numeric args" % (i, name))
                continue
            for k, v in a.items():
                if v < counters[pid].get(name + " " + k, 0):
                    err("event %d: counter %s %s goes down" % (i, name, k))
                counters[pid][name + " " + k] = v
        elif ph in ("i", "I", "n"):
            a = e.get("args")
            if not isinstance(a, dict) or not a:
                err("event %d: instant %s without args" % (i, name))
                continue
            for k, v in a.items():
                if not isinstance(v, (int, float)) and (not isinstance(v, str) or not v or " " in v or "=" in v):
                    err("event %d: %s's %s is %r, not one field" % (i, name, k, v))
            if name in FPU_EVENTS and not ({"ctx", "state", "bytes"} <= set(a) and isinstance(a["bytes"], int)):
                err("event %d: %s lacks ctx, state or bytes" % (i, name))
            instants.append((pid, tid, ts, name, a))
    for track, st in stacks.items():
        for n, b in st:
            err("slice %s from %s never ends on track %s" % (n, b, track))

    # The CPU's other tracks: same thread name, in "<process>: FPU registers"
    # and "<process>: kernel FPU".
    by_name = {(pname.get(p), n): (p, t) for (p, t), n in tname.items()}

    def sibling(pid, tid, what):
        return by_name.get((pname.get(pid, "?") + ": " + what, tname.get((pid, tid))))

    def inside(track, name, ts):
        return any(n == name and b <= ts <= en for n, b, en in slices.get(track, ()))

    want = defaultdict(lambda: defaultdict(int))
    kfpu_open = {}
    for pid, tid, ts, name, a in instants:
        if name in ("save", "restore", "skip_restore"):
            w = want[pid]
            w[{"save": "fpu saves", "restore": "fpu restores", "skip_restore": "fpu skipped_restores"}[name]] += 1
            if name != "skip_restore":
                w["fpu bytes " + ("saved" if name == "save" else "restored")] += a.get("bytes", 0)
        if name in ("save", "restore", "skip_restore", "owner_drop") and a.get("state", "-") != "-":
            regs = sibling(pid, tid, "FPU registers")
            if regs is None:
                err("%s at %s: no FPU registers track for %s" % (name, ts, tname.get((pid, tid))))
            elif name != "owner_drop" and not inside(regs, a["state"], ts):
                err("%s of %s at %s: the registers are not shown holding it" % (name, a["state"], ts))
            elif name == "owner_drop" and not any(n == a["state"] and en == ts for n, b, en in slices.get(regs, ())):
                err("owner_drop of %s at %s ends no slice" % (a["state"], ts))
        elif name == "kfpu_begin":
            kfpu_open[(pid, tid)] = ts
        elif name == "kfpu_end" and (pid, tid) in kfpu_open:
            b = kfpu_open.pop((pid, tid))
            k = sibling(pid, tid, "kernel FPU")
            if k is None or not any(n == "kernel_fpu" and (s, en) == (b, ts) for n, s, en in slices.get(k, ())):
                err("kernel FPU section %s..%s is no slice" % (b, ts))
    for pid, w in want.items():
        for k, v in w.items():
            if counters[pid].get(k) != v:
                err("pid %d: counter %s ends at %s, the instants add up to %s" % (pid, k, counters[pid].get(k), v))
    return errs


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    bad = 0
    for p in sys.argv[1:]:
        errs = check(p)
        for e in errs:
            print("%s: %s" % (p, e))
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
