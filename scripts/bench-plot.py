#!/usr/bin/env python3
"""Draws `fpuctx bench --json` as an SVG: per scenario, grouped bars by policy
for FPU operations (saves + restores) and library cycles (median, with a
min-max whisker). Log scales: the scenarios differ by orders of magnitude.

    scripts/bench-plot.py BENCH.json OUT.svg
"""
import json
import math
import sys
from xml.sax.saxutils import escape

COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f"]
WIDTH, LEFT, RIGHT = 1200, 90, 20
PANEL_H, PANEL_GAP, TOP = 300, 90, 110


def human(v):
    """1234 -> 1.2k, 1234567 -> 1.2M: labels that fit above a bar."""
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= div:
            return "%.3g%s" % (v / div, suffix)
    return "%.3g" % v


def text(x, y, s, size=12, anchor="middle", rotate=None, weight="normal", color="#222"):
    tr = ' transform="rotate(%d %.1f %.1f)"' % (rotate, x, y) if rotate is not None else ""
    return ('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" font-weight="%s" fill="%s"%s>%s</text>'
            % (x, y, size, anchor, weight, color, tr, escape(str(s))))


def panel(out, top, title, unit, scenarios, policies, value, whisker=None):
    """One log-scale grouped bar chart; value(s, p) -> number > 0 (or 0: no bar)."""
    vals = [value(s, p) for s in scenarios for p in policies]
    highs = vals + ([whisker(s, p)[1] for s in scenarios for p in policies] if whisker else [])
    lows = [v for v in vals if v > 0] or [1]
    lo = 10 ** math.floor(math.log10(min(lows)))
    hi = 10 ** math.ceil(math.log10(max(max(highs), lo * 10)))
    plot_w = WIDTH - LEFT - RIGHT

    def y(v):
        v = max(v, lo)
        return top + PANEL_H - PANEL_H * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    out.append(text(LEFT, top - 22, title, 15, "start", weight="bold"))
    d = lo
    while d <= hi * 1.0001:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (LEFT, y(d), WIDTH - RIGHT, y(d)))
        out.append(text(LEFT - 8, y(d) + 4, human(d), 11, "end", color="#555"))
        d *= 10
    out.append(text(22, top + PANEL_H / 2, unit, 12, rotate=-90, color="#555"))
    group_w = plot_w / len(scenarios)
    bar_w = min(36.0, (group_w - 24) / len(policies))
    for si, s in enumerate(scenarios):
        gx = LEFT + si * group_w + (group_w - bar_w * len(policies)) / 2
        for pi, p in enumerate(policies):
            v = value(s, p)
            x = gx + pi * bar_w
            if v > 0:
                out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>'
                           % (x + 1, y(v), bar_w - 2, top + PANEL_H - y(v), COLORS[pi % len(COLORS)],
                              escape(s), escape(p), v))
            label_y = y(v) - 4
            if whisker:
                wlo, whi = whisker(s, p)
                cx = x + bar_w / 2
                out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>' % (cx, y(wlo), cx, y(whi)))
                out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>' % (cx - 4, y(whi), cx + 4, y(whi)))
                label_y = min(label_y, y(whi) - 4)
            out.append(text(x + bar_w / 2 + 4, label_y, human(v), 10, "start", rotate=-90))
        out.append(text(LEFT + si * group_w + group_w / 2, top + PANEL_H + 18, s, 12))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>' % (LEFT, top + PANEL_H, WIDTH - RIGHT, top + PANEL_H))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench-plot.py BENCH.json OUT.svg")
    d = json.load(open(sys.argv[1]))
    scen = d["scenarios"]
    scenarios = list(scen)
    policies = list(scen[scenarios[0]])
    cpu = d["cpu"]
    height = TOP + 2 * PANEL_H + PANEL_GAP + 70
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">' % (WIDTH, height),
           '<rect width="100%" height="100%" fill="white"/>']
    out.append(text(WIDTH / 2, 28, "fpuctx bench: %s (family %s model %s), %s" % (
        cpu["brand"], cpu["family"], cpu["model"], cpu["machine"]), 17, weight="bold"))
    out.append(text(WIDTH / 2, 50, "%s, %d-byte context buffers (%s)%s" % (
        cpu["insn"], cpu["state_size"], cpu["features"], ", --quick" if d["params"]["quick"] else ""), 12))
    pp = "; ".join("%s %s (%.2fx floor)" % (p, human(d["pingpong"][p]["cycles_median"]), d["pingpong_vs_floor"][p])
                   for p in d["pingpong_vs_floor"])
    out.append(text(WIDTH / 2, 70, "ping-pong, library alone, TSC cycles per switch: " + pp, 12))
    for pi, p in enumerate(policies):
        x = LEFT + pi * 130
        out.append('<rect x="%d" y="82" width="14" height="14" fill="%s"/>' % (x, COLORS[pi % len(COLORS)]))
        out.append(text(x + 20, 94, p, 13, "start"))
    panel(out, TOP + 30, "FPU operations per run (saves + restores, exact)", "operations",
          scenarios, policies, lambda s, p: scen[s][p]["saves"] + scen[s][p]["restores"])
    panel(out, TOP + 30 + PANEL_H + PANEL_GAP, "library cycles per run (TSC; median of %d runs, whisker min..max)"
          % d["params"]["runs"], "TSC cycles", scenarios, policies,
          lambda s, p: scen[s][p]["cycles_median"],
          lambda s, p: (max(scen[s][p]["cycles_min"], 1), scen[s][p]["cycles_max"]))
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
