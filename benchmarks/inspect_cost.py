"""What the inspect listener and the dumps cost, in one run.

    python3 benchmarks/inspect_cost.py [--repeat 15] [--vthreads 10000]

1. Start-up: a fresh interpreter imports vthreads, then times the start of
   the runtime (``get_runtime()``: carriers, monitor and, when on, the
   listener's directory check, bind and thread) and the first spawn and
   join, with ``VTHREADS_INSPECT=0`` and with the default (on), the two
   alternating; medians and their ratio.
2. The hot path with and without the listener: ``sleep(0)`` ping-pong,
   CPU time per switch, medians and ratio (nothing on it reads the
   listener, so the ratio is noise around 1).
3. A dump of N parked vthreads (each on its own Event, a few frames
   deep), on one carrier: ``dump(format="text")``, ``dump(format="json")``
   and the whole round trip of ``python -m vthreads ps --json`` through the
   socket (``_ps.fetch``, from another process), each the median of 5.

Everything runs on this checkout, one carrier.
"""

import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

START = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import vthreads
from vthreads._core._runtime import get_runtime
t0 = time.perf_counter()
get_runtime(1)
t1 = time.perf_counter()
vthreads.spawn(lambda: None).join()
t2 = time.perf_counter()
print(t1 - t0, t2 - t0)
"""

PINGPONG = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import vthreads
def main(n=400_000):
    def player():
        for _ in range(n // 2):
            vthreads.sleep(0)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    a, b = vthreads.spawn(player), vthreads.spawn(player)
    a.join(); b.join()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) / n
print(vthreads.run(main, carriers=1))
"""

DUMP = r"""
import os, statistics, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import vthreads
N = int(sys.argv[2])

def deep(ev, k):
    if k:
        return deep(ev, k - 1)
    ev.wait()

def main():
    evs = [vthreads.Event() for _ in range(N)]
    vts = [vthreads.spawn(deep, ev, 3) for ev in evs]
    while vts[-1]._state != "parked":
        vthreads.sleep(0.01)
    out = {}
    for fmt in ("text", "json"):
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            report = vthreads.dump(file=False, format=fmt, timeout=60)
            ts.append(time.perf_counter() - t0)
        out[fmt] = (statistics.median(ts), len(report))
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); "
            "from vthreads._ps import fetch; ts = []\n"
            "for _ in range(5):\n"
            "    t0 = time.perf_counter(); d = fetch(int(sys.argv[2]), 60.0)\n"
            "    ts.append(time.perf_counter() - t0)\n"
            "assert len(d['vthreads']) > int(sys.argv[3]), len(d['vthreads'])\n"
            "ts.sort(); print(ts[2])")
    r = vthreads.to_thread(subprocess.run,
                           [sys.executable, "-c", code, sys.argv[1],
                            str(os.getpid()), str(N)],
                           capture_output=True, text=True, timeout=600)
    out["ps --json"] = (float(r.stdout) if r.returncode == 0 else r.stderr, 0)
    for ev in evs:
        ev.set()
    for vt in vts:
        vt.join()
    return out

for k, (t, size) in vthreads.run(main, carriers=1).items():
    print(k, t, size)
"""


def run(code, *args, inspect=True):
    env = dict(os.environ)
    env.pop("VTHREADS_INSPECT", None)
    if not inspect:
        env["VTHREADS_INSPECT"] = "0"
    return subprocess.run([sys.executable, "-c", code, ROOT, *map(str, args)],
                          capture_output=True, text=True, env=env,
                          timeout=900, check=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--vthreads", type=int, default=10_000)
    args = ap.parse_args()
    print(f"{sys.version.split()[0]}, one carrier, medians of "
          f"{args.repeat} alternating runs")

    start = {True: [], False: []}
    first = {True: [], False: []}
    pp = {True: [], False: []}
    for _ in range(args.repeat):
        for on in (False, True):
            a, b = map(float, run(START, inspect=on).split())
            start[on].append(a)
            first[on].append(b)
            pp[on].append(float(run(PINGPONG, inspect=on)))
    med = {k: {on: statistics.median(v[on]) for on in v}
           for k, v in (("start", start), ("first", first), ("pp", pp))}
    print("| | inspect off | inspect on | on / off |")
    print("|---|---|---|---|")
    for key, label, unit, scale in (
            ("start", "runtime start", "ms", 1e3),
            ("first", "runtime start + first spawn/join", "ms", 1e3),
            ("pp", "sleep(0) ping-pong, CPU per switch", "us", 1e6)):
        off, on = med[key][False], med[key][True]
        print(f"| {label} | {off * scale:.3f} {unit} | {on * scale:.3f} {unit}"
              f" | {on / off:.3f} |")

    print()
    print(f"dump of {args.vthreads} parked vthreads (median of 5):")
    for line in run(DUMP, args.vthreads).splitlines():
        what, t, size = line.rsplit(" ", 2)
        try:
            t = f"{float(t) * 1e3:.1f} ms ({float(t) / args.vthreads * 1e6:.1f} us per vthread)"
        except ValueError:
            pass
        extra = f", {int(size) / 1e6:.1f} MB" if int(size) else ""
        print(f"  {what}: {t}{extra}")


if __name__ == "__main__":
    main()
