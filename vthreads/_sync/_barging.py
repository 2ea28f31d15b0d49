"""How Lock, RLock and Semaphore wait: barging, with a bounded overtake.

A release frees its unit and wakes the oldest waiter to *retry* (the
ticket value ``RETRY``); it does not hand the unit over.  A running task
that asks in the meantime takes the unit at once: it *barges*, as it would
with ``threading.Lock``.  So a task that releases and re-acquires a hot
lock does not wait for a queue of parked waiters to be scheduled one by
one (a lock convoy); docs/design.md, "Locks: barging", says why.

No waiter starves.  A woken waiter that finds the unit taken again parks
at the FRONT of the queue as an *heir*, and the next release hands the
unit straight to it (``GRANT``, the grant/undo protocol of ``_waitq``).
So a waiter that has reached the head of the queue is overtaken at most
once.  While a woken waiter has not retried yet, a release wakes nobody
else (Go's ``mutexWoken``): a task taking and releasing a hot lock in a
loop would otherwise wake the whole queue, all of it to lose and re-park.

Invariants, whenever the primitive's ``_mutex`` is released:
  1. heirs are parked only while no unit is free;
  2. a free unit has somebody on its way to it: ``_woken`` (wake-ups not
     yet retried) >= min(free units, parked waiters).
Each path that frees a unit or drops a wake-up restores them (``_wake``).

A wake-up is counted in ``_woken`` from its fire until exactly one of:
  - its waiter retries: ``retry_now`` takes a free unit as the woken
    waiter runs, or else ``register`` with ``woken`` set, in one mutex
    hold, takes one or parks the waiter as heir;
  - its waiter leaves without retrying, and passes the wake-up on
    (``_wake`` again), or a free unit could sit with waiters parked:
    Cancelled raised at the top of ``block`` before the retry
    (``left``), or KeyboardInterrupt / asyncio cancellation landing
    after the fire (``unregister`` sees ``RETRY``).
A waiter that leaves after a ``GRANT`` gives the unit back, then passes
it on the same way.

The primitive supplies, all called under its ``_mutex``: ``_free()`` (how
many units are free), ``_take(owner)`` (take one free unit for ``owner``)
and ``_put_back()`` (free the unit a departing waiter was given); and the
fields ``_mutex``, ``_woken`` and ``_waiters`` (a WaitQueue whose extra
is the waiter's ``_Waiter``).

Guard: the primitive's ``_mutex`` guards its units, ``_woken``, the wait
queue and each queued ``_Waiter.heir``.  ``_Waiter.woken`` is touched
only by the waiting task itself.  Threads: any, and coroutines on any loop.
"""

from .. import _originals as _o
from .._core import clock as _clock
from .._core import INTERRUPT, TIMEOUT, block, check_cancel, current_task
from ._aio import current_owner, park_async
from ._waitq import GRANT, RETRY


class _Waiter:
    """One acquire call, across the parks it takes."""

    __slots__ = ("prim", "owner", "woken", "heir")

    def __init__(self, prim):
        self.prim = prim
        self.owner = current_owner()    # who a hand-off makes the owner
        self.woken = False   # fired RETRY and has not retried yet
        self.heir = False    # lost a retry: owed the next hand-off

    def register(self, ticket):
        p = self.prim
        with p._mutex:
            lost = self.woken
            if lost:
                self.woken = False
                p._woken -= 1
            if p._free() <= 0:
                self.heir = self.heir or lost
                p._waiters.add(ticket, self, front=self.heir)
                return
            p._take(self.owner)
        ticket.fire(GRANT)

    def unregister(self, ticket):
        p = self.prim
        with p._mutex:
            p._waiters.remove(ticket)
            value = getattr(ticket, "value", INTERRUPT)
            if value is RETRY:
                p._woken -= 1
            elif value is GRANT:
                p._put_back()
            else:
                return          # a timeout or interrupt: it owed nothing
            p._wake()

    def retry_now(self):
        """Just woken to retry: take a free unit at once, without parking
        again (True); or stay ``woken``, so the next ``register`` parks
        this waiter as heir (False).  Going through ``block`` again when
        the unit is free would be a park that fires at once: a full trip
        through the run queue, behind every ready task, for nothing."""
        p = self.prim
        with p._mutex:
            if p._free() <= 0:
                return False
            self.woken = False
            p._woken -= 1
            p._take(self.owner)
        return True

    def left(self):
        """The acquire is raising; pass on a wake-up it did not retry."""
        if self.woken:
            self.woken = False
            p = self.prim
            with p._mutex:
                p._woken -= 1
                p._wake()


class Barging:
    """The waiting half of Lock, RLock and Semaphore (see the module doc)."""

    __slots__ = ()

    def _wake(self):
        """Under ``_mutex``, after units were freed or a wake-up dropped."""
        q = self._waiters
        while q:
            ticket, w = q.peek()
            if w.heir:
                if self._free() <= 0:
                    return
                q.pop()
                self._take(w.owner)
                if not ticket.fire(GRANT):
                    self._put_back()    # it left; its unregister is a no-op
            else:
                if self._free() <= self._woken:
                    return
                q.pop()
                if ticket.fire(RETRY):
                    self._woken += 1

    def _wait(self, deadline):
        """Park until a unit is ours: True, or False at ``deadline``."""
        w = _Waiter(self)
        try:
            while True:
                value = block(self._REASON, self, w.register, w.unregister,
                              deadline)
                if value is not RETRY:
                    return value is not TIMEOUT
                w.woken = True      # the next register retries
                # Cancelled while it was being woken: it raises here, as
                # the next park would, and passes the wake-up on.
                check_cancel(current_task())
                if w.retry_now():
                    return True
        except BaseException:
            w.left()
            raise

    async def _wait_async(self, timeout):
        w = _Waiter(self)
        end = None if timeout is None else _clock.now() + timeout
        try:
            while True:
                left = None if end is None else end - _clock.now()
                value = await park_async(w.register, w.unregister, left)
                if value is not RETRY:
                    return value is not TIMEOUT
                w.woken = True      # retried even if ``end`` has passed
        except BaseException:
            w.left()
            raise
