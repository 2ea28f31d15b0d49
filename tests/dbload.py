"""Shared by the database tests (and benchmarks/db_pools.py): a user's
program, run under ``python -m vthreads --carriers 1`` in a fresh
interpreter, that puts a pool under concurrent load while a ticker
watches its carrier.

``run_program(*parts)`` runs the parts as one script, which starts with
``from dbload import *``.  ``load(query, n)`` calls ``query(i)`` for
every i in range(n), each in its own thread (a vthread, once patched), all
at once; it returns the answers by i, the seconds taken, and ``Ticks``:
what a ticker thread, sleeping 10 ms at a time on the same carrier, saw
between two of its wake-ups.

- ``longest``: the longest gap.  On a shared 2-core machine that is
  mostly the machine's noise: with other processes busy on both cores,
  gaps of 0.1-0.25 s come and go while the carrier holds nothing, and
  they are (to the millisecond) time the carrier's OS thread spent
  runnable, waiting for the OS to give it a CPU.
- ``held``: the longest gap less that wait, read from Linux's
  ``/proc/thread-self/schedstat`` at every tick: the time the carrier
  spent running Python or blocked in a call.  That is what a vthread
  holding the carrier costs the others, and what the tests bound (0.1 s,
  as issue 11 sets it).  A query that blocks the OS thread or computes
  for 0.2 s shows as 0.2 s (tests/test_dbload.py); the OS's choice to
  run another process does not.  Without schedstat (not Linux) the wait
  reads as 0 and held is the whole gap.

``cancel_while_running`` and ``cancel_by_deadline`` cancel a query both
ways a program can.  This module is imported by the program after
patching, so its threading is the patched one there.
"""

import collections
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

__all__ = ["load", "cancel_while_running", "cancel_by_deadline"]

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


Ticks = collections.namedtuple("Ticks", "held longest")


def _waited():
    """Seconds this OS thread has spent runnable, waiting for a CPU: the
    second field of Linux's schedstat; 0 where there is none, so that
    every gap there counts whole."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def load(query, n=100):
    answers, stop = {}, threading.Event()
    worst = [Ticks(0.0, 0.0)]

    def ticker():
        last, last_waited = time.monotonic(), _waited()
        while not stop.wait(0.01):
            now, waited = time.monotonic(), _waited()
            held = (now - last) - (waited - last_waited)
            worst[0] = Ticks(max(worst[0].held, held),
                             max(worst[0].longest, now - last))
            last, last_waited = now, waited

    def one(i):
        answers[i] = query(i)

    tick = threading.Thread(target=ticker)
    tick.start()
    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    stop.set()
    tick.join()
    return answers, elapsed, worst[0]


def cancel_while_running(fn, running):
    """Run ``fn`` in a vthread and cancel it once ``running()`` says its
    query runs in the server: it must end with Cancelled within a second."""
    import vthreads
    vt = vthreads.spawn(fn)
    while not running():
        time.sleep(0.01)
    start = time.monotonic()
    vt.cancel()
    try:
        vt.result(5)
    except vthreads.Cancelled:
        pass
    took = time.monotonic() - start
    assert vt.cancelled() and took < 1.0, (vt, took)


def cancel_by_deadline(fn):
    """Run ``fn`` in a 0.3 s cancel scope: it must end within a second."""
    import vthreads
    start = time.monotonic()
    with vthreads.move_on_after(0.3) as scope:
        fn()
    took = time.monotonic() - start
    assert scope.cancelled_caught and took < 1.3, took


def run_program(*parts, env=None, timeout=120):
    """Run ``parts`` (each dedented on its own) as one script under
    python -m vthreads on one carrier; assert it exits 0 and return its
    stdout."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [ROOT, HERE] + [p for p in [full_env.get("PYTHONPATH")] if p])
    full_env.update(env or {})
    code = "\n".join(["from dbload import *"]
                     + [textwrap.dedent(p) for p in parts])
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(code)
        script.flush()
        r = subprocess.run(
            [sys.executable, "-m", "vthreads", "--carriers", "1", script.name],
            capture_output=True, text=True, timeout=timeout, env=full_env)
    assert r.returncode == 0, (r.returncode, r.stdout[-1000:],
                               r.stderr[-3000:])
    return r.stdout
