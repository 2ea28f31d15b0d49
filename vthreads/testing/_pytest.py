"""The pytest plugin: ``@pytest.mark.vthreads`` and the clock fixtures.

Loaded by ``pytest -p vthreads.testing`` or by the ``pytest11`` entry
point (both name the plugin ``vthreads.testing``, whose ``pytest_plugins``
brings this module in).  It changes nothing for a test that neither
carries the mark nor asks for one of its fixtures.

- ``@pytest.mark.vthreads``: the test function runs in a vthread of the
  default runtime (``vthreads.run``); its fixtures are made outside it,
  in the test's thread, as usual.
- ``@pytest.mark.vthreads(clock="autojump")``: in a fresh runtime of one
  carrier on ``MockClock(autojump_threshold=0)`` (``vthreads.testing.run``):
  ``vthreads.sleep(3600)`` returns at once.  ``clock="mock"``: on
  ``MockClock()``, which moves only by ``jump()``; ``clock=`` a MockClock:
  on that one.  ``carriers=N`` without a clock: a fresh runtime of N
  carriers on the real clock.
- A marked test that asks for ``autojump_clock`` or ``vthreads_clock``
  runs on that clock, as trio's plugin does.
- ``vthreads_runtime``: a fresh default runtime for the test (shut down
  before and after it), for tests that count threads or configure().

Threads: pytest's own thread, which waits for the vthread.
"""

from __future__ import annotations

import functools
import inspect

import pytest

import vthreads

from ._mockclock import MockClock
from ._run import run

_CLOCK_FIXTURES = ("autojump_clock", "vthreads_clock")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "vthreads(clock=None, carriers=None): run the test in a vthread; "
        "clock='autojump' (or 'mock', or a MockClock) runs it in a fresh "
        "runtime on virtual time (vthreads.testing)")


@pytest.fixture
def autojump_clock():
    """``MockClock(autojump_threshold=0)``: virtual time jumps to the next
    deadline as soon as every vthread is parked.  A test marked
    ``vthreads`` that asks for it runs on it."""
    return MockClock(autojump_threshold=0)


@pytest.fixture
def vthreads_clock():
    """``MockClock()``: virtual time that moves only by ``jump()``.  A test
    marked ``vthreads`` that asks for it runs on it."""
    return MockClock()


@pytest.fixture
def vthreads_runtime():
    """A fresh default runtime for this test: whatever ran is shut down
    before it, and what it started is shut down after it."""
    if not vthreads.shutdown(timeout=10.0):
        pytest.fail("the runtime before this test did not stop in 10 s")
    yield
    vthreads.shutdown(timeout=10.0)


def _settings(item, marker):
    """(clock or None, carriers or None) for a marked test."""
    if marker.args:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.vthreads takes keywords only "
            f"(clock=..., carriers=...), not {marker.args!r}")
    unknown = set(marker.kwargs) - {"clock", "carriers"}
    if unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.vthreads has no option "
            f"{', '.join(sorted(unknown))} (clock=..., carriers=...)")
    clock = marker.kwargs.get("clock")
    if clock == "autojump":
        clock = MockClock(autojump_threshold=0)
    elif clock == "mock":
        clock = MockClock()
    elif clock is not None and not isinstance(clock, MockClock):
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.vthreads(clock=...) takes "
            f"'autojump', 'mock' or a MockClock, not {clock!r}")
    for name in _CLOCK_FIXTURES:
        if name in item.funcargs:
            if clock is not None:
                raise pytest.UsageError(
                    f"{item.nodeid}: both the mark's clock= and the "
                    f"{name} fixture name a clock; keep one")
            clock = item.funcargs[name]
    return clock, marker.kwargs.get("carriers")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    marker = pyfuncitem.get_closest_marker("vthreads")
    if marker is None:
        return None
    fn = pyfuncitem.obj
    if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn) \
            or inspect.isasyncgenfunction(fn):
        raise pytest.UsageError(
            f"{pyfuncitem.nodeid}: @pytest.mark.vthreads runs plain "
            f"functions, not coroutines or generators")
    clock, carriers = _settings(pyfuncitem, marker)
    args = {name: pyfuncitem.funcargs[name]
            for name in pyfuncitem._fixtureinfo.argnames}
    call = functools.partial(fn, **args)
    if clock is None and carriers is None:
        vthreads.run(call)
    else:
        run(call, clock=clock, carriers=1 if carriers is None else carriers)
    return True
