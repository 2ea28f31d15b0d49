"""Primitive benchmarks: vthreads side by side with its peers.

    python3 benchmarks/primitives.py [--repeat R] [--only bridge|lock|fanout]

bridge: ping-pong round trips between two worlds through a pair of queues
        (vthreads.Queue everywhere for vthreads; culsans' sync_q/async_q;
        janus-style call_soon_threadsafe into asyncio.Queue; queue.Queue
        between two threads).
lock:   1,000 tasks take turns on one lock and yield inside it.
fanout: one Event.set() wakes N waiters; ns per waiter at N/10 and N, and
        their ratio ("growth": 1.0 means linear cost).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import compare  # noqa: E402
from primitives_contenders import BENCHES  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=sorted(BENCHES))
    ap.add_argument("--python")
    a = ap.parse_args()
    if a.only in (None, "bridge"):
        who = list(BENCHES["bridge"])
        compare("primitives_contenders", "bridge", who, 20_000, a.repeat,
                "round_trips_per_s", True, a.python, base=who[0])
    if a.only in (None, "lock"):
        compare("primitives_contenders", "lock", list(BENCHES["lock"]),
                100_000, a.repeat, "acquires_per_s", True, a.python)
    if a.only in (None, "fanout"):
        compare("primitives_contenders", "fanout", list(BENCHES["fanout"]),
                10_000, a.repeat, "growth", False, a.python)


if __name__ == "__main__":
    main()
