"""Semaphore and BoundedSemaphore for every kind of waiter.

A release with waiters hands its unit straight to the oldest one, so
waiters are served in FIFO order.

Guard: ``_mutex`` guards ``_value`` and the wait queue.  Threads: any.
"""

from .. import _originals as _o
from .._core import TIMEOUT, block
from ._args import wait_deadline
from ._locks import AcquireContext
from ._waitq import WaitQueue, granted


class Semaphore(AcquireContext):
    __slots__ = ("_mutex", "_value", "_waiters", "__weakref__")

    def __init__(self, value=1):
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._mutex = _o.allocate_lock()
        self._value = value
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

    def acquire(self, blocking=True, timeout=None):
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        deadline = wait_deadline(timeout)
        if self._try_acquire():
            return True
        if not blocking:
            return False
        return block("SEMAPHORE_ACQUIRE", self, self._register,
                     self._unregister, deadline) is not TIMEOUT

    def _register(self, ticket):
        with self._mutex:
            if self._value <= 0:
                self._waiters.add(ticket)
                return
            self._value -= 1
        ticket.fire(True)

    def _unregister(self, ticket):
        with self._mutex:
            self._waiters.remove(ticket)
        if granted(ticket):
            self._give(1)

    def release(self, n=1):
        if n < 1:
            raise ValueError("n must be one or more")
        self._give(n)

    def _give(self, n):
        with self._mutex:
            self._check_bound(n)
            while n and self._waiters.wake_one(True):
                n -= 1
            self._value += n

    def _check_bound(self, n):
        pass


class BoundedSemaphore(Semaphore):
    __slots__ = ("_initial",)

    def __init__(self, value=1):
        super().__init__(value)
        self._initial = value

    def _bound_repr(self):
        return f"/{self._initial}"

    def _check_bound(self, n):
        if self._value + n > self._initial:
            raise ValueError("Semaphore released too many times")
