"""Go-style channels and ``select``.

``Channel(capacity=0)`` is unbuffered by default: a send completes only
when a receiver takes the value.  Values move by hand-off through tickets,
exactly as in _queues, so a cancelled send never delivers and a cancelled
recv never consumes.  After ``close()``, sends raise ChannelClosed;
receivers drain the buffer (and any parked senders), then raise
ChannelClosed or end iteration.

``select`` parks ONE ticket in several channels at once.  The ticket's
claim decides the winner: the first channel to fire it is the case that
happened, every other channel finds it claimed and skips it, so exactly one
case fires and the others are left untouched.

Guard: each channel's ``_mutex`` guards its buffer, its two wait queues and
``_closed``.  A select registers in each channel under that channel's
mutex, one at a time, never holding two.  Threads: any.
"""

from collections import deque

from .. import _originals as _o
from .._core import TIMEOUT, block, timeout_to_deadline
from ._waitq import WaitQueue, granted


class ChannelClosed(Exception):
    """Send on a closed channel, or receive from a closed and drained one."""


_CLOSED = object()    # ticket value: the channel closed under the waiter


class Channel:
    def __init__(self, capacity=0):
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError("capacity must be an int")
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        self.capacity = capacity
        self._mutex = _o.allocate_lock()
        self._buf = deque()
        self._recvq = WaitQueue()     # (ticket, case index)
        self._sendq = WaitQueue()     # (ticket, (case index, value))
        self._closed = False

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return (f"<vthreads.Channel {state} {len(self._buf)}/{self.capacity} "
                f"receivers={len(self._recvq)} senders={len(self._sendq)}>")

    def __len__(self):
        return len(self._buf)

    @property
    def closed(self):
        return self._closed

    def close(self):
        """No more sends.  Parked senders get ChannelClosed; parked receivers
        get ChannelClosed once nothing is left.  Idempotent."""
        with self._mutex:
            self._closed = True
            self._sendq.wake_all(_CLOSED)
            if not self._buf:
                self._recvq.wake_all(_CLOSED)

    # --- the two halves, under _mutex ---------------------------------------

    def _try_send(self, value):
        """Deliver ``value`` to a parked receiver or the buffer."""
        while True:
            got = self._recvq.pop()
            if got is None:
                break
            ticket, index = got
            if ticket.fire((index, value)):
                return True
        if len(self._buf) < self.capacity:
            self._buf.append(value)
            return True
        return False

    def _try_recv(self):
        """A 1-tuple with the next value, or None."""
        if self._buf:
            value = self._buf.popleft()
            self._admit_sender()
            return (value,)
        while True:                     # unbuffered: take from a sender
            got = self._sendq.pop()
            if got is None:
                return None
            ticket, (index, value) = got
            if ticket.fire((index, None)):
                return (value,)

    def _admit_sender(self):
        while len(self._buf) < self.capacity:
            got = self._sendq.pop()
            if got is None:
                return
            ticket, (index, value) = got
            if ticket.fire((index, None)):
                self._buf.append(value)

    # --- public API ---------------------------------------------------------

    def send(self, value, timeout=None):
        select(self.send_case(value), timeout=timeout)

    def recv(self, timeout=None):
        return select(self.recv_case(), timeout=timeout)[1]

    def send_nowait(self, value):
        """Send without parking; raises BlockingIOError if nobody can take it."""
        with self._mutex:
            if self._closed:
                raise ChannelClosed("send on a closed channel")
            if self._try_send(value):
                return
        raise BlockingIOError("channel full and no receiver waiting")

    def recv_nowait(self):
        """Receive without parking; BlockingIOError if nothing is ready."""
        with self._mutex:
            got = self._try_recv()
            if got is not None:
                return got[0]
            if self._closed:
                raise ChannelClosed("receive from a closed channel")
        raise BlockingIOError("nothing to receive")

    def __iter__(self):
        while True:
            try:
                yield self.recv()
            except ChannelClosed:
                return

    def recv_case(self):
        return _Case(self, False, None)

    def send_case(self, value):
        return _Case(self, True, value)


class _Case:
    __slots__ = ("ch", "is_send", "value")

    def __init__(self, ch, is_send, value):
        if not isinstance(ch, Channel):
            raise TypeError("a case needs a Channel")
        self.ch, self.is_send, self.value = ch, is_send, value

    def __repr__(self):
        kind = f"send {self.value!r} to" if self.is_send else "recv from"
        return f"<case {kind} {self.ch!r}>"


def select(*cases, timeout=None):
    """Wait until one case can proceed; do it; return ``(index, value)``.

    ``value`` is what was received, or None for a send.  Cases that are
    ready together are taken in order.  Raises TimeoutError after
    ``timeout``, ChannelClosed if the case that fired found its channel
    closed.
    """
    if not cases:
        raise ValueError("select() needs at least one case")
    for c in cases:
        if not isinstance(c, _Case):
            raise TypeError(f"select() takes cases, not {type(c).__name__}")
    deadline = timeout_to_deadline(timeout)
    # All the channels' mutexes, in one global order, so that two selects
    # over the same channels cannot deadlock.
    mutexes = sorted({id(c.ch): c.ch._mutex for c in cases}.items())
    mutexes = [m for _, m in mutexes]
    registered = []

    def lock_all():
        for m in mutexes:
            m.acquire()

    def unlock_all():
        for m in reversed(mutexes):
            m.release()

    def try_now():
        """Under every mutex: the outcome of the first ready case, or None."""
        for i, c in enumerate(cases):
            ch = c.ch
            if c.is_send:
                if ch._closed:
                    return _CLOSED
                if ch._try_send(c.value):
                    return (i, None)
            else:
                got = ch._try_recv()
                if got is not None:
                    return (i, got[0])
                if ch._closed:
                    return _CLOSED
        return None

    def maybe_ready():
        for c in cases:
            ch = c.ch
            if ch._closed:
                return True
            if c.is_send:
                if ch._recvq or len(ch._buf) < ch.capacity:
                    return True
            elif ch._buf or ch._sendq:
                return True
        return False

    # Fast path: a ready case, without parking.
    lock_all()
    try:
        outcome = try_now()
    finally:
        unlock_all()
    if outcome is None and deadline is not None and timeout == 0:
        raise TimeoutError("no case was ready")

    def register(ticket):
        registered.append(ticket)
        lock_all()
        try:
            if maybe_ready():
                # Win our own ticket first (a timer or a canceller may be
                # racing for it), then do the operation we won it for.
                task = ticket.claim()
                if task is not None:
                    now = try_now()
                    ticket.deliver(task, _RETRY if now is None else now)
                return
            for i, c in enumerate(cases):
                if c.is_send:
                    c.ch._sendq.add(ticket, (i, c.value))
                else:
                    c.ch._recvq.add(ticket, i)
        finally:
            unlock_all()

    def unregister(ticket):
        _forget(cases, ticket)
        if granted(ticket) and type(ticket.value) is tuple:
            i, value = ticket.value
            if not cases[i].is_send:
                _undo_recv(cases[i].ch, value)

    if outcome is None:
        single = len(cases) == 1
        reason = ("CHANNEL_SEND" if cases[0].is_send else "CHANNEL_RECV") \
            if single else "SELECT"
        what = cases[0].ch if single else cases
        while True:
            outcome = block(reason, what, register, unregister, deadline)
            _forget(cases, registered[-1])      # out of the other channels
            if outcome is not _RETRY:
                break
    if outcome is TIMEOUT:
        raise TimeoutError("no case was ready in time")
    if outcome is _CLOSED:
        raise ChannelClosed("channel closed")
    return outcome


_RETRY = object()     # ticket value: a ready case vanished; look again


def _forget(cases, ticket):
    for c in cases:
        with c.ch._mutex:
            (c.ch._sendq if c.is_send else c.ch._recvq).remove(ticket)


def _undo_recv(ch, value):
    """A receive that was granted but not taken: put the value back first."""
    with ch._mutex:
        ch._buf.appendleft(value)
