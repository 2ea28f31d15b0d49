"""Cooperative select.select, select.poll and selectors.

``select``, ``poll`` and the poll and select selectors work the same way:
ask the kernel, without blocking, which fds are ready (a real poll() with
timeout 0); if none is, park on all of them at once -- one ticket
registered for every fd with the carrier's poller, or a poll() on all of
them in a plain thread -- and ask again when any wakes.  The answer always comes from the real non-blocking poll, so the
results have the stdlib's exact shape, and fds above FD_SETSIZE work in
``select`` too.  ``EpollSelector`` (and ``DefaultSelector``, as in the
stdlib on Linux) is the stdlib's class over the cooperative epoll, which
keeps a kernel epoll and parks on its fd instead (``_epoll``).

Fairness: a call that returns without having parked -- something was
ready at once, or the timeout was 0 -- passes through a checkpoint, so
the other ready vthreads get their turn as OS threads would get theirs
from the scheduler.  Without it, a loop around select() that always finds
something ready (multiprocessing's Pool waits on a queue that another of
its threads drains) keeps its carrier to itself.

Timeouts are read as the stdlib reads them (``_timeouts``).

Threads: any; each call's state is its own.
"""

import errno
import selectors as _selectors

from .. import _originals as _o
from .._core import TIMEOUT, block, checkpoint, timeout_to_deadline
from .._poller import READ, WRITE, as_fd as _fileno
from ._epoll import epoll
from ._timeouts import ms_deadline, poll_ms, select_timeout

_IN = _o.POLLIN | _o.POLLERR | _o.POLLHUP
_OUT = _o.POLLOUT | _o.POLLERR | _o.POLLHUP


def _park_on(pairs, deadline, reason, obj):
    """Park until one of ``pairs`` may be ready; False on timeout."""
    return block(reason, obj, None, None, deadline, io=tuple(pairs)) is not TIMEOUT


def select(rlist, wlist, xlist, timeout=None):
    """select.select, parking instead of blocking."""
    timeout = select_timeout(timeout)
    deadline = timeout_to_deadline(timeout)
    rmap = [(_fileno(o), o) for o in rlist]
    wmap = [(_fileno(o), o) for o in wlist]
    xmap = [(_fileno(o), o) for o in xlist]
    parked = False
    while True:
        p = _o.poll()
        masks = {}
        for fd, _ in rmap:
            masks[fd] = masks.get(fd, 0) | _o.POLLIN
        for fd, _ in wmap:
            masks[fd] = masks.get(fd, 0) | _o.POLLOUT
        for fd, _ in xmap:
            masks[fd] = masks.get(fd, 0) | getattr(_o, "POLLPRI", 2)
        for fd, m in masks.items():
            p.register(fd, m)
        got = dict(p.poll(0))
        if any(rev & _o.POLLNVAL for rev in got.values()):
            raise OSError(errno.EBADF, "Bad file descriptor")
        r = [o for fd, o in rmap if got.get(fd, 0) & _IN]
        w = [o for fd, o in wmap if got.get(fd, 0) & _OUT]
        x = [o for fd, o in xmap if got.get(fd, 0) & getattr(_o, "POLLPRI", 2)]
        if r or w or x or timeout == 0:
            if not parked:
                checkpoint()
            return r, w, x
        pairs = [(fd, READ) for fd, _ in rmap + xmap] + [(fd, WRITE) for fd, _ in wmap]
        if not pairs:                     # select([], [], [], t) sleeps
            block("SELECT", None, None, None, deadline)
            return [], [], []
        if not _park_on(pairs, deadline, "SELECT", None):
            return [], [], []
        parked = True


_TOKEN = object()


def poll():
    """select.poll(): a polling object whose poll() parks."""
    return Poll(_TOKEN)


class Poll:
    """What ``poll()`` returns.  As with select.poll, only ``poll()`` makes
    one: the type itself cannot be instantiated."""

    __slots__ = ("_fds",)

    def __new__(cls, *args, **kwargs):
        if args != (_TOKEN,) or kwargs:
            raise TypeError(f"cannot create '{cls.__module__}.{cls.__name__}'"
                            " instances")
        self = object.__new__(cls)
        self._fds = {}
        return self

    def register(self, fd, eventmask=_o.POLLIN | _o.POLLOUT | getattr(_o, "POLLPRI", 2)):
        self._fds[_fileno(fd)] = eventmask

    def modify(self, fd, eventmask):
        fd = _fileno(fd)
        if fd not in self._fds:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        self._fds[fd] = eventmask

    def unregister(self, fd):
        del self._fds[_fileno(fd)]

    def poll(self, timeout=None):
        """``timeout`` in milliseconds, as select.poll: None or negative
        waits for ever."""
        timeout = poll_ms(timeout)
        deadline = ms_deadline(timeout)
        parked = False
        while True:
            p = _o.poll()
            for fd, m in self._fds.items():
                p.register(fd, m)
            got = p.poll(0)
            if got or timeout == 0:
                if not parked:
                    checkpoint()
                return got
            pairs = []
            for fd, m in self._fds.items():
                if m & (_o.POLLIN | getattr(_o, "POLLPRI", 2)):
                    pairs.append((fd, READ))
                if m & _o.POLLOUT:
                    pairs.append((fd, WRITE))
            if not pairs:
                block("POLL", self, None, None, deadline)
                return []
            if not _park_on(pairs, deadline, "POLL", self):
                return []
            parked = True


class _ParkingSelect:
    """``select()`` for a stdlib selector class: ask it without blocking,
    and if nothing is ready park on ``_park_pairs()`` and ask again."""

    def select(self, timeout=None):
        deadline = None if timeout is None else timeout_to_deadline(max(timeout, 0))
        parked = False
        while True:
            ready = super().select(0)
            if ready or (timeout is not None and timeout <= 0):
                if not parked:
                    checkpoint()
                return ready
            pairs = self._park_pairs()
            if not pairs:
                block("SELECTOR", self, None, None, deadline)
                return []
            if not _park_on(pairs, deadline, "SELECTOR", self):
                return []
            parked = True


class PollSelector(_ParkingSelect, _o.PollSelector):
    """selectors.PollSelector whose select() parks."""

    def _park_pairs(self):
        pairs = []
        for key in self.get_map().values():
            if key.events & _selectors.EVENT_READ:
                pairs.append((key.fd, READ))
            if key.events & _selectors.EVENT_WRITE:
                pairs.append((key.fd, WRITE))
        return pairs


class SelectSelector(_o.SelectSelector):
    """selectors.SelectSelector over the cooperative ``select`` (the stdlib
    class captured the real one when selectors was imported)."""

    def _select(self, r, w, _, timeout=None):
        r, w, x = select(r, w, w, timeout)
        return r, w + x, []


if epoll is not None:
    class EpollSelector(_o.EpollSelector):
        """selectors.EpollSelector over the cooperative epoll: the stdlib's
        own select() (its timeout rounding, its maxevents), parking in
        epoll.poll().  The stdlib class took select.epoll when selectors
        was imported, so patching select alone would not reach it."""

        _selector_cls = epoll

    # As the stdlib's on Linux, and with its errors: registering a closed
    # fd raises EBADF where a poll selector would report it ready.
    DefaultSelector = EpollSelector
else:
    EpollSelector = None  # type: ignore[misc, assignment]
    DefaultSelector = PollSelector  # type: ignore[misc]
