"""Why carriers harvest their own fds: inline epoll vs a poller thread.

    python3 benchmarks/poller_hop.py [--rounds N] [--repeat R]

Two vthreads play ping-pong over a socketpair, each parking until its end
is readable.  "inline" uses vthreads.wait_readable: the carrier's own epoll,
harvested by the carrier when it runs out of work.  "hop" parks on the same
tickets but a dedicated poller thread owns the epoll and hands each ready
fd to the carrier (a lock, the carrier's inbox and an eventfd wake-up):
the design the runtime rejected.  Both run in this one process, alternated.
"""

import argparse
import os
import select
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vthreads  # noqa: E402
from vthreads._core import block  # noqa: E402


class HopPoller:
    """A poller thread that owns one epoll and fires the parked tickets."""

    def __init__(self):
        self.ep = select.epoll()
        self.lock = threading.Lock()
        self.waiters = {}
        self.wake_r, self.wake_w = os.pipe()
        self.ep.register(self.wake_r, select.EPOLLIN)
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop:
            for fd, ev in self.ep.poll():
                if fd == self.wake_r:
                    continue
                with self.lock:
                    t = self.waiters.pop(fd, None)
                if t is not None:
                    t.fire(ev)

    def wait_readable(self, fd):
        def register(t):
            with self.lock:
                self.waiters[fd] = t
                mask = select.EPOLLIN | select.EPOLLONESHOT
                try:
                    self.ep.modify(fd, mask)
                except FileNotFoundError:      # new fd (or number reused)
                    self.ep.register(fd, mask)

        def unregister(t):
            with self.lock:
                if self.waiters.get(fd) is t:
                    del self.waiters[fd]

        block("HOP_READABLE", fd, register, unregister)

    def close(self):
        self.stop = True
        os.write(self.wake_w, b"x")
        self.thread.join()


def pingpong(rounds, wait):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    def side(sock, first):
        if first:
            sock.send(b"p")
        for i in range(rounds):
            wait(sock.fileno())
            sock.recv(1)
            if not (first and i == rounds - 1):
                sock.send(b"p")

    t0 = time.perf_counter()
    x, y = vthreads.spawn(side, a, True), vthreads.spawn(side, b, False)
    x.result()
    y.result()
    secs = time.perf_counter() - t0
    a.close()
    b.close()
    return rounds / secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--carriers", type=int, default=1)
    a = ap.parse_args()
    vthreads.configure(carriers=a.carriers)
    hop = HopPoller()
    inline_rates, hop_rates = [], []
    vthreads.run(pingpong, 1000, vthreads.wait_readable)       # warm up
    for _ in range(a.repeat):
        inline_rates.append(vthreads.run(pingpong, a.rounds, vthreads.wait_readable))
        hop_rates.append(vthreads.run(pingpong, a.rounds, hop.wait_readable))
    hop.close()
    i, h = statistics.median(inline_rates), statistics.median(hop_rates)
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"python {sys.version.split()[0]} GIL={'on' if gil else 'off'} "
          f"carriers={a.carriers} rounds={a.rounds} repeat={a.repeat}")
    print("| design | round trips/s (median) | ratio |")
    print("|---|---|---|")
    print(f"| inline (carrier harvests its own epoll) | {i:,.0f} | 1.00 |")
    print(f"| hop (poller thread hands fds over) | {h:,.0f} | {h / i:.2f} |")


if __name__ == "__main__":
    main()
