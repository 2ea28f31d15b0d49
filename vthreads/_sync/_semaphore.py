"""Semaphore and BoundedSemaphore for every kind of waiter.

A release frees its units and wakes as many waiters to retry; running
tasks may take the units first, and a woken waiter that lost is handed
one on the next release (``_barging``, as for the locks).

Guard: ``_mutex`` guards ``_value``, ``_woken`` and the wait queue.
Threads: any.
"""

from __future__ import annotations

from .. import _originals as _o
from ._args import wait_deadline
from ._locks import AcquireContext
from ._waitq import WaitQueue


class Semaphore(AcquireContext):
    """A ``threading.Semaphore`` that parks vthreads instead of blocking carriers.

    A counter of ``value`` permits; ``acquire`` takes one, ``release`` gives
    back.  ``with`` and ``async with`` work as with the locks.  Any task.
    """
    _REASON = "SEMAPHORE_ACQUIRE"

    __slots__ = ("_mutex", "_value", "_woken", "_waiters", "__weakref__")

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._mutex = _o.allocate_lock()
        self._value = value
        self._woken = 0
        self._waiters = WaitQueue()

    def __repr__(self):
        # threading's own shape, then ours.
        return (f"<vthreads.{type(self).__name__} at {id(self):#x}: "
                f"value={self._value}{self._bound_repr()}>")

    def _bound_repr(self):
        return ""

    def _try_acquire(self):
        with self._mutex:
            if self._value <= 0:
                return False
            self._value -= 1
            return True

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a permit, with threading's signature and return value.

        Waits until one is free, or for ``timeout`` seconds; False if the time
        passed first, or at once if ``blocking`` is False and none is free.  A
        cancelled acquire raises Cancelled and takes no permit.
        """
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        deadline = wait_deadline(timeout)
        if self._try_acquire():
            return True
        if not blocking:
            return False
        return self._wait(deadline)

    # _barging's hooks, under _mutex.
    def _free(self):
        return self._value

    def _take(self, owner):
        self._value -= 1

    def _put_back(self):
        self._value += 1

    def release(self, n: int = 1) -> None:
        """Give back ``n`` permits; waiting acquirers take them.  Any task."""
        if n < 1:
            raise ValueError("n must be one or more")
        self._give(n)

    def _give(self, n):
        with self._mutex:
            self._check_bound(n)
            self._value += n
            if self._waiters:
                self._wake()

    def _check_bound(self, n):
        pass


class BoundedSemaphore(Semaphore):
    """A Semaphore whose ``release`` raises ValueError past the initial value."""
    __slots__ = ("_initial",)

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self._initial = value

    def _bound_repr(self):
        return f"/{self._initial}"

    def _check_bound(self, n):
        if self._value + n > self._initial:
            raise ValueError("Semaphore released too many times")
