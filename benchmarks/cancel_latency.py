"""How fast a parked vthread reacts to cancel().

    python3 benchmarks/cancel_latency.py [--n N] [--carriers C]

N vthreads park (sleep, join, fd wait); then each is cancelled, one at a
time, from another vthread and from a plain OS thread.  Latency is from
the cancel() call to the vthread's own ``except Cancelled``.  Target:
p99 within 10 ms.
"""

import argparse
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vthreads  # noqa: E402


def pctl(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def measure(kind, n, from_thread):
    seen = {}
    a, b = socket.socketpair()
    forever = vthreads.spawn(vthreads.sleep, 3600)

    waits = {
        "sleep": lambda: vthreads.sleep(3600),
        "join": lambda: forever.join(),
        "fd": lambda: vthreads.wait_readable(a),
    }
    wait = waits[kind]

    def victim(i):
        try:
            wait()
        except vthreads.Cancelled:
            seen[i] = time.perf_counter()

    vts = [vthreads.spawn(victim, i) for i in range(n)]
    while not all("parked" in repr(v) and "YIELD" not in repr(v) for v in vts):
        time.sleep(0.01)
    sent = {}

    def cancel_all():
        for i, v in enumerate(vts):
            sent[i] = time.perf_counter()
            v.cancel()
            time.sleep(0.0005) if from_thread else vthreads.sleep(0.0005)

    if from_thread:
        t = threading.Thread(target=cancel_all)
        t.start()
        t.join()
    else:
        vthreads.spawn(cancel_all).join()
    for v in vts:
        v.join()
    forever.cancel()
    a.close()
    b.close()
    lat = [(seen[i] - sent[i]) * 1000 for i in range(n)]
    return pctl(lat, 50), pctl(lat, 99), max(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--carriers", type=int, default=None)
    a = ap.parse_args()
    if a.carriers:
        vthreads.configure(carriers=a.carriers)
    vthreads.spawn(lambda: None).join()
    from vthreads._core._runtime import current_runtime
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"python {sys.version.split()[0]} GIL={'on' if gil else 'off'} "
          f"carriers={current_runtime().size} n={a.n}")
    print("| wait | canceller | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for kind in ("sleep", "join", "fd"):
        for from_thread in (False, True):
            p50, p99, mx = measure(kind, a.n, from_thread)
            who = "OS thread" if from_thread else "vthread"
            print(f"| {kind} | {who} | {p50:.3f} | {p99:.3f} | {mx:.3f} |")


if __name__ == "__main__":
    main()
