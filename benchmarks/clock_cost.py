"""What the one clock costs: two checkouts, and this one on a MockClock.

    git worktree add /tmp/before <rev before vthreads/_core/_clock.py>
    python3 benchmarks/clock_cost.py /tmp/before . [--repeat 7]

Every timer, sleep, timeout, deadline and cancel scope reads
``_clock.now()``; with no mock clock that module attribute *is* the real
monotonic function, so the real-clock column should match "before".  The
"mock" column runs the same workload under ``vthreads.testing.run`` on a
``MockClock(rate=1.0)`` (real speed, so the timers still wait): there
``now`` is the per-thread dispatcher and the clock's own method, the
price a test pays, not a production program.  Workloads, each on one
carrier in a fresh interpreter:

- ``scope``: ``with move_on_after(10): sleep(0)`` -- two clock reads and
  a scope walk per round;
- ``queue_timeout``: ``put`` then ``get(timeout=10)`` on a Queue -- a
  timed wait that does not park;
- ``short_sleep``: ``sleep(1e-6)`` -- a timer armed and fired, the
  carrier's clock reads (on the mock clock: ``_real_timeout``).

Each cell is the median CPU time (user + system) per operation over R
runs, the columns alternating.  The last columns are the ratios to
"before".
"""

import argparse
import os
import statistics
import subprocess
import sys

CODE = r"""
import os, resource, sys
sys.path.insert(0, sys.argv[1])
import vthreads
assert vthreads.__file__.startswith(os.path.realpath(sys.argv[1])), vthreads.__file__
work, mock = sys.argv[2], sys.argv[3] == "mock"

def scope(n=200_000):
    for _ in range(n):
        with vthreads.move_on_after(10):
            vthreads.sleep(0)
    return n

def queue_timeout(n=200_000):
    q = vthreads.Queue()
    for _ in range(n):
        q.put(1)
        q.get(timeout=10)
    return n

def short_sleep(n=20_000):
    for _ in range(n):
        vthreads.sleep(1e-6)
    return n

fn = globals()[work]
def main():
    fn(2_000)                   # warm up
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    ops = fn()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return cpu / ops
if mock:
    from vthreads import testing
    print(testing.run(main, clock=testing.MockClock(rate=1.0)))
else:
    print(vthreads.run(main, carriers=1))
"""

WORKS = ["scope", "queue_timeout", "short_sleep"]


def one(checkout, work, how):
    out = subprocess.run([sys.executable, "-c", CODE,
                          os.path.realpath(checkout), work, how],
                         capture_output=True, text=True, timeout=600,
                         check=True).stdout
    return float(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    columns = [("before", args.before, "real"),
               ("real clock", args.after, "real"),
               ("mock clock", args.after, "mock")]
    print(f"CPU per operation, medians of {args.repeat} alternating runs, "
          f"1 carrier; {sys.version.split()[0]}")
    print("| workload | before | real clock | mock clock "
          "| real / before | mock / before |")
    print("|---|---|---|---|---|---|")
    for work in WORKS:
        runs = {name: [] for name, _, _ in columns}
        for _ in range(args.repeat):
            for name, checkout, how in columns:
                runs[name].append(one(checkout, work, how))
        med = {name: statistics.median(v) for name, v in runs.items()}
        b = med["before"]
        print(f"| {work} | {b * 1e6:.3f} us | {med['real clock'] * 1e6:.3f} us"
              f" | {med['mock clock'] * 1e6:.3f} us"
              f" | {med['real clock'] / b:.3f} | {med['mock clock'] / b:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
