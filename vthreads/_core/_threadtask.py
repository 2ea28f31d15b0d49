"""A plain OS thread as a task: parking by blocking, and ``current_task()``.

The library's blocking calls and cancel scopes work outside vthreads too.
An OS thread that uses them gets a ThreadTask (one per thread, made on
first use) that parks by blocking on its own lock -- or, for fd waits, in
``poll()`` on the fd and a private wake-up fd -- so a canceller in any
thread can interrupt it.

Guards:
- ``_mutex`` guards ``_ticket`` and ``_interrupted`` between the owner
  and cancellers.  A canceller sets its scope flag, then
  takes ``_mutex`` and fires the current ticket, or leaves ``_interrupted``
  set for the next park to find; the owner publishes its ticket and checks
  ``_interrupted`` under the same mutex, so no interrupt is lost.
- Each lock-park ticket carries its own lock, acquired when made; the
  waker that wins the ticket releases it.  A lock per park (not per
  thread) keeps a stale ticket -- left behind when KeyboardInterrupt
  lands mid-park in the main thread -- from releasing a later park.
  An fd park's ticket has no lock: its waker writes ``_waker`` instead.
- With the C parking spots (``_spot``), a lock-park's ticket has
  ``lock = _SPOT`` instead: the thread parks on its own spot, and the
  waker unparks it after writing the value.  A spot may wake for an
  earlier ticket's late unpark or for nothing, so the park loops until
  its ticket is claimed and its value written.
- ``_scopes`` belongs to the owner thread.
"""

from .. import _originals as _o
from .._poller import READ
from .._poller._base import Waker
from ._spin import CAN_SPIN, spin_yield, spins
from . import _spot
from ._switch import getcurrent
from ._ticket import INTERRUPT, TIMEOUT, Ticket

_TIMEOUT_MAX = 2**31 / 1000.0  # a lock's or spot's park, in seconds
# poll() takes a C int of milliseconds.  A longer wait polls in slices of
# this, and only the deadline (not the end of a slice) is a timeout.
_POLL_MS_MAX = 2**31 - 1

_local = _o.ThreadLocal()
_SPOT = "spot"      # ticket.lock of a park on the thread's spot


class ThreadTask:
    __slots__ = ("_mutex", "_ticket", "_interrupted", "_spot",
                 "_scopes", "_waker", "_reason", "_waiting_on", "ident",
                 "__weakref__")

    _cancel_requested = False   # an OS thread as a whole cannot be cancelled
    _pending = None             # ... nor have an exception thrown into it

    def __init__(self):
        self._mutex = _o.allocate_lock()
        self._ticket = None
        self._interrupted = False
        self._scopes = []
        self._waker = None
        self._spot = None           # made at the first park on a spot
        self._reason = None
        self._waiting_on = None
        self.ident = _o.get_ident()

    def __repr__(self):
        what = f" parked {self._reason}" if self._reason else ""
        return f"<ThreadTask ident={self.ident}{what}>"

    # --- waking (any thread) ---------------------------------------------

    def _new_ticket(self, io=False):
        t = Ticket((self,))
        if io:
            t.lock = None
            if self._waker is None:
                # Before the ticket is registered: a waker may fire it
                # (a close() in another thread) before _park_io starts.
                self._waker = Waker()
        elif _spot.AVAILABLE:
            t.lock = _SPOT
            if self._spot is None:
                self._spot = _spot.my_spot()
        else:
            t.lock = lock = _o.allocate_lock()
            lock.acquire()
        return t

    def _resume(self, ticket):
        lock = ticket.lock
        if lock is None:
            self._waker.wake()
        elif lock is _SPOT:
            _spot.unpark(self._spot)
        else:
            lock.release()

    def _interrupt(self):
        with self._mutex:
            t = self._ticket
            if t is None or not t.fire(INTERRUPT):
                self._interrupted = True

    # --- parking (owner thread) ------------------------------------------

    def _begin(self, ticket, reason, obj):
        """Publish the ticket; False if an interrupt was already pending."""
        with self._mutex:
            if self._interrupted:
                self._interrupted = False
                if ticket.retract(INTERRUPT):
                    return False
            self._ticket = ticket
        self._reason, self._waiting_on = reason, obj
        return True

    def _end(self):
        with self._mutex:
            self._ticket = None
        self._reason = self._waiting_on = None

    def _park(self, ticket, reason, obj, deadline):
        if not self._begin(ticket, reason, obj):
            return INTERRUPT
        try:
            if ticket.lock is _SPOT:
                self._wait_spot(ticket, deadline)
            else:
                self._wait_lock(ticket, deadline)
        finally:
            self._end()
        return ticket.value

    def _wait_lock(self, ticket, deadline):
        lock = ticket.lock
        for _ in range(spins() if CAN_SPIN else 0):   # free-threaded
            if not ticket:
                break
            spin_yield()
        if deadline is None:
            lock.acquire()
        else:
            timeout = min(max(deadline - _o.monotonic(), 0.0), _TIMEOUT_MAX)
            if not lock.acquire(True, timeout):
                if not ticket.retract(TIMEOUT):
                    lock.acquire()    # a wake-up won the race; wait for it

    def _wait_spot(self, ticket, deadline):
        """Park on the thread's spot until a waker claims ``ticket`` and
        writes its value, or the deadline passes.  The spot may also wake
        for an earlier ticket's late unpark, or for nothing: loop."""
        spot = self._spot
        while ticket:
            if deadline is None:
                _spot.park(spot)
                continue
            left = deadline - _o.monotonic()
            if left <= 0 or not _spot.park(spot, min(left, _TIMEOUT_MAX)):
                if ticket.retract(TIMEOUT):
                    return
        # Claimed: the waker writes the value, then unparks.
        while not hasattr(ticket, "value"):
            _spot.park(spot)

    def _park_io(self, ticket, pairs, reason, obj, deadline):
        """Block in poll() until one of ``pairs`` ((fd, READ|WRITE), ...)
        is ready, the deadline passes, or a waker fires the ticket."""
        waker = self._waker             # made with the ticket
        if not self._begin(ticket, reason, obj):
            return INTERRUPT
        try:
            p = _o.poll()
            masks = {}
            for pair in pairs:              # (fd, events[, poller key])
                fd = pair[0]
                masks[fd] = masks.get(fd, 0) | (
                    _o.POLLIN if pair[1] == READ else _o.POLLOUT)
            for fd, mask in masks.items():
                p.register(fd, mask)
            p.register(waker.fileno, _o.POLLIN)
            while True:
                if deadline is None:
                    ms = None
                else:
                    ms = max(deadline - _o.monotonic(), 0.0) * 1000
                    ms = min(int(ms) + (ms % 1 > 0), _POLL_MS_MAX)
                hits = dict(p.poll(ms))
                wake = hits.pop(waker.fileno, 0)
                if any(rev & _o.POLLNVAL for rev in hits.values()):
                    ticket.retract(None)
                    raise OSError(9, "Bad file descriptor")
                if hits and ticket.retract(next(iter(hits.values()))):
                    break
                if wake or not ticket:
                    waker.drain()
                    if not ticket:
                        break
                if not hits and deadline is not None and _o.monotonic() >= deadline:
                    if ticket.retract(TIMEOUT):
                        break
        finally:
            self._end()
        return ticket.value


def thread_task():
    task = getattr(_local, "task", None)
    if task is None:
        task = _local.task = ThreadTask()
    return task


def current_task():
    """The running vthread, else this OS thread's ThreadTask."""
    vt = getattr(getcurrent(), "vt", None)
    return vt if vt is not None else thread_task()
