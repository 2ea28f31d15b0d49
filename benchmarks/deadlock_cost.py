"""What deadlock detection costs: run() with its watch on against off.

    python3 benchmarks/deadlock_cost.py [--repeat 7] [--carriers 1 2] [--works ...]

The watch adds nothing to park or unpark; a carrier that falls asleep
with no timer and no fd reads one flag per carrier, and only when every
carrier is asleep that way does it take their locks and wake the main
thread (vthreads/_core/_deadlock.py).  The workloads make carriers fall
asleep that way as often as they can:

- ``queue_pingpong``: two vthreads bounce an item through two Queues (on
  one carrier they hand over without sleeping; on two, each hand-over
  may put a carrier to sleep);
- ``thread_pingpong``: a vthread and a plain OS thread bounce an item
  through two Queues -- every round the carriers all fall asleep with
  only that thread to wake them, the case where the watch keeps
  suspecting and the OS thread keeps it from reporting;
- ``spawn_join``: spawn a vthread that returns at once, join it.

Each runs under ``vthreads.run()`` in a fresh interpreter, with the watch
on (the default) or off (``_deadlock.enabled = False``), the two
alternating.  A cell is the median CPU time of the whole process (user +
system, every thread: the main thread's judging included) per round over
R runs; the last column is on / off.

``--leaks`` instead times one ``vthreads.leaks()`` (its ``gc.collect()``
and its walk) in a program holding N extra small objects, with 100
vthreads parked on queues: the wall time, during which the carriers
pause.
"""

import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CODE = r"""
import resource, sys, threading
sys.path.insert(0, sys.argv[1])
import vthreads
from vthreads._core import _deadlock
work, on, carriers = sys.argv[2], sys.argv[3] == "on", int(sys.argv[4])
_deadlock.enabled = on

def queue_pingpong(n=50_000):
    a, b = vthreads.Queue(), vthreads.Queue()
    def other():
        for _ in range(n):
            b.put(a.get())
    t = vthreads.spawn(other)
    for i in range(n):
        a.put(i)
        b.get()
    t.join()
    return n

def thread_pingpong(n=10_000):
    a, b = vthreads.Queue(), vthreads.Queue()
    def other():
        for _ in range(n):
            b.put(a.get())
    t = threading.Thread(target=other)
    t.start()
    for i in range(n):
        a.put(i)
        b.get()
    t.join()
    return n

def spawn_join(n=50_000):
    for _ in range(n):
        vthreads.spawn(int).join()
    return n

fn = globals()[work]
def main():
    fn(1_000)                   # warm up
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    ops = fn()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) / ops
print(vthreads.run(main, carriers=carriers))
"""

WORKS = ["queue_pingpong", "thread_pingpong", "spawn_join"]

LEAKS = r"""
import gc, sys, time
sys.path.insert(0, sys.argv[1])
import vthreads
junk = [{"a": [i], "b": (i, str(i))} for i in range(int(sys.argv[2]))]
def main():
    qs = [vthreads.Queue() for _ in range(100)]
    vts = [vthreads.spawn(q.get) for q in qs]
    while vthreads.statistics().vthreads.get("parked", 0) < 100:
        vthreads.sleep(0.001)
    t0 = time.perf_counter()
    found = vthreads.leaks()
    t = time.perf_counter() - t0
    assert found == [], found
    for q in qs:
        q.put(None)
    return len(gc.get_objects()), t
print(*vthreads.run(main))
"""


def leaks_cost(repeat):
    print(f"one leaks() call, medians of {repeat} runs; "
          f"{sys.version.split()[0]}")
    print("| objects tracked by gc | leaks() |")
    print("|---|---|")
    for extra in (0, 100_000, 1_000_000):
        runs = []
        for _ in range(repeat):
            out = subprocess.run([sys.executable, "-c", LEAKS, ROOT,
                                  str(extra)], capture_output=True,
                                 text=True, timeout=600, check=True).stdout
            n, t = out.split()
            runs.append(float(t))
        print(f"| {int(n):,} | {statistics.median(runs) * 1e3:.0f} ms |",
              flush=True)


def one(work, how, carriers):
    out = subprocess.run([sys.executable, "-c", CODE, ROOT, work, how,
                          str(carriers)],
                         capture_output=True, text=True, timeout=600,
                         check=True).stdout
    return float(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--carriers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--works", nargs="+", default=WORKS, choices=WORKS)
    ap.add_argument("--leaks", action="store_true",
                    help="time leaks() instead")
    args = ap.parse_args()
    if args.leaks:
        leaks_cost(args.repeat)
        return
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"CPU per round, medians of {args.repeat} alternating runs; "
          f"{sys.version.split()[0]}, GIL {'on' if gil else 'off'}")
    print("| workload | carriers | watch off | watch on | on / off |")
    print("|---|---|---|---|---|")
    for carriers in args.carriers:
        for work in args.works:
            runs = {"off": [], "on": []}
            for _ in range(args.repeat):
                for how in ("off", "on"):
                    runs[how].append(one(work, how, carriers))
            off = statistics.median(runs["off"])
            on = statistics.median(runs["on"])
            print(f"| {work} | {carriers} | {off * 1e6:.2f} us "
                  f"| {on * 1e6:.2f} us | {on / off:.3f} |", flush=True)


if __name__ == "__main__":
    main()
