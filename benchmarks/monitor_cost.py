"""What the monitor costs: two checkouts, the monitor on and off, in one run.

    git worktree add /tmp/before <rev without the monitor>
    python3 benchmarks/monitor_cost.py /tmp/before . [--repeat 7]

Columns: the checkout without the monitor's counters ("before"), and this
one with ``VTHREADS_MONITOR_THRESHOLD=0`` (counters only, no monitor
thread) and with the default threshold (counters and the monitor thread).
Workloads, each on one carrier in a fresh interpreter:

- ``pingpong``: two vthreads yield to each other (``sleep(0)``) 1,000,000
  times -- the scheduler's hot path, where the counters are;
- ``socket_pingpong``: two vthreads bounce one byte over a socketpair
  100,000 times -- parks on fds and the poller;
- ``spawn_join``: 100,000 no-op vthreads spawned, then joined.

Each cell is the median CPU time (user + system) per operation over R
runs, the columns alternating; CPU time is the steadier figure on a shared
machine.  The last columns are the ratios to "before".
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
assert vthreads.__file__.startswith(os.path.realpath(sys.argv[1])), vthreads.__file__
work = sys.argv[2]

def pingpong(n=1_000_000):
    def player():
        for _ in range(n // 2):
            vthreads.sleep(0)
    a, b = vthreads.spawn(player), vthreads.spawn(player)
    a.join(); b.join()
    return n

def socket_pingpong(n=100_000):
    from vthreads._io import socketpair
    x, y = socketpair()
    def echo():
        for _ in range(n):
            y.sendall(y.recv(1))
    e = vthreads.spawn(echo)
    for _ in range(n):
        x.sendall(b"x"); x.recv(1)
    e.join()
    return 2 * n

def spawn_join(n=100_000):
    vts = [vthreads.spawn(lambda: None) for _ in range(n)]
    for vt in vts:
        vt.join()
    return n

fn = globals()[work]
def main():
    fn(10_000)                  # warm up
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    ops = fn()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return cpu / ops
print(vthreads.run(main, carriers=1))
"""

WORKS = ["pingpong", "socket_pingpong", "spawn_join"]


def one(checkout, work, threshold):
    env = dict(os.environ)
    env.pop("VTHREADS_MONITOR_THRESHOLD", None)
    if threshold is not None:
        env["VTHREADS_MONITOR_THRESHOLD"] = threshold
    out = subprocess.run([sys.executable, "-c", CODE,
                          os.path.realpath(checkout), work],
                         capture_output=True, text=True, env=env,
                         timeout=600, check=True).stdout
    return float(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    columns = [("before", args.before, None),
               ("monitor off", args.after, "0"),
               ("monitor on", args.after, None)]
    print(f"CPU per operation, medians of {args.repeat} alternating runs, "
          f"1 carrier; {sys.version.split()[0]}")
    print("| workload | before | monitor off | monitor on "
          "| off / before | on / before |")
    print("|---|---|---|---|---|---|")
    for work in WORKS:
        runs = {name: [] for name, _, _ in columns}
        for _ in range(args.repeat):
            for name, checkout, threshold in columns:
                runs[name].append(one(checkout, work, threshold))
        med = {name: statistics.median(v) for name, v in runs.items()}
        b = med["before"]
        print(f"| {work} | {b * 1e6:.3f} us | {med['monitor off'] * 1e6:.3f} us"
              f" | {med['monitor on'] * 1e6:.3f} us"
              f" | {med['monitor off'] / b:.3f} | {med['monitor on'] / b:.3f} |")


if __name__ == "__main__":
    main()
