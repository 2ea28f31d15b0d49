"""A FIFO of parked waiters' tickets, and the grant/undo protocol.

Every primitive keeps its waiters here, under its own mutex.  Waking pops
tickets in arrival order and fires them; a ticket whose waiter already left
(timed out, cancelled) fails to fire and is skipped, so a wake-up always
reaches a waiter that takes it -- or nobody, and the primitive keeps it.

Grants: a primitive that hands something to a waiter (a lock's ownership,
a queue item) fires the ticket with it.  If the waiter abandons its park
after the grant won the ticket (KeyboardInterrupt in a plain thread),
``block`` still calls the primitive's unregister, which sees a granted
value and gives it back (``granted``).

Retries: Lock, RLock and Semaphore fire ``RETRY`` instead, which grants
nothing: "a unit is free, come and try" (``_barging``).  A waiter that
leaves holding an untried ``RETRY`` passes the wake-up on.

Guard: the owning primitive's mutex, held by every caller.
"""

from collections import OrderedDict

from .._core import INTERRUPT, TIMEOUT


class _Retry:
    __slots__ = ()

    def __repr__(self):
        return "RETRY"


GRANT = True          # a lock's or a semaphore's unit, handed over
RETRY = _Retry()      # a unit was freed: retry (a unique object)


def granted(ticket):
    """True if ``ticket`` was fired by a waker with something to give back
    (not by a timeout or interrupt, nor with a mere ``RETRY``)."""
    v = getattr(ticket, "value", INTERRUPT)
    return v is not TIMEOUT and v is not INTERRUPT and v is not RETRY


class WaitQueue:
    __slots__ = ("_q",)

    def __init__(self):
        self._q = OrderedDict()

    def __len__(self):
        return len(self._q)

    def add(self, ticket, extra=None, front=False):
        key = id(ticket)
        self._q[key] = (ticket, extra)
        if front:
            self._q.move_to_end(key, last=False)

    def remove(self, ticket):
        self._q.pop(id(ticket), None)

    def peek(self):
        """The oldest (ticket, extra); the queue must not be empty."""
        return next(iter(self._q.values()))

    def pop(self):
        """The oldest (ticket, extra), or None."""
        try:
            return self._q.popitem(last=False)[1]
        except KeyError:
            return None

    def wake_one(self, value):
        """Fire the oldest live waiter with ``value``; False if there is none."""
        q = self._q
        while q:
            ticket = q.popitem(last=False)[1][0]
            if ticket.fire(value):
                return True
        return False

    def wake_all(self, value):
        n = 0
        q, self._q = self._q, OrderedDict()
        for ticket, _ in q.values():
            n += ticket.fire(value)
        return n
