"""Event for every kind of waiter.  ``set()`` wakes all waiters in one
pass over the wait queue: O(N) for N waiters, no wasted wake-ups.

Guard: ``_mutex`` guards ``_flag`` and the wait queue.  Threads: any.
"""

from __future__ import annotations

from .. import _originals as _o
from .._core import TIMEOUT, block
from ._aio import park_async
from ._args import async_timeout, wait_deadline
from ._waitq import WaitQueue


class Event:
    """A ``threading.Event`` for vthreads, OS threads and coroutines alike.

    A flag, initially false.  ``wait`` parks (or blocks) until it is set;
    ``wait_async`` awaits it from any asyncio loop.  Any task.
    """
    __slots__ = ("_mutex", "_flag", "_waiters", "__weakref__")

    def __init__(self) -> None:
        self._mutex = _o.allocate_lock()
        self._flag = False
        self._waiters = WaitQueue()

    def __repr__(self):
        return (f"<vthreads.Event at {id(self):#x}: "
                f"{'set' if self._flag else 'unset'}>")

    def _at_fork_reinit(self):
        self._mutex = _o.allocate_lock()
        self._waiters = WaitQueue()

    def isSet(self) -> bool:
        """Deprecated alias of is_set(), as in threading."""
        import warnings
        warnings.warn("isSet() is deprecated, use is_set() instead",
                      DeprecationWarning, stacklevel=2)
        return self.is_set()

    def is_set(self) -> bool:
        """True once ``set()`` was called, until ``clear()``."""
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiter.  Any task, never waits."""
        with self._mutex:
            self._flag = True
            self._waiters.wake_all(True)

    def clear(self) -> None:
        """Reset the flag; waiters from now on wait again."""
        with self._mutex:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flag is set; False if ``timeout`` seconds passed first.

        True once ``set()`` woke it, even if the flag was cleared since, as
        threading's.  A cancelled wait raises Cancelled.
        """
        deadline = wait_deadline(timeout)
        if self._flag:
            return True
        # As threading: True once set() woke us, even if cleared since.
        return block("EVENT_WAIT", self, self._register, self._unregister,
                     deadline) is not TIMEOUT

    async def wait_async(self, timeout: float | None = None) -> bool:
        """``wait`` for coroutines, on any asyncio loop; cancellable by asyncio."""
        async_timeout(timeout)
        if self._flag:
            return True
        return await park_async(self._register, self._unregister,
                                timeout) is not TIMEOUT

    def _register(self, ticket):
        with self._mutex:
            if not self._flag:
                self._waiters.add(ticket)
                return
        ticket.fire(True)

    def _unregister(self, ticket):
        with self._mutex:
            self._waiters.remove(ticket)
