"""Shared by the database tests (and benchmarks/db_pools.py): a user's
program, run under ``python -m vthreads --carriers 1`` in a fresh
interpreter, that puts a pool under concurrent load while a ticker
watches its carrier.

``run_program(*parts)`` runs the parts as one script, which starts with
``from dbload import *``.  ``load(query, n)`` calls ``query(i)`` for
every i in range(n), each in its own thread (a vthread, once patched), all
at once; it returns the answers by i, the seconds taken, and the longest
gap between the 10 ms sleeps of a ticker thread -- how long the carrier
was held.  ``cancel_while_running`` and ``cancel_by_deadline`` cancel a
query both ways a program can.  This module is imported by the program after patching, so its
threading is the patched one there.
"""

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


def load(query, n=100):
    answers, gaps, stop = {}, [0.0], threading.Event()

    def ticker():
        last = time.monotonic()
        while not stop.wait(0.01):
            now = time.monotonic()
            gaps[0] = max(gaps[0], now - last)
            last = now

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
    return answers, elapsed, gaps[0]


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
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout
