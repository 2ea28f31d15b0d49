"""vthreads.testing: the one clock, MockClock, testing.run and the pytest
plugin.

Virtual time is exact: with rate 0 it moves only by jumps, so these tests
assert the virtual seconds that passed with ``==``.  Real time appears
only as generous upper bounds that prove "did not really wait an hour".
"""

import math
import os
import subprocess
import sys
import textwrap
import threading
import time
import tomllib

import pytest

import vthreads
from vthreads import testing
from vthreads._core import clock as _clock
from vthreads import _originals as _o

from conftest import ROOT, wait_until

AUTOJUMP = dict(autojump_threshold=0)


def _autojump_run(fn, *args):
    return testing.run(fn, *args, clock=testing.MockClock(**AUTOJUMP))


# --- the one clock ---------------------------------------------------------------

def test_the_real_clock_is_monotonic_itself_when_no_mock_runs():
    assert _clock.now is _o.monotonic          # no extra call on the hot path
    before = time.monotonic()
    t = vthreads.current_time()
    assert before <= t <= time.monotonic()
    assert before <= vthreads.run(vthreads.current_time) <= time.monotonic()


def test_the_real_clock_comes_back_after_a_mock_runtime():
    seen = _autojump_run(lambda: _clock.now)
    assert seen is not _o.monotonic             # the dispatcher ran
    assert _clock.now is _o.monotonic
    assert _clock._bound == {}


def test_other_threads_keep_real_time_while_a_mock_runtime_runs():
    inside = threading.Event()
    out = threading.Event()
    seen = {}

    def main():
        seen["virtual"] = vthreads.current_time()
        inside.set()
        vthreads.to_thread(out.wait, 30)   # the mock runtime stays up

    def outside():
        inside.wait(30)
        before = time.monotonic()
        seen["thread"] = vthreads.current_time()
        seen["vthread"] = vthreads.run(vthreads.current_time)  # default runtime
        seen["bounds"] = (before, time.monotonic())
        out.set()

    t = threading.Thread(target=outside)
    t.start()
    testing.run(main, clock=testing.MockClock())
    t.join(30)
    lo, hi = seen["bounds"]
    assert seen["virtual"] == 0.0
    assert lo <= seen["thread"] <= hi
    assert lo <= seen["vthread"] <= hi


# --- MockClock -----------------------------------------------------------------------

def test_autojump_sleep_of_an_hour_returns_at_once():
    def main():
        t0 = vthreads.current_time()
        vthreads.sleep(3600)
        return vthreads.current_time() - t0

    real = time.monotonic()
    assert _autojump_run(main) == 3600
    assert time.monotonic() - real < 60        # not an hour of real time


def test_autojump_fires_deadlines_in_order_with_exact_times():
    def main():
        log = []

        def sleeper(n):
            vthreads.sleep(n)
            log.append((n, vthreads.current_time()))

        with vthreads.TaskGroup() as tg:
            for n in (30, 10, 20):
                tg.spawn(sleeper, n)
        return log

    assert _autojump_run(main) == [(10, 10.0), (20, 20.0), (30, 30.0)]


def test_autojump_ends_cancel_scopes_and_timeouts():
    def main():
        ev = vthreads.Event()
        with vthreads.move_on_after(5) as scope:
            ev.wait()
        assert scope.cancelled_caught
        assert vthreads.current_time() == 5
        with pytest.raises(TimeoutError):
            with vthreads.fail_after(7):
                vthreads.Queue().get()
        assert vthreads.current_time() == 12
        assert ev.wait(timeout=3) is False
        assert vthreads.current_time() == 15
        assert vthreads.Lock().acquire() is True
        return vthreads.current_time()

    assert _autojump_run(main) == 15


def test_autojump_skips_deadlines_nobody_waits_for_any_more():
    # A wait that ended early leaves its timer behind in the heap; a jump
    # to it would move time for nothing.  Here the only timer left is such
    # a stale one, so the carrier must sleep until the OS thread's event.
    def main():
        ev = vthreads.Event()
        vthreads.spawn(ev.set)
        assert ev.wait(timeout=100) is True      # its timer (at 100) is stale
        carrier = vthreads.current()._carrier
        late = vthreads.Event()

        def poster():
            wait_until(lambda: carrier._sleeping is not None)
            late.set()

        threading.Thread(target=poster).start()
        late.wait()
        return vthreads.current_time()

    assert _autojump_run(main) == 0.0


def test_without_autojump_time_moves_by_jump_only():
    clock = testing.MockClock()

    def main():
        log = []
        woke = vthreads.Event()

        def sleeper(n):
            vthreads.sleep(n)
            log.append(n)
            woke.set()

        a = vthreads.spawn(sleeper, 5)
        b = vthreads.spawn(sleeper, 10)
        vthreads.sleep(0)                    # both parked with their deadlines
        clock.jump(6)
        woke.wait()
        a.join()
        assert log == [5] and not b.done()
        clock.jump(4)
        b.join()
        return log, vthreads.current_time()

    assert testing.run(main, clock=clock) == ([5, 10], 10.0)


def test_jump_from_an_os_thread_wakes_a_sleeping_carrier():
    clock = testing.MockClock()
    parked = threading.Event()

    def main():
        deadline = vthreads.current_time() + 10
        with vthreads.move_on_at(deadline) as scope:
            parked.set()
            vthreads.Event().wait()
        return scope.cancelled_caught, vthreads.current_time()

    t = threading.Thread(target=lambda: (parked.wait(30), clock.jump(10)))
    t.start()
    assert testing.run(main, clock=clock) == (True, 10.0)
    t.join(30)


def test_rate_makes_virtual_time_run_faster():
    clock = testing.MockClock(rate=10000.0)

    def main():
        t0 = vthreads.current_time()
        vthreads.sleep(100)                  # 10 ms of real time
        return vthreads.current_time() - t0

    real = time.monotonic()
    assert testing.run(main, clock=clock) >= 100
    assert time.monotonic() - real < 30


def test_a_threshold_waits_that_long_in_real_time_before_jumping():
    clock = testing.MockClock(autojump_threshold=0.05)

    def main():
        t0 = vthreads.current_time()
        real = time.monotonic()
        vthreads.sleep(3600)
        return vthreads.current_time() - t0, time.monotonic() - real

    virtual, real = testing.run(main, clock=clock)
    assert virtual == pytest.approx(3600)
    assert real >= 0.05


def test_os_threads_of_a_mock_runtime_wait_in_real_time():
    def main():
        ev = vthreads.Event()
        t0 = vthreads.current_time()
        # A to_thread helper is an OS thread: its timeout is real seconds,
        # and the parked main vthread has no timer to jump to meanwhile.
        got = vthreads.to_thread(ev.wait, 0.01)
        return got, vthreads.current_time() - t0

    assert _autojump_run(main) == (False, 0.0)


def test_spawns_of_a_mock_runtime_stay_in_it():
    def main():
        child = vthreads.spawn(lambda: (vthreads.sleep(50),
                                        vthreads.current_time())[1])
        return child.result()

    assert _autojump_run(main) == 50.0


def test_a_vthread_spawns_into_its_own_runtime_not_the_default_one():
    # The behaviour change of the one clock: spawn() and TaskGroup.spawn()
    # from a vthread of a testing.run runtime (mock clock or not) put the
    # child on that runtime's carriers; from elsewhere, the default one's.
    def where():
        return vthreads.current()._carrier.runtime

    def main():
        mine = where()
        child = vthreads.spawn(where).result()
        with vthreads.TaskGroup() as tg:
            grandchild = tg.spawn(where)
        return mine, child, grandchild.result()

    default = vthreads.run(where)
    for clock in (None, testing.MockClock()):
        mine, child, grandchild = testing.run(main, clock=clock, carriers=2)
        assert mine is not default
        assert child is mine and grandchild is mine
    assert vthreads.spawn(where).result() is default   # from an OS thread


def test_run_returns_and_raises_what_main_does():
    assert testing.run(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(KeyError, match="boom"):
        _autojump_run(lambda: {}["boom"])


def test_run_cancels_what_is_left_when_main_returns():
    box = []

    def left():
        try:
            vthreads.Event().wait()
        except vthreads.Cancelled:
            box.append("cancelled")
            raise

    def main():
        vthreads.spawn(left)
        vthreads.sleep(1)
    _autojump_run(main)
    assert box == ["cancelled"]


def test_mock_runtime_with_several_carriers_without_autojump():
    clock = testing.MockClock()

    def main():
        ends = []
        ready = vthreads.Semaphore(0)

        def waiter():
            # A fixed deadline: a jump before this parks still ends it.
            with vthreads.move_on_at(5.0):
                ready.release()
                vthreads.Event().wait()
            ends.append(vthreads.current_time())

        with vthreads.TaskGroup() as tg:
            for _ in range(4):
                tg.spawn(waiter)
            for _ in range(4):
                ready.acquire()
            clock.jump(5)
        return ends

    assert testing.run(main, clock=clock, carriers=2) == [5.0] * 4


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="carriers=1"):
        testing.run(lambda: None, clock=testing.MockClock(**AUTOJUMP),
                    carriers=2)
    with pytest.raises(TypeError, match="MockClock"):
        testing.run(lambda: None, clock="autojump")
    with pytest.raises(TypeError, match="callable"):
        testing.run(42)
    with pytest.raises(ValueError):
        testing.run(lambda: None, carriers=0)
    with pytest.raises(ValueError, match="rate"):
        testing.MockClock(rate=-1)
    with pytest.raises(ValueError, match="autojump_threshold"):
        testing.MockClock(autojump_threshold=math.nan)
    with pytest.raises(TypeError, match="rate"):
        testing.MockClock(rate="fast")
    clock = testing.MockClock()
    with pytest.raises(ValueError, match="jump"):
        clock.jump(-1)
    clock.jump(2.5)
    assert clock.current_time() == 2.5
    clock.rate = 0.0
    assert clock.autojump_threshold == math.inf and clock.rate == 0.0
    assert "MockClock time=2.5" in repr(clock)


def test_a_clock_serves_one_runtime_at_a_time():
    clock = testing.MockClock()

    def main():
        with pytest.raises(RuntimeError, match="one at a time"):
            testing.run(lambda: None, clock=clock)
        return "ok"

    assert testing.run(main, clock=clock) == "ok"
    assert testing.run(lambda: "again", clock=clock) == "again"


def test_autojump_cannot_be_turned_on_for_several_carriers():
    clock = testing.MockClock()

    def main():
        with pytest.raises(ValueError, match="1 carrier"):
            clock.autojump_threshold = 0
    testing.run(main, clock=clock, carriers=2)


def test_current_clock_names_the_mock_clock_of_the_caller():
    clock = testing.MockClock()
    assert testing.current_clock() is None
    assert testing.run(testing.current_clock, clock=clock) is clock
    assert vthreads.run(testing.current_clock) is None


# --- the pytest plugin ---------------------------------------------------------------

PLUGIN_TESTS = '''
import threading
import pytest
import vthreads
from vthreads import testing

@pytest.mark.vthreads
def test_in_a_vthread():
    assert vthreads.current() is not None

@pytest.mark.vthreads(clock="autojump")
def test_on_virtual_time():
    t0 = vthreads.current_time()
    vthreads.sleep(3600)
    assert vthreads.current_time() - t0 == 3600
    assert testing.current_clock() is not None

@pytest.mark.vthreads
def test_fixture_clock_is_used(autojump_clock):
    assert testing.current_clock() is autojump_clock
    vthreads.sleep(60)
    assert autojump_clock.current_time() == 60

@pytest.mark.vthreads
def test_manual_clock(vthreads_clock):
    vthreads.spawn(lambda: vthreads_clock.jump(3))
    vthreads.sleep(3)
    assert vthreads.current_time() == 3

@pytest.mark.vthreads(carriers=2)
def test_fresh_runtime_of_two():
    assert testing.current_clock() is None
    assert vthreads.current() is not None

@pytest.mark.vthreads
def test_a_fixture_value(tmp_path):
    assert tmp_path.is_dir() and vthreads.current() is not None

@pytest.mark.vthreads(clock="autojump")
def test_failing():
    vthreads.sleep(1)
    assert vthreads.current_time() == 2

def test_unmarked():
    assert vthreads.current() is None
    assert threading.current_thread() is threading.main_thread()

def test_fresh(vthreads_runtime):
    assert vthreads.run(lambda: 7) == 7
'''

BAD_MARKS = '''
import pytest
from vthreads import testing

@pytest.mark.vthreads("autojump")
def test_positional():
    pass

@pytest.mark.vthreads(clok="autojump")
def test_misspelt():
    pass

@pytest.mark.vthreads(clock="fast")
def test_unknown_clock():
    pass

@pytest.mark.vthreads(clock="autojump")
def test_two_clocks(autojump_clock):
    pass

@pytest.mark.vthreads
async def test_coroutine():
    pass
'''


def _pytest_in(tmp_path, source, *args, extra_path=()):
    (tmp_path / "test_it.py").write_text(textwrap.dedent(source))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, *extra_path])
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "-rf", *args, "test_it.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)


def test_plugin_runs_marked_tests_in_vthreads(tmp_path):
    r = _pytest_in(tmp_path, PLUGIN_TESTS, "-p", "vthreads.testing")
    out = r.stdout + r.stderr
    assert "1 failed, 8 passed" in out, out
    assert "FAILED test_it.py::test_failing" in out, out


def test_plugin_refuses_bad_marks_by_name(tmp_path):
    r = _pytest_in(tmp_path, BAD_MARKS, "-p", "vthreads.testing")
    out = r.stdout + r.stderr
    assert r.returncode != 0
    for what in ("keywords only", "no option clok", "not 'fast'",
                 "keep one", "not coroutines"):
        assert what in out, (what, out)


def test_without_the_plugin_the_mark_is_unknown(tmp_path):
    # Installing vthreads registers the entry point, so pytest loads the
    # plugin unless told not to: turn it off by its name.
    r = _pytest_in(tmp_path, PLUGIN_TESTS, "-p", "no:vthreads.testing",
                   "--strict-markers")
    assert "'vthreads' not found in `markers`" in r.stdout + r.stderr


def test_entry_point_is_declared_under_the_plugin_s_own_name():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)
    assert meta["project"]["entry-points"]["pytest11"] == {
        "vthreads.testing": "vthreads.testing"}


def test_the_entry_point_loads_the_plugin_and_agrees_with_dash_p(tmp_path):
    # An installed distribution, as pip makes it: a dist-info with this
    # project's entry point, on the path of a child pytest.
    site = tmp_path / "site"
    dist = site / "vthreads_ep_probe-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vthreads-ep-probe\nVersion: 0\n")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        eps = tomllib.load(f)["project"]["entry-points"]["pytest11"]
    (dist / "entry_points.txt").write_text(
        "[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    tests = tmp_path / "t"
    tests.mkdir()
    for args in ((), ("-p", "vthreads.testing")):
        r = _pytest_in(tests, PLUGIN_TESTS, *args, extra_path=[str(site)])
        assert "1 failed, 8 passed" in r.stdout + r.stderr, (args, r.stdout,
                                                             r.stderr)
    r = _pytest_in(tests, PLUGIN_TESTS, "-p", "no:vthreads.testing",
                   "--strict-markers", extra_path=[str(site)])
    assert "'vthreads' not found in `markers`" in r.stdout + r.stderr


def test_importing_vthreads_testing_does_not_import_pytest():
    r = subprocess.run(
        [sys.executable, "-c",
         "import sys, vthreads.testing; print('pytest' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.stdout.strip() == "False", r.stderr
