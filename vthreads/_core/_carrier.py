"""A carrier: one OS thread that runs vthreads, their timers and their I/O.

The hub is the carrier thread's main greenlet.  Its loop:
  1. take what other threads posted (wake-ups, calls) and what was injected
     from outside the runtime;
  2. fire the timers that are due;
  3. harvest fd readiness from this carrier's poller -- without blocking if
     there is work, else blocking until the next timer or a wake-up;
  4. run up to BATCH ready vthreads (they also hand over to each other
     directly, see _switch), then go back to 1.
A parking vthread that finds nothing ready runs 1-3 itself, on its own
stack (``doze_in_place``), instead of switching to the hub to do it.
The run queue is one FIFO for everything: spawned, woken by a timer, by an
fd or by another task.  (Putting timer and fd wake-ups at the front was
tried: it starved older ready vthreads under sustained I/O -- wrk saw
2-second stalls.)
An idle carrier first tries to steal unstarted vthreads from the others.
``ExtraCarrier`` (at the end) is a carrier the monitor started to
compensate for blocked ones; it retires once idle (see its docstring).
Compensation adds nothing to a carrier's hot path: the monitor does the
noticing and the moving, and only the sleep path reads two attributes
(``max_sleep``, ``idle_sleep``) that an extra carrier sets lower.

Threads and guards:
- Owner thread only: ``runq`` entries that are VThreads, ``timers`` (a
  _timers.TimerHeap), ``budget``, ``live``, the poller except ``wake()``.
- ``_lock`` guards ``_ready_in``, ``_calls_in``, ``_sleeping``,
  ``_forever`` and ``_notified``.  A poster appends under it and wakes the poller only if
  the carrier is asleep and nobody woke it yet; the carrier sets
  ``_sleeping`` under it after re-checking both inboxes and the injection
  queue, so a post is either seen before sleeping or wakes the sleep.
- ``_doze`` is a real lock, held whenever the carrier is awake.  A carrier
  with no fd waited on sleeps by acquiring it; its one waker releases it
  under ``_lock``.  A waker that came after the sleep timed out leaves it
  released, and the carrier takes it back under ``_lock`` before it
  clears ``_notified``, so it is never released twice.
- With the C parking spots (``_spot``) a carrier dozes on its ``_spot``
  instead of ``_doze``: the waker claims the sleep under ``_lock`` as
  above and unparks the spot after dropping it.  An unpark that comes
  after the sleep ended only makes a later doze return early, and the
  loop re-checks before sleeping again.
- ``runq`` and ``stealable`` are deques, whose single operations are
  atomic (GIL, or the deque's own lock on free-threaded builds).  Other
  carriers only ``pop()`` claims from ``stealable``.  A claim is the list
  ``[vt]`` of an unstarted vthread; whoever pops the vthread out of it
  starts it, so a claim sitting in two queues still starts once.
- A carrier that goes to sleep with no timer and no fd waited on (the
  only sleep that nothing but a post can end) says so in ``_forever``,
  and asks the runtime to look for a deadlock (_deadlock): with every
  carrier's ``_lock`` held, a sleeping carrier cannot run anything, so
  its owner-only fields can be read then (see _deadlock's header).
- ``paused`` is written by the owner (``pause_until``, while leaks()
  scans) and read by the monitor as a hint, like the counters.
- Reads of ``runq``, ``_ready_in`` or ``_sleeping`` from other threads
  without the lock are hints used only to skip work; a stale hint costs
  parallelism or a wake-up syscall, never correctness.  So is the owner's
  read of ``_notified`` while it spins before a doze: it only ends the
  spin early, and ``_doze`` says whether it was woken.
- The monitor copies ``runq`` (``deque.copy()``, one operation) of a held
  carrier to requeue its claims elsewhere; it never changes the deque.
  It copies the claims in ``_ready_in`` under ``_lock``.
- ``push_new`` reads another carrier's ``live``, ``stealable`` and the
  monitor's ``stalled`` as hints: a stale one misplaces a spawn, which a
  claim's single pop keeps correct.  ``give_new`` appends under the
  receiver's ``_lock`` and refuses once it has stopped; a closing
  carrier sets ``_stopped`` under ``_lock`` only with both inboxes empty.
- ``runtime.carriers`` is copied on write (see _runtime): read it once.
- ExtraCarrier: ``_retired`` is guarded by ``_lock``; ``_idle_from`` and
  ``_idle_ticks`` are the owner's.
"""

import sysconfig
from collections import deque

from .. import _originals as _o
from . import _clock
from .._poller import Backend
from ._switch import KeptGreenlet, VGreenlet, enter, getcurrent, rest
from ._threadtask import become_hub
from ._ticket import READY
from ._timers import TimerHeap
from ._vthread import PARKED, RUNNING, VThread
from ._completion import stripe
from ._spin import CAN_SPIN, spin_yield, spins
from . import _spot
from ._errors import Cancelled

BATCH = 64            # vthreads run between two looks at timers and fds
# Greenlets of finished vthreads a carrier keeps for the next vthreads it
# starts (docs/design.md, "Kept greenlets"): a greenlet's first run maps a
# chunk for its frames and its end unmaps it, the larger part of a spawn.
# Not on free-threaded builds: with them a Celery worker crashed at
# start-up on 3.13t under load, not understood yet.
KEEP = 0 if sysconfig.get_config_var("Py_GIL_DISABLED") else 64
BALANCE_SLACK = 2     # a busy carrier takes unstarted work from one whose
                      # load (started + stealable) is more than this above
_INJECT_TAKE = 64     # injected vthreads taken per loop
_DOZE = "doze"        # how a carrier sleeps: on _doze (no fd waited on)...
_POLL = "poll"        # ... or in its poller
MAX_SLEEP = 3600.0    # longest poll() timeout: epoll rejects huge ones, and
                      # a far-away timer is simply re-examined after an hour


class Carrier:
    extra = False           # started by the runtime's compensation?
    max_sleep = MAX_SLEEP   # longest sleep with a timer armed
    idle_sleep = None       # longest sleep without: until woken

    def __init__(self, runtime, index, multi):
        self.runtime = runtime
        self.index = index
        self.runq = deque()
        self.stealable = deque()
        self.timers = TimerHeap()
        self.budget = 0
        self.live = set()
        self.poller = Backend()
        self.hub = None
        self.thread_id = None
        self.native_id = None
        self.thread = None
        self._lock = _o.allocate_lock()
        self._ready_in = []
        self._calls_in = []
        self._sleeping = None       # None, or how it sleeps: _DOZE / _POLL
        self._forever = False       # asleep with no timer and no fd waited on
        self._notified = False
        self._doze = _o.allocate_lock()
        self._doze.acquire()        # held whenever the carrier is awake
        # With the C helpers the carrier dozes on a spot instead.
        self._spot = _spot.new_spot(self) if _spot.AVAILABLE else None
        self._stopped = False
        self._multi = multi
        self._victim = index        # the carrier _balance looks at next
        self.kept = []              # owner only: idle KeptGreenlets
        self._place = index         # the carrier push_new looks at next
        # Counters, written by the owner thread only and read by others
        # (the monitor, statistics()) without a lock, as hints.
        self.ticks = 0              # greenlets picked to run: switches
        self.parks = 0
        self.steals = 0
        self.sleeps = 0             # times it slept: poller or doze wake-ups
        self.paused = False         # held on purpose by leaks() (pause_until)

    def __repr__(self):
        return (f"<Carrier {self.index} live={len(self.live)} "
                f"ready={len(self.runq)} timers={len(self.timers)}>")

    # --- posting from other threads --------------------------------------

    def post_ready(self, vt):
        self._post(self._ready_in, vt)

    def post_call(self, fn):
        self._post(self._calls_in, fn)

    def _post(self, inbox, item):
        with self._lock:
            inbox.append(item)
            how = self._claim_wake()
        if how is not None:
            self._finish_wake(how)

    def wake_if_sleeping(self):
        """Wake the carrier if it sleeps; True if this call woke it."""
        if not self._sleeping:        # hint; re-checked under the lock
            return False
        with self._lock:
            how = self._claim_wake()
        if how is not None:
            self._finish_wake(how)
        return how is not None

    def _claim_wake(self):
        """Under ``_lock``: become the one waker of the current sleep.

        Returns None (awake, or somebody already woke it) or how it
        sleeps; the caller then calls ``_finish_wake`` after dropping the
        lock (a syscall, or a spin-free C call).  A ``_doze`` sleep is
        woken here already, by releasing the lock.
        """
        how = self._sleeping
        if how is None or self._notified:
            return None
        self._notified = True
        if how is _DOZE and self._spot is None:
            self._doze.release()
        return how

    def _finish_wake(self, how):
        if how is _POLL:
            self.poller.wake()
        elif self._spot is not None:
            _spot.unpark(self._spot)

    # --- owner-thread helpers used by vthreads ----------------------------

    def add_timer(self, deadline, ticket):
        self.timers.add(deadline, ticket)

    def push_new(self, claim):
        """Queue an unstarted vthread spawned on this carrier -- or, with
        several carriers, on the next one in turn if that one carries
        clearly less (started vthreads and stealable claims, read as
        hints): a vthread is pinned where it first runs, and this carrier
        would start it as soon as its hub runs, before another could
        steal it.  So a server's connections, spawned one at a time by
        one acceptor, spread over the carriers instead of staying on the
        acceptor's."""
        if self._multi:
            carriers = self.runtime.carriers
            self._place = i = (self._place + 1) % len(carriers)
            other = carriers[i]
            if other is not self and (
                    len(other.live) + len(other.stealable) + BALANCE_SLACK
                    < len(self.live) + len(self.stealable)) \
                    and other.give_new(claim):
                return
            self.stealable.append(claim)
            self.runq.append(claim)
            self.runtime.wake_idle(self)
        else:
            self.runq.append(claim)

    def give_new(self, claim):
        """From another carrier: queue the unstarted ``claim`` in this one's
        inbox, waking it if it sleeps; False if it has stopped, is held
        (the monitor's report), or is an extra carrier (which may retire:
        it takes work by stealing)."""
        if self.extra:
            return False
        m = self.runtime.monitor
        if m is not None and self.index in m.stalled:
            return False            # held: a hint, the monitor moves it
        with self._lock:
            if self._stopped:
                return False
            self._ready_in.append(claim)
            how = self._claim_wake()
        if how is not None:
            self._finish_wake(how)
        return True

    def pick(self, from_hub=False):
        """The next greenlet to run, or None (empty, or batch used up).

        Unstarted vthreads are started from the hub only: a greenlet starts
        on the C stack, and with the interpreter's recursion depth, of
        whoever switches to it first.  Started from deep inside a parking
        vthread, a chain of 64 starts would nest that deep and overflow
        the recursion limit.  A started vthread restores its own stack
        and depth, so hand-off between started vthreads stays direct.
        """
        runq = self.runq
        while runq and self.budget > 0:
            if not from_hub and type(runq[0]) is list:
                return None
            self.budget -= 1
            x = runq.popleft()
            if type(x) is list:
                try:
                    vt = x.pop()
                except IndexError:
                    continue           # started elsewhere (stolen)
                g = self._start(vt, x)
                if g is None:
                    continue
            else:
                g = x._g
            self.ticks += 1            # the monitor's sign of progress
            return g
        return None

    def _start(self, vt, claim):
        if self._multi:
            st = self.stealable
            try:
                if st[0] is claim:
                    st.popleft()
            except IndexError:
                pass
        with stripe(vt):
            vt._carrier = self
            cancelled = vt._cancel_requested or self.runtime.closing
        # Thrown before it started (a signal in the main thread, see
        # _mainthread): raised before its first line, as Python would.
        # A throw from now on finds it started and interrupts its park.
        thrown = vt._take_pending() if vt._pending is not None else None
        if cancelled or thrown is not None:
            vt._fn = vt._args = vt._kwargs = vt._ctx = None
            vt._finish(None, thrown if thrown is not None
                       else Cancelled("cancelled before it started"))
            return None
        kept = self.kept
        if kept:
            g = kept.pop()
        elif KEEP:
            g = KeptGreenlet(_work, self.hub)
            g.carrier = self
        else:
            g = VGreenlet(vt._main, self.hub)
        g.vt = vt
        g.gr_context = vt._ctx
        vt._ctx = None
        vt._g = g
        vt._state = RUNNING
        self.live.add(vt)
        return g

    def doze_in_place(self):
        """From a parking vthread that found nothing to run: do the hub's
        look-around (posts, timers, fds, and the sleep if there is still
        nothing to do) on the vthread's own stack.

        When the wake-up is for this same vthread -- a ping-pong with
        another thread, one connection's request and response -- it then
        goes on without any greenlet switch, where the hub would cost a
        switch out and a switch back in.  The caller goes to the hub
        anyway if what came is for somebody else and unstarted.
        """
        self._maintain()
        self.budget = BATCH

    def quiet_locked(self, reasons=None):
        """With ``_lock`` held (by _deadlock, which holds every
        carrier's): this carrier's ``ticks`` if it sleeps for good -- no
        timer, no fd, not woken, nothing posted or queued -- and, unless
        ``reasons`` is None, every vthread on it is parked with one of
        ``reasons``; else None.

        Safe from another thread: the carrier set ``_sleeping`` and
        ``_forever`` under ``_lock`` after its last change to ``live``,
        ``runq`` and its vthreads, and whatever ends its sleep takes
        ``_lock`` before the carrier runs anything again."""
        if not self._sleeping or not self._forever or self._notified \
                or self._ready_in or self._calls_in or self.runq:
            return None
        if reasons is not None:
            for vt in self.live:
                if vt._state != PARKED or vt._reason not in reasons:
                    return None
        return self.ticks

    def pause_until(self, lock):
        """On the owner thread, from a posted call: wait until ``lock`` is
        free, running nothing meanwhile (leaks() scans a still world).
        ``paused`` tells the monitor that this hold is meant."""
        self.paused = True
        try:
            lock.acquire()
            lock.release()
        finally:
            self.paused = False

    # --- the hub ------------------------------------------------------------

    def run(self):
        """The carrier thread's body."""
        self.hub = getcurrent()
        self.thread_id = _o.get_ident()
        self.native_id = _o.get_native_id()
        become_hub()                # no parking outside its vthreads
        if self._spot is not None:
            _spot.adopt(self._spot)     # it names this thread as a waker
        clock = self.runtime.clock
        if clock is not None:
            _clock.bind(self.thread_id, clock)
        self.runtime._carrier_started(self)
        try:
            while not self._stopped:
                self._maintain()
                self.budget = BATCH
                g = self.pick(True)
                while g is not None:
                    enter(g)
                    g = self.pick(True)
        finally:
            self.poller.close()
            # Kept greenlets end here, in their own thread (GreenletExit
            # in _work), for the same reason as the hub below.
            self.kept.clear()
            # Drop this thread's main greenlet here, in its own thread: a
            # greenlet of a finished thread released later by another
            # thread (at interpreter exit) crashed greenlet 3.5 on 3.11.
            self.hub = None
            if clock is not None:
                _clock.unbind(self.thread_id)
            self.runtime._carrier_stopped(self)

    def _take_posts(self):
        with self._lock:
            # Copy and clear: the lists keep their identity, which _post
            # relies on (it names the list before taking the lock).
            ready = self._ready_in[:]
            self._ready_in.clear()
            calls = self._calls_in[:]
            self._calls_in.clear()
        if ready:
            self.runq.extend(ready)
        for fn in calls:
            fn()

    def _take_injected(self):
        inj = self.runtime.injected
        for _ in range(_INJECT_TAKE):
            try:
                claim = inj.popleft()
            except IndexError:
                break
            self.runq.append(claim)
            if self._multi:
                self.stealable.append(claim)

    def _steal(self):
        for victim in self.runtime.carriers:
            if victim is self:
                continue
            st = victim.stealable
            n = (len(st) + 1) // 2
            got = 0
            while got < n:
                try:
                    claim = st.pop()
                except IndexError:
                    break
                if claim:
                    self.runq.append(claim)
                    got += 1
            if got:
                self.steals += got
                return True
        return False

    def _balance(self):
        """Busy, with several carriers: take unstarted claims from the next
        carrier in turn if it carries clearly more than this one.

        A vthread stays where it first runs, so load is balanced by where
        vthreads start: the load of a carrier is its started vthreads and
        its stealable claims.  Idle stealing alone is not enough: a carrier
        whose vthreads sleep briefly is never idle, while another starts
        (and pins) everything spawned on it.  One victim per look, in turn,
        so a look costs a few ``len()`` hints however many carriers there
        are; stale hints only misjudge the amount.
        """
        carriers = self.runtime.carriers
        self._victim = i = (self._victim + 1) % len(carriers)
        victim = carriers[i]
        if victim is self:
            return
        st = victim.stealable
        excess = (len(victim.live) + len(st)
                  - len(self.live) - len(self.stealable))
        if excess <= BALANCE_SLACK:
            return
        runq, mine = self.runq, self.stealable
        got = 0
        for _ in range(excess // 2):
            try:
                claim = st.pop()
            except IndexError:
                break
            if claim:
                # On this stealable too: it counts as this carrier's load
                # until it starts, and a third carrier may still take it.
                runq.append(claim)
                mine.append(claim)
                got += 1
        self.steals += got

    def _next_deadline(self):
        return self.timers.next_deadline()

    def _fire_io(self, events):
        # Ticket.fire and VThread._resume, inlined: this is the owner
        # thread, and every token in this poller is a ticket of one of its
        # own vthreads.
        runq = self.runq
        for ticket, rev in events:
            try:
                task = ticket.pop()
            except IndexError:
                continue            # claimed first by a timeout or cancel
            ticket.value = READY[rev]
            runq.append(task)

    def _maintain(self):
        if self._ready_in or self._calls_in:
            self._take_posts()
        rt = self.runtime
        if rt.injected:
            self._take_injected()
        if self.timers:
            self.timers.fire_due(_clock.now())
        poller = self.poller
        if self.runq:
            if poller.waiting:
                self._fire_io(poller.poll(0))
            if self._multi:
                self._balance()
            return
        if self._multi and self._steal():
            return
        if rt.closing and not self.live and not rt.injected:
            with self._lock:        # give_new checks it under the lock
                if not (self._ready_in or self._calls_in):
                    self._stopped = True
            return
        # Nothing to run: sleep until a timer, an fd or a post.  With no fd
        # waited on, the sleep is a plain lock (a futex): cheaper to enter
        # and to wake than the poller, which no event could wake anyway.
        how = _POLL if poller.waiting else _DOZE
        # Asleep for good unless posted to: no timer and no fd can end it
        # (see _deadlock; a stale timer counts: it ends the sleep, later).
        forever = how is _DOZE and not self.timers
        with self._lock:
            if self._ready_in or self._calls_in or rt.injected:
                sleep = False
            else:
                sleep = True
                self._sleeping = how
                self._forever = forever
        if sleep:
            self.sleeps += 1
            if forever and rt.watch is not None:
                rt.idle_forever()
            timers = self.timers
            clock = rt.clock
            if clock is None:
                timeout = min(max(timers.first() - _clock.now(), 0.0),
                              self.max_sleep) if timers else self.idle_sleep
            else:
                timeout = clock._real_timeout(self._next_deadline())
                slept_from = _o.monotonic()
            events = ()
            woken = False
            try:
                if how is _POLL:
                    events = poller.poll(timeout)
                elif self._spot is not None:
                    # A wake-up, a stale one from an earlier sleep, or a
                    # spurious return: the loop re-checks either way.
                    _spot.park(self._spot, timeout)
                else:
                    # Every wake-up sets _notified (_claim_wake): a post,
                    # an injected spawn, work to steal.  Read as a hint;
                    # _doze decides.
                    for _ in range(spins() if CAN_SPIN else 0):
                        if self._notified:
                            break
                        spin_yield()
                    woken = self._doze.acquire(True, -1 if timeout is None
                                               else timeout)
            finally:
                with self._lock:
                    if how is _DOZE and self._notified and not woken \
                            and self._spot is None:
                        # The waker released after the timeout: take it
                        # back, so _doze is held again whenever awake.
                        self._doze.acquire(False)
                    self._sleeping = None
                    self._forever = False
                    self._notified = False
            if events:
                self._fire_io(events)
            elif clock is not None and not self.runq and not (
                    self._ready_in or self._calls_in or rt.injected):
                # Idle through the sleep: an autojump clock may move on
                # to the next deadline (vthreads.testing).
                clock._idle(self._next_deadline(),
                            _o.monotonic() - slept_from)
        # A post after the flag went down is seen here or at the next
        # _maintain, which re-checks under the lock before sleeping.
        if self._ready_in or self._calls_in:
            self._take_posts()
        if rt.injected:
            self._take_injected()
        if self.timers:
            self.timers.fire_due(_clock.now())


class ExtraCarrier(Carrier):
    """A carrier the monitor started because every carrier was blocked
    (docs/design.md, "Compensation"); it retires once it has been idle for
    ``runtime.retire_after`` seconds.

    It lives like any carrier, and with several carriers' rules (stealing,
    balancing).  Retiring, in its own thread: idle -- nothing started,
    queued or posted -- over two looks ``retire_after`` apart with no
    greenlet picked in between (``ticks``), it asks ``runtime.retire``,
    which takes it out of the runtime's list under the runtime's lock
    unless work was injected meanwhile.  Then it closes its inbox under
    ``_lock`` (``_retired``) and leaves its loop.  A poster that read the
    list before it changed may still post: a call is then run in the
    poster's own thread -- harmless, the carrier has no vthread left for
    it to touch (dump()'s question, the closing runtime's "cancel every
    live vthread", a mock clock's wake-up) -- and no wake-up can come,
    since a wake-up names a parked vthread of this carrier.
    """
    extra = True

    def __init__(self, runtime, index):
        super().__init__(runtime, index, True)
        self._retired = False           # under _lock
        self._idle_from = None          # owner thread only
        self._idle_ticks = -1
        # Sleeps never outlast the retiring delay, so the carrier looks
        # again in time even with no timer (or a far-off stale one).
        self.max_sleep = self.idle_sleep = runtime.retire_after

    def _post(self, inbox, item):
        with self._lock:
            retired = self._retired
            if not retired:
                inbox.append(item)
                how = self._claim_wake()
        if retired:
            if inbox is self._calls_in:
                item()
        elif how is not None:
            self._finish_wake(how)

    def _maintain(self):
        Carrier._maintain(self)
        if self.live or self.runq or self._stopped:
            self._idle_from = None
            return
        now = _o.monotonic()
        if self._idle_from is None or self.ticks != self._idle_ticks:
            self._idle_from, self._idle_ticks = now, self.ticks
        elif now - self._idle_from >= self.runtime.retire_after \
                and self.runtime.retire(self):
            with self._lock:
                self._retired = True
                calls = self._calls_in[:]
                self._calls_in.clear()
            for fn in calls:
                fn()
            self._stopped = True


def _work():
    """The body of a kept greenlet: its vthread, then, kept by its carrier
    while the carrier has room and is not closing, the next one that the
    carrier starts on it (``Carrier._start`` sets ``vt`` and the context).
    ``VThread._main`` keeps no reference to the vthread while user code
    runs, and neither does this loop."""
    g = getcurrent()
    c = g.carrier
    while True:
        VThread._main(g.vt)
        if len(c.kept) >= KEEP or c.runtime.closing:
            return
        c.kept.append(g)
        rest(c)
