"""How long a spawn from an OS thread takes to start on a dozing carrier,
for two checkouts, optionally with CPU hogs competing for the cores.

    python benchmarks/doze_wake.py OLD NEW [--load 4] [--rounds 3]

One carrier, monitor off.  The main thread sleeps 20 ms (the carrier
goes idle and dozes), spawns a vthread that records how long after the
spawn it started, and joins it; 40 times per run.  ``--load N`` starts N
busy-looping processes for the whole measurement: on a free-threaded
build the dozing carrier first spins on ``sched_yield``, and each yield
can give a hog a whole time slice.  Prints median, p90 and max per run,
the checkouts alternating.
"""

import argparse
import os
import subprocess
import sys

CODE = r"""
import os, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import vthreads
assert vthreads.__file__.startswith(os.path.realpath(sys.argv[1])), vthreads.__file__
vthreads.configure(carriers=1, monitor_threshold=0)
lat = []
def mark(t):
    lat.append(time.monotonic() - t)
for _ in range(40):
    time.sleep(0.02)
    vthreads.spawn(mark, time.monotonic()).join()
lat.sort()
print("median %7.2f ms  p90 %7.2f ms  max %7.2f ms" % (
    statistics.median(lat) * 1e3, lat[int(len(lat) * 0.9)] * 1e3,
    lat[-1] * 1e3))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkouts", nargs="+")
    ap.add_argument("--load", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(a.load)]
    try:
        print(f"{sys.version.split()[0]}, {a.load} CPU hogs, "
              f"{os.cpu_count()} CPUs")
        for _ in range(a.rounds):
            for path in a.checkouts:
                out = subprocess.run(
                    [sys.executable, "-c", CODE, os.path.abspath(path)],
                    capture_output=True, text=True, check=True, timeout=600)
                print(f"{path:>20}: {out.stdout.strip()}")
    finally:
        for h in hogs:
            h.kill()
            h.wait()


if __name__ == "__main__":
    main()
