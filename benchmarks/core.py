"""Core runtime benchmarks: vthreads side by side with its peers.

    python3 benchmarks/core.py [--repeat R] [--only NAME] [--python PATH]

spawn_join: spawn N no-op tasks, then join them all (tasks/s; threads
            capped at 10,000).
pingpong:   two tasks hand the CPU to each other N times with their
            library's yield (switches/s; threads use a pair of locks).
sleepers:   N tasks each sleep 2-7 s; memory per idle task (RSS growth /
            N once all sleep) and how late each wakes (p50/p99/max).
sleepers_overlap: the same with 1-2 s sleeps, so wake-ups start while
            later sleepers are still starting (an overload test).
Contenders that are not installed are reported as unavailable.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import compare  # noqa: E402

ALL = ["vthreads", "gevent", "asyncio", "uvloop", "threads"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["spawn_join", "pingpong", "sleepers",
                                       "sleepers_overlap"])
    ap.add_argument("--python", help="interpreter to run the contenders")
    ap.add_argument("--contenders", default=",".join(ALL))
    a = ap.parse_args()
    who = a.contenders.split(",")
    if a.only in (None, "spawn_join"):
        compare("core_contenders", "spawn_join", who, 100_000, a.repeat,
                "per_s", True, a.python)
    if a.only in (None, "pingpong"):
        compare("core_contenders", "pingpong", who, 1_000_000, a.repeat,
                "switch_per_s", True, a.python)
    if a.only in (None, "sleepers"):
        compare("core_contenders", "sleepers", who, 100_000, a.repeat,
                "late_p99_ms", False, a.python)
    if a.only in (None, "sleepers_overlap"):
        compare("core_contenders", "sleepers_overlap",
                [w for w in who if w != "threads"], 100_000, a.repeat,
                "late_p99_ms", False, a.python)


if __name__ == "__main__":
    main()
