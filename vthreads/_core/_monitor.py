"""The monitor: tells which carrier stopped coming back to its scheduler.

A carrier counts every greenlet its scheduler picks (``Carrier.ticks``)
and says when it sleeps (``Carrier._sleeping``); the vthread it runs is
the one of its ``live`` set in state RUNNING.  One monitor thread per
runtime (an OS thread of its own) samples every carrier each half
threshold.  A carrier that is awake and whose count has not moved for a
threshold is running one vthread (or its hub) without parking: a CPU loop,
or a blocking call that was not made cooperative.  It is reported once per
stall, to ``logging.getLogger("vthreads.monitor")`` at WARNING (shown
once the program configures logging, as for any library): the
carrier, the vthread, how long at least, its stack, and whether it looks
CPU-bound or blocked in a call: the carrier thread's scheduler clocks
(Linux's ``/proc/self/task/TID/schedstat``: time on a CPU, and time
runnable but waiting for one) say which, between two samples.  (Its
Python frame does not: with the GIL, a tight loop is always caught at the
same instruction, where it lets the GIL go.)  Time the thread waited for a
CPU does not count as held: on a loaded machine the OS, not a vthread,
kept it from its scheduler.  Without schedstat the thread's CPU clock
(``pthread_getcpuclockid``) tells CPU from blocked and every second counts
as held; without either, the frame comparison is the fallback.  Reports
for the same vthread and call site are rate-limited (``REPEAT_AFTER``).  The count of reports and the
current stalls are in ``statistics()``.  docs/design.md, "The monitor",
says why it works this way (it is Go's sysmon, reading a counter).

Cost on the carriers: one increment per switch (and one per park, for
statistics()), no lock; the monitor reads the counters without one (a
stale read delays a report by one sample, never invents one: the count
only grows, and a sleeping carrier is never reported).  Stacks are read only for a carrier that
looks stalled.

Compensation (docs/design.md, "Compensation for a blocked carrier"):
after each look, ``_compensate`` copies the run queue of every carrier
still held and requeues its unstarted claims (``Runtime.requeue``) where
any other carrier takes them -- the claim protocol makes a claim in two
queues start once.  If no carrier is free, one of them is blocked (not
CPU-bound) and work waits, it starts an extra carrier
(``Runtime.add_extra``), one per look: an extra carrier that blocks too
is seen a threshold later, and the next one starts then.  Started
vthreads cannot move (a greenlet never changes threads): the report and
``statistics()`` name those that wait behind the held one.  A spawn from
outside that finds no carrier asleep while one is held ``nudge``s the
monitor to compensate now rather than at its next look.  The carriers'
hot paths do none of this.

Threads: ``Monitor._run`` in its own thread owns ``_watch`` (and each
watch's ``moved``, the claims already requeued during a stall) and
``_fds``, and writes ``looks`` (read by tests as a count); ``_lock``
guards ``reports``, ``_recent`` and ``stalled`` (carrier index ->
``Stall``), which ``statistics()`` reads from any thread, and which the
spawn path reads without it, as a hint, to decide on a nudge.  ``_wake``
is a lock the thread sleeps on; ``nudge()`` and ``stop()`` (after setting
``_stopping``) release it, from any thread.
"""

import logging
import os
import sys
import traceback

from .. import _originals as _o
from ._cancel import check_seconds
from ._ownthread import OwnThread
from ._vthread import RUNNING

__all__ = ["Monitor", "Stall", "DEFAULT_THRESHOLD", "threshold_from_env"]

DEFAULT_THRESHOLD = 0.1      # seconds
REPEAT_AFTER = 60.0          # seconds before the same vthread and call site
                             # is reported again
_CORE = os.path.dirname(os.path.abspath(__file__)) + os.sep

log = logging.getLogger("vthreads.monitor")
# A library's loggers print nothing until the program sets up logging
# (the logging HOWTO's rule for libraries): without this, Python's last
# resort would print every report to stderr, a slow import at start-up
# included.  logging.basicConfig() is enough to see them.
logging.getLogger("vthreads").addHandler(logging.NullHandler())


def threshold_from_env():
    """VTHREADS_MONITOR_THRESHOLD (seconds; 0 turns the monitor off), or
    the default."""
    env = os.environ.get("VTHREADS_MONITOR_THRESHOLD")
    if not env:
        return DEFAULT_THRESHOLD
    try:
        value = float(env)
    except ValueError:
        raise ValueError("VTHREADS_MONITOR_THRESHOLD must be a number of "
                         f"seconds, not {env!r}") from None
    return check_seconds(value, "VTHREADS_MONITOR_THRESHOLD")


class _Watch:
    """What the monitor last saw of one carrier."""
    __slots__ = ("ticks", "since", "held", "at", "clock", "where",
                 "reported", "moved")

    def __init__(self):
        self.ticks = -1
        self.since = 0.0            # when it was first seen at ``ticks``
        self.held = 0.0             # seconds held since, less CPU waits
        self.at = 0.0               # the last look
        self.clock = None           # the thread's clock then
        self.where = None           # (frame id, f_lasti) then
        self.reported = False
        self.moved = {}             # id -> claim requeued during this stall


class Stall:
    """A carrier the monitor saw held past the threshold (``stalled``)."""
    __slots__ = ("since", "ticks", "busy", "holder", "behind")

    def __init__(self, since, ticks, busy, holder, behind):
        self.since = since          # monotonic seconds: first seen held
        self.ticks = ticks          # its count then: back once it moves
        self.busy = busy            # looks CPU-bound (else blocked)
        self.holder = holder        # ident of the vthread holding it
        self.behind = behind        # idents of started vthreads pinned


class Monitor:
    def __init__(self, runtime, threshold):
        self.runtime = runtime
        self.threshold = threshold
        self.reports = 0
        self.looks = 0              # compensation passes: the thread's own
        self.stalled = {}           # carrier index -> Stall
        self._watch = {}            # carrier -> _Watch
        self._recent = {}           # (vthread ident, file, line) -> time
        self._lock = _o.allocate_lock()
        self._wake = _o.allocate_lock()
        self._wake.acquire()        # released to wake the thread
        self._stopping = False
        self._thread = None
        self._fds = {}              # the monitor thread's: see _thread_clock

    def start(self):
        """After the carriers started (their native ids are known)."""
        for c in self.runtime.carriers:
            _thread_clock(self._fds, c.native_id, c.thread_id)
        self._thread = OwnThread(self._run, "vthreads-monitor")
        self._thread.start()

    def own_threads(self):
        """The monitor's OS thread, once started (see _deadlock)."""
        return [] if self._thread is None else [self._thread]

    def stop(self):
        if self._thread is not None:
            self._stopping = True
            self.nudge()
            self._thread.join(5)

    def nudge(self):
        """Compensate now rather than at the next sample: work was spawned
        from outside while a carrier is blocked and none sleeps.  Any
        thread."""
        try:
            self._wake.release()
        except RuntimeError:
            pass                    # nudged already

    def _run(self):
        interval = self.threshold / 2
        next_look = _o.monotonic() + interval
        try:
            while True:
                self._wake.acquire(
                    True, max(next_look - _o.monotonic(), 0.0))
                if self._stopping:
                    break
                now = _o.monotonic()
                carriers = self.runtime.carriers
                if now >= next_look:
                    next_look = now + interval
                    self._forget_gone(carriers)
                    for c in carriers:
                        if c.native_id is None:
                            continue        # an extra carrier, starting
                        w = self._watch.get(c)
                        if w is None:
                            w = self._watch[c] = _Watch()
                        try:
                            self._sample(c, w, now)
                        except Exception:   # never take the monitor down
                            log.exception("vthreads monitor: sampling "
                                          "carrier %d failed", c.index)
                try:
                    self._compensate(carriers)
                except Exception:
                    log.exception("vthreads monitor: compensation failed")
                self.looks += 1     # for tests: a look is over
        finally:
            self.close_files()

    def _forget_gone(self, carriers):
        """Drop what was kept of carriers that retired: their watch, their
        stall, and their schedstat file (a later thread may get the same
        native id)."""
        alive = set(carriers)
        gone = [c for c in self._watch if c not in alive]
        for c in gone:
            del self._watch[c]
            fd = self._fds.pop(c.native_id, None)
            if fd is not None:
                _o.os_close(fd)
            with self._lock:
                self.stalled.pop(c.index, None)

    def close_files(self):
        """Close the schedstat files (the monitor's thread, at its end; or
        a forked child, which has no monitor thread)."""
        while self._fds:
            _o.os_close(self._fds.popitem()[1])

    def _sample(self, c, w, now):
        ticks = c.ticks
        clock = _thread_clock(self._fds, c.native_id, c.thread_id)
        if ticks != w.ticks or c._sleeping is not None or c.paused:
            if w.reported or c.index in self.stalled:
                with self._lock:
                    self.stalled.pop(c.index, None)
            w.ticks, w.since, w.reported = ticks, now, False
            w.held, w.at, w.clock, w.where = 0.0, now, clock, None
            if w.moved:
                w.moved = {}
            return
        if w.reported:
            return
        # Awake, and nothing picked since the last look.  Held since then:
        # the wall time less what the thread spent waiting for a CPU --
        # the OS's doing on a loaded machine, not a vthread's.
        dt = now - w.at
        busy = None
        if clock is not None and w.clock is not None:
            ran, waited = clock[0] - w.clock[0], clock[1] - w.clock[1]
            held = max(dt - waited, 0.0)
            # More than a fifth of it on a CPU: a loop, which on a loaded
            # machine still gets some; a blocked thread gets next to none.
            busy = ran > 0.2 * held
        else:
            held = dt
        w.held += held
        w.at, w.clock = now, clock
        frame = sys._current_frames().get(c.thread_id)
        where = None if frame is None else (id(frame), frame.f_lasti)
        if busy is None:            # no clock: did the frame move?
            busy = w.where is not None and where != w.where
        w.where = where
        if w.held < self.threshold:
            return
        w.reported = True
        self._report(c, frame, w, ticks, busy)

    def _report(self, c, frame, w, ticks, busy):
        vt = None
        if frame is not None and not _in_hub(frame, c):
            # The one vthread of a carrier that is not parked or new.
            vt = next((v for v in list(c.live) if v._state == RUNNING), None)
        # Started there, so pinned there: they wait for the carrier.
        behind = sorted((v for v in list(c.live) if v is not vt),
                        key=lambda v: v.ident)
        with self._lock:
            self.stalled[c.index] = Stall(
                w.since, ticks, busy, None if vt is None else vt.ident,
                tuple(v.ident for v in behind))
        # The runtime's own frames (this directory) are left out, as in
        # dump(): what is worth reading is the code that holds the carrier.
        stack = [] if frame is None else [
            f for f in traceback.extract_stack(frame)
            if not f.filename.startswith(_CORE)]
        site = stack[-1] if stack else None
        key = (None if vt is None else vt.ident,
               None if site is None else (site.filename, site.lineno))
        now = _o.monotonic()
        with self._lock:
            last = self._recent.get(key)
            logged = last is None or now - last >= REPEAT_AFTER
            if logged:
                if len(self._recent) >= 1024:
                    # Forget what may be logged again anyway: a server whose
                    # every request stalls adds a vthread per request.
                    self._recent = {k: t for k, t in self._recent.items()
                                    if now - t < REPEAT_AFTER}
                self._recent[key] = now
        try:
            if logged:
                who = "its hub" if vt is None else repr(vt)
                how = ("looks CPU-bound (it kept using CPU between two "
                       "samples)" if busy else
                       "looks blocked in a call that does not park (it "
                       "used almost no CPU between two samples)")
                log.warning("carrier %d has run %s for at least %.0f ms "
                            "without coming back to its scheduler; it %s."
                            "\n%s%s", c.index, who, w.held * 1000, how,
                            "".join(traceback.format_list(stack)).rstrip(),
                            _behind(behind))
        finally:
            # Counted once logged: whoever sees the count sees the record.
            with self._lock:
                self.reports += 1

    def _compensate(self, carriers):
        """Move the unstarted work of held carriers to the others; if every
        carrier is held, one of them blocked (not CPU-bound), and work
        waits, start an extra carrier (``Runtime.add_extra``)."""
        with self._lock:
            if not self.stalled:
                return
            stalled = dict(self.stalled)
        held = []
        free = False
        for c in carriers:
            s = stalled.get(c.index)
            if s is not None and c.ticks == s.ticks:
                held.append((c, s))
            else:
                free = True
        if not held:
            return
        claims = []
        for c, s in held:
            w = self._watch.get(c)
            if w is None:
                continue
            # The owner may change its queue meanwhile (the held call
            # returns): copy() is one operation -- the GIL, held through a
            # copy of lists, or the deque's own lock -- and a claim missed
            # now is seen at the next look.
            try:
                queued = c.runq.copy()
            except RuntimeError:        # "mutated during iteration"
                continue
            claims.extend((w, x) for x in queued
                          if type(x) is list and x and id(x) not in w.moved)
            # Spawns another carrier gave it (Carrier.give_new) wait in its
            # inbox until it takes its posts: they move too.
            with c._lock:
                posted = [x for x in c._ready_in if type(x) is list and x]
            claims.extend((w, x) for x in posted if id(x) not in w.moved)
        rt = self.runtime
        if not free:
            if all(s.busy for _, s in held):
                # Loops: another thread would compete for the same CPUs
                # (and the GIL) without making either go faster.
                return
            if not (claims or rt.injected):
                return
            if rt.add_extra() is None:
                return              # at max_carriers: the work waits
        if claims:
            for w, x in claims:
                w.moved[id(x)] = x      # kept, so that its id stays unique
            rt.requeue([x for _, x in claims])


def _behind(vts):
    """The report's line on the started vthreads pinned to a held carrier."""
    if not vts:
        return ""
    names = ", ".join(repr(v) for v in vts[:10])
    more = f" and {len(vts) - 10} more" if len(vts) > 10 else ""
    return (f"\n{len(vts)} started vthread(s) wait behind it, pinned to this "
            f"carrier (a greenlet cannot move to another thread): "
            f"{names}{more}.")


def _thread_clock(fds, native_id, ident):
    """(seconds on a CPU, seconds runnable but waiting for one) of an OS
    thread: Linux's schedstat, else its CPU clock and no wait; or None.

    Each schedstat file is opened once, when the monitor starts, and read
    again in place (``fds``: native id -> fd): a monitor that opened a file
    20 times a second would keep taking fd numbers the program just
    closed -- code that checks that a closed fd is gone (CPython's
    test_ssl does) would find the monitor's file there -- and the program
    would see its count of open fds move under it."""
    fd = fds.get(native_id)
    try:
        if fd is None:
            fd = fds[native_id] = _o.os_open(
                f"/proc/self/task/{native_id}/schedstat", _o.O_RDONLY)
        fields = _o.pread(fd, 256, 0).split()
        return int(fields[0]) / 1e9, int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        pass
    if _o.pthread_getcpuclockid is None:
        return None
    try:
        return _o.clock_gettime(_o.pthread_getcpuclockid(ident)), 0.0
    except (OSError, OverflowError):
        return None             # the thread is gone


def _in_hub(frame, carrier):
    """Whether ``frame`` belongs to ``carrier``'s hub (its own loop), not to
    a vthread: the hub's bottom frame is Carrier.run."""
    while frame.f_back is not None:
        frame = frame.f_back
    return frame.f_code is type(carrier).run.__code__
