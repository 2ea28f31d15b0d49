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
- ``_scope`` belongs to the owner thread; ``_groups`` is replaced under
  ``_mutex`` (its ``_tree_lock``, see _cancel).
- A carrier thread's task outside its vthreads is a ``HubTask``, which
  refuses to park (see there).
- ``_waker`` is made by the owner at its first fd park (or by
  ``prepare_io``), and closed when the task is collected: when its thread
  ends.  After a fork the child's thread makes a fresh one.
"""

import sys
from typing import Any

from .. import _originals as _o
from . import _clock
from .._poller import READ, Waker, normaliser
from ._fork import on_child
from ._spin import CAN_SPIN, spin_yield, spins
from . import _spot
from ._switch import getcurrent
from ._ticket import INTERRUPT, READY, TIMEOUT, Ticket

# poll()'s bits -> the poller's READ | WRITE | HUP | ERR (an OS thread's fd
# wait reports what a carrier's does).
_SEEN, _NORMAL = normaliser(_o.POLLIN | _o.POLLPRI, _o.POLLOUT,
                            _o.POLLHUP | _o.POLLRDHUP, _o.POLLERR)

_TIMEOUT_MAX = 2**31 / 1000.0  # a lock's or spot's park, in seconds
# poll() takes a C int of milliseconds.  A longer wait polls in slices of
# this, and only the deadline (not the end of a slice) is a timeout.
_POLL_MS_MAX = 2**31 - 1

_local = _o.ThreadLocal()
_SPOT = "spot"      # ticket.lock of a park on the thread's spot
_at_end: list[Any] = []        # run as a thread's task goes (see on_thread_end)


def on_thread_end(fn):
    """Run ``fn()`` in each plain OS thread that used the library (one
    with a ThreadTask) as it ends."""
    _at_end.append(fn)


class ThreadTask:
    __slots__ = ("_mutex", "_ticket", "_interrupted", "_spot",
                 "_scope", "_groups", "_waker", "_reason", "_waiting_on",
                 "ident",
                 "__weakref__")

    _cancel_requested = False   # an OS thread as a whole cannot be cancelled
    _pending = None             # ... nor have an exception thrown into it

    def __init__(self):
        self._mutex = _o.allocate_lock()
        self._ticket = None
        self._interrupted = False
        self._scope = None          # the innermost cancel scope (_cancel)
        self._groups = ()           # the task groups it has open (_cancel)
        self._waker = None
        self._spot = None           # made at the first park on a spot
        self._reason = None
        self._waiting_on = None
        self.ident = _o.get_ident()

    def __repr__(self):
        what = f" parked {self._reason}" if self._reason else ""
        return f"<ThreadTask ident={self.ident}{what}>"

    # --- the wake-up fd of fd parks (owner thread) ------------------------

    def prepare_io(self):
        """Make the wake-up fd of fd parks now, if not made yet."""
        if self._waker is None:
            self._waker = Waker()

    def __del__(self, _finalizing=sys.is_finalizing):
        # Unreachable, so the thread has ended: its thread-local dict held
        # the task.  Nothing can write to the wake-up fd any more (a waker
        # that claimed one of our tickets holds this task), so closing it
        # cannot hit a reused fd number.
        if _finalizing():
            return      # modules may be torn down; the fds go with the process
        w = self._waker
        if w is not None:
            self._waker = None
            w.close()
        for fn in _at_end:
            fn()

    # --- waking (any thread) ---------------------------------------------

    def _new_ticket(self, io=False):
        t = Ticket((self,))
        if io:
            t.lock = None
            if self._waker is None:
                # Before the ticket is registered: a waker may fire it
                # (a close() in another thread) before _park_io starts.
                self.prepare_io()
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

    def _tree_lock(self):
        return self._mutex

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
            timeout = min(max(deadline - _clock.now(), 0.0), _TIMEOUT_MAX)
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
            left = deadline - _clock.now()
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
                    ms = max(deadline - _clock.now(), 0.0) * 1000
                    ms = min(int(ms) + (ms % 1 > 0), _POLL_MS_MAX)
                hits = dict(p.poll(ms))
                wake = hits.pop(waker.fileno, 0)
                if any(rev & _o.POLLNVAL for rev in hits.values()):
                    ticket.retract(None)
                    raise OSError(9, "Bad file descriptor")
                if hits and ticket.retract(
                        READY[_NORMAL[next(iter(hits.values())) & _SEEN]]):
                    break
                if wake or not ticket:
                    waker.drain()
                    if not ticket:
                        break
                if not hits and deadline is not None and _clock.now() >= deadline:
                    if ticket.retract(TIMEOUT):
                        break
        finally:
            self._end()
        ticket.await_value()    # claimed by a waker, which may still be writing
        return ticket.value


def _after_fork():
    # The forking thread's wake-up fd is shared with the parent, where the
    # same thread goes on: each side could drain a wake-up meant for the
    # other and sleep through it.  The child makes its own when it needs one.
    task = getattr(_local, "task", None)
    if task is not None and task._waker is not None:
        task._waker.close()
        task._waker = None


on_child(_after_fork)


class HubTask(ThreadTask):
    """A carrier thread outside its vthreads: its hub, or a finished
    vthread's greenlet on its way out.  Code runs there that no vthread
    owns -- a ``__del__`` the garbage collector calls, a callback -- and if
    it parked, it would block the carrier thread itself, freezing every
    vthread on it until the wait ended.  So a wait there raises
    RuntimeError (gevent refuses a switch in its hub the same way)."""

    __slots__ = ()

    def _new_ticket(self, io=False):
        raise RuntimeError(
            "cannot park in the carrier's hub: this code (a __del__, say) "
            "runs outside any vthread on a carrier thread, where a wait "
            "would block every vthread on the carrier; spawn a vthread "
            "to do the wait")


def become_hub():
    """Called by a carrier thread as it starts: outside its vthreads, the
    thread is a HubTask from now on."""
    _local.task = HubTask()


def thread_task():
    task = getattr(_local, "task", None)
    if task is None:
        task = _local.task = ThreadTask()
    return task


def current_task():
    """The running vthread, else this OS thread's ThreadTask."""
    vt = getattr(getcurrent(), "vt", None)
    return vt if vt is not None else thread_task()
