"""Cooperative select.epoll: the kernel's epoll underneath, a parking wait.

A real epoll object does all the work but the waiting.  ``register``,
``modify``, ``unregister``, ``close`` and ``fromfd`` go straight to it,
with the stdlib's own errors, and only the kernel decides what is ready:
``poll()`` asks it with a timeout of 0.  When that finds nothing, the call
parks until the epoll's own fd is readable -- Linux reports an epoll fd
readable while its ready list holds an event -- and asks again.

Why this gives exactly the kernel's semantics, edge-triggered and
one-shot entries included:
- polling an epoll fd only peeks.  The kernel walks the ready list,
  re-checks each entry against its mask, drops the entries that are no
  longer ready (as ``epoll_wait`` itself would), and consumes nothing.  An
  ``EPOLLET`` entry leaves the list, and an ``EPOLLONESHOT`` entry is
  disarmed, only when ``epoll_wait`` reports it: in our ``poll(0)``, once,
  as in a blocking ``epoll_wait``.  A disarmed one-shot entry no longer
  matches its mask, so it does not make the epoll fd readable either;
- nothing is lost between the ``poll(0)`` and the park: arming the wait on
  the epoll fd (the carrier's ADD/MOD, or a thread's ``poll()``) looks at
  the ready list there and then;
- ``EPOLLEXCLUSIVE`` and ``EPOLLRDHUP`` belong to the registration between
  this epoll and each target fd, which we never touch.  The wait on the
  epoll fd itself is an ordinary one;
- a wake-up that finds nothing (another thread's ``poll`` took the event)
  parks again, with the same deadline.

A call that returns without parking passes a checkpoint, as ``select``
does (see ``_select``): a loop of ``poll(0)`` still lets the others run.

``close()`` wakes the calls parked in ``poll()``, which then raise the
stdlib's ValueError.  The stdlib's blocked ``epoll_wait`` would keep
waiting, held up by its own reference to the file; a parked call has no
such reference, and once the fd is gone nothing else could wake it.

Threads: any.  ``_waiters`` (id of a task -> its parked ticket; a task
parks once at a time) is touched by the
parking tasks and by ``close`` from any thread, through single dict
operations only (atomic under the GIL, under the dict's own lock on
free-threaded builds): a waiter adds its ticket, then checks ``closed``;
``close`` closes the kernel object first, then pops and fires every
ticket.  So each waiter is either fired by close or sees it closed and
fires itself.
"""

import errno

from .. import _originals as _o
from .._core import TIMEOUT, block, checkpoint, current_task
from .._poller import READ
from ._timeouts import epoll_ms, ms_deadline

_CLOSED = object()          # a ticket's value: close() woke it
_DEFAULT_MASK = _o.EPOLLIN | _o.EPOLLPRI | _o.EPOLLOUT


def _closed_error():
    return ValueError("I/O operation on closed epoll object")


class epoll:
    """select.epoll(sizehint=-1, flags=0), whose poll() parks."""

    __slots__ = ("_ep", "_waiters", "__weakref__")

    def __init__(self, sizehint=-1, flags=0):
        self._ep = _o.epoll(sizehint, flags)
        self._waiters = {}

    @classmethod
    def fromfd(cls, fd):
        """An epoll object for ``fd``, an epoll fd that it then owns."""
        self = cls.__new__(cls)
        self._ep = _o.epoll.fromfd(fd)
        self._waiters = {}
        return self

    @property
    def closed(self):
        return self._ep.closed

    def fileno(self):
        return self._ep.fileno()

    def register(self, fd, eventmask=_DEFAULT_MASK):
        self._ep.register(fd, eventmask)

    def modify(self, fd, eventmask):
        self._ep.modify(fd, eventmask)

    def unregister(self, fd):
        self._ep.unregister(fd)

    def close(self):
        self._ep.close()
        waiters = self._waiters
        while waiters:
            try:
                _, ticket = waiters.popitem()
            except KeyError:        # another close() took the last one
                break
            ticket.fire(_CLOSED)

    def __enter__(self):
        if self._ep.closed:
            raise _closed_error()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def poll(self, timeout=None, maxevents=-1):
        """Wait for events, as select.epoll.poll: ``timeout`` in seconds,
        None or negative for ever; a list of (fd, events)."""
        ep = self._ep
        if ep.closed:               # the stdlib checks this first
            raise _closed_error()
        ms = epoll_ms(timeout)
        deadline = ms_deadline(ms)
        parked = False
        while True:
            try:
                got = ep.poll(0, maxevents)     # checks maxevents, closed
                if got or ms == 0:
                    if not parked:
                        checkpoint()
                    return got
                value = block("EPOLL", self, self._add_waiter,
                              self._drop_waiter, deadline,
                              io=((ep.fileno(), READ),))
            except OSError as exc:
                # Closed by another thread in the middle of the call (the
                # kernel's EBADF): say so as a call after close() does.
                if exc.errno == errno.EBADF and ep.closed:
                    raise _closed_error() from None
                raise
            # A ready fd leaves the ticket registered (block() unregisters
            # only the waits it abandons).
            self._waiters.pop(id(current_task()), None)
            if value is TIMEOUT:
                return []
            parked = True

    def _add_waiter(self, ticket):
        self._waiters[id(current_task())] = ticket
        if self._ep.closed:
            ticket.fire(_CLOSED)

    def _drop_waiter(self, ticket):
        key = id(current_task())
        if self._waiters.get(key) is ticket:
            self._waiters.pop(key, None)


if _o.epoll is None:        # not Linux: select has no epoll to patch
    epoll = None  # type: ignore[misc, assignment]
