"""Lock and RLock for every kind of waiter.

Ownership is handed straight to the oldest waiter on release, so waiters
are served in FIFO order and a newcomer never barges past them: the lock
is never free while anyone waits.  A waiter that leaves (timeout, cancel)
before the hand-off simply loses its place; one that leaves after it gives
the lock back (see _waitq).

An RLock's owner is the asyncio task when acquired from a coroutine, else
the vthread or OS thread (``_aio.current_owner``).

Guard: ``_mutex`` (a real lock) guards ``_locked`` / ``_owner`` / ``_count``
and the wait queue.  Threads: any, and coroutines on any loop.
"""

from .. import _originals as _o
from .._core import TIMEOUT, block
from ._aio import current_owner as current_task, park_async
from ._args import acquire_deadline, async_timeout
from ._waitq import WaitQueue, granted


class AcquireContext:
    """``acquire`` (threading's signature), ``acquire_async``, ``with`` and
    ``async with`` for anything with ``_try_acquire``, ``_register`` /
    ``_unregister``, ``release`` and a park reason ``_REASON``."""

    __slots__ = ()

    def acquire(self, blocking=True, timeout=-1):
        deadline = acquire_deadline(blocking, timeout)
        if self._try_acquire():
            return True
        if not blocking:
            return False
        return block(self._REASON, self, self._register, self._unregister,
                     deadline) is not TIMEOUT

    async def acquire_async(self, timeout=None):
        """Await from any asyncio loop; False if ``timeout`` passed first."""
        async_timeout(timeout)
        if self._try_acquire():
            return True
        return await park_async(self._register, self._unregister,
                                timeout) is not TIMEOUT

    def __enter__(self):
        return self.acquire()      # True, as threading's locks return

    def __exit__(self, *exc):
        self.release()

    async def __aenter__(self):
        await self.acquire_async()   # None, as asyncio's locks return

    async def __aexit__(self, *exc):
        self.release()


class Lock(AcquireContext):
    """A ``threading.Lock`` that parks vthreads instead of blocking carriers."""

    _REASON = "LOCK_ACQUIRE"

    __slots__ = ("_mutex", "_locked", "_waiters", "__weakref__")

    def __init__(self):
        self._mutex = _o.allocate_lock()
        self._locked = False
        self._waiters = WaitQueue()

    def __repr__(self):
        state = "locked" if self._locked else "unlocked"
        return (f"<{state} vthreads.Lock object waiters={len(self._waiters)}"
                f" at {id(self):#x}>")

    def locked(self):
        return self._locked

    def _at_fork_reinit(self):
        """threading's hook for os.register_at_fork: unlocked, no waiters
        (in the child only the forking thread exists)."""
        self._mutex = _o.allocate_lock()
        self._locked = False
        self._waiters = WaitQueue()

    def _try_acquire(self):
        with self._mutex:
            if self._locked:
                return False
            self._locked = True
            return True

    def _register(self, ticket):
        with self._mutex:
            if self._locked:
                self._waiters.add(ticket)
                return
            self._locked = True
        ticket.fire(True)

    def _unregister(self, ticket):
        with self._mutex:
            self._waiters.remove(ticket)
        if granted(ticket):
            self.release()

    def release(self):
        with self._mutex:
            if not self._locked:
                raise RuntimeError("release unlocked lock")
            if not self._waiters.wake_one(True):
                self._locked = False



class RLock(AcquireContext):
    """A ``threading.RLock``: re-entrant per task (vthread or OS thread)."""

    _REASON = "RLOCK_ACQUIRE"

    __slots__ = ("_mutex", "_owner", "_count", "_waiters", "__weakref__")

    def __init__(self):
        self._mutex = _o.allocate_lock()
        self._owner = None
        self._count = 0
        self._waiters = WaitQueue()

    def __repr__(self):
        return (f"<{'locked' if self._owner else 'unlocked'} vthreads.RLock"
                f" object owner={self._owner!r} count={self._count} "
                f"waiters={len(self._waiters)} at {id(self):#x}>")

    def _at_fork_reinit(self):
        self._mutex = _o.allocate_lock()
        self._owner = None
        self._count = 0
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

    def _register(self, ticket):
        me = current_task()
        with self._mutex:
            if self._owner is not None:
                self._waiters.add(ticket, me)
                return
            self._owner, self._count = me, 1
        ticket.fire(True)

    def _unregister(self, ticket):
        with self._mutex:
            self._waiters.remove(ticket)
        if granted(ticket):
            self._release_all()

    def release(self):
        with self._mutex:
            if self._owner is not current_task():
                raise RuntimeError("cannot release un-acquired lock")
            self._count -= 1
            if self._count == 0:
                self._hand_off()

    def _hand_off(self):
        # Under _mutex.  Ownership moves to the oldest live waiter.
        while True:
            got = self._waiters.pop()
            if got is None:
                self._owner = None
                return
            ticket, task = got
            self._owner, self._count = task, 1
            if ticket.fire(True):
                return

    def _release_all(self):
        with self._mutex:
            self._count = 0
            self._hand_off()

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
            self._hand_off()
            return state

    def _acquire_restore(self, state):
        self.acquire()
        self._count = state

    async def _acquire_restore_async(self, state):
        await self.acquire_async()
        self._count = state
