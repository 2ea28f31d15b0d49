"""Compensation for a blocked carrier (vthreads/_core/_monitor.py,
``Runtime.add_extra`` / ``retire``, ``ExtraCarrier``).

Each test starts a fresh runtime with the monitor's threshold at 0.1 s and
holds a carrier in a C call that does not park: the original, unpatched
``time.sleep`` where the test is about a fixed hold, else a real lock the
test releases once what it waits for has happened.  Nothing here judges
speed: the tests assert orders (the 100 vthreads done before the blocker
returns) and wait for conditions (a report, an extra carrier gone), never
for a fixed time.  Latency figures are in benchmarks/compensation.py.
"""

import logging
import os
import subprocess
import sys

import pytest

import vthreads
from vthreads import _originals
from vthreads._core import _runtime
from vthreads.monkey import get_original

from conftest import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

real_lock = get_original("_thread", "allocate_lock")
os_ident = get_original("_thread", "get_ident")
os_threads = get_original("threading", "enumerate")
LIMIT = 10.0         # seconds a test waits for a condition before it fails


class Held:
    """Hold a carrier in a real, unpatched lock until released."""

    def __init__(self):
        self.lock = real_lock()
        self.lock.acquire()
        self.entered = real_lock()
        self.entered.acquire()

    def __call__(self):
        self.entered.release()
        self.lock.acquire()             # blocks the carrier in C
        self.lock.release()

    def wait_entered(self):
        assert self.entered.acquire(True, LIMIT)

    def release(self):
        self.lock.release()


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


@pytest.fixture
def fresh():
    """A fresh runtime per test, configured by the test; returns a
    function that configures and starts it and returns the Runtime."""
    vthreads.shutdown(timeout=10)
    handler = Records()
    logger = logging.getLogger("vthreads.monitor")
    logger.addHandler(handler)

    def start(retire_after=None, **settings):
        settings.setdefault("carriers", 1)
        settings.setdefault("monitor_threshold", 0.1)
        vthreads.configure(**settings)
        vthreads.spawn(lambda: None).result(LIMIT)
        rt = _runtime.current_runtime()
        if retire_after is not None:
            rt.retire_after = retire_after     # before any extra starts
        return rt
    start.reports = handler.records
    try:
        yield start
    finally:
        logger.removeHandler(handler)
        vthreads.shutdown(timeout=10)
        vthreads.configure(None, monitor_threshold=None, max_carriers=None)


def carrier_threads():
    return {t.name for t in os_threads() if t.is_alive()
            and t.name.startswith("vthreads-carrier-")}


def test_100_vthreads_finish_while_the_only_carrier_is_held(fresh):
    fresh()
    events = []
    blocker = Held()            # only to know it has started

    def hold():
        blocker.entered.release()
        _originals.sleep(1.5)   # the real time.sleep: the carrier is held
        events.append("blocker returned")
    vb = vthreads.spawn(hold, name="blocker")
    blocker.wait_entered()
    vts = [vthreads.spawn(events.append, i) for i in range(100)]
    for vt in vts:
        vt.result(LIMIT)
    vb.result(LIMIT)
    assert events == list(range(100)) + ["blocker returned"]
    stats = vthreads.statistics()
    assert stats.extra_carriers_started == 1
    assert len(stats.carriers) == 2 and stats.carriers[1].extra


def test_the_unstarted_vthreads_of_the_held_carrier_move(fresh):
    # Spawned on the carrier itself, queued behind the holder: the monitor
    # moves them.  The one already started (and parked) stays, and is
    # named in the report and in statistics().
    fresh()
    held = Held()
    go = vthreads.Event()
    where = {}

    def pinned():
        where["pinned before"] = os_ident()
        go.wait()
        where["pinned after"] = os_ident()

    def moved():
        where["moved"] = os_ident()

    def parent():
        where["carrier 0"] = os_ident()
        p = vthreads.spawn(pinned, name="pinned")
        vthreads.sleep(0)                   # it starts and parks
        h = vthreads.spawn(held, name="holder")
        m = vthreads.spawn(moved, name="moved")
        return p, h, m
    p, h, m = vthreads.spawn(parent).result(LIMIT)
    m.result(LIMIT)                         # while the holder holds
    assert not h.done()
    assert where["moved"] != where["carrier 0"]
    go.set()                                # pinned is ready, and waits
    stats = vthreads.statistics()
    assert stats.carriers[0].blocked
    assert stats.carriers[0].holder == h.ident
    assert stats.carriers[0].waiting_behind == (p.ident,)
    assert not p.done()
    [msg] = fresh.reports
    assert "has run <VThread 'holder'" in msg
    assert "1 started vthread(s) wait behind it" in msg
    assert "<VThread 'pinned'" in msg
    held.release()
    p.result(LIMIT)
    h.result(LIMIT)
    assert where["pinned before"] == where["pinned after"] \
        == where["carrier 0"]


def test_an_idle_extra_carrier_retires(fresh):
    fresh(retire_after=0.2)
    held = Held()
    where = []

    def hold():
        where.append(os_ident())
        held()
    h = vthreads.spawn(hold)
    held.wait_entered()
    assert vthreads.spawn(os_ident).result(LIMIT) != where[0]
    assert vthreads.statistics().extra_carriers_started == 1
    held.release()
    h.result(LIMIT)
    assert wait_until(lambda: vthreads.statistics().extra_carriers == 0,
                      LIMIT)
    assert wait_until(
        lambda: carrier_threads() == {"vthreads-carrier-0"}, LIMIT)
    stats = vthreads.statistics()
    assert len(stats.carriers) == 1 and stats.extra_carriers_started == 1
    # The runtime goes on with its own carrier.
    assert vthreads.spawn(os_ident).result(LIMIT) == where[0]


def test_no_carrier_beyond_max_carriers_and_the_work_waits(fresh):
    rt = fresh(max_carriers=2)
    first, second = Held(), Held()
    h1 = vthreads.spawn(first)
    first.wait_entered()
    h2 = vthreads.spawn(second)             # to carrier 1, which it holds
    second.wait_entered()
    assert wait_until(lambda: all(
        c.blocked for c in vthreads.statistics().carriers), LIMIT)
    done = []
    vts = [vthreads.spawn(done.append, i) for i in range(10)]
    looks = rt.monitor.looks
    assert wait_until(lambda: rt.monitor.looks >= looks + 3, LIMIT)
    stats = vthreads.statistics()
    assert len(stats.carriers) == 2 and stats.extra_carriers_started == 1
    assert stats.max_carriers == 2
    assert done == [] and stats.injected == 10
    assert len(carrier_threads()) == 2
    first.release()
    second.release()
    for vt in vts + [h1, h2]:
        vt.result(LIMIT)
    assert sorted(done) == list(range(10))


def test_max_carriers_at_carriers_starts_no_extra_carrier(fresh):
    fresh(max_carriers=1)
    events = []
    held = Held()

    def hold():
        held()
        events.append("holder")
    h = vthreads.spawn(hold)
    held.wait_entered()
    vts = [vthreads.spawn(events.append, i) for i in range(3)]
    assert wait_until(lambda: vthreads.statistics().carriers[0].blocked,
                      LIMIT)
    rt = _runtime.current_runtime()
    looks = rt.monitor.looks
    assert wait_until(lambda: rt.monitor.looks >= looks + 3, LIMIT)
    held.release()
    for vt in vts + [h]:
        vt.result(LIMIT)
    assert events == ["holder", 0, 1, 2]
    assert vthreads.statistics().extra_carriers_started == 0


def test_threshold_zero_means_no_compensation(fresh):
    rt = fresh(monitor_threshold=0)
    assert rt.monitor is None
    events = []
    blocker = Held()

    def hold():
        blocker.entered.release()
        _originals.sleep(0.5)           # five thresholds' worth
        events.append("blocker returned")
    vb = vthreads.spawn(hold)
    blocker.wait_entered()
    vts = [vthreads.spawn(events.append, i) for i in range(5)]
    for vt in vts + [vb]:
        vt.result(LIMIT)
    # Nothing moved: they ran on the one carrier, after it came back.
    assert events == ["blocker returned"] + list(range(5))
    stats = vthreads.statistics()
    assert stats.extra_carriers_started == 0 and len(stats.carriers) == 1
    assert carrier_threads() == {"vthreads-carrier-0"}


def test_a_cpu_bound_carrier_gets_no_extra_carrier(fresh):
    # A loop holds a CPU: another carrier would compete for it (and for
    # the GIL).  Its work waits, as with the monitor off.
    rt = fresh()
    events = []
    stop = []

    def spin():
        while not stop:
            pass
        events.append("spinner")
    s = vthreads.spawn(spin)
    assert wait_until(lambda: vthreads.statistics().carriers[0].blocked,
                      LIMIT)
    vts = [vthreads.spawn(events.append, i) for i in range(3)]
    looks = rt.monitor.looks
    assert wait_until(lambda: rt.monitor.looks >= looks + 3, LIMIT)
    stop.append(True)
    for vt in vts + [s]:
        vt.result(LIMIT)
    assert "looks CPU-bound" in fresh.reports[0]
    assert events == ["spinner", 0, 1, 2]
    assert vthreads.statistics().extra_carriers_started == 0


def test_shutdown_stops_every_extra_carrier(fresh):
    fresh()                         # extra carriers retire after 10 s
    helds = [Held() for _ in range(3)]
    hs = []
    for held in helds:              # each blocks one carrier more
        hs.append(vthreads.spawn(held))
        held.wait_entered()
    sleepers = [vthreads.spawn(vthreads.sleep, 3600) for _ in range(20)]
    assert wait_until(lambda: vthreads.statistics().extra_carriers >= 2,
                      LIMIT)
    assert wait_until(lambda: len(vthreads.statistics().carriers) == 4,
                      LIMIT)
    for held in helds:
        held.release()
    for h in hs:
        h.result(LIMIT)
    assert len(carrier_threads()) == 4
    assert vthreads.shutdown(timeout=10) is True
    assert carrier_threads() == set()
    assert all(s.cancelled() for s in sleepers)


@pytest.mark.parametrize("value, error", [
    (0, ValueError), (-3, ValueError), (True, TypeError), ("8", TypeError),
    (2.0, TypeError)])
def test_configure_rejects_a_bad_max_carriers(value, error):
    with pytest.raises(error, match="max_carriers"):
        vthreads.configure(max_carriers=value)


@pytest.mark.parametrize("env, out", [
    ("7", "7"), ("", "256"),
    ("many", "ValueError: VTHREADS_MAX_CARRIERS must be a positive "
             "integer, not 'many'"),
    ("0", "ValueError: VTHREADS_MAX_CARRIERS must be at least 1, not 0")])
def test_the_environment_variable(env, out):
    code = ("import vthreads\n"
            "vthreads.configure(carriers=1)\n"
            "try:\n"
            "    vthreads.spawn(lambda: None).result(10)\n"
            "    print(vthreads.statistics().max_carriers)\n"
            "except ValueError as e:\n"
            "    print('ValueError:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60, cwd=ROOT,
                       env=dict(os.environ, VTHREADS_MAX_CARRIERS=env))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == out


def test_spawns_racing_retirement_all_run(fresh):
    # Extra carriers retire after 10 ms idle while OS threads keep
    # spawning in bursts, the own carrier held throughout: a spawn that
    # meets a carrier as it retires must still find one (refused
    # retirement, or a new extra carrier), never be left behind.  (Here
    # about one extra carrier starts per burst.)
    fresh(retire_after=0.01)
    held = Held()
    h = vthreads.spawn(held)
    held.wait_entered()
    failures = []

    def spawner():
        try:
            for _ in range(15):
                vts = [vthreads.spawn(vthreads.sleep, 0) for _ in range(10)]
                for vt in vts:
                    vt.result(LIMIT)
                _originals.sleep(0.05)      # a gap: let the extra go idle
        except BaseException as e:          # pragma: no cover - reported
            failures.append(e)
    threads = [get_original("threading", "Thread")(target=spawner)
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIMIT * 3)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert vthreads.statistics().extra_carriers_started >= 1
    held.release()
    h.result(LIMIT)
    assert wait_until(lambda: vthreads.statistics().extra_carriers == 0,
                      LIMIT)
