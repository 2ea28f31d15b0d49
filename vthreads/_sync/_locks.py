"""Lock and RLock for every kind of waiter.

A release frees the lock and wakes the oldest waiter to retry; a running
task that asks meanwhile takes it at once, and a woken waiter that lost
that race is handed the lock on the next release.  The waiting and the
hand-off, and how a waiter leaving at any moment (timeout, cancel) never
loses a wake-up or leaves the lock held by nobody, are ``_barging``'s.

An RLock's owner is the asyncio task when acquired from a coroutine, else
the vthread or OS thread (``_aio.current_owner``).

Guard: ``_mutex`` (a real lock) guards ``_locked`` / ``_owner`` / ``_count``,
``_woken`` and the wait queue.  Threads: any, and coroutines on any loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _originals as _o
from ._aio import current_owner as current_task
from ._args import acquire_deadline, async_timeout
from ._barging import Barging
from ._waitq import WaitQueue


class AcquireContext(Barging):
    """``acquire`` (threading's signature), ``acquire_async``, ``with`` and
    ``async with`` for anything with ``_try_acquire``, ``release``, a park
    reason ``_REASON`` and what ``_barging`` needs."""

    __slots__ = ()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock, with threading's signature and return value.

        Waits until it is free, or for ``timeout`` seconds (-1: no limit);
        returns False if the time passed first, or at once if ``blocking`` is
        False and the lock is held.  A cancelled acquire raises Cancelled and
        never leaves the lock held.  Any task: a vthread parks, an OS thread
        blocks.  ``with lock:`` acquires and releases.
        """
        deadline = acquire_deadline(blocking, timeout)
        if self._try_acquire():
            return True
        if not blocking:
            return False
        return self._wait(deadline)

    async def acquire_async(self, timeout: float | None = None) -> bool:
        """Await from any asyncio loop; False if ``timeout`` passed first."""
        async_timeout(timeout)
        if self._try_acquire():
            return True
        return await self._wait_async(timeout)

    def __enter__(self) -> bool:
        return self.acquire()      # True, as threading's locks return

    def __exit__(self, *exc: Any) -> None:
        self.release()

    async def __aenter__(self) -> None:
        await self.acquire_async()   # None, as asyncio's locks return

    async def __aexit__(self, *exc: Any) -> None:
        self.release()

    if TYPE_CHECKING:      # what the classes below provide
        def release(self) -> None: ...
        def _try_acquire(self) -> bool: ...
        def _wait(self, deadline: float | None) -> bool: ...
        async def _wait_async(self, timeout: float | None) -> bool: ...


class Lock(AcquireContext):
    """A ``threading.Lock`` that parks vthreads instead of blocking carriers."""

    _REASON = "LOCK_ACQUIRE"

    __slots__ = ("_mutex", "_locked", "_woken", "_waiters", "__weakref__")

    def __init__(self) -> None:
        self._mutex = _o.allocate_lock()
        self._locked = False
        self._woken = 0
        self._waiters = WaitQueue()

    def __repr__(self):
        state = "locked" if self._locked else "unlocked"
        return (f"<{state} vthreads.Lock object waiters={len(self._waiters)}"
                f" at {id(self):#x}>")

    def locked(self) -> bool:
        """True if some task holds the lock."""
        return self._locked

    def _at_fork_reinit(self):
        """threading's hook for os.register_at_fork: unlocked, no waiters
        (in the child only the forking thread exists)."""
        self._mutex = _o.allocate_lock()
        self._locked = False
        self._woken = 0
        self._waiters = WaitQueue()

    def _try_acquire(self):
        with self._mutex:
            if self._locked:
                return False
            self._locked = True
            return True

    # _barging's hooks, under _mutex.
    def _free(self):
        return 0 if self._locked else 1

    def _take(self, owner):
        self._locked = True

    def _put_back(self):
        self._locked = False

    def release(self) -> None:
        """Release the lock; any task may, as with threading.Lock.

        RuntimeError if it is not held.  The next waiter, if any, is woken.
        """
        with self._mutex:
            if not self._locked:
                raise RuntimeError("release unlocked lock")
            self._locked = False
            if self._waiters:
                self._wake()


class RLock(AcquireContext):
    """A ``threading.RLock``: re-entrant per task (vthread or OS thread)."""

    _REASON = "RLOCK_ACQUIRE"

    __slots__ = ("_mutex", "_owner", "_count", "_woken", "_waiters",
                 "__weakref__")

    def __init__(self) -> None:
        self._mutex = _o.allocate_lock()
        self._owner = None
        self._count = 0
        self._woken = 0
        self._waiters = WaitQueue()

    def __repr__(self):
        return (f"<{'locked' if self._owner else 'unlocked'} vthreads.RLock"
                f" object owner={self._owner!r} count={self._count} "
                f"waiters={len(self._waiters)} at {id(self):#x}>")

    def _at_fork_reinit(self):
        self._mutex = _o.allocate_lock()
        self._owner = None
        self._count = 0
        self._woken = 0
        self._waiters = WaitQueue()

    def _try_acquire(self):
        me = current_task()
        with self._mutex:
            if self._owner is None:
                self._owner, self._count = me, 1
                return True
            if self._owner is me:
                self._count += 1
                return True
            return False

    # _barging's hooks, under _mutex.
    def _free(self):
        return 0 if self._owner is not None else 1

    def _take(self, owner):
        self._owner, self._count = owner, 1

    def _put_back(self):
        self._owner, self._count = None, 0

    def release(self) -> None:
        """Release one level; RuntimeError unless the calling task holds it.

        The lock is free once every acquire by its owner is released.
        """
        with self._mutex:
            if self._owner is not current_task():
                raise RuntimeError("cannot release un-acquired lock")
            self._count -= 1
            if self._count == 0:
                self._let_go()

    def _let_go(self):
        # Under _mutex.
        self._owner = None
        if self._waiters:
            self._wake()

    def _recursion_count(self):
        """How many times the current task holds the lock (threading's)."""
        return self._count if self._owner is current_task() else 0

    # The protocol threading.Condition and ours use to wait with an RLock.
    def _is_owned(self):
        return self._owner is current_task()

    def _release_save(self):
        with self._mutex:
            if self._owner is not current_task():
                raise RuntimeError("cannot release un-acquired lock")
            state = self._count
            self._count = 0
            self._let_go()
            return state

    def _acquire_restore(self, state):
        self.acquire()
        self._count = state

    async def _acquire_restore_async(self, state):
        await self.acquire_async()
        self._count = state
