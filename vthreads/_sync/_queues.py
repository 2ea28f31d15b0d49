"""Queue, LifoQueue, PriorityQueue and SimpleQueue for every kind of waiter.

The ``queue`` module's API and exceptions, plus ``shutdown(immediate)``
with Python 3.13's semantics on every supported Python.

Hand-off keeps waiters in FIFO order and makes cancellation lose nothing:
- ``put`` with getters waiting gives the item straight to the oldest one
  by firing its ticket with ``(item,)``.  A getter that was cancelled first
  has lost its ticket, the fire fails, and the item goes to the next getter
  or into the buffer: a cancelled ``get`` never consumes an item.
- ``put`` on a full queue parks with its item; a ``get`` that makes room
  moves the oldest parked item into the buffer and fires that putter's
  ticket.  A cancelled putter's ticket cannot fire, so its item never
  enters: a cancelled ``put`` never delivers.
- A plain thread interrupted by KeyboardInterrupt after its ``get`` was
  granted gives the item back at the front (``_unregister_get``).

Guard: ``_mutex`` guards the buffer, both wait queues, the task count,
the join waiters and ``_is_shutdown``.  Threads: any.
"""

from __future__ import annotations

import heapq
import numbers
import queue as _queue
import types
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .. import _originals as _o
from .._core import TIMEOUT, block, check_number, timeout_to_deadline
from ._aio import park_async
from ._args import async_timeout
from ._waitq import WaitQueue, granted

Empty = _queue.Empty
"""queue's own: ``get`` found nothing in time, or at once with ``block=False``."""
Full = _queue.Full
"""queue's own: ``put`` found no room in time, or at once with ``block=False``."""


try:
    # 3.13+: the stdlib's own
    ShutDown = _queue.ShutDown  # type: ignore[attr-defined]
except AttributeError:
    class ShutDown(Exception):  # type: ignore[no-redef]
        """Raised by put/get on a queue that was shut down (queue.ShutDown on 3.13+)."""

_SHUT = object()      # ticket value: the queue was shut down under the waiter


def _delivered(value):
    """A put's grant: its item went in, which a cancellation cannot undo."""
    return value is True


# The queue API's own ``block`` argument shadows the park function here.
_park = block


def _deadline(block_, timeout):
    if not block_ or timeout is None:
        return None
    if check_number(timeout) < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return timeout_to_deadline(timeout)


_T = TypeVar("_T")


class Queue(Generic[_T]):
    """A ``queue.Queue`` that parks vthreads instead of blocking carriers.

    ``queue``'s API and exceptions (Empty, Full), for vthreads, OS threads
    and coroutines (``get_async``, ``put_async``, ``join_async``), plus
    ``shutdown()`` as in Python 3.13.  ``maxsize <= 0`` is unbounded.
    Cancellation loses nothing: a cancelled ``get`` never consumes an item,
    a cancelled ``put`` never delivers.  Any task.
    """
    # Generic like queue.Queue: ``Queue[int]``, ``class Q(queue.Queue[T])``,
    # and ``Queue[int]`` is a types.GenericAlias as there (Generic's own
    # alias is for the type checker only).
    if not TYPE_CHECKING:
        __class_getitem__ = classmethod(types.GenericAlias)
    _new_mutex = staticmethod(_o.allocate_lock)

    def __init__(self, maxsize: float = 0) -> None:
        # Any number, as queue's (<= 0: unbounded); NaN would make every
        # put find the queue full.
        if not isinstance(maxsize, numbers.Real):
            raise TypeError(f"maxsize must be a number, not "
                            f"{type(maxsize).__name__}")
        if maxsize != maxsize:
            raise ValueError("maxsize must not be NaN")
        self.maxsize: float = maxsize
        """The bound given; <= 0 means unbounded."""
        self._mutex: Any = self._new_mutex()
        self._init(maxsize)
        self._getters: Any = WaitQueue()
        self._putters: Any = WaitQueue()
        self._joiners: Any = WaitQueue()
        self.unfinished_tasks: int = 0
        """Items put and not yet marked ``task_done``, as queue's."""
        self._is_shutdown: bool = False

    def __repr__(self):
        return (f"<vthreads.{type(self).__name__} size={self._qsize()} "
                f"maxsize={self.maxsize} getters={len(self._getters)} "
                f"putters={len(self._putters)}>")

    # --- storage, overridable as in queue.Queue ----------------------------

    def _init(self, maxsize):
        self.queue = deque()

    def _qsize(self):
        return len(self.queue)

    def _put(self, item):
        self.queue.append(item)

    def _get(self):
        return self.queue.popleft()

    def _put_back(self, item):
        """Return an item a getter could not take, where it came from."""
        self.queue.appendleft(item)

    # --- inspection -----------------------------------------------------------

    def qsize(self) -> int:
        """How many items are in the queue now."""
        with self._mutex:
            return self._qsize()

    def empty(self) -> bool:
        """True if the queue holds no item now."""
        with self._mutex:
            return not self._qsize()

    def full(self) -> bool:
        """True if a bounded queue holds ``maxsize`` items now."""
        with self._mutex:
            return 0 < self.maxsize <= self._qsize()

    def _has_room(self):
        return self.maxsize <= 0 or self._qsize() < self.maxsize

    # --- put --------------------------------------------------------------------

    def put(self, item: _T, block: bool = True,
            timeout: float | None = None) -> None:
        """Put ``item``; wait for room if the queue is full.

        Full if ``block`` is False and there is no room, or ``timeout`` seconds
        passed; ShutDown after ``shutdown()``.  A cancelled put raises
        Cancelled, and the item was not delivered.
        """
        deadline = _deadline(block, timeout)
        if self._put_now(item):
            return
        if not block:
            raise Full
        _put_outcome(_park("QUEUE_PUT", self,
                           lambda t: self._register_put(t, item),
                           self._unregister_put, deadline))

    def put_nowait(self, item: _T) -> None:
        """``put(item, block=False)``."""
        return self.put(item, block=False)

    async def put_async(self, item: _T, timeout: float | None = None) -> None:
        """``put`` for coroutines, on any asyncio loop."""
        async_timeout(timeout)
        if not self._put_now(item):
            _put_outcome(await park_async(
                lambda t: self._register_put(t, item), self._unregister_put,
                timeout, keep=_delivered))

    def _put_now(self, item):
        with self._mutex:
            if self._is_shutdown:
                raise ShutDown
            return self._offer(item)

    def _offer(self, item):
        """Under _mutex: deliver ``item`` to a getter or the buffer."""
        while True:
            got = self._getters.pop()
            if got is None:
                break
            if got[0].fire((item,)):
                self.unfinished_tasks += 1
                return True
        if self._has_room():
            self._put(item)
            self.unfinished_tasks += 1
            return True
        return False

    def _register_put(self, ticket, item):
        with self._mutex:
            if self._is_shutdown:
                value = _SHUT
            elif self._offer(item):
                value = True
            else:
                self._putters.add(ticket, item)
                return
        ticket.fire(value)

    def _unregister_put(self, ticket):
        with self._mutex:
            self._putters.remove(ticket)

    # --- get --------------------------------------------------------------------

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Remove and return the next item; wait for one if the queue is empty.

        Empty if ``block`` is False and there is none, or ``timeout`` seconds
        passed; ShutDown once the queue is shut down and drained.  A cancelled
        get raises Cancelled and consumes nothing.
        """
        deadline = _deadline(block, timeout)
        got = self._get_now()
        if got is not None:
            return got[0]
        if not block:
            raise Empty
        return _get_outcome(_park("QUEUE_GET", self, self._register_get,
                                  self._unregister_get, deadline))

    def get_nowait(self) -> _T:
        """``get(block=False)``."""
        return self.get(block=False)

    async def get_async(self, timeout: float | None = None) -> _T:
        """``get`` for coroutines, on any asyncio loop."""
        async_timeout(timeout)
        got = self._get_now()
        if got is not None:
            return got[0]
        return _get_outcome(await park_async(
            self._register_get, self._unregister_get, timeout))

    def _get_now(self):
        """``(item,)`` if one is there; None if the caller must wait."""
        with self._mutex:
            if self._qsize():
                return (self._take(),)
            if self._is_shutdown:
                raise ShutDown
            return None

    def _take(self):
        """Under _mutex: take the next item and let a parked putter in."""
        item = self._get()
        while self._has_room():
            got = self._putters.pop()
            if got is None:
                break
            ticket, waiting_item = got
            if ticket.fire(True):
                self._put(waiting_item)
                self.unfinished_tasks += 1
        return item

    def _register_get(self, ticket):
        with self._mutex:
            if self._qsize():
                value = (self._take(),)
            elif self._is_shutdown:
                value = _SHUT
            else:
                self._getters.add(ticket)
                return
        ticket.fire(value)

    def _unregister_get(self, ticket):
        with self._mutex:
            self._getters.remove(ticket)
            if granted(ticket) and type(ticket.value) is tuple:
                # Granted but abandoned: the next getter gets it, or it
                # goes back where it came from.
                item = ticket.value[0]
                while True:
                    got = self._getters.pop()
                    if got is None:
                        self._put_back(item)
                        break
                    if got[0].fire((item,)):
                        break

    # --- tasks ---------------------------------------------------------------

    def task_done(self) -> None:
        """Mark one item taken by ``get`` as processed, as queue's."""
        with self._mutex:
            if self.unfinished_tasks <= 0:
                raise ValueError("task_done() called too many times")
            self.unfinished_tasks -= 1
            if self.unfinished_tasks == 0:
                self._joiners.wake_all(True)

    def join(self) -> None:
        """Wait until every item put has been marked ``task_done``.  Cancellable."""
        _park("QUEUE_JOIN", self, self._register_join, self._unregister_join,
              None)

    async def join_async(self) -> None:
        """``join`` for coroutines, on any asyncio loop."""
        await park_async(self._register_join, self._unregister_join)

    def _register_join(self, ticket):
        with self._mutex:
            if self.unfinished_tasks:
                self._joiners.add(ticket)
                return
        ticket.fire(True)

    def _unregister_join(self, ticket):
        with self._mutex:
            self._joiners.remove(ticket)

    # --- shutdown ------------------------------------------------------------

    def shutdown(self, immediate: bool = False) -> None:
        """Refuse new puts; getters drain what is left, then get ShutDown.

        ``immediate=True`` also discards what is left (as if task_done() was
        called for each item) and releases join().
        """
        with self._mutex:
            self._is_shutdown = True
            if immediate:
                while self._qsize():
                    self._get()
                    if self.unfinished_tasks > 0:
                        self.unfinished_tasks -= 1
                self._joiners.wake_all(True)
            if not self._qsize():
                self._getters.wake_all(_SHUT)
            self._putters.wake_all(_SHUT)


def _put_outcome(value):
    if value is TIMEOUT:
        raise Full
    if value is _SHUT:
        raise ShutDown


def _get_outcome(value):
    if value is TIMEOUT:
        raise Empty
    if value is _SHUT:
        raise ShutDown
    return value[0]


class LifoQueue(Queue[_T]):
    """A ``queue.LifoQueue``: the last item put is the first got.  Queue's API."""
    def _init(self, maxsize):
        self.queue = []

    def _get(self):
        return self.queue.pop()

    def _put_back(self, item):
        self.queue.append(item)


class PriorityQueue(Queue[_T]):
    """A ``queue.PriorityQueue``: the smallest item is got first.  Queue's API."""
    def _init(self, maxsize):
        self.queue = []

    def _put(self, item):
        heapq.heappush(self.queue, item)

    def _get(self):
        return heapq.heappop(self.queue)

    _put_back = _put


class _ReentrantQueue(Queue[_T]):
    """A Queue whose put() may run inside its own critical section, as
    queue.SimpleQueue.put() may (bpo-14976): a ``__del__`` that the
    collector runs in the middle of a put or get, or a signal handler,
    puts again in the same thread.  A critical section never parks, so no
    other vthread of the thread can be inside one when that happens."""

    _new_mutex = staticmethod(_o.RLock)  # type: ignore[assignment]


class SimpleQueue(Generic[_T]):
    """An unbounded FIFO queue: queue.SimpleQueue's API."""

    __slots__ = ("_q",)
    if not TYPE_CHECKING:
        __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self) -> None:
        self._q: _ReentrantQueue[_T] = _ReentrantQueue()

    def __repr__(self):
        return f"<vthreads.SimpleQueue size={self._q.qsize()}>"

    def put(self, item: _T, block: bool = True,
            timeout: float | None = None) -> None:
        """Put ``item``; never waits (the queue is unbounded)."""
        self._q.put(item)

    def put_nowait(self, item: _T) -> None:
        """Put ``item``; never waits."""
        self._q.put(item)

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Remove and return the next item; wait for one if there is none.

        Empty if ``block`` is False or ``timeout`` passed; a cancelled get
        consumes nothing.
        """
        return self._q.get(block, timeout)

    def get_nowait(self) -> _T:
        """``get(block=False)``."""
        return self.get(False)

    async def get_async(self, timeout: float | None = None) -> _T:
        """``get`` for coroutines, on any asyncio loop."""
        return await self._q.get_async(timeout)

    async def put_async(self, item: _T, timeout: float | None = None) -> None:
        """``put`` for coroutines; never waits."""
        self._q.put(item)

    def empty(self) -> bool:
        """True if the queue holds no item now."""
        return self._q.empty()

    def qsize(self) -> int:
        """How many items are in the queue now."""
        return self._q.qsize()
