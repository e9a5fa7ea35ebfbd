#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the raw records of bench/run.sh.

Inputs: target/bench/raw.tsv (records of mpbench and py_locks.py, see mpbench.c),
target/bench/machine.tsv, callgrind outputs (target/bench/callgrind/NAME.PAIRS.out) and,
where the CPU counters exist, perf CSVs (target/bench/perf/NAME.PAIRS.csv).

Everything above MARKER in the output file is regenerated; everything below it (the
hand-written analysis) is kept as it is.

Layout: the inputs are parsed first (Raw, read_machine, IrCounts, perf_counts); then each
section of the report is one function `section_*(x, w)` that reads the Context `x` and
writes lines with `w`; SECTIONS lists them in the order they appear in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics

MARKER = "<!-- Everything below this line is hand-written analysis: bench/run.sh keeps it. -->"

# Uncontended rows, in table order: key -> label.
U_ROWS = [
    ("floor", "floor: CAS + XCHG futex lock, C, in its own .so"),
    ("floor_inline", "floor inlined into the caller (info)"),
    ("mp_lock", "**mp_lock** `acquire(l, true, MP_FOREVER)` + `release`"),
    ("mp_lock_try", "mp_lock `acquire(l, false, 0)` + `release`"),
    ("mp_lock_timed", "mp_lock `acquire(l, true, 1000)` + `release`"),
    ("mp_rlock", "**mp_rlock** acquire + release"),
    ("mp_rlock_nested", "mp_rlock re-entry (already held once)"),
    ("mp_sem", "**mp_sem** acquire + release"),
    ("mp_sem_timed", "mp_sem `acquire(s, true, 1000)` + `release`"),
    ("mp_sem_undo", "**mp_sem_undo** (`mp_sem_undo_t`) acquire + release"),
    ("pthread_pshared", "pthread_mutex_t pshared"),
    ("pthread_recursive", "pthread_mutex_t pshared recursive"),
    ("pthread_robust", "pthread_mutex_t pshared robust"),
    ("pthread_robust_recursive", "pthread_mutex_t pshared robust recursive"),
    ("pthread_robust_recursive_nested", "pthread_mutex_t pshared robust recursive, re-entry"),
    ("sem_t", "sem_t pshared (`sem_wait` + `sem_post`)"),
    ("bip_mutex", "Boost interprocess_mutex"),
    ("bip_recursive_mutex", "Boost interprocess_recursive_mutex"),
    ("bip_semaphore", "Boost interprocess_semaphore (`wait` + `post`)"),
    ("hpp_mutex", "**mpsync::mutex** (C++, mpsync.hpp) `lock()` + `unlock()`"),
    ("hpp_recursive_mutex", "**mpsync::recursive_mutex** (C++, mpsync.hpp) `lock()` + `unlock()`"),
    ("mp_array_getset", "**mp_array** `get` + `set` on a synchronized `Value('i')` (two locked accesses)"),
    ("array_raw_rlock", "the same array's RLock taken twice around a plain load / store (info)"),
]
# Each libmpsync row (and the inlined floor) is compared with a named anchor; every
# other row with the best (fastest) alternative.
U_ANCHOR = {
    "floor_inline": "floor",
    "mp_lock": "floor",
    "mp_lock_try": "floor",
    "mp_lock_timed": "floor",
    "mp_rlock": "pthread_robust_recursive",
    "mp_rlock_nested": "pthread_robust_recursive_nested",
    "mp_sem": "sem_t",
    "mp_sem_timed": "sem_t",
    "hpp_mutex": "mp_lock",
    "hpp_recursive_mutex": "mp_rlock",
    "mp_sem_undo": "sem_t",
    "mp_array_getset": "array_raw_rlock",
    "array_raw_rlock": "mp_rlock",
}
# The uncontended rows that have a target ratio against their anchor (see Targets).
U_LIMIT = {"mp_lock": 1.3, "mp_sem": 1.0, "mp_sem_undo": 1.5, "mp_rlock": 0.8, "hpp_mutex": 1.05,
           "hpp_recursive_mutex": 1.05, "mp_array_getset": 1.2}
ALTERNATIVES = [
    "pthread_pshared",
    "pthread_recursive",
    "pthread_robust",
    "pthread_robust_recursive",
    "sem_t",
    "bip_mutex",
    "bip_recursive_mutex",
    "bip_semaphore",
]
SHORT = {
    "floor": "floor",
    "mp_lock": "mp_lock from C",
    "mp_rlock": "mp_rlock from C",
    "array_raw_rlock": "lock + plain access",
    "pthread_robust_recursive": "robust recursive pthread",
    "pthread_robust_recursive_nested": "robust recursive pthread re-entry",
    "sem_t": "sem_t",
    "pthread_pshared": "pthread pshared",
    "pthread_recursive": "recursive pthread",
    "pthread_robust": "robust pthread",
    "bip_mutex": "Boost mutex",
    "bip_recursive_mutex": "Boost recursive mutex",
    "bip_semaphore": "Boost semaphore",
}

C_ROWS = [
    ("mp_lock", "**mp_lock**"),
    ("mp_rlock", "**mp_rlock**"),
    ("mp_sem", "**mp_sem** (value 1)"),
    ("floor", "floor (CAS + XCHG, no spinning)"),
    ("pthread_pshared", "pthread_mutex_t pshared"),
    ("pthread_robust", "pthread_mutex_t pshared robust"),
    ("sem_t", "sem_t pshared (value 1)"),
]
H_ROWS = [("mp_sem", "**mp_sem**"), ("sem_t", "sem_t pshared"), ("mp_lock", "mp_lock (as a binary semaphore)")]
V_ROWS = [
    ("mp_cond_rlock", "**mp_cond** + mp_rlock (`mp_cond_wait`)"),
    ("mp_cond_lock", "**mp_cond** + mp_lock (`mp_cond_wait_lock`)"),
    ("pthread_cond", "pthread_cond_t + pthread_mutex_t, pshared"),
]
P_ROWS = [
    ("py_mp_lock", "`multiprocessing.Lock()`"),
    ("py_mp_rlock", "`multiprocessing.RLock()`"),
    ("py_mp_semaphore", "`multiprocessing.Semaphore(1)`"),
    ("py_threading_lock", "`threading.Lock()` (in-process, for scale)"),
]
R_ROWS = [
    ("lock", "`Lock` acquire()+release()"),
    ("rlock", "`RLock` acquire()+release()"),
    ("semaphore", "`Semaphore(1)` acquire()+release()"),
    ("value_increment", "`with v.get_lock(): v.value += 1` on `Value('i')`"),
]
PLACEMENT = {"cross": "different CPUs", "same": "same CPU"}
IR_DETAIL = ["mp_lock", "mp_lock_timed", "mp_rlock", "mp_sem", "mp_sem_undo", "hpp_mutex",
             "hpp_recursive_mutex", "mp_array_getset"]


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, nd=1):
    return "n/a" if x is None else f"{x:.{nd}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}×"


# ------------------------------------------------------------------------------------------
# Inputs


class Raw:
    def __init__(self, path):
        self.u = collections.defaultdict(list)
        # name -> process -> ns per repetition
        self.u_proc = collections.defaultdict(lambda: collections.defaultdict(list))
        self.c = collections.defaultdict(list)
        self.h = collections.defaultdict(list)
        # (kind, key) -> {rep: value}, for ratios paired within a repetition
        self.by_rep = collections.defaultdict(dict)
        self.v = collections.defaultdict(list)
        self.a = collections.defaultdict(list)
        self.p = {}
        self.r = {}
        self.notes = []
        self.cg = None
        self.perf = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                r = line.rstrip("\n").split("\t")
                tag = r[0]
                try:
                    if tag == "U":
                        # (process, repetition): each process is a fresh one (run.sh).
                        proc = int(r[4]) if len(r) > 4 else 0
                        self.u[r[2]].append(float(r[3]))
                        self.u_proc[r[2]][proc].append(float(r[3]))
                        self.by_rep[("U", r[2])][(proc, int(r[1]))] = float(r[3])
                    elif tag == "C":
                        self.c[(r[2], int(r[3]))].append(tuple(float(x) for x in r[4:8]))
                        self.by_rep[("C", (r[2], int(r[3])))][int(r[1])] = float(r[4])
                    elif tag == "H":
                        self.h[(r[2], r[3])].append((float(r[4]), float(r[5])))
                        self.by_rep[("H50", (r[2], r[3]))][int(r[1])] = float(r[4])
                        self.by_rep[("H99", (r[2], r[3]))][int(r[1])] = float(r[5])
                    elif tag == "V":
                        self.v[(r[2], r[3])].append((float(r[4]), float(r[5])))
                        self.by_rep[("V", (r[2], r[3]))][int(r[1])] = float(r[4])
                    elif tag == "A":
                        self.a[int(r[2])].append((float(r[3]), float(r[4])))
                        self.by_rep[("A", int(r[2]))][int(r[1])] = float(r[4])
                    elif tag == "P":
                        self.p[r[1]] = tuple(float(x) for x in r[2:5])
                    elif tag == "R":
                        self.r[r[1]] = tuple(float(x) for x in r[2:5])
                    elif tag == "N":
                        if r[1] not in self.notes:  # every uncontended process prints its own
                            self.notes.append(r[1])
                    elif tag == "G":
                        self.cg = (int(r[1]), int(r[2]))
                    elif tag == "Q":
                        self.perf = (int(r[1]), int(r[2]))
                except (IndexError, ValueError):
                    self.notes.append(f"unparsed record: {line.strip()}")

    def paired(self, kind, a, b):
        """Median over repetitions of a/b measured in the same repetition: the machine's
        state (a VM's vCPU placement drifts over seconds) cancels out of the ratio. For
        the uncontended rows, the median over processes of each process's ratio
        (`per_process`)."""
        if kind == "U":
            pp = self.per_process(a, b)
            return statistics.median(pp.values()) if pp else None
        ra, rb = self.by_rep.get((kind, a), {}), self.by_rep.get((kind, b), {})
        rs = [ra[i] / rb[i] for i in ra if i in rb and rb[i]]
        return statistics.median(rs) if rs else None

    def per_process(self, a, b):
        """Uncontended rows: process -> median over its repetitions of a/b (both measured
        back to back in the same repetition of the same process)."""
        ra, rb = self.by_rep.get(("U", a), {}), self.by_rep.get(("U", b), {})
        by_proc = collections.defaultdict(list)
        for key, v in ra.items():
            if key in rb and rb[key]:
                by_proc[key[0]].append(v / rb[key])
        return {p: statistics.median(v) for p, v in by_proc.items()}

    def spread(self, a, b):
        """(smallest, largest) per-process ratio of a/b, or None."""
        pp = self.per_process(a, b)
        return (min(pp.values()), max(pp.values())) if pp else None

    def processes(self):
        """How many processes measured the uncontended rows."""
        return len({p for per in self.u_proc.values() for p in per})


def read_machine(path):
    m = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            m[k] = v
    return m


_NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")


def callgrind_self(path):
    """(summary Ir, Counter of self Ir keyed by (object, file, function))."""
    tables = {"ob": {}, "fl": {}, "fn": {}}
    which = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl",
             "fn": "fn", "cfn": "fn"}
    costs = collections.Counter()
    ob = fl = fi = fn = None
    skip = False
    summary = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip:
                    skip = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    costs[(ob, fi or fl, fn)] += int(parts[1])
                continue
            if line.startswith("calls="):
                skip = True
                continue
            if line.startswith("summary:"):
                summary = int(line.split()[1])
                continue
            key, eq, val = line.partition("=")
            if not eq or key not in which:
                continue
            table = tables[which[key]]
            m = _NAME.match(val)
            if m:
                if m.group(2) is not None:
                    table[m.group(1)] = m.group(2)
                name = table.get(m.group(1), val)
            else:
                name = val
            if key == "ob":
                ob = name
            elif key == "fl":
                fl, fi = name, None
            elif key in ("fi", "fe"):
                fi = name
            elif key == "fn":
                fn, fi = name, None
    return summary, costs


def short_obj(ob):
    if not ob:
        return "?"
    b = os.path.basename(ob)
    if b.startswith("libmpsync"):
        return "libmpsync"
    if b == "mpbench":
        return "bench loop"
    if b.startswith("libmpfloor"):
        return "libmpfloor"
    if b.startswith("libc.so"):
        return "libc"
    if b.startswith("ld-linux"):
        return "ld.so"
    if b.startswith("libstdc++"):
        return "libstdc++"
    return b


def short_file(fl):
    if not fl:
        return "?"
    m = re.search(r"/(src/.*)$", fl)
    if m and "/rustc/" not in fl and "/.cargo/" not in fl:
        return m.group(1)
    m = re.search(r"/library/(.*)$", fl)
    if m:
        return "std: " + m.group(1)
    return os.path.basename(fl)


class IrCounts:
    """Per-pair Ir by differencing two callgrind runs of `mpbench ir NAME PAIRS`."""

    def __init__(self, cgdir, small, large):
        self.total = {}
        self.by_obj = {}
        self.by_file = {}
        self.ok = True
        n = large - small
        if not os.path.isdir(cgdir):
            self.ok = False
            return
        names = sorted({f.split(".")[0] for f in os.listdir(cgdir) if f.endswith(".out")})
        for name in names:
            a, b = (os.path.join(cgdir, f"{name}.{k}.out") for k in (small, large))
            if not (os.path.exists(a) and os.path.exists(b)):
                continue
            sa, ca = callgrind_self(a)
            sb, cb = callgrind_self(b)
            if sa is None or sb is None:
                continue
            self.total[name] = (sb - sa) / n
            objs = collections.Counter()
            files = collections.Counter()
            for key in set(ca) | set(cb):
                d = cb.get(key, 0) - ca.get(key, 0)
                if d == 0:
                    continue
                objs[short_obj(key[0])] += d
                if short_obj(key[0]) == "libmpsync":
                    files[short_file(key[1])] += d
            self.by_obj[name] = {k: v / n for k, v in objs.items()}
            self.by_file[name] = {k: v / n for k, v in files.items()}


def perf_counts(perfdir, small, large):
    """name -> (cycles per pair, instructions per pair) from perf stat CSVs."""
    out = {}
    if not perfdir or not os.path.isdir(perfdir):
        return out
    names = sorted({f.split(".")[0] for f in os.listdir(perfdir) if f.endswith(".csv")})
    for name in names:
        vals = []
        for n in (small, large):
            ev = {}
            try:
                with open(os.path.join(perfdir, f"{name}.{n}.csv"), encoding="utf-8") as f:
                    for line in f:
                        r = line.strip().split(",")
                        if len(r) > 2 and r[0].replace(".", "").isdigit():
                            ev[r[2].split(":")[0]] = float(r[0])
            except OSError:
                pass
            vals.append(ev)
        try:
            d = large - small
            out[name] = (
                (vals[1]["cycles"] - vals[0]["cycles"]) / d,
                (vals[1]["instructions"] - vals[0]["instructions"]) / d,
            )
        except KeyError:
            pass
    return out


# ------------------------------------------------------------------------------------------
# Report


class Context:
    """What every section reads: the parsed inputs, the uncontended medians, and the
    median helpers over the contended (C) and hand-off (H) records."""

    def __init__(self, raw, machine, ir, perf):
        self.raw, self.machine, self.ir, self.perf = raw, machine, ir, perf
        # ns per pair: the median over processes of each process's median; and the
        # smallest and largest of those per-process medians.
        self.u = {k: med([med(v) for v in per.values()]) for k, per in raw.u_proc.items()}
        self.u_spread = {k: (min(med(v) for v in per.values()), max(med(v) for v in per.values()))
                         for k, per in raw.u_proc.items()}
        # The fastest alternative, the anchor of every row that has no named one.
        self.best_alt = min((k for k in ALTERNATIVES if self.u.get(k) is not None),
                            key=lambda k: self.u[k], default=None)

    def c_med(self, name, n, i=0):
        xs = self.raw.c.get((name, n))
        return med([x[i] for x in xs]) if xs else None

    def c_worst_min(self, name, n):
        xs = self.raw.c.get((name, n))
        return min(x[1] for x in xs) if xs else None

    def a_med(self, n, i):
        xs = self.raw.a.get(n)
        return med([x[i] for x in xs]) if xs else None

    def h_med(self, name, pl, i=0):
        xs = self.raw.h.get((name, pl))
        return med([x[i] for x in xs]) if xs else None


def compute_targets(x):
    """The targets table: (description, measured, ratio, verdict) rows."""
    raw, machine, u = x.raw, x.machine, x.u
    c_med, c_worst_min, h_med = x.c_med, x.c_worst_min, x.h_med
    targets = []

    def target(desc, value_txt, r, limit, higher_is_better=False, extra_ok=True, spread=None, worst=None):
        """`spread`: (smallest, largest) per-process ratio of an uncontended row; the verdict
        then also says whether the spread crosses the target, and `worst` is a limit that
        no process may pass."""
        if r is None:
            targets.append((desc, value_txt, "n/a", "no data"))
            return
        ok = (r >= limit if higher_is_better else r <= limit) and extra_ok
        rtxt = fmt_ratio(r)
        verdict = "**met**" if ok else "**MISSED**"
        if spread is not None:
            lo, hi = spread
            rtxt = f"{fmt_ratio(r)} (processes {lo:.2f}–{hi:.2f}×)"
            if worst is not None and hi > worst:
                verdict = f"**MISSED**: a process at {hi:.2f}× (> {worst}×)"
            elif (hi > limit) if not higher_is_better else (lo < limit):
                verdict += f" in the median; the spread crosses the target ({hi:.2f}× worst)"
        targets.append((desc, value_txt, rtxt, verdict))

    def u_target(desc, a, b, limit, worst=None):
        target(desc, f"{fmt(u.get(a))} ns vs {fmt(u.get(b))} ns", raw.paired("U", a, b), limit,
               spread=raw.spread(a, b), worst=worst)

    u_target("mp_lock uncontended ≤ 1.3× the CAS+XCHG floor", "mp_lock", "floor", 1.3)
    u_target("mp_sem uncontended ≤ 1.0× sem_t", "mp_sem", "sem_t", 1.0)
    u_target("mp_sem_undo uncontended ≤ 1.5× sem_t in the median process, no process above 1.8×",
             "mp_sem_undo", "sem_t", 1.5, worst=1.8)
    u_target("mp_rlock uncontended ≤ 0.8× robust recursive pshared pthread_mutex_t",
             "mp_rlock", "pthread_robust_recursive", 0.8)
    for k, c in (("hpp_mutex", "mp_lock"), ("hpp_recursive_mutex", "mp_rlock")):
        u_target(f"{k} (mpsync.hpp) uncontended lock()/unlock() ≤ 1.05× the C calls ({c})", k, c, 1.05)
    for k in ("mp_cond_rlock", "mp_cond_lock"):
        xs, ys = raw.v.get((k, "same")), raw.v.get(("pthread_cond", "same"))
        a, b = (med([v[0] for v in xs]) if xs else None), (med([v[0] for v in ys]) if ys else None)
        target(f"{k} round trip on one CPU ≤ 1.0× pthread_cond_t (median)",
               f"{fmt(a, 2)} µs vs {fmt(b, 2)} µs", raw.paired("V", (k, "same"), ("pthread_cond", "same")), 1.0)
    u_target("mp_array get+set ≤ 1.2× the same lock taken twice around a plain access",
             "mp_array_getset", "array_raw_rlock", 1.2)
    a1, a2 = x.a_med(1, 1), x.a_med(2, 1)
    target("mp_array get+set, 2 threads on 2 arrays ≥ 1.8× 1 thread (per CPU-second, section 4b)",
           f"{fmt(a2 and a2 / 1e6, 2)} vs {fmt(a1 and a1 / 1e6, 2)} M pairs/s", raw.paired("A", 2, 1), 1.8, True)
    for k in ("mp_lock", "mp_rlock"):
        a, b = c_med(k, 2), c_med("pthread_pshared", 2)
        ms, worst = c_med(k, 2, 1), c_worst_min(k, 2)
        txt = (f"{fmt(a and a / 1e6, 2)} vs {fmt(b and b / 1e6, 2)} M ops/s; smallest share "
               f"{fmt(ms)} % (worst rep {fmt(worst)} %)")
        target(f"{k} 2-process throughput ≥ 1.5× pshared pthread_mutex_t, neither process < 25 %",
               txt, raw.paired("C", (k, 2), ("pthread_pshared", 2)), 1.5, True, ms is not None and ms >= 25.0)
    for k in ("mp_lock", "mp_rlock"):
        a, b = c_med(k, 8), c_med(k, 2)
        target(f"{k} 8-process throughput on {machine.get('cpus', '?').split()[0]} CPUs ≥ 0.5× its 2-process figure",
               f"{fmt(a and a / 1e6, 2)} vs {fmt(b and b / 1e6, 2)} M ops/s", raw.paired("C", (k, 8), (k, 2)), 0.5, True)
    for pl in ("cross", "same"):
        a, b = h_med("mp_sem", pl), h_med("sem_t", pl)
        target(f"mp_sem hand-off latency ≤ 1.1× sem_t ({PLACEMENT[pl]}, median)",
               f"{fmt(a, 2)} µs vs {fmt(b, 2)} µs one-way", raw.paired("H50", ("mp_sem", pl), ("sem_t", pl)), 1.1)
    return targets


def section_intro(x, w):
    """Title, how the file was made, the machine, and a warning if it was busy."""
    machine = x.machine
    w("# libmpsync benchmarks\n")
    w("Generated by `" + machine.get("command", "bash bench/run.sh") + "` (one command: it installs "
      "Boost's headers if missing, runs `cargo build --release`, compiles `bench/` with `-O2` against "
      "`include/mpsync.h` and `target/release/libmpsync.so`, measures everything below side by side "
      "in one run, and rewrites this file above the analysis marker). Figures are medians over "
      "repetitions (the uncontended rows: over fresh processes, section 1); \"spread\" is the smallest "
      "and largest repetition (section 1: process). Every ratio is the median "
      "of per-repetition ratios (both sides measured back to back in the same repetition), which "
      "cancels most of the drift of a shared VM; it can therefore differ slightly from the ratio "
      "of the medians. Lower is better except for throughput. Never asserted in tests.\n")
    w("## Machine\n")
    w("| | |\n|---|---|")
    for k, label in [("cpu", "CPU"), ("cpus", "CPUs"), ("kernel", "kernel"), ("glibc", "glibc"),
                     ("rustc", "rustc"), ("cc", "C compiler"), ("python", "Python"), ("valgrind", "valgrind"),
                     ("commit", "libmpsync commit"), ("date", "run at"), ("reps", "repetitions"),
                     ("priority", "priority"), ("load_start", "load average at start"), ("load_end", "load average at end"),
                     ("elapsed", "whole run took")]:
        if k in machine:
            w(f"| {label} | {machine[k]} |")
    w("")

    busy = []
    for k in ("load_start", "load_end"):
        try:
            busy.append(float(machine.get(k, "0").split()[0]))
        except ValueError:
            pass
    if busy and max(busy) > 1.5:
        w(f"> **The machine was busy during this run** (1-minute load average up to {max(busy):.1f} on "
          f"{machine.get('cpus', '?').split()[0]} CPUs): the contended and hand-off figures below include "
          "time stolen by other work and are unreliable; the uncontended rows are timed in CPU time and "
          "are not affected much.\n")


def section_targets(x, w):
    """The targets and whether this run met them."""
    targets = compute_targets(x)
    w("## Targets\n")
    w("| target | measured | ratio | verdict |\n|---|---|---|---|")
    for t in targets:
        w("| " + " | ".join(t) + " |")
    w("")


def section_uncontended(x, w):
    """1. Uncontended acquire + release."""
    raw, ir, perf, u, best_alt = x.raw, x.ir, x.perf, x.u, x.best_alt
    w("## 1. Uncontended acquire + release\n")
    w(f"{raw.processes()} fresh processes, one after the other, each pinned to CPU 0, single-threaded, timed in thread CPU time "
      "(`CLOCK_THREAD_CPUTIME_ID`, so time slices lost to other processes do not count); every object in a `MAP_SHARED` mapping; "
      "in each process a few repetitions (1,000,000 pairs after 50,000 warm-up pairs per primitive and repetition, primitives in a rotated order, each repetition below a different stack depth and in fresh pages); every return code checked. "
      "A process keeps its own addresses and thread tokens for its whole life, and some costs depend on them "
      "(4K aliasing: see \"Undo semaphore\" below), so each figure is the **median over processes** of that "
      "process's own median, with the smallest and largest process beside it; each ratio is the median over "
      "processes of the process's paired ratio (both rows measured back to back), with its spread over processes. "
      "Ir = instructions per pair counted by callgrind (whole pair including the benchmark loop, "
      "≈ 9 Ir for the floor's loop, which checks nothing, ≈ 13-15 Ir for loops that check two return "
      "codes; see section 6). "
      "Ratio: libmpsync rows against their target anchor, other rows against the fastest "
      f"alternative in this run ({SHORT.get(best_alt, best_alt) if best_alt else 'n/a'}).\n")
    w("| primitive | ns / pair (median process) | processes' spread | Ir / pair | ratio (median process) | ratio spread over processes |\n"
      "|---|---:|---:|---:|---|---|")
    for key, label in U_ROWS:
        if not raw.u.get(key):
            continue
        anchor = U_ANCHOR.get(key, best_alt)
        r = raw.paired("U", key, anchor) if anchor else None
        rtxt = f"{fmt_ratio(r)} {SHORT.get(anchor, anchor)}" if r is not None else "n/a"
        sp = raw.spread(key, anchor) if anchor and anchor != key else None
        sptxt = f"{sp[0]:.2f}–{sp[1]:.2f}×" if sp else ""
        lim = U_LIMIT.get(key)
        if sp and lim is not None and sp[1] > lim:
            sptxt += f" (crosses the {lim}× target)"
        lo, hi = x.u_spread[key]
        irv = ir.total.get(key) if ir else None
        w(f"| {label} | {fmt(u[key], 2)} | {lo:.2f}–{hi:.2f} | {fmt(irv, 0)} | {rtxt} | {sptxt} |")
    w("")
    if perf:
        w("perf stat (user-space cycles and instructions per pair, by differencing two run lengths):\n")
        w("| primitive | cycles / pair | instructions / pair |\n|---|---:|---:|")
        for k, (cy, ins) in sorted(perf.items()):
            w(f"| {k} | {cy:.1f} | {ins:.1f} |")
        w("")


def section_contended(x, w):
    """2. Contended throughput."""
    raw = x.raw
    c_med, c_worst_min = x.c_med, x.c_worst_min
    w("## 2. Contended throughput (N processes, one shared counter)\n")
    w("Each process loops: acquire; `counter++` and ~20 busy iterations; release; ~20 busy iterations "
      "of think time. Worker i is pinned to CPU i mod (number of CPUs), so 4 and 8 processes "
      "time-share the CPUs. After the run the counter must equal the sum of the per-process counts "
      "(mutual exclusion check). Shares are each process's part of all operations (fair = 100/N %); "
      "\"ctx sw / 1k ops\" counts voluntary + involuntary context switches (a proxy for futex sleeps). "
      "The 1-process rows run the same loop without contention: the ceiling for one CPU.\n")
    w("| primitive | procs | M ops/s | spread | × pthread pshared | × own 2-proc | smallest share % "
      "(worst rep) | largest share % | ctx sw / 1k ops |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (1, 2, 4, 8):
        for key, label in C_ROWS:
            xs = raw.c.get((key, n))
            if not xs:
                continue
            ops = c_med(key, n)
            w(f"| {label} | {n} | {ops / 1e6:.2f} | {min(x[0] for x in xs) / 1e6:.2f}–"
              f"{max(x[0] for x in xs) / 1e6:.2f} | {fmt_ratio(raw.paired('C', (key, n), ('pthread_pshared', n)))} | "
              f"{fmt_ratio(raw.paired('C', (key, n), (key, 2))) if n > 2 else ''} | "
              f"{fmt(c_med(key, n, 1))} ({fmt(c_worst_min(key, n))}) | {fmt(c_med(key, n, 2))} | "
              f"{fmt(c_med(key, n, 3), 2)} |")
    w("")


def placement_rows(rows, measured):
    """(placement, key, label) for each placement, cross-CPU first, and each (key, label)
    of `rows` with records for it in `measured` (keyed by (key, placement))."""
    return ((pl, key, label) for pl in ("cross", "same") for key, label in rows
            if measured.get((key, pl)))


def section_handoff(x, w):
    """3. Two-process hand-off latency."""
    raw = x.raw
    h_med = x.h_med
    w("## 3. Two-process hand-off latency\n")
    w("Process A releases object a and acquires object b; process B acquires a and releases b (two "
      "semaphores, or two Locks used as binary semaphores). One-way latency = round trip / 2, "
      "per repetition the median and 99th percentile of 4,000 (different CPUs) or 20,000 (same CPU) "
      "round trips; the table shows the median of those over the repetitions. On a VM, cross-CPU "
      "wake-ups include the idle vCPU's halt exit and IPI.\n")
    w("| primitive | placement | median µs | p99 µs | × sem_t (median) | × sem_t (p99) |")
    w("|---|---|---:|---:|---:|---:|")
    for pl, key, label in placement_rows(H_ROWS, raw.h):
        a50, a99 = h_med(key, pl), h_med(key, pl, 1)
        w(f"| {label} | {PLACEMENT[pl]} | {a50:.2f} | {a99:.2f} | "
          f"{fmt_ratio(raw.paired('H50', (key, pl), ('sem_t', pl)))} | {fmt_ratio(raw.paired('H99', (key, pl), ('sem_t', pl)))} |")
    w("")


def section_condition(x, w):
    """4. Condition notify/wait round trip."""
    raw = x.raw
    w("## 4. Condition notify/wait round trip\n")
    if raw.v:
        w("A takes the lock, sets `turn = 1`, notifies one, waits until `turn == 0`; B takes the lock, "
          "waits until `turn == 1`, sets `turn = 0`, notifies one. Round trip = one full cycle (two "
          "notify → wake → re-acquire hand-offs). Median and p99 per repetition of 3,000 (different "
          "CPUs) or 10,000 (same CPU) cycles, then the median over repetitions.\n")
        w("| primitive | placement | round trip median µs | p99 µs | × pthread_cond_t (median) |")
        w("|---|---|---:|---:|---:|")
        for pl, key, label in placement_rows(V_ROWS, raw.v):
            xs = raw.v[(key, pl)]
            a50, a99 = med([x[0] for x in xs]), med([x[1] for x in xs])
            w(f"| {label} | {PLACEMENT[pl]} | {a50:.2f} | {a99:.2f} | {fmt_ratio(raw.paired('V', (key, pl), ('pthread_cond', pl)))} |")
    else:
        w("No Condition records in this run (`mpbench cond` did not run or failed; see the notes).")
    w("")


def section_array_threads(x, w):
    """4b. Array accesses from 1 and 2 threads."""
    raw = x.raw
    if not raw.a:
        return
    w("## 4b. Array accesses from several threads\n")
    w("One process; 1 or 2 threads, thread i pinned to CPU i, each on its own synchronized "
      "`Value('i')`, each doing 2,000,000 `mp_array_get` + `mp_array_set` pairs. \"Wall\" is all "
      "pairs over the elapsed time (other work on the machine takes CPU away from it); \"CPU\" "
      "sums each thread's pairs per second of its own CPU time (`CLOCK_THREAD_CPUTIME_ID`): what "
      "the threads achieve with a CPU each, so it shows whether they slow each other down through "
      "shared state (a lock or a written cache line) rather than through a busy machine.\n")
    w("| threads | M pairs/s wall | M pairs/s CPU | × 1 thread (CPU) |\n|---:|---:|---:|---:|")
    for n in sorted(raw.a):
        r = raw.paired("A", n, 1)
        w(f"| {n} | {fmt(x.a_med(n, 0) / 1e6, 2)} | {fmt(x.a_med(n, 1) / 1e6, 2)} | {fmt_ratio(r)} |")
    w("")


def measured_rows(rows, measured):
    """(label, record) of each (key, label) of `rows` that has a record in `measured`, in order."""
    return ((label, measured[key]) for key, label in rows if key in measured)


def section_python(x, w):
    """5. Python's locks, for reference."""
    raw, u = x.raw, x.u
    w("## 5. Python's locks, for reference\n")
    w("`timeit` of `a(); r()` (bound `acquire`/`release`) in a separate `python3` process, "
      "500,000 pairs per repetition; includes the interpreter's two method calls and loop.\n")
    w("| lock | ns / pair | spread | × mp_lock from C |\n|---|---:|---:|---:|")
    for label, (m, lo, hi) in measured_rows(P_ROWS, raw.p):
        w(f"| {label} | {m:.1f} | {lo:.1f}–{hi:.1f} | {fmt_ratio(ratio(m, u.get('mp_lock')))} |")
    w("")
    if raw.r:
        w("The `mpsync` Python package against `multiprocessing`, measured interleaved in one "
          "process by bench/py_mpsync.py (medians of the repetitions; target: ratio ≤ 1.2):\n")
        w("| operation | mpsync ns | multiprocessing ns | ratio |\n|---|---:|---:|---:|")
        for label, (ours, theirs, r) in measured_rows(R_ROWS, raw.r):
            w(f"| {label} | {ours:.1f} | {theirs:.1f} | {r:.2f} |")
        w("")


def section_callgrind(x, w):
    """6. Where the instructions go (callgrind)."""
    raw, ir = x.raw, x.ir
    if ir and ir.total:
        w("## 6. Where the instructions go (callgrind)\n")
        w(f"`valgrind --tool=callgrind mpbench ir NAME PAIRS` for PAIRS = {raw.cg[0]} and {raw.cg[1]}; "
          "per-pair Ir = difference / "
          f"{raw.cg[1] - raw.cg[0]}, so start-up and initialisation cancel. Self Ir per pair by "
          "shared object (\"bench loop\" is the calling loop in mpbench; ld.so is `__tls_get_addr`; "
          "libc in the libmpsync rows is `clock_gettime`/`syscall`). Under valgrind `clock_gettime` "
          "is a real system call, whose kernel part is not counted.\n")
        objs = ["libmpsync", "libmpfloor", "libc", "ld.so", "libstdc++", "bench loop"]
        w("| primitive | total | " + " | ".join(objs) + " |")
        w("|---|---:|" + "---:|" * len(objs))
        for key, label in U_ROWS:
            if key not in ir.total:
                continue
            bo = ir.by_obj.get(key, {})
            cells = [fmt(bo.get(o), 1) if abs(bo.get(o, 0)) >= 0.05 else "" for o in objs]
            w(f"| {label} | {ir.total[key]:.1f} | " + " | ".join(cells) + " |")
        w("")
        w("Inside libmpsync, self Ir per pair by source file (inlined code is attributed to the file "
          "it comes from; `src/raw/header.rs` is the object-header validation, `src/ffi/boundary.rs` the "
          "NULL/alignment checks and status conversion):\n")
        for key in IR_DETAIL:
            files = ir.by_file.get(key)
            if not files:
                continue
            parts = ", ".join(f"`{f}` {v:.1f}" for f, v in sorted(files.items(), key=lambda kv: -kv[1])
                              if abs(v) >= 0.05)
            w(f"- **{key}** ({sum(files.values()):.1f}): {parts}")
        w("")


def section_notes(x, w):
    """Notes that the benchmark programs printed during the run."""
    raw = x.raw
    if raw.notes:
        w("## Notes from this run\n")
        for n in raw.notes:
            w(f"- {n}")
        w("")


SECTIONS = [section_intro, section_targets, section_uncontended, section_contended, section_handoff,
            section_condition, section_array_threads, section_python, section_callgrind, section_notes]


def build(raw, machine, ir, perf):
    """The generated part of BENCHMARKS.md: every section in order."""
    out = []
    x = Context(raw, machine, ir, perf)
    for section in SECTIONS:
        section(x, out.append)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--callgrind")
    ap.add_argument("--perf")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    raw = Raw(a.raw)
    machine = read_machine(a.machine)
    ir = IrCounts(a.callgrind, *raw.cg) if raw.cg and a.callgrind else None
    perf = perf_counts(a.perf, *raw.perf) if raw.perf else {}
    text = build(raw, machine, ir, perf)
    tail = ""
    if os.path.exists(a.out):
        with open(a.out, encoding="utf-8") as f:
            old = f.read()
        if MARKER in old:
            tail = old.split(MARKER, 1)[1]
    if not tail.strip():
        tail = "\n\n## Analysis\n\n(Not written yet.)\n"
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n\n" + MARKER + tail)


if __name__ == "__main__":
    main()
