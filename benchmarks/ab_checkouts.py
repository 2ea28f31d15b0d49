"""A/B two checkouts of vthreads on one thread-bridge pair: CPU per round
trip and round trips/s, in alternating subprocesses.

    git worktree add /tmp/before <rev>
    python3 benchmarks/ab_checkouts.py /tmp/before . [--pair thread_vthread]
                                       [--repeat 7] [--n 20000] [--python PY]

Each run imports vthreads and the bridge contender from its own checkout,
warms up, then measures ``n`` round trips: process CPU time (user +
system, ``resource.getrusage``) and voluntary context switches per round
trip, and the wall-clock rate.  CPU per round trip is the steadier figure
on a noisy machine: it counts the work both threads do, not the time
spent waiting for a CPU.  Medians over the runs.
"""

import argparse
import os
import statistics
import subprocess
import sys

CODE = r"""
import os, resource, sys, time
root = sys.argv[1]
sys.path[:0] = [root, os.path.join(root, "benchmarks")]
import primitives_contenders as c, vthreads
assert vthreads.__file__.startswith(os.path.realpath(root)), vthreads.__file__
fn, n = getattr(c, "bridge_vthreads_" + sys.argv[2]), int(sys.argv[3])
fn(n // 10)
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
fn(n)
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
print(cpu / n * 1e6, n / (t1 - t0), (r1.ru_nvcsw - r0.ru_nvcsw) / n)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--pair", default="thread_vthread",
                    choices=["thread_vthread", "coroutine_vthread",
                             "thread_coroutine"])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    roots = {"before": os.path.realpath(a.before),
             "after": os.path.realpath(a.after)}
    got = {k: [] for k in roots}
    for _ in range(a.repeat):
        for name, root in roots.items():
            r = subprocess.run([a.python, "-c", CODE, root, a.pair, str(a.n)],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                sys.exit(f"{name}: {r.stderr.strip()[-2000:]}")
            got[name].append([float(x) for x in r.stdout.split()])
    print(f"bridge {a.pair}, n={a.n}, {a.repeat} alternating runs, medians")
    print("| checkout | CPU µs/round trip | round trips/s | voluntary switches/round trip |")
    print("|---|---|---|---|")
    for name, rows in got.items():
        cpu, rate, csw = (statistics.median(col) for col in zip(*rows))
        print(f"| {name} ({roots[name]}) | {cpu:.1f} | {rate:,.0f} | {csw:.2f} |")


if __name__ == "__main__":
    main()
