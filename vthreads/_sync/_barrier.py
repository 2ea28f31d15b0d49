"""Barrier for every kind of waiter, with threading.Barrier's API.

Each filling of the barrier is a generation (``_Gen``); waiters keep theirs
and, once woken, read from it whether it passed or broke, so a reset that
starts the next generation still fails the waiters of the old one.

Guard: ``_mutex`` guards the current generation, the count, ``_broken``,
every ``_Gen``'s flags and the wait queue.  Threads: any.
"""

from __future__ import annotations

import operator
import threading
from typing import Callable

from .. import _originals as _o
from .._core import TIMEOUT, block, check_number
from ._aio import park_async
from ._args import async_timeout, wait_deadline
from ._waitq import WaitQueue

BrokenBarrierError = threading.BrokenBarrierError
"""threading's own: a Barrier was broken, reset or aborted under its waiters."""


class _Gen:
    __slots__ = ("passed", "broken")

    def __init__(self):
        self.passed = self.broken = False


class Barrier:
    """A ``threading.Barrier`` for vthreads, OS threads and coroutines alike.

    ``parties`` tasks call ``wait``; when the last one arrives, ``action``
    (if given) runs in it and all of them go on.  ``timeout`` is the default
    for ``wait``.  A waiter that times out or is cancelled breaks the barrier:
    the others get BrokenBarrierError.  Any task.
    """
    def __init__(self, parties: int, action: Callable[[], object] | None = None,
                 timeout: float | None = None) -> None:
        # A count that is not an integer would never be reached: a hang.
        parties = operator.index(parties)
        if parties < 1:
            raise ValueError("parties must be >= 1")
        if timeout is not None:
            check_number(timeout)
        self._mutex = _o.allocate_lock()
        self._parties = parties
        self._action = action
        self._timeout = timeout
        self._count = 0
        self._gen = _Gen()
        self._broken = False
        self._waiters = WaitQueue()

    def __repr__(self):
        if self._broken:
            return f"<vthreads.Barrier at {id(self):#x}: broken>"
        return (f"<vthreads.Barrier at {id(self):#x}: "
                f"waiters={self._count}/{self._parties}>")

    @property
    def parties(self) -> int:
        """How many tasks must arrive for the barrier to open."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """How many tasks wait at the barrier now."""
        return self._count

    @property
    def broken(self) -> bool:
        """True once the barrier is broken, until ``reset()``."""
        return self._broken

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the other parties; return an index, 0 to ``parties - 1``, unique per wait.

        BrokenBarrierError if the barrier breaks or ``timeout`` passes (which
        breaks it).  A cancelled wait breaks it too, then raises Cancelled.
        """
        if timeout is None:
            timeout = self._timeout
        deadline = wait_deadline(timeout)   # checked before we count in
        gen, index, last = self._arrive()
        if last:
            return self._trip(gen, index)
        register, unregister = self._parking(gen)
        try:
            value = block("BARRIER_WAIT", self, register, unregister,
                          deadline)
        except BaseException:
            self._break_gen(gen)            # cancelled: the others cannot pass
            raise
        return self._outcome(gen, index, value)

    async def wait_async(self, timeout: float | None = None) -> int:
        """``wait`` for coroutines, on any asyncio loop."""
        if timeout is None:
            timeout = self._timeout
        async_timeout(timeout)              # checked before we count in
        gen, index, last = self._arrive()
        if last:
            return self._trip(gen, index)
        register, unregister = self._parking(gen)
        try:
            value = await park_async(register, unregister, timeout)
        except BaseException:
            self._break_gen(gen)
            raise
        return self._outcome(gen, index, value)

    def _arrive(self):
        with self._mutex:
            if self._broken:
                raise BrokenBarrierError
            gen = self._gen
            index = self._count
            self._count += 1
            return gen, index, self._count == self._parties

    def _trip(self, gen, index):
        try:
            if self._action is not None:
                self._action()
        except BaseException:
            self.abort()
            raise
        with self._mutex:
            gen.passed = True
            self._next_generation()
        return index

    def _parking(self, gen):
        def register(ticket):
            with self._mutex:
                if gen.passed or gen.broken:
                    done = True
                else:
                    self._waiters.add(ticket)
                    done = False
            if done:
                ticket.fire(True)

        def unregister(ticket):
            with self._mutex:
                self._waiters.remove(ticket)

        return register, unregister

    def _outcome(self, gen, index, value):
        if value is TIMEOUT:
            self._break_gen(gen)
        with self._mutex:
            if gen.passed:
                return index
        raise BrokenBarrierError

    def _next_generation(self):
        # Under _mutex.
        self._count = 0
        self._gen = _Gen()
        self._waiters.wake_all(True)

    def _break_gen(self, gen):
        with self._mutex:
            if gen is self._gen and not gen.passed:
                gen.broken = True
                self._broken = True
                self._waiters.wake_all(True)

    def abort(self) -> None:
        """Put the barrier into the broken state; waiters get BrokenBarrierError."""
        with self._mutex:
            self._gen.broken = True
            self._broken = True
            self._waiters.wake_all(True)

    def reset(self) -> None:
        """Back to empty; current waiters get BrokenBarrierError."""
        with self._mutex:
            self._gen.broken = True
            self._broken = False
            self._next_generation()
