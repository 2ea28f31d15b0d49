"""Compensation for a blocked carrier: how long work spawned while the only
carrier is held waits before it runs.

    python3 benchmarks/compensation.py [--repeat 5] [--thresholds 0.1,0.05]

Each run is a fresh interpreter with ``carriers=1`` and the monitor's
threshold given.  A vthread holds the carrier for 1.5 s in the original,
unpatched ``time.sleep`` (a C call that does not park); an OS thread
spawns 100 no-op vthreads, each of which records when it ran.  Three
moments for the spawn:

- ``at once``: just after the blocker started -- the monitor has not seen
  the stall yet, so the wait is its detection time (a threshold, plus up
  to half a threshold between its looks) and an extra carrier's start;
- ``reported``: once ``statistics()`` shows the carrier blocked and no
  extra carrier runs yet -- the spawn nudges the monitor, which starts
  one at once;
- ``extra up``: once an extra carrier already runs (it sleeps, and the
  spawn wakes it as it would any sleeping carrier).

Columns: the median over the runs of the median and of the largest
spawn-to-done time of the 100 (milliseconds), and how many of the
runs' 100 vthreads all finished before the blocker returned.
"""

import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CODE = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import vthreads
from vthreads import _originals
moment, threshold = sys.argv[2], float(sys.argv[3])
vthreads.configure(carriers=1, monitor_threshold=threshold)
entered = _originals.allocate_lock(); entered.acquire()
returned = []

def hold():
    entered.release()
    _originals.sleep(1.5)
    returned.append(time.monotonic())

def wait_for(cond):
    end = time.monotonic() + 10
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("timed out: " + moment)
        time.sleep(0.001)

if moment == "extra up":
    # A first blocker makes an extra carrier; then hold the carrier again.
    first = vthreads.spawn(hold)
    entered.acquire()
    vthreads.spawn(lambda: None).join()     # on the extra carrier
    first.join()
    returned.clear()
    assert vthreads.statistics().extra_carriers == 1
blocker = vthreads.spawn(hold)
entered.acquire()
if moment == "reported":
    wait_for(lambda: vthreads.statistics().carriers[0].blocked)
done = [None] * 100

def work(i):
    done[i] = time.monotonic()

spawned = []
vts = []
for i in range(100):
    spawned.append(time.monotonic())
    vts.append(vthreads.spawn(work, i))
for vt in vts:
    vt.join()
blocker.join()
lat = sorted((d - s) * 1000 for d, s in zip(done, spawned))
print(json.dumps({"median": statistics.median(lat),
                  "max": lat[-1],
                  "before_blocker": max(done) < returned[0]}))
"""

MOMENTS = ("at once", "reported", "extra up")


def run(moment, threshold):
    import json
    r = subprocess.run([sys.executable, "-c", CODE, ROOT, moment,
                        str(threshold)], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--thresholds", default="0.1,0.05")
    args = p.parse_args()
    thresholds = [float(t) for t in args.thresholds.split(",")]
    print(f"{sys.implementation.name} {sys.version.split()[0]}, "
          f"carriers=1, 100 vthreads, repeat {args.repeat}")
    print("| threshold | spawned | median ms | max ms | all done first |")
    print("|---|---|---|---|---|")
    for th in thresholds:
        results = {m: [] for m in MOMENTS}
        for _ in range(args.repeat):
            for m in MOMENTS:           # alternating
                results[m].append(run(m, th))
        for m in MOMENTS:
            rs = results[m]
            med = statistics.median(r["median"] for r in rs)
            mx = statistics.median(r["max"] for r in rs)
            first = sum(r["before_blocker"] for r in rs)
            print(f"| {th * 1000:.0f} ms | {m} | {med:.1f} | {mx:.1f} | "
                  f"{first}/{len(rs)} |")


if __name__ == "__main__":
    main()
