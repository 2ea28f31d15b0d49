"""Instructions per operation on the hot paths, counted by callgrind.

Wall-clock time on a shared machine moves by tens of percent from one run
to the next; the number of instructions the CPU executes for the same
program does not.  Each workload below runs under ``valgrind
--tool=callgrind`` twice, with ``SMALL`` and ``LARGE`` operations, and
the difference of the two totals over ``LARGE - SMALL`` is the cost of
one operation: interpreter start-up, imports and the runtime's start
cancel out.

    python3 benchmarks/instructions.py            # print the counts
    python3 benchmarks/instructions.py --check    # and hold them to the budget
    python3 benchmarks/instructions.py --update   # write them as the budget

The budget (benchmarks/instruction_budget.json) is kept per interpreter
(version, GIL or not) and per path (C parking spots or not); ``--check``
fails when a workload costs more than its budget by more than the
tolerance, and says so when one has become much cheaper (then
``--update`` it, so the next regression is seen).  An interpreter with
no budget entry is reported and skipped, not failed.  CI runs ``--check``
on the default lane (.ci/run).

Counts are repeatable for the same binary and environment; what still
moves them a little -- the hash seed, the lengths of paths in tracebacks,
the garbage collector's timing -- is fixed here (PYTHONHASHSEED=0, gc off
in the workload) or is far below the tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUDGET = os.path.join(HERE, "instruction_budget.json")
SMALL, LARGE = 1000, 6000
TOLERANCE = 0.10        # more than 10% over budget fails the check
CHEAPER = 0.25          # 25% under budget: time to --update it

# Each workload is the body of main(n) in a vthread on one carrier.
WORKLOADS = {
    # The scheduler loop: two vthreads taking turns through checkpoint().
    "yield": """
def main(n):
    def spin():
        for _ in range(n):
            vthreads.checkpoint()
    a = vthreads.spawn(spin); b = vthreads.spawn(spin)
    a.join(); b.join()
""",
    # Spawn and join: a new vthread started, run and finished.
    "spawn": """
def main(n):
    for _ in range(n):
        vthreads.spawn(int).join()
""",
    # Park and unpark: two vthreads handing a semaphore's permits back and
    # forth, each acquire parks and each release wakes the other.
    "park": """
def main(n):
    ping = vthreads.Semaphore(0); pong = vthreads.Semaphore(0)
    def other():
        for _ in range(n):
            ping.acquire(); pong.release()
    t = vthreads.spawn(other)
    for _ in range(n):
        ping.release(); pong.acquire()
    t.join()
""",
    # A queue round trip: a request through one Queue, the reply back
    # through another.
    "queue": """
def main(n):
    req = vthreads.Queue(); rep = vthreads.Queue()
    def server():
        for _ in range(n):
            rep.put(req.get())
    t = vthreads.spawn(server)
    for i in range(n):
        req.put(i); rep.get()
    t.join()
""",
    # A socket wait: one byte each way over a socketpair; each recv finds
    # nothing and parks on the poller until the other side sends.
    "socket": """
import socket
def main(n):
    a, b = socket.socketpair()
    def echo():
        for _ in range(n):
            b.sendall(b.recv(1))
    t = vthreads.spawn(echo)
    for _ in range(n):
        a.sendall(b"x"); a.recv(1)
    t.join()
""",
}

PROGRAM = """
import gc, sys
import vthreads
from vthreads import monkey
monkey.patch_all()
{body}
gc.disable()
vthreads.run(main, int(sys.argv[1]), carriers=1)
"""


def key():
    """The budget entry this interpreter and path are held to, for the
    vthreads the workloads run: this checkout's."""
    sys.path.insert(0, ROOT)
    from vthreads._core import _spot
    assert _spot.__file__.startswith(ROOT + os.sep), _spot.__file__
    ft = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    native = "native" if _spot.AVAILABLE else "python"
    return f"{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}{ft}-{native}"


def count(body, n, workdir):
    """Total instructions of the workload's program with ``n`` operations."""
    prog = os.path.join(workdir, "prog.py")
    with open(prog, "w") as f:
        f.write(PROGRAM.format(body=body))
    out = os.path.join(workdir, "callgrind.out")
    env = dict(os.environ, PYTHONHASHSEED="0", VTHREADS_MONITOR_THRESHOLD="0",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("VTHREADS_CARRIERS", None)
    r = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, prog, str(n)],
        env=env, cwd=workdir, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"the workload failed under valgrind:\n{r.stderr[-3000:]}")
    # "Collected : N" in stderr, or the totals line of the output file.
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if m is None:
        with open(out) as f:
            m = re.search(r"^(?:summary|totals):\s*(\d+)", f.read(), re.M)
    if m is None:
        raise RuntimeError("no instruction total in callgrind's output")
    return int(m.group(1))


def measure(names):
    results = {}
    with tempfile.TemporaryDirectory(prefix="vthreads-callgrind-") as d:
        for name in names:
            body = WORKLOADS[name]
            small = count(body, SMALL, d)
            large = count(body, LARGE, d)
            results[name] = round((large - small) / (LARGE - SMALL))
            print(f"{name:8} {results[name]:>8,} instructions per operation",
                  flush=True)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true",
                   help="fail when a workload is over its budget")
    g.add_argument("--update", action="store_true",
                   help="write the counts as this interpreter's budget")
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                   help=f"which to count: {', '.join(WORKLOADS)} (default: all)")
    args = p.parse_args(argv)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOADS)}")
    if shutil.which("valgrind") is None:
        p.error("valgrind is not installed (Debian: apt-get install valgrind)")
    names = args.workloads or list(WORKLOADS)
    k = key()
    print(f"{k}: {sys.executable}")
    results = measure(names)
    try:
        with open(BUDGET) as f:
            budget = json.load(f)
    except FileNotFoundError:
        budget = {}
    if args.update:
        budget.setdefault(k, {}).update(results)
        with open(BUDGET, "w") as f:
            json.dump(budget, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"budget for {k} written to {os.path.relpath(BUDGET)}")
        return 0
    if not args.check:
        return 0
    mine = budget.get(k)
    if mine is None:
        print(f"no budget for {k}: not checked")
        return 0
    failed = False
    for name, got in results.items():
        want = mine.get(name)
        if want is None:
            print(f"{name}: no budget")
            continue
        ratio = got / want
        verdict = "ok"
        if ratio > 1 + TOLERANCE:
            verdict = f"OVER BUDGET by more than {TOLERANCE:.0%}"
            failed = True
        elif ratio < 1 - CHEAPER:
            verdict = "much cheaper than the budget: --update it"
        print(f"{name:8} {got:>8,} against {want:>8,} ({ratio:.2f}x): {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
