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

from __future__ import annotations

from collections import deque
from typing import Any, AsyncIterator, Iterator

from .. import _originals as _o
from .._core import clock as _clock
from .._core import INTERRUPT, TIMEOUT, block, timeout_to_deadline
from ._aio import park_async
from ._args import async_timeout
from ._waitq import WaitQueue, granted


class ChannelClosed(Exception):
    """Send on a closed channel, or receive from a closed and drained one."""


_CLOSED = object()    # ticket value: the channel closed under the waiter


class Channel:
    """A Go-style channel; unbuffered by default (``capacity=0``).

    An unbuffered ``send`` completes only when a receiver takes the value;
    with a capacity, sends fill the buffer first.  After ``close()`` sends
    raise ChannelClosed and receivers drain what is left, then get
    ChannelClosed (iteration ends).  A cancelled send never delivers, a
    cancelled recv never consumes.  Any task; ``*_async`` for coroutines.
    """
    def __init__(self, capacity: int = 0) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError("capacity must be an int")
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        self.capacity = capacity
        """How many values the buffer holds; 0: unbuffered."""
        self._mutex = _o.allocate_lock()
        self._buf: deque[Any] = deque()
        self._recvq = WaitQueue()     # (ticket, case index)
        self._sendq = WaitQueue()     # (ticket, (case index, value))
        self._closed = False

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return (f"<vthreads.Channel {state} {len(self._buf)}/{self.capacity} "
                f"receivers={len(self._recvq)} senders={len(self._sendq)}>")

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def close(self) -> None:
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

    def send(self, value: Any, timeout: float | None = None) -> None:
        """Send ``value``; wait until a receiver or the buffer takes it.

        TimeoutError after ``timeout`` seconds; ChannelClosed if the channel is
        closed.
        """
        select(self.send_case(value), timeout=timeout)

    def recv(self, timeout: float | None = None) -> Any:
        """Receive the next value; wait for one.

        TimeoutError after ``timeout`` seconds; ChannelClosed once the channel
        is closed and drained.
        """
        return select(self.recv_case(), timeout=timeout)[1]

    async def send_async(self, value: Any, timeout: float | None = None) -> None:
        """``send`` for coroutines, on any asyncio loop."""
        await select_async(self.send_case(value), timeout=timeout)

    async def recv_async(self, timeout: float | None = None) -> Any:
        """``recv`` for coroutines, on any asyncio loop."""
        return (await select_async(self.recv_case(), timeout=timeout))[1]

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiter()

    async def _aiter(self):
        while True:
            try:
                yield await self.recv_async()
            except ChannelClosed:
                return

    def send_nowait(self, value: Any) -> None:
        """Send without parking; raises BlockingIOError if nobody can take it."""
        with self._mutex:
            if self._closed:
                raise ChannelClosed("send on a closed channel")
            if self._try_send(value):
                return
        raise BlockingIOError("channel full and no receiver waiting")

    def recv_nowait(self) -> Any:
        """Receive without parking; BlockingIOError if nothing is ready."""
        with self._mutex:
            got = self._try_recv()
            if got is not None:
                return got[0]
            if self._closed:
                raise ChannelClosed("receive from a closed channel")
        raise BlockingIOError("nothing to receive")

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                yield self.recv()
            except ChannelClosed:
                return

    def recv_case(self) -> _Case:
        """A receive from this channel, for ``select``."""
        return _Case(self, False, None)

    def send_case(self, value: Any) -> _Case:
        """A send of ``value`` on this channel, for ``select``."""
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


class _Selector:
    """One select over ``cases``: the fast path, and the register /
    unregister pair that parks one ticket in every case's channel."""

    def __init__(self, cases):
        if not cases:
            raise ValueError("select() needs at least one case")
        for c in cases:
            if not isinstance(c, _Case):
                raise TypeError(f"select() takes cases, not {type(c).__name__}")
        self.cases = cases
        # All the channels' mutexes in one global order, so that two
        # selects over the same channels cannot deadlock.
        self.mutexes = [m for _, m in sorted(
            {id(c.ch): c.ch._mutex for c in cases}.items())]
        self.registered = []
        single = len(cases) == 1
        self.reason = ("CHANNEL_SEND" if cases[0].is_send else "CHANNEL_RECV") \
            if single else "CHANNEL_SELECT"
        self.what = cases[0].ch if single else cases

    def _lock_all(self):
        for m in self.mutexes:
            m.acquire()

    def _unlock_all(self):
        for m in reversed(self.mutexes):
            m.release()

    def _try_now(self):
        """Under every mutex: the outcome of the first ready case, or None."""
        for i, c in enumerate(self.cases):
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

    def _maybe_ready(self):
        for c in self.cases:
            ch = c.ch
            if ch._closed:
                return True
            if c.is_send:
                if ch._recvq or len(ch._buf) < ch.capacity:
                    return True
            elif ch._buf or ch._sendq:
                return True
        return False

    def now(self):
        self._lock_all()
        try:
            return self._try_now()
        finally:
            self._unlock_all()

    def register(self, ticket):
        self.registered.append(ticket)
        self._lock_all()
        try:
            if self._maybe_ready():
                # Win our own ticket first (a timer or a canceller may be
                # racing for it), then do the operation we won it for.
                task = ticket.claim()
                if task is not None:
                    try:
                        now = self._try_now()
                    except BaseException:
                        # Claimed, nothing done: say so, for block()'s
                        # clean-up, which waits for a claimed ticket's value.
                        ticket.value = INTERRUPT
                        raise
                    ticket.deliver(task, _RETRY if now is None else now)
                return
            for i, c in enumerate(self.cases):
                if c.is_send:
                    c.ch._sendq.add(ticket, (i, c.value))
                else:
                    c.ch._recvq.add(ticket, i)
        finally:
            self._unlock_all()

    def unregister(self, ticket):
        _forget(self.cases, ticket)
        if granted(ticket) and type(ticket.value) is tuple:
            i, value = ticket.value
            if not self.cases[i].is_send:
                _undo_recv(self.cases[i].ch, value)

    def sent(self, value):
        """A grant for one of our send cases: the value was taken, so a
        cancellation cannot undo it (park_async's ``keep``)."""
        return type(value) is tuple and self.cases[value[0]].is_send

    def done(self, outcome):
        """After a park: leave the other channels; RETRY or the result."""
        _forget(self.cases, self.registered[-1])
        return outcome


def _result(outcome):
    if outcome is TIMEOUT:
        raise TimeoutError("no case was ready in time")
    if outcome is _CLOSED:
        raise ChannelClosed("channel closed")
    return outcome


def select(*cases: _Case, timeout: float | None = None) -> tuple[int, Any]:
    """Wait until one case can proceed; do it; return ``(index, value)``.

    ``value`` is what was received, or None for a send.  Cases that are
    ready together are taken in order.  Raises TimeoutError after
    ``timeout``, ChannelClosed if the case that fired found its channel
    closed.
    """
    sel = _Selector(cases)
    deadline = timeout_to_deadline(timeout)
    outcome = sel.now()
    if outcome is None and deadline is not None and timeout == 0:
        raise TimeoutError("no case was ready")
    while outcome is None or outcome is _RETRY:
        outcome = sel.done(block(sel.reason, sel.what, sel.register,
                                 sel.unregister, deadline))
    return _result(outcome)


async def select_async(*cases: _Case,
                       timeout: float | None = None) -> tuple[int, Any]:
    """``select`` for coroutines, on any asyncio loop."""
    sel = _Selector(cases)
    timeout = async_timeout(timeout)
    end = None if timeout is None else _clock.now() + timeout
    outcome = sel.now()
    while outcome is None or outcome is _RETRY:
        left = None if end is None else max(end - _clock.now(), 0)
        outcome = sel.done(await park_async(sel.register, sel.unregister,
                                            left, keep=sel.sent))
    return _result(outcome)


_RETRY = object()     # ticket value: a ready case vanished; look again


def _forget(cases, ticket):
    for c in cases:
        with c.ch._mutex:
            (c.ch._sendq if c.is_send else c.ch._recvq).remove(ticket)


def _undo_recv(ch, value):
    """A receive that was granted but not taken: the next receiver gets the
    value, or it goes back to the front of the buffer (past the capacity,
    for an unbuffered channel: the sender already counts it as sent)."""
    with ch._mutex:
        while True:
            got = ch._recvq.pop()
            if got is None:
                ch._buf.appendleft(value)
                return
            ticket, index = got
            if ticket.fire((index, value)):
                return
