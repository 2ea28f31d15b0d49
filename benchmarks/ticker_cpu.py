"""CPU a 1 kHz ticker costs: one vthread sleeping 1 ms in a loop for 2 s.

    python3 benchmarks/ticker_cpu.py [CHECKOUT ...] [--repeat R]

Each checkout (default: this one) runs in its own subprocess, alternating,
R rounds; the median CPU seconds (user + system) are reported.  It guards
the parking spots' spin (docs/design.md): a carrier woken by its own
timers has nobody to spin for.
"""

import argparse
import os
import statistics
import subprocess
import sys

CODE = r"""
import os, resource, sys, time
sys.path.insert(0, sys.argv[1])
import vthreads
assert vthreads.__file__.startswith(os.path.realpath(sys.argv[1]))
def main():
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 2.0:
        vthreads.sleep(0.001)
        n += 1
    return n
r0 = resource.getrusage(resource.RUSAGE_SELF)
n = vthreads.run(main, carriers=1)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, n)
"""


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("checkouts", nargs="*", default=[here])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    roots = [os.path.realpath(c) for c in a.checkouts]
    got = {r: [] for r in roots}
    for _ in range(a.repeat):
        for root in roots:
            out = subprocess.run([sys.executable, "-c", CODE, root],
                                 capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                sys.exit(out.stderr[-2000:])
            got[root].append([float(x) for x in out.stdout.split()])
    print("| checkout | CPU s for 2 s of 1 ms sleeps | ticks |")
    print("|---|---|---|")
    for root, rows in got.items():
        cpu, ticks = (statistics.median(c) for c in zip(*rows))
        print(f"| {root} | {cpu:.3f} | {ticks:.0f} |")


if __name__ == "__main__":
    main()
