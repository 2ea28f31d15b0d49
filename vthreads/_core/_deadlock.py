"""Deadlock detection: Go's "all goroutines are asleep - deadlock!".

While ``run()`` waits in the main thread for its main vthread, the
runtime carries a ``Watch``.  When every vthread of the runtime waits on
the library's own primitives (``PRIMITIVES``) and nothing can ever wake
one, the watch throws ``DeadlockError`` into the main vthread, with the
runtime's dump in the message; ``run()`` then raises it, unless the main
vthread catches it.  A false report is worse than a missed one, so what
is proven is narrow (docs/design.md, "Deadlocks", says why it suffices):

1. ``quiet(rt)``, with every carrier's ``_lock`` held, taken in index
   order: the runtime is not closing, nothing is injected, and each
   carrier sleeps "for good" -- no timer armed (stale ones count), no fd
   waited on, not woken, nothing posted or queued -- with every live
   vthread parked with a reason in ``PRIMITIVES``.  Its value is the sum
   of the carriers' ``ticks`` (greenlets picked to run): a fingerprint
   that any run of any vthread changes.  A carrier that starts such a
   sleep checks the carriers' part of it (``Carrier._maintain`` ->
   ``Runtime.idle_forever``), so the last carrier to fall asleep always
   does; on success it only records the fingerprint and wakes the main
   thread, which makes the whole check (below, the walk over the
   vthreads comes after the cheap look for wakers).
2. In the main thread: no Python signal handler other than the
   defaults and vthreads' own; no ``to_thread`` job queued or running;
   no OS thread in the process but the main thread, this runtime's
   carriers and monitor, and vthreads' own idle threads (the inspect
   listener, dump writers, idle helpers) -- on Linux the threads of
   ``/proc/self/task`` are counted too, so a thread started by C code,
   unknown to ``threading``, also counts as a possible waker.
3. ``gc.collect()``, so a finalizer of garbage that would set a primitive
   has run; with the collector then off, 2 again, and ``quiet(rt)`` again
   with the same fingerprint: no vthread ran in between, so nothing that
   happened since 1 woke one.

Only then is the deadlock reported.  Step 2 failing (an OS thread is
alive) is looked at again later, with a back-off from 10 ms up to 1 s,
since nothing in the runtime may fall asleep again to ask; until then a
carrier falling asleep does not even check (the judgement will).  So a program whose vthreads an OS thread feeds wakes the
main thread at most once per back-off period, and a deadlock that follows
the end of the last outside thread is reported up to 1 s late.  A
suspicion that fails step 1 or 3 is dropped (the carriers ask again when
they next all fall asleep).

Threads and guards: ``Watch._lock`` guards ``suspect``, ``reported``,
``retry_at``, ``_backoff`` and ``declined``.  ``idle`` runs on a carrier thread (the
hub's sleep path, which must not park: it takes plain locks and fires a
ticket); ``check`` and ``deadline`` in the main thread, in ``serve``.
Cost: nothing on park or unpark; a carrier's sleep reads one flag per
carrier, and only a sleep with no timer and no fd does that
(benchmarks/deadlock_cost.py, docs/performance.md).
"""

from __future__ import annotations

import gc
import os

from .. import _originals as _o
from ._dump import collect, render_text
from ._errors import DeadlockError
from ._ownthread import OwnThread
from ._to_thread import pool_idle

__all__ = ["PRIMITIVES", "Watch", "quiet", "enabled"]

# Parks that only another task of the program can end (no timer, no fd,
# no thread of the library's own): the waits of vthreads' primitives.
PRIMITIVES = frozenset({
    "LOCK_ACQUIRE", "RLOCK_ACQUIRE", "SEMAPHORE_ACQUIRE", "CONDITION_WAIT",
    "BARRIER_WAIT", "EVENT_WAIT", "QUEUE_GET", "QUEUE_PUT", "QUEUE_JOIN",
    "CHANNEL_SEND", "CHANNEL_RECV", "CHANNEL_SELECT", "JOIN", "TASKGROUP",
})

# vthreads' own threads that never touch a primitive of the program.
_OWN_IDLE = frozenset({"vthreads-inspect", "vthreads-dump",
                       "vthreads-helper"})
_TASKS = "/proc/self/task"
_BACKOFF_FIRST = 0.01
_BACKOFF_MAX = 1.0

# Tests and benchmarks/deadlock_cost.py turn the watch off with this.
enabled = True

MESSAGE = ("all vthreads are asleep - deadlock! Every vthread waits on a "
           "lock, event, queue, channel or join of vthreads, and no timer, "
           "fd, helper job or other thread can wake one.  The vthreads:")


def quiet(rt, reasons=PRIMITIVES):
    """The fingerprint of step 1 of the header, or None.  With
    ``reasons=None``, the carriers' part only (no walk over the vthreads):
    what a carrier checks as it falls asleep."""
    carriers = rt.carriers
    taken = []
    try:
        for c in carriers:
            c._lock.acquire()
            taken.append(c._lock)
        if rt.closing or rt.injected:
            return None
        ticks = 0
        for c in carriers:
            t = c.quiet_locked(reasons)
            if t is None:
                return None
            ticks += t
        return ticks
    finally:
        for lock in reversed(taken):
            lock.release()


def _foreign_handler():
    """Whether a Python signal handler of the program's own is installed
    (it could set a primitive when its signal comes)."""
    defaults = (_o.SIG_DFL, _o.SIG_IGN, None, _o.default_int_handler)
    for sig in _o.valid_signals():
        try:
            h = _o.signal_getsignal(sig)
        except (OSError, ValueError):       # pragma: no cover
            continue
        if h in defaults or getattr(h, "_vthreads_own", False):
            continue
        return True
    return False


def _outside_thread(rt, main):
    """Whether an OS thread lives that could touch a primitive."""
    own = set(rt.own_threads())
    threads = _o.enumerate_threads()
    for t in threads:
        if t.ident == main or t in own:
            continue
        if isinstance(t, OwnThread) and t.name in _OWN_IDLE:
            continue
        return True
    try:
        n = len(os.listdir(_TASKS))
    except OSError:                         # pragma: no cover - not Linux
        return False
    # More OS threads than threading knows: one started by C code, or one
    # whose Python part ended but that has not exited yet.  Either way, ask
    # again later.
    return n > len(threads)


def _wakers(rt, main):
    return (_foreign_handler() or not pool_idle()
            or _outside_thread(rt, main))


class Watch:
    """The deadlock watch of one ``run()``: its runtime ``rt``, its main
    vthread ``vt``, and ``wake()``, which ends the main thread's current
    wait (or its next one) so that it calls ``check``."""

    def __init__(self, rt, vt, wake, main_ident):
        self.rt = rt
        self.vt = vt
        self._wake = wake
        self._main = main_ident
        self._lock = _o.allocate_lock()
        self.suspect = None         # a fingerprint seen quiet, not judged yet
        self.reported = None        # the fingerprint last reported
        self.retry_at = None        # no judging before then (a waker lived)
        self._backoff = _BACKOFF_FIRST
        # Judgements that found a possible waker alive (tests wait for it)
        self.declined = 0

    def idle(self, rt):
        """On a carrier going to sleep for good, all others asleep too
        (a hint): the carriers' part of step 1 (no walk over the
        vthreads), and if it holds, record it and wake the main thread
        -- unless a judgement is already due later (a possible waker was
        alive then): the main thread wakes for it by itself, and makes
        its own check then, so this one is skipped (read as hints: a
        stale read only costs the check).  A program whose vthreads an
        OS thread feeds thus takes no carrier's lock per sleep."""
        if self.suspect is not None and self.retry_at is not None:
            return
        ticks = quiet(rt, None)
        if ticks is None:
            return
        with self._lock:
            if ticks == self.reported or ticks == self.suspect:
                return
            first = self.suspect is None
            self.suspect = ticks
            retry = self.retry_at
        # With a judgement due later, the main thread's wait already ends
        # then -- unless it had no suspicion to time it by.
        if first or retry is None or _o.monotonic() >= retry:
            self._wake()

    def deadline(self):
        """When the main thread must look again, on the real clock, or
        None."""
        with self._lock:
            return self.retry_at if self.suspect is not None else None

    def check(self):
        """In the main thread, after each round of its wait: judge the
        suspicion, if there is one and it is due (steps 1 to 3)."""
        with self._lock:
            ticks = self.suspect
            retry = self.retry_at
        if ticks is None or (retry is not None
                             and _o.monotonic() < retry):
            return
        verdict = self._judge()
        with self._lock:
            if verdict is False:            # a possible waker lives
                self.declined += 1
                self.retry_at = _o.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
                if quiet(self.rt, None) is None:
                    self.suspect = None     # busy: the carriers ask again
                return
            self.retry_at = None
            self._backoff = _BACKOFF_FIRST
            if self.suspect == ticks:
                self.suspect = None
            if verdict is None:             # not a deadlock after all
                return
            # Before the dump: the carriers wake to answer it and fall
            # asleep again with this same fingerprint, which is ignored.
            self.reported = verdict
        self._report()

    def _judge(self):
        """A fingerprint: deadlock; False: a possible waker lives (look
        again later); None: not quiet, or something ran meanwhile."""
        rt = self.rt
        if _wakers(rt, self._main):
            return False
        ticks = quiet(rt)
        if ticks is None:
            return None
        was = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            if _wakers(rt, self._main):
                return False
            return ticks if quiet(rt) == ticks else None
        finally:
            if was:
                gc.enable()

    def _report(self):
        text = render_text(collect(1.0, self.rt))
        self.vt._throw(DeadlockError(MESSAGE + "\n" + text, text))
