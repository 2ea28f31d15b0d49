"""The runtime: the carrier pool, placement, and its start and stop.

Placement: a vthread spawned on a carrier goes to that carrier's run queue
(and, with several carriers, to its ``stealable`` deque, from which idle
carriers take the newest unstarted ones).  A vthread spawned from outside
-- the main thread, any OS thread -- goes to the shared ``injected`` deque
and one sleeping carrier is woken.  Once started, a vthread stays on its
carrier: greenlet forbids switching across threads.

Compensation (docs/design.md, "Compensation for a blocked carrier"): the
monitor moves the unstarted claims of a carrier held past its threshold
to ``injected`` (``requeue``), and when every carrier is held it starts an
``ExtraCarrier`` (``add_extra``), up to ``max_carriers`` in all; an extra
carrier idle for ``retire_after`` seconds takes itself out (``retire``).
The ``size`` carriers the runtime started with never retire.

Threads and guards:
- ``_state_lock`` (module) guards ``_current``, ``_configured``,
  ``_configured_threshold`` and ``_configured_max``: who is the default
  runtime, starting it, configuring it.  ``_current`` is read without it
  on the hot path as a hint and re-checked under it.
- ``Runtime._lock`` guards ``closing`` (set once) together with every
  append to ``injected``, so nothing is injected into a runtime after its
  carriers have decided to stop.  ``closing`` is read without it by
  carriers, which only stop once ``injected`` is empty as well.
- ``carriers`` is copied on write, under ``_lock`` (the monitor adds, an
  idle extra carrier removes itself), and read without it: a reader reads
  the attribute once and iterates that list, which never changes.  A
  stale list misses a carrier just added (it takes ``injected`` work
  anyway) or names one that retired (see ExtraCarrier: a post to it is
  harmless).  ``add_extra`` and ``retire`` decide under ``_lock`` with
  ``closing`` and ``injected``, so no carrier is added once closing, and
  none retires with work injected that it alone could have taken.
- ``_started`` / ``_stopped``, ``extra_started``, ``_next_index`` and
  ``_extra_threads`` are guarded by ``_lock``; ``extra_started`` is read
  without it by statistics(), as a count.  ``size``, ``max_carriers`` and
  ``retire_after`` are set before the carriers start and only read.
- ``watch`` (the deadlock watch, _deadlock) is set and cleared by the
  thread that waits in ``run()``; carriers read it as a hint when they
  fall asleep, and the watch re-checks under their locks.

Shutdown, in order:
  1. mark the runtime closing (under ``_lock``) and unset it as the
     default, so the next spawn starts a fresh runtime;
  2. stop the monitor; post "cancel every live vthread" to each carrier;
     unstarted vthreads
     are cancelled as their carrier picks them up, since it is closing;
  3. each carrier leaves its loop once it has nothing live, queued or
     injected; wait for the threads, up to the timeout -- the extra
     carriers' too, those that retired just before included (the monitor
     stopped in step 2, so none is added meanwhile);
  4. a carrier that outlives the timeout (a vthread ignoring cancellation
     in a busy loop) is a daemon thread, so it cannot hold up exit.
"""

from __future__ import annotations

import contextvars
import enum
import os
from collections import deque
from typing import Any, Callable, Final

from .. import _originals as _o
from ._cancel import check_number, check_seconds
from ._carrier import Carrier, ExtraCarrier
from ._completion import complete
from ._errors import Cancelled
from ._fork import on_child
from ._monitor import Monitor, threshold_from_env
from ._ownthread import OwnThread
from ._switch import getcurrent
from ._vthread import DONE, VThread

_state_lock = _o.allocate_lock()
_current = None
_configured = None     # carriers count from configure(), or None
_configured_threshold = None    # monitor threshold from configure(), or None
_configured_max = None  # max_carriers from configure(), or None
_atexit_registered = False


def default_carriers():
    env = os.environ.get("VTHREADS_CARRIERS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(
                f"VTHREADS_CARRIERS must be a positive integer, not {env!r}"
            ) from None
        return check_carriers(n, "VTHREADS_CARRIERS")
    if _o.gil_enabled():
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


DEFAULT_MAX_CARRIERS = 256    # Loom's cap on its carrier pool, too
RETIRE_AFTER = 10.0            # seconds an extra carrier may stay idle


def default_max_carriers():
    """VTHREADS_MAX_CARRIERS, or the default (256)."""
    env = os.environ.get("VTHREADS_MAX_CARRIERS")
    if not env:
        return DEFAULT_MAX_CARRIERS
    try:
        n = int(env)
    except ValueError:
        raise ValueError("VTHREADS_MAX_CARRIERS must be a positive "
                         f"integer, not {env!r}") from None
    return check_carriers(n, "VTHREADS_MAX_CARRIERS")


def check_carriers(n, what="carriers"):
    """The one check of a carrier count, wherever it comes from: run(),
    configure(), VTHREADS_CARRIERS, ``python -m vthreads --carriers``,
    max_carriers and VTHREADS_MAX_CARRIERS."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, not {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{what} must be at least 1, not {n}")
    return n


class Runtime:
    def __init__(self, n, monitor_threshold=0, clock=None, max_carriers=None):
        self.clock = clock          # None: the real clock (see _clock)
        self.carriers = []
        self.injected = deque()
        self.closing = False
        self._lock = _o.allocate_lock()
        self._up = _o.allocate_lock()
        self._up.acquire()
        self._started = 0
        self._stopped = 0
        multi = n > 1
        self.carriers = [Carrier(self, i, multi) for i in range(n)]
        self.size = n               # carriers that never retire
        # Compensation (add_extra / retire): carriers beyond ``size``.
        self.max_carriers = n if max_carriers is None else max_carriers
        self.retire_after = RETIRE_AFTER
        self.extra_started = 0      # under _lock
        self._next_index = n        # under _lock
        self._extra_threads = []    # under _lock: for close() to join
        self.monitor = (Monitor(self, monitor_threshold)
                        if monitor_threshold > 0 else None)
        # The deadlock watch of the run() that waits for this runtime's
        # main vthread, or None (see _deadlock); set and cleared by it.
        self.watch = None

    def __repr__(self):
        return f"<Runtime carriers={self.size} closing={self.closing}>"

    def start(self):
        for c in self.carriers:
            t = OwnThread(c.run, f"vthreads-carrier-{c.index}")
            c.thread = t
            t.start()
        self._up.acquire()          # all carriers have their hub and ident
        if self.monitor is not None:
            self.monitor.start()

    def _carrier_started(self, carrier):
        if carrier.extra:
            return
        with self._lock:
            self._started += 1
            done = self._started == self.size
        if done:
            self._up.release()

    def _carrier_stopped(self, carrier):
        with self._lock:
            self._stopped += 1

    # --- placement ----------------------------------------------------------

    def spawn(self, fn, args, kwargs, name, group=None):
        """Queue a new vthread; None if this runtime is closing."""
        claim = new_claim(fn, args, kwargs, name, group)
        vt = claim[0]               # before queue(): a carrier empties it
        return vt if self.queue(claim) else None

    def queue(self, claim):
        """Queue the unstarted vthread of ``claim`` (see ``new_claim``);
        False if this runtime is closing.

        Queuing the same claim again is harmless -- whoever pops the
        vthread out of it starts it, once -- so a caller interrupted in
        here (a signal handler raising in the main thread) just calls
        again."""
        me = getattr(getcurrent(), "vt", None)
        c = me._carrier if me is not None else None
        if c is not None and c.runtime is self:
            c.push_new(claim)
            return True
        with self._lock:
            if self.closing:
                return False
            self.injected.append(claim)
        for c in self.carriers:
            if c.wake_if_sleeping():
                break
        else:
            m = self.monitor
            if m is not None and m.stalled:     # a hint: see add_extra
                m.nudge()
        return True

    def requeue(self, claims):
        """From the monitor: unstarted claims of a blocked carrier, to be
        taken by any other (they stay in its queue too: whoever pops the
        vthread out of a claim starts it, once)."""
        with self._lock:
            if self.closing:
                return
            self.injected.extend(claims)
        for c in self.carriers:
            if c.wake_if_sleeping():
                break

    # --- compensation ---------------------------------------------------------

    def add_extra(self):
        """From the monitor, when every carrier is blocked and work waits:
        start an extra carrier; None at ``max_carriers`` or closing.

        The list of carriers is copied on write under ``_lock`` and read
        without it: a reader iterates the list it read, which never
        changes; a stale one misses the newest carrier or names one that
        retires (see ExtraCarrier)."""
        with self._lock:
            if self.closing or len(self.carriers) >= self.max_carriers:
                return None
            c = ExtraCarrier(self, self._next_index)
            self._next_index += 1
            self.extra_started += 1
            self.carriers = self.carriers + [c]
            c.thread = t = OwnThread(c.run, f"vthreads-carrier-{c.index}")
            self._extra_threads = [x for x in self._extra_threads
                                   if x.is_alive()] + [t]
            # Started under the lock, so that close() never finds a
            # carrier whose thread it cannot join yet.
            t.start()
        return c

    def retire(self, carrier):
        """From an idle extra carrier's own thread: take it out of the
        list; False if it must stay (closing -- it then stops as every
        carrier does -- or work was injected meanwhile)."""
        with self._lock:
            if self.closing or self.injected or carrier not in self.carriers \
                    or len(self.carriers) <= self.size:
                return False
            self.carriers = [c for c in self.carriers if c is not carrier]
            return True

    def wake_idle(self, busy):
        """New local work on ``busy``: wake one sleeping carrier to steal it."""
        for c in self.carriers:
            if c is not busy and c.wake_if_sleeping():
                return

    def own_threads(self):
        """The OS threads of this runtime: its carriers and its monitor."""
        threads = [c.thread for c in self.carriers if c.thread is not None]
        if self.monitor is not None:
            threads.extend(self.monitor.own_threads())
        return threads

    def idle_forever(self):
        """A carrier goes to sleep with no timer and no fd: if every
        carrier now does, have the watch look for a deadlock.  Hints
        first (one flag per carrier); the watch re-checks under the
        carriers' locks."""
        watch = self.watch
        if watch is None or self.injected:
            return
        for c in self.carriers:
            if not c._forever:
                return
        watch.idle(self)

    # --- stopping -------------------------------------------------------------

    def close(self, timeout):
        with self._lock:
            already = self.closing
            self.closing = True
        if not already:
            if self.monitor is not None:
                self.monitor.stop()
            for c in self.carriers:
                c.post_call(_cancel_live(c))
        deadline = None if timeout is None else _o.monotonic() + timeout
        # The monitor has stopped: no carrier is added from here on, and
        # those that retired meanwhile are joined too.
        carriers = self.carriers
        with self._lock:
            threads = [c.thread for c in carriers if c.thread is not None]
            threads += [t for t in self._extra_threads if t not in threads]
        for c in carriers:
            c.wake_if_sleeping()
            c.poller.wake()
        for t in threads:
            if deadline is None:
                t.join()
            else:
                t.join(max(0.0, deadline - _o.monotonic()))
        return not any(t.is_alive() for t in threads)


def new_claim(fn, args, kwargs, name, group=None):
    """The claim ``[vt]`` of a new vthread that no runtime has queued yet:
    its identity can be recorded before it can run (``Runtime.queue``)."""
    return [VThread(fn, args, kwargs, name, contextvars.copy_context(),
                    group)]


def _cancel_live(carrier):
    def cancel_all():
        for vt in list(carrier.live):
            vt.cancel()
    return cancel_all


# --- the default runtime ------------------------------------------------------

def current_runtime():
    """The running default runtime, or None."""
    rt = _current
    return rt if rt is not None and not rt.closing else None


def runtime_here():
    """Where a spawn from here goes: the caller's own runtime if it is a
    vthread of one that runs (a ``vthreads.testing.run`` runtime, say),
    else the default runtime, started on first use."""
    vt = getattr(getcurrent(), "vt", None)
    if vt is not None:
        rt = getattr(vt._carrier, "runtime", None)
        if rt is not None and not rt.closing:
            return rt
    return get_runtime()


def get_runtime(carriers=None):
    """The default runtime, started on first use.

    ``carriers`` (from ``run``) must match a runtime that is already up.
    """
    global _current, _atexit_registered
    if carriers is not None:
        check_carriers(carriers)
    rt = _current
    if rt is not None and not rt.closing and carriers is None:
        return rt
    with _state_lock:
        rt = _current
        if rt is not None and not rt.closing:
            if carriers is not None and carriers != rt.size:
                raise RuntimeError(
                    f"the runtime is already running with {rt.size} "
                    f"carrier(s), not {carriers}")
            return rt
        n = carriers if carriers is not None else (
            _configured if _configured is not None else default_carriers())
        threshold = _configured_threshold
        if threshold is None:
            threshold = threshold_from_env()
        most = _configured_max
        if most is None:
            most = default_max_carriers()
        rt = Runtime(n, threshold, max_carriers=max(n, most))
        rt.start()
        _current = rt
        if not _atexit_registered:
            _o.register_atexit(_at_exit)
            _atexit_registered = True
        for fn in _start_hooks:
            fn()
        return rt


_start_hooks: list[Callable[[], object]] = []


def on_runtime_start(fn):
    """Run ``fn()`` each time the default runtime starts, in the thread
    that starts it, under ``_state_lock`` (upper modules: the inspect
    listener)."""
    _start_hooks.append(fn)


class _Keep(enum.Enum):
    """The type of ``_KEEP``, configure()'s "an argument left out"."""
    KEEP = "KEEP"

    def __repr__(self) -> str:
        return "_KEEP"


_KEEP: Final = _Keep.KEEP


def configure(carriers: int | None | _Keep = _KEEP, *,
              monitor_threshold: float | None | _Keep = _KEEP,
              max_carriers: int | None | _Keep = _KEEP) -> None:
    """Settings for the next runtime start; an argument left out keeps its
    setting, None restores the default.

    ``carriers``: how many carrier threads (default: VTHREADS_CARRIERS,
    else 1 with the GIL and one per CPU without).  ``monitor_threshold``:
    seconds a carrier may go without coming back to its scheduler before
    the monitor reports it (default: VTHREADS_MONITOR_THRESHOLD, else
    0.1); 0 turns the monitor off, and with it compensation.
    ``max_carriers``: the most carriers there may be at once, the extra
    ones included that compensation starts while every carrier is blocked
    in a call that does not park (default: VTHREADS_MAX_CARRIERS, else
    256); at most ``carriers``, no extra carrier starts.  TypeError or
    ValueError for a bad value, before anything changes.  RuntimeError
    while a runtime runs: call it before the first ``spawn`` or ``run``,
    or after ``shutdown()``.  Any thread.
    """
    global _configured, _configured_threshold, _configured_max
    if carriers is not _KEEP and carriers is not None:
        check_carriers(carriers)
    if monitor_threshold is not _KEEP and monitor_threshold is not None:
        monitor_threshold = check_seconds(monitor_threshold,
                                          "monitor_threshold")
    if max_carriers is not _KEEP and max_carriers is not None:
        check_carriers(max_carriers, "max_carriers")
    with _state_lock:
        if _current is not None and not _current.closing:
            raise RuntimeError("configure() must be called before the "
                               "runtime starts (or after shutdown())")
        if carriers is not _KEEP:
            _configured = carriers
        if monitor_threshold is not _KEEP:
            _configured_threshold = monitor_threshold
        if max_carriers is not _KEEP:
            _configured_max = max_carriers


def shutdown(timeout: float | None = None) -> bool:
    """Cancel the remaining vthreads and stop the carriers.

    Returns True if every carrier stopped within ``timeout``.  The next
    ``spawn`` or ``run`` starts a fresh runtime.  Called from an OS thread
    (the main thread, typically); RuntimeError from a vthread of the
    runtime it would stop.
    """
    global _current
    if timeout is not None:
        check_number(timeout)   # before anything stops: a bad one changes nothing
    me = getattr(getcurrent(), "vt", None)
    with _state_lock:
        rt = _current
        if rt is None:
            return True
        if me is not None and me._carrier is not None \
                and me._carrier.runtime is rt:
            raise RuntimeError("shutdown() cannot be called from a vthread "
                               "of the runtime it stops")
        _current = None
    return rt.close(timeout)


def shutdown_runtime(rt, timeout):
    """Stop ``rt`` as ``shutdown()`` stops the default runtime, if it still
    is the default (else it is being stopped already).  For ``run()``,
    from the main thread, after a deadlock ended its main vthread."""
    global _current
    with _state_lock:
        if _current is not rt:
            return
        _current = None
    rt.close(timeout)


def forked_carrier():
    """In a forked child: the carrier the child goes on with, or None."""
    return _forked[0]


_forked = [None]


def _after_fork():
    """See _fork: keep this thread's carrier, alone, with a poller of its
    own; forked from elsewhere, drop the runtime."""
    global _current
    _state_lock._at_fork_reinit()
    _forked[0] = None
    rt = _current
    if rt is None:
        return
    me = _o.get_ident()
    c = next((c for c in rt.carriers if c.thread_id == me), None)
    if c is None:
        _current = None         # its carriers are gone; start afresh
        return
    rt._lock._at_fork_reinit()
    c._lock._at_fork_reinit()
    me = getattr(getcurrent(), "vt", None)
    # Like the threads, the other vthreads do not go on in the child, not
    # even those of this carrier: only the one that forked does.  They end
    # as cancelled, so that joining one returns, as joining a thread that
    # vanished in the fork does.  Their greenlets are kept, never to run
    # again (a collected greenlet would run its finally blocks), and
    # wake-ups meant for them go nowhere.
    gone = set()
    for other in rt.carriers:
        gone.update(other.live)
        if other is not c:
            # Kept greenlets of carriers whose threads the fork left
            # behind: never released (their threads are gone).
            _frozen.extend(other.kept)
            other.kept = []
        gone.update(x[0] for x in other.runq if type(x) is list and x)
        # A spawn given to a sleeping carrier waits in its inbox.
        gone.update(x[0] for x in other._ready_in if type(x) is list and x)
    gone.update(x[0] for x in rt.injected if x)
    gone.discard(me)
    for vt in gone:
        if vt._carrier is not None:
            vt._carrier = _NOWHERE
        if vt._g is not None:
            _frozen.append(vt._g)
            vt._g = None
        vt._state = DONE
        vt._retrieved = True
        complete(vt, None, Cancelled("did not survive os.fork()"))
    rt.carriers = [c]
    rt.size = 1                 # it never retires, even if it was extra
    rt._extra_threads = []
    if rt.monitor is not None:  # its thread is gone: the child goes without
        rt.monitor.close_files()
        rt.monitor = None
    rt.injected.clear()
    rt.watch = None             # its run() waits in the parent, not here
    c._multi = False
    c._sleeping = None
    c._notified = False
    c._doze = _o.allocate_lock()
    c._doze.acquire()
    c.thread = None             # the child's only thread: nobody joins it
    c.poller.after_fork()
    c.live = {me} if me is not None else set()
    c.runq.clear()
    c.stealable.clear()
    c._ready_in.clear()
    c._calls_in.clear()
    _forked[0] = c


class _Nowhere:
    """The carrier of vthreads left behind by a fork: wake-ups are dropped."""
    thread_id = None
    index = -1

    def post_ready(self, vt):
        pass

    def post_call(self, fn):
        pass


_NOWHERE = _Nowhere()
_frozen: list[Any] = []


on_child(_after_fork)

_exit_hooks: list[Callable[[], object]] = []


def add_exit_hook(fn):
    """Run ``fn()`` at interpreter exit before the runtime stops (upper
    layers: joining non-daemon threads)."""
    if fn not in _exit_hooks:
        _exit_hooks.append(fn)


def _at_exit():
    for fn in _exit_hooks:
        try:
            fn()
        except BaseException:
            import traceback
            traceback.print_exc()
    me = getattr(getcurrent(), "vt", None)
    if me is not None and me._carrier is not None:
        # Exit from inside a vthread: a forked child (multiprocessing runs
        # threading's exit in the process's last thread, a carrier).  The
        # process ends right after; there is nothing to stop but us.
        return
    shutdown(timeout=5.0)
