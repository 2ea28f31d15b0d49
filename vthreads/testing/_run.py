"""``vthreads.testing.run``: a program in a runtime of its own, on a clock
of its own.

The runtime is made for the call and stopped at its end; the default
runtime (``vthreads.spawn`` from outside) is not touched, and both may run
at once: the carrier threads of this one read the mock clock, every other
thread the real one (vthreads/_core/_clock.py).  A vthread of this runtime
spawns into it (``spawn``, ``TaskGroup``).

Threads: any OS thread or vthread may call it; from the main thread the
wait serves signals and main-thread calls as ``vthreads.run`` does.
"""

from __future__ import annotations

import math
from typing import Any, Callable, TypeVar

from .._core import (Runtime, check_carriers, current, in_main_thread,
                     new_claim, serve)
from .._core import clock as _clock
from ._mockclock import MockClock

__all__ = ["run", "current_clock"]

_T = TypeVar("_T")
_STOP_TIMEOUT = 10.0   # seconds for the leftovers to take their cancellation


def run(main: Callable[..., _T], *args: Any, clock: MockClock | None = None,
        carriers: int = 1) -> _T:
    """Run ``main(*args)`` in a vthread of a fresh runtime with ``clock``
    and ``carriers`` carrier threads; wait, stop the runtime, and return
    what ``main`` returned (or raise what it raised).

    ``clock=None`` is the real clock.  An autojumping clock needs
    ``carriers=1`` (ValueError otherwise).  Vthreads still running when
    ``main`` returns are cancelled, as at ``vthreads.shutdown()``.  The
    caller's wait is not cancellable from its own scopes once ``main`` has
    started; cancel ``main`` from inside instead.
    """
    if not callable(main):
        raise TypeError(f"run() needs a callable, not {type(main).__name__}")
    if clock is not None and not isinstance(clock, MockClock):
        raise TypeError(f"clock must be a vthreads.testing.MockClock or None,"
                        f" not {type(clock).__name__}")
    check_carriers(carriers)
    if clock is not None and clock.autojump_threshold != math.inf \
            and carriers != 1:
        raise ValueError(f"an autojump clock needs carriers=1, not {carriers}")
    rt = Runtime(carriers, 0, clock)
    if clock is not None:
        clock._attach(rt)
    try:
        rt.start()
        claim = new_claim(main, args, None, None)
        vt = claim[0]

        def queue():
            if not rt.queue(claim):     # pragma: no cover - nobody closes it
                raise RuntimeError("the runtime of testing.run() closed")

        if current() is None and in_main_thread():
            serve(vt, queue, rt)
        else:
            queue()
        return vt.result()
    finally:
        rt.close(_STOP_TIMEOUT)
        if clock is not None:
            clock._detach(rt)


def current_clock() -> MockClock | None:
    """The MockClock the calling thread reads (a vthread of a
    ``testing.run`` runtime with one), or None: the real clock."""
    c = _clock.clock_of_thread()
    return c if isinstance(c, MockClock) else None
