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

Guard: the owning primitive's mutex, held by every caller.
"""

from collections import OrderedDict

from .._core import INTERRUPT, TIMEOUT


def granted(ticket):
    """True if ``ticket`` was fired by a waker (not by a timeout or interrupt)."""
    v = getattr(ticket, "value", INTERRUPT)
    return v is not TIMEOUT and v is not INTERRUPT


class WaitQueue:
    __slots__ = ("_q",)

    def __init__(self):
        self._q = OrderedDict()

    def __len__(self):
        return len(self._q)

    def add(self, ticket, extra=None):
        self._q[id(ticket)] = (ticket, extra)

    def remove(self, ticket):
        self._q.pop(id(ticket), None)

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
