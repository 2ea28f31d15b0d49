"""Condition for every kind of waiter, over a vthreads Lock or RLock.

``wait`` registers before it releases the lock, so a notify (which needs
the lock) can never fall between the two.  The lock is taken back before
``wait`` returns or raises -- shielded from cancellation, as threading
guarantees the lock is held again on every exit.

Guard: the condition's lock guards the wait queue (threading's rule:
wait and notify only with the lock held).  Threads: any.
"""

from __future__ import annotations

import asyncio
import numbers
from typing import Any, Callable, TypeVar

from .. import _originals as _o
from .._core import clock as _clock
from .._core import TIMEOUT, CancelScope, block, check_number
from ._aio import park_async
from ._args import wait_deadline
from ._locks import RLock
from ._waitq import WaitQueue


_T = TypeVar("_T")


class Condition:
    """A ``threading.Condition`` over a vthreads Lock or RLock (default: a new RLock).

    ``wait`` and ``notify`` need the lock held, as threading's.  The lock is
    taken back before ``wait`` returns or raises, even when it is
    cancelled (shielded).  Any task.
    """
    def __init__(self, lock: Any = None) -> None:
        if lock is None:
            lock = RLock()
        self._lock = lock
        self.acquire = lock.acquire
        """The lock's ``acquire``."""
        self.release = lock.release
        """The lock's ``release``."""
        self._waiters = WaitQueue()

    def __repr__(self):
        return f"<vthreads.Condition({self._lock!r}, waiters={len(self._waiters)})>"

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(self, *exc: Any) -> None:
        return self._lock.__exit__(*exc)

    async def __aenter__(self) -> None:
        return await self._lock.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        return await self._lock.__aexit__(*exc)

    def _at_fork_reinit(self):
        self._lock._at_fork_reinit()
        self._waiters = WaitQueue()

    def _is_owned(self):
        own = getattr(self._lock, "_is_owned", None)
        if own is not None:
            return own()
        # A plain Lock has no owner: "owned" means locked, as threading.
        if self._lock.acquire(False):
            self._lock.release()
            return False
        return True

    def _release_save(self):
        save = getattr(self._lock, "_release_save", None)
        if save is not None:
            return save()
        self._lock.release()
        return None

    def _acquire_restore(self, state):
        restore = getattr(self._lock, "_acquire_restore", None)
        if restore is not None:
            restore(state)
        else:
            self._lock.acquire()

    def _parking(self):
        """register/unregister for one wait, and what to restore after."""
        box = {"released": False, "state": None}

        def register(ticket):
            self._waiters.add(ticket)     # still under the lock
            if not box["released"]:
                box["state"] = self._release_save()
                box["released"] = True

        def unregister(ticket):
            # Without the lock: WaitQueue.remove is one OrderedDict op, and
            # a notifier that already popped this ticket just fails to fire.
            self._waiters.remove(ticket)

        return box, register, unregister

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait for a notify, take the lock back.

        False if ``timeout`` seconds passed first.  A cancelled wait takes the
        lock back, then raises Cancelled.
        """
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        deadline = wait_deadline(timeout)
        box, register, unregister = self._parking()
        try:
            return block("CONDITION_WAIT", self, register, unregister,
                         deadline) is not TIMEOUT
        finally:
            if box["released"]:
                with CancelScope(shield=True):
                    self._acquire_restore(box["state"])

    async def wait_async(self, timeout: float | None = None) -> bool:
        """``wait`` for coroutines, on any asyncio loop; the lock is held again on every exit."""
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        box, register, unregister = self._parking()
        try:
            return await park_async(register, unregister,
                                    timeout) is not TIMEOUT
        finally:
            if box["released"]:
                # The lock must be held again on every exit; a second
                # cancellation while re-taking it is absorbed (the first
                # one, if any, is what propagates).
                restore = getattr(self._lock, "_acquire_restore_async", None)
                while True:
                    try:
                        if restore is not None:
                            await restore(box["state"])
                        else:
                            await self._lock.acquire_async()
                        break
                    except asyncio.CancelledError:
                        continue

    async def wait_for_async(self, predicate: Callable[[], _T],
                             timeout: float | None = None) -> _T:
        """``wait_for`` for coroutines, on any asyncio loop."""
        end = None if timeout is None else _clock.now() + check_number(timeout)
        result = predicate()
        while not result:
            if end is not None:
                left = end - _clock.now()
                if left <= 0:
                    break
                await self.wait_async(left)
            else:
                await self.wait_async()
            result = predicate()
        return result

    def wait_for(self, predicate: Callable[[], _T],
                 timeout: float | None = None) -> _T:
        """Wait until ``predicate()`` is true; return its last value.

        ``timeout`` bounds the whole wait; the predicate is evaluated with the
        lock held.
        """
        end = None if timeout is None else _clock.now() + check_number(timeout)
        result = predicate()
        while not result:
            if end is not None:
                left = end - _clock.now()
                if left <= 0:
                    break
                self.wait(left)
            else:
                self.wait()
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiters.  Any number, as threading's: ``n <= 0``
        wakes none, ``math.inf`` all (this class is threading.Condition
        under patching).  What is not a number is a TypeError, waiters or
        not; threading's raises it only when someone waits."""
        if not isinstance(n, numbers.Real):
            raise TypeError(f"notify() needs a number, not {type(n).__name__}")
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        while n > 0 and self._waiters.wake_one(True):
            n -= 1

    def notifyAll(self) -> None:
        """Deprecated alias of notify_all(), as in threading."""
        import warnings
        warnings.warn("notifyAll() is deprecated, use notify_all() instead",
                      DeprecationWarning, stacklevel=2)
        self.notify_all()

    def notify_all(self) -> None:
        """Wake every waiter; the lock must be held."""
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._waiters.wake_all(True)
