"""The library's one clock: ``now()``, read by every timer, sleep, timeout,
deadline and cancel scope of the library.

``now`` is a module attribute, read as ``_clock.now()`` (never imported by
name, so that installing a mock clock reaches every reader).  It is the
real monotonic clock of _originals -- no extra call on the hot path --
until a runtime with a mock clock (``vthreads.testing.run``) starts; then
it is ``_dispatch``, which gives the threads bound to a mock clock (the
carrier threads of that runtime) the clock's virtual time and every other
thread the real monotonic clock.  So a mock-clock runtime and the default
runtime can run side by side: each reads its own time.  The real clock
comes back once the last mock-clock runtime ends.

What deliberately stays on the real clock (``_originals.monotonic``): the
monitor (it measures how long a carrier really ran), statistics' ages,
the main thread's reaping rounds and shutdown's join timeout: they are
about the machine, not the library's timers.

The clock object a runtime may carry (``Runtime.clock``, None for the real
clock) must offer ``current_time()``, ``_real_timeout(deadline)`` (how
many real seconds a carrier may sleep before virtual ``deadline``, None:
until woken) and ``_idle(carrier, slept)`` (see vthreads/testing).

Threads and guards: ``_lock`` guards ``_bound`` (thread ident -> clock)
and ``_users`` together with every rebinding of ``now``.  ``_dispatch``
reads ``_bound`` without the lock: a dict lookup is atomic (GIL, or the
dict's own lock on free-threaded builds), and a thread's entry is set
before the thread reads its clock and removed after it stopped.
"""

from .. import _originals as _o

__all__ = ["now", "current_time", "bind", "unbind", "clock_of_thread"]

now = _o.monotonic

_lock = _o.allocate_lock()
_bound: dict = {}
_users = 0


def current_time() -> float:
    """The library's clock, in seconds: what every timer, sleep, timeout,
    deadline and cancel scope of vthreads reads (``fail_at``,
    ``CancelScope.deadline`` and ``current_effective_deadline`` are in it).

    The real monotonic clock in the default runtime and in OS threads; the
    virtual time of its ``MockClock`` in a vthread of a
    ``vthreads.testing.run`` runtime that has one.  Any thread; never
    parks.
    """
    return now()


def _dispatch():
    clock = _bound.get(_o.get_ident())
    if clock is None:
        return _o.monotonic()
    return clock.current_time()


def bind(ident, clock):
    """Have thread ``ident`` read ``clock`` (a carrier of a mock-clock
    runtime, from that carrier's own thread as it starts)."""
    global now, _users
    with _lock:
        if ident not in _bound:
            _users += 1
        _bound[ident] = clock
        now = _dispatch


def unbind(ident):
    """Thread ``ident`` (a carrier that stopped) reads the real clock again."""
    global now, _users
    with _lock:
        if _bound.pop(ident, None) is not None:
            _users -= 1
        if not _users:
            now = _o.monotonic


def clock_of_thread(ident=None):
    """The mock clock thread ``ident`` (default: this one) reads, or None."""
    return _bound.get(_o.get_ident() if ident is None else ident)
