"""MockClock: virtual time for tests, after trio's ``trio.testing.MockClock``.

Virtual time is ``virtual_base + rate * (real - real_base)``: it stands
still at ``rate=0`` (the default) and moves only by ``jump()``, or, with an
autojump threshold, by itself to the next deadline once the runtime has
been idle that many real seconds (0: as soon as every vthread is parked).

How a carrier uses it (vthreads/_core/_carrier.py, ``_maintain``): before
it sleeps it asks ``_real_timeout(deadline)`` how long it may really
sleep; after a sleep in which nothing happened it calls ``_idle``, which
jumps when the threshold has passed.  "Idle" is the carrier's own view:
nothing ready, nothing posted, no fd ready when it looked.  A vthread
parked on an fd does not keep the runtime busy (trio's choice too): a
socket timeout can expire at once under ``autojump_threshold=0`` while a
peer in another thread or process is still answering, so use a threshold
of a few real tens of milliseconds there.  A ``to_thread`` job or an OS
thread that will post later counts the same way.

Threads and guards: ``_lock`` guards the three bases, ``_rate``,
``_threshold`` and ``_runtime``; any thread may read the time, jump or
change the settings.  A jump or a change posts an empty call to each
carrier of the runtime, under the carrier's own lock, so a carrier about
to sleep either sees the new time when it computes its sleep or is woken.
"""

from __future__ import annotations

import math
import numbers

from .. import _originals as _o

__all__ = ["MockClock"]

_MAX_SLEEP = 3600.0   # as the carrier's own cap (_carrier.MAX_SLEEP)


def _check(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or value < 0:
        raise ValueError(f"{what} must be a non-negative number, not {value!r}")
    return value


def _nothing():
    pass


class MockClock:
    """A virtual clock for ``vthreads.testing.run`` and the pytest plugin.

    ``rate``: virtual seconds per real second (0: time moves only by
    ``jump()`` and autojumps).  ``autojump_threshold``: real seconds the
    runtime must stay idle -- every vthread parked -- before virtual time
    jumps to the next deadline (``math.inf``, the default: never; 0: at
    once).  Autojumping needs a runtime of one carrier, since only then is
    "every vthread parked" one carrier's view.  Virtual time starts at 0.

    Every method may be called from any thread, vthread or not; none
    parks, so none raises Cancelled.  A clock serves one runtime at a time.
    """

    def __init__(self, rate: float = 0.0,
                 autojump_threshold: float = math.inf) -> None:
        self._lock = _o.allocate_lock()
        self._real_base = _o.monotonic()
        self._virtual_base = 0.0
        self._rate = _check(rate, "rate")
        self._threshold = _check(autojump_threshold, "autojump_threshold")
        self._runtime = None

    def __repr__(self) -> str:
        return (f"<MockClock time={self.current_time():.6f} rate={self._rate}"
                f" autojump_threshold={self._threshold}>")

    # --- the public settings ----------------------------------------------

    @property
    def rate(self) -> float:
        """Virtual seconds per real second; settable (from now on)."""
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        value = _check(value, "rate")
        with self._lock:
            real = _o.monotonic()
            self._virtual_base = self._virtual_locked(real)
            self._real_base = real
            self._rate = value
        self._wake()

    @property
    def autojump_threshold(self) -> float:
        """Real seconds of idleness before an autojump (inf: never)."""
        return self._threshold

    @autojump_threshold.setter
    def autojump_threshold(self, value: float) -> None:
        value = _check(value, "autojump_threshold")
        with self._lock:
            rt = self._runtime
            if value != math.inf and rt is not None and rt.size != 1:
                raise ValueError(
                    f"autojump needs a runtime of 1 carrier, this one has "
                    f"{rt.size}")
            self._threshold = value
        self._wake()

    def current_time(self) -> float:
        """The virtual time, in seconds."""
        with self._lock:
            return self._virtual_locked(_o.monotonic())

    def jump(self, seconds: float) -> None:
        """Move virtual time ``seconds`` forward; the timers now due fire.

        ValueError for a negative or NaN jump: time never goes back.
        """
        seconds = _check(seconds, "jump")
        with self._lock:
            self._virtual_base += seconds
        self._wake()

    # --- for the runtime (vthreads.testing.run, the carrier) ---------------

    def _virtual_locked(self, real):
        return self._virtual_base + self._rate * (real - self._real_base)

    def _attach(self, runtime):
        with self._lock:
            busy = self._runtime is not None
        if busy:
            raise RuntimeError(f"{self!r} already runs a runtime; a "
                               "MockClock serves one at a time")
        with self._lock:
            if self._runtime is not None:     # attached meanwhile
                raise RuntimeError("this MockClock already runs a runtime; "
                                   "a MockClock serves one at a time")
            if self._threshold != math.inf and runtime.size != 1:
                raise ValueError(
                    f"autojump needs a runtime of 1 carrier, not "
                    f"{runtime.size} (carriers=1, or no autojump_threshold)")
            self._runtime = runtime

    def _detach(self, runtime):
        with self._lock:
            if self._runtime is runtime:
                self._runtime = None

    def _wake(self):
        rt = self._runtime
        if rt is not None:
            for c in rt.carriers:
                c.post_call(_nothing)

    def _real_timeout(self, deadline):
        """Real seconds a carrier may sleep before virtual ``deadline``
        (None: no timer); None: until woken."""
        if deadline is None:
            return None
        with self._lock:
            left = deadline - self._virtual_locked(_o.monotonic())
            rate = self._rate
            threshold = self._threshold
        if left <= 0:
            return 0.0
        timeout = left / rate if rate > 0 else None
        if threshold != math.inf and (timeout is None or threshold < timeout):
            timeout = threshold
        return None if timeout is None else min(timeout, _MAX_SLEEP)

    def _idle(self, deadline, slept):
        """A carrier slept ``slept`` real seconds and nothing came: with
        the threshold passed, jump to ``deadline`` (its next timer)."""
        if deadline is None or slept < self._threshold:
            return
        with self._lock:
            real = _o.monotonic()
            if deadline > self._virtual_locked(real):
                # Rebased, not added to: the time is then exactly the
                # deadline, which the timer's ``deadline <= now`` needs.
                self._virtual_base = deadline
                self._real_base = real
