"""Per-vthread cost of starting a sleeper and of waking it (one carrier).

    python3 benchmarks/start_wake_cost.py [N]

N vthreads each sleep until one common deadline.  "start" is the time to
start them all, per vthread; "wake" is the span from the first wake-up to
the last, per vthread.  GC is off so pauses do not blur the per-item cost.
"""

import gc
import sys
import time

import vthreads


def main(n):
    wakes = []

    def sleeper(deadline):
        vthreads.sleep(deadline - time.monotonic())
        wakes.append(time.monotonic())

    t0 = time.monotonic()
    deadline = t0 + 3.0 + n / 50_000
    vts = [vthreads.spawn(sleeper, deadline) for _ in range(n)]
    vthreads.sleep(0)                     # every sleeper starts and parks
    t1 = time.monotonic()
    for vt in vts:
        vt.join()
    print(f"n={n} start {(t1 - t0) / n * 1e6:.1f} us/vthread, "
          f"wake {(wakes[-1] - wakes[0]) / n * 1e6:.1f} us/vthread")


if __name__ == "__main__":
    gc.disable()
    vthreads.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
                 carriers=1)
