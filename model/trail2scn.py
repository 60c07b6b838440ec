#!/usr/bin/env python3
"""Turns a SPIN counterexample of model/fpu.pml into a scenario file.

Input: what `spin -t` prints when it replays a trail of the model compiled
with -DSIM_ORDER=1 (and, for the shortest path to a failure the simulator
sees, -DVISIBLE_ONLY=1): the lines "@ CPU ACTION ARGS" the model prints at
each step. Output: a scenario whose tasks take the same steps in the same
order on the simulated kernel, so `fpuctx run` replays the interleaving on
the real registers. Its return-to-user checks fail where the model's
assertion failed.

    model/trail2scn.py [--name NAME] [--note TEXT] STEPS_FILE > FILE.scn

The model's contexts 0, 1 and 2 become user tasks t0, t1 and t2 (a forked
child is a new `fork` task), its kernel thread the simulated idle task
(neither owns user FPU state under the policies that keep it apart). Each
step becomes the op that makes the simulated kernel take it:

    dirty X              X: dirty
    kfpu_begin/end X     X: kfpu (one op: the section begins and ends in it)
    irq_kfpu C X         X: ipi C kfpu (the interrupt hits X's CPU after the op)
    exec X, exit X       X: exec, exit
    fork X D             X: fork tD_n
    signal, sigreturn    X: signal tX usr1, and a handler holding X's steps
                         between the frame and the sigreturn
    switch C X D         X gives up CPU C: yield (D queued on C), wake D
                         (D waits on C), wait or sleep 1 (C goes idle),
                         migrate N (X's next switch-in is on CPU N)
    user X, syscall X    nothing: every op starts and ends in user space

SIM_ORDER restricts the model to these. A step with no such op (a guest
step, a remote flush the model takes apart from a switch) stops the tool
with a message naming the step. The produced scenario is only evidence once
it has run: it must pass clean under every policy and fail with the bug;
model/replay.sh checks both.
"""
import argparse
import re
import sys

KT = 3
QUIET = ("user", "syscall", "kfpu_end", "signal")  # steps that are no op of their own


class Untranslatable(Exception):
    pass


class Task:
    def __init__(self, name, cpu, fork=False):
        self.name = name
        self.cpu = cpu          # declared CPU (where it starts)
        self.fork = fork
        self.ops = []           # its program
        self.handler = None     # the signal handler's program, while one runs
        self.state = "unstarted"
        self.where = cpu        # the CPU it is on (running or queued)

        self.last = -1          # the trail step of its last op

    def emit(self, op, why=None):
        prog = self.handler if self.handler is not None else self.ops
        prog.append(op if why is None else "%-18s # %s" % (op, why))

    def after(self, steps, i, cpu):
        """Before its op for step i: if other CPUs took steps since its last
        op, spin long enough for their ops to be done (the simulated CPUs run
        in parallel; an op takes a machine step or two)."""
        others = sum(1 for s in steps[self.last + 1:i] if s[0] != cpu and s[1] not in QUIET)
        if others:
            self.emit("spin %d" % (4 * others + 2), "CPU %d's steps come first" % (1 - cpu))
        self.last = i


def parse_steps(text):
    steps = []
    for line in text.splitlines():
        m = re.search(r"@ (\d+) (\w+)((?: \d+)*)\s*$", line)
        if m:
            steps.append((int(m.group(1)), m.group(2), [int(a) for a in m.group(3).split()]))
    if not steps:
        raise Untranslatable("no steps: expected the '@ CPU ACTION ARGS' lines of spin -t")
    return steps


def translate(steps, ncpus=2):
    tasks = {0: Task("t0", 0)}
    tasks[0].state = "running"
    cur = {c: KT for c in range(ncpus)}
    cur[0] = 0
    children = {}
    declared = [tasks[0]]
    handlers = []

    def step_name(i):
        c, a, args = steps[i]
        return "step %d (%s on CPU %d)" % (i + 1, " ".join([a] + [str(x) for x in args]), c)

    def task_of(x, i):
        if x == KT:
            raise Untranslatable("%s: the kernel thread acts; in the simulator it is the idle "
                                 "task, which runs no ops" % step_name(i))
        if x not in tasks:
            t = Task("t%d" % x, steps[i][0])
            tasks[x] = t
            declared.append(t)
        return tasks[x]

    def actor(x, i, cpu=None):
        t = task_of(x, i)
        t.after(steps, i, steps[i][0] if cpu is None else cpu)
        return t

    def next_switch_in(x, i):
        for j in range(i + 1, len(steps)):
            c, a, args = steps[j]
            if a == "switch" and args[1] == x:
                return j, c
        return None, None

    for i, (c, action, args) in enumerate(steps):
        if action in ("user", "syscall", "kfpu_end", "signal"):
            continue
        if action == "dirty":
            actor(args[0], i).emit("dirty")
        elif action == "kfpu_begin":
            actor(args[0], i).emit("kfpu")
        elif action == "irq_kfpu":
            sender = args[0] if args[0] != KT else cur[1 - c]
            actor(sender, i, c if sender == args[0] else 1 - c).emit("ipi %d kfpu" % c, "the interrupt lands after this op")
        elif action == "exec":
            actor(args[0], i).emit("exec")
        elif action == "exit":
            t = actor(args[0], i)
            t.emit("exit")
            t.state = "dead"
            del tasks[args[0]]
        elif action == "fork":
            parent, d = actor(args[0], i), args[1]
            n = children.get(d, 0)
            children[d] = n + 1
            child = Task("t%d_%d" % (d, n + 1), c, fork=True)
            child.state = "queued"
            declared.append(child)
            tasks[d] = child
            parent.emit("fork %s" % child.name)
        elif action == "signal_frame":
            t = actor(args[0], i)
            t.emit("signal %s usr1" % t.name, "delivered on the way back to user space")
            t.handler = []
            handlers.append((t, t.handler))
        elif action == "sigreturn":
            t = task_of(args[0], i)
            if t.handler is None:
                raise Untranslatable("%s: sigreturn without a frame" % step_name(i))
            if not t.handler:
                t.handler.append("spin 1")
            t.handler = None
        elif action == "switch":
            x, d = args
            if x != KT:
                t = actor(x, i)
                if t.handler is not None:
                    raise Untranslatable("%s: a switch inside a signal handler" % step_name(i))
                j, n = next_switch_in(x, i)
                dt = tasks.get(d) if d != KT else None
                if n is not None and n != c:
                    t.emit("migrate %d" % n, "its next switch-in is on CPU %d" % n)
                    t.state, t.where = ("queued" if cur[n] != KT else "arriving"), n
                elif dt is not None and dt.state == "waiting" and dt.where == c:
                    t.emit("wake %s" % dt.name, "%s runs here now; %s waits in the queue" % (dt.name, t.name))
                    t.state = "queued"
                    dt.state = "running"
                elif dt is not None and dt.state == "queued" and dt.where == c and dt.last >= 0 \
                        and steps[dt.last][0] != c:
                    t.emit("spin %d" % 20, "%s arrives from CPU %d: this is where it preempts %s"
                           % (dt.name, steps[dt.last][0], t.name))
                    t.state = "queued"
                elif dt is not None and dt.state in ("queued", "unstarted") and dt.where == c:
                    t.emit("yield")
                    t.state = "queued"
                elif d == KT and n == c and j > i + 1:
                    t.emit("wait", "CPU %d idles; woken from the other CPU" % c)
                    t.state = "waiting"
                elif d == KT and n == c and j == i + 1:
                    t.emit("sleep 1", "CPU %d idles until it comes back" % c)
                    t.state = "sleeping"
                elif d == KT and n is None:
                    t.emit("sleep 1000", "it does not run again in the trail")
                    t.state = "sleeping"
                else:
                    raise Untranslatable("%s: no op gives CPU %d from %s to %s in this order"
                                         % (step_name(i), c, t.name,
                                            "the idle task" if d == KT else "t%d" % d))
            if d != KT and x == KT and tasks.get(d) and tasks[d].state == "waiting":
                w = cur[1 - c]
                if w == KT:
                    raise Untranslatable("%s: t%d waits and no task runs on the other CPU to wake it"
                                         % (step_name(i), d))
                actor(w, i, 1 - c).emit("wake t%d" % d, "back on CPU %d" % c)
            if d != KT:
                dt = task_of(d, i)
                if dt.state == "unstarted":
                    dt.cpu = dt.where = c
                    dt.last = i
                elif dt.where != c:
                    raise Untranslatable("%s: t%d is on CPU %d" % (step_name(i), d, dt.where))
                dt.state = "running"
            cur[c] = d
        else:
            raise Untranslatable("%s: no scenario op takes this step" % step_name(i))

    return declared, handlers


def render(declared, handlers, steps, name, note):
    out = []
    out.append("# %s: a counterexample of the model (model/fpu.pml), replayed." % name)
    if note:
        out.append("# %s" % note)
    out.append("# Produced by model/trail2scn.py from these steps of the SPIN trail:")
    for c, a, args in steps:
        out.append("#   CPU %d: %s" % (c, " ".join([a] + [str(x) for x in args])))
    out.append("# Contexts 0-2 are t0-t2, the kernel thread is the idle task. The")
    out.append("# return-to-user checks see what the model's assertion saw.")
    out.append("cpus 2")
    for t in declared:
        opts = "user cpu=%d%s" % (t.cpu, " fork" if t.fork else "")
        out.append("task %s %s {" % (t.name, opts))
        ops = t.ops or ["spin 1"]
        for op in ops:
            out.append("    " + op)
        out.append("}")
    for t, prog in handlers:
        out.append("handler %s usr1 {" % t.name)
        for op in prog:
            out.append("    " + op)
        out.append("}")
    out.append("expect all violations=0")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("steps", help="spin -t output (- for standard input)")
    ap.add_argument("--name", default="model-trail")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    text = sys.stdin.read() if a.steps == "-" else open(a.steps).read()
    try:
        steps = parse_steps(text)
        declared, handlers = translate(steps)
    except Untranslatable as e:
        print("trail2scn: %s" % e, file=sys.stderr)
        return 2
    sys.stdout.write(render(declared, handlers, steps, a.name, a.note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
