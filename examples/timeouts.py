"""Plain blocking code, ten thousand at a time, with timeouts.

    python3 examples/timeouts.py [N]

Each "request" sleeps a random time standing in for slow I/O.  A TaskGroup
runs them all; fail_after() gives each one a deadline, and the ones that
miss it are counted instead of waited for.  A plain OS thread uses the same
cancel scope at the end.

The requests report through their return values, not a shared counter:
with the GIL off, vthreads on two carriers run at the same instant, and
``counter += 1`` from both would lose updates.
"""

import random
import sys
import threading
import time

import vthreads


def request(i):
    try:
        with vthreads.fail_after(0.5):
            vthreads.sleep(random.uniform(0.1, 0.7))    # the "slow I/O"
        return "ok"
    except TimeoutError:
        return "timed out"


def main(n):
    t0 = time.monotonic()
    with vthreads.TaskGroup() as tg:
        requests = [tg.spawn(request, i) for i in range(n)]
    took = time.monotonic() - t0
    results = {"ok": 0, "timed out": 0}
    for r in requests:
        results[r.result()] += 1
    print(f"{n} requests in {took:.2f}s: {results['ok']} ok, "
          f"{results['timed out']} timed out after 0.5s")
    return results


def in_a_plain_thread():
    with vthreads.move_on_after(0.2) as scope:
        vthreads.sleep(10)          # a library call: cancellable here too
    print(f"plain thread: gave up after 0.2s (cancelled_caught={scope.cancelled_caught})")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    r = vthreads.run(main, n)
    assert r["ok"] + r["timed out"] == n
    t = threading.Thread(target=in_a_plain_thread)
    t.start()
    t.join()
