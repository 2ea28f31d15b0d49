"""The monitor (vthreads/_core/_monitor.py) and statistics().

Each test starts a fresh runtime with the monitor's threshold at 0.1 s
and holds its carrier with a CPU loop or a real (unpatched) lock until
the monitor has reported it -- not for a fixed time: on a loaded machine
the carrier's waits for a CPU do not count as held, so how long that takes
varies -- then reads what reached the ``vthreads.monitor`` logger.
"""

import dataclasses
import logging
import os
import subprocess
import sys
import time

import pytest

import vthreads
from vthreads.monkey import get_original

from conftest import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

real_lock = get_original("_thread", "allocate_lock")
# Seconds a test waits for a report before it fails.  Time a carrier
# waits for a CPU does not count as held, so on a loaded machine a
# report takes a threshold of the carrier's own CPU time: seconds of
# wall time when the suite shares two cores with other work.
LIMIT = 60.0


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self):
        return [r.getMessage() for r in self.records]


@pytest.fixture
def reports():
    vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=1, monitor_threshold=0.1)
    handler = Records()
    logger = logging.getLogger("vthreads.monitor")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        vthreads.shutdown(timeout=10)
        vthreads.configure(None, monitor_threshold=None)


def spin(until):
    """Hold the carrier with a CPU loop until ``until()`` (or LIMIT)."""
    end = time.monotonic() + LIMIT
    while not until() and time.monotonic() < end:
        pass


class Held:
    """Hold the carrier in a real, unpatched lock until released."""

    def __init__(self):
        self.lock = real_lock()
        self.lock.acquire()

    def __call__(self):
        self.lock.acquire()             # blocks the carrier in C
        self.lock.release()

    def release(self):
        self.lock.release()


def hold_until_reported(count=1, name="holder"):
    """Spawn a vthread that holds the carrier until ``count`` stalls were
    reported in all; return it, finished."""
    held = Held()
    vt = vthreads.spawn(held, name=name)
    assert wait_until(
        lambda: vthreads.statistics().monitor_reports >= count, LIMIT)
    held.release()
    vt.result(LIMIT)
    return vt


def test_a_cpu_loop_is_reported_once_as_cpu_bound(reports):
    vthreads.spawn(spin, lambda: reports.records, name="spinner").result(
        LIMIT + 5)
    [msg] = reports.messages()
    assert msg.startswith("carrier 0 has run <VThread 'spinner'"), msg
    assert "looks CPU-bound" in msg
    assert "in spin\n" in msg            # its stack, down to the loop
    assert reports.records[0].levelno == logging.WARNING
    # Counted right after it was logged.
    assert wait_until(lambda: vthreads.statistics().monitor_reports == 1)


def test_a_blocking_call_is_reported_as_blocked(reports):
    hold_until_reported()
    [msg] = reports.messages()
    assert "<VThread 'holder'" in msg
    assert "looks blocked in a call that does not park" in msg
    assert "self.lock.acquire()" in msg
    ms = int(msg.split("for at least ")[1].split(" ms")[0])
    assert ms >= 100, ms


def test_parked_vthreads_and_an_idle_carrier_are_not_reported(reports):
    vts = [vthreads.spawn(vthreads.sleep, 0.6) for _ in range(50)]
    for vt in vts:
        vt.result(10)
    time.sleep(0.6)                    # and the carrier idle meanwhile
    assert reports.messages() == []
    assert vthreads.statistics().monitor_reports == 0


def test_the_same_vthread_and_call_site_is_reported_once(reports):
    held = [Held(), Held()]

    def twice():
        for h in held:
            h()
            vthreads.sleep(0.05)       # back to the scheduler in between
    vt = vthreads.spawn(twice, name="twice")
    for n, h in enumerate(held, 1):
        assert wait_until(
            lambda: vthreads.statistics().monitor_reports >= n, LIMIT)
        h.release()
    vt.result(LIMIT)
    # Both stalls were seen; the second was not logged again.
    assert len(reports.messages()) == 1
    assert vthreads.statistics().monitor_reports == 2
    vthreads.spawn(spin, lambda: len(reports.records) == 2,
                   name="other").result(LIMIT + 5)
    assert len(reports.messages()) == 2


def test_statistics_shows_the_blocked_carrier_while_it_is_blocked(reports):
    held = Held()
    vt = vthreads.spawn(held)
    assert wait_until(lambda: vthreads.statistics().carriers[0].blocked,
                      LIMIT)
    c = vthreads.statistics().carriers[0]
    assert c.blocked_for >= 0.1, c
    held.release()
    vt.result(LIMIT)
    assert wait_until(lambda: not vthreads.statistics().carriers[0].blocked)


def test_threshold_zero_turns_the_monitor_off():
    vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=1, monitor_threshold=0)
    handler = Records()
    logging.getLogger("vthreads.monitor").addHandler(handler)
    try:
        before = {t.name for t in get_original("threading", "enumerate")()}
        end = time.monotonic() + 0.5        # five thresholds' worth
        vthreads.spawn(spin, lambda: time.monotonic() > end).result(LIMIT)
        names = {t.name for t in get_original("threading", "enumerate")()}
        assert "vthreads-monitor" not in names | before
        assert handler.messages() == []
        stats = vthreads.statistics()
        assert stats.monitor_threshold == 0.0 and stats.monitor_reports == 0
    finally:
        logging.getLogger("vthreads.monitor").removeHandler(handler)
        vthreads.shutdown(timeout=10)
        vthreads.configure(None, monitor_threshold=None)


def test_statistics_counts_vthreads_by_state_and_is_frozen():
    vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=2)
    try:
        e = vthreads.Event()
        vts = [vthreads.spawn(e.wait) for _ in range(10)]
        assert wait_until(
            lambda: vthreads.statistics().vthreads.get("parked") == 10)
        stats = vthreads.statistics()
        assert len(stats.carriers) == 2
        assert sum(c.live for c in stats.carriers) == 10
        assert stats.parks >= 10 and stats.switches >= 10
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.parks = 0
        with pytest.raises(TypeError):
            stats.vthreads["parked"] = 0
        e.set()
        for vt in vts:
            vt.result(10)
        assert wait_until(lambda: not vthreads.statistics().vthreads)
    finally:
        vthreads.shutdown(timeout=10)
        vthreads.configure(None)


def test_statistics_without_a_runtime():
    vthreads.shutdown(timeout=10)
    stats = vthreads.statistics()
    assert stats.carriers == () and dict(stats.vthreads) == {}


@pytest.mark.parametrize("value, error", [
    (-1, ValueError), (float("nan"), ValueError), ("0.1", TypeError)])
def test_configure_rejects_a_bad_threshold(value, error):
    with pytest.raises(error, match="monitor_threshold"):
        vthreads.configure(monitor_threshold=value)


def test_configure_keeps_what_it_is_not_given():
    vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=2, monitor_threshold=0.25)
    try:
        vthreads.configure(monitor_threshold=0.3)     # carriers stay 2
        vthreads.spawn(lambda: None).result(10)
        stats = vthreads.statistics()
        assert len(stats.carriers) == 2 and stats.monitor_threshold == 0.3
    finally:
        vthreads.shutdown(timeout=10)
        vthreads.configure(None, monitor_threshold=None)


@pytest.mark.parametrize("env, out", [
    ("0.05", "0.05"), ("0", "0.0"), ("", "0.1"),
    ("soon", "ValueError: VTHREADS_MONITOR_THRESHOLD must be a number of "
             "seconds, not 'soon'"),
    ("-2", "ValueError: VTHREADS_MONITOR_THRESHOLD must be non-negative")])
def test_the_environment_variable(env, out):
    code = ("import vthreads\n"
            "try:\n"
            "    vthreads.spawn(lambda: None).result(10)\n"
            "    print(vthreads.statistics().monitor_threshold)\n"
            "except ValueError as e:\n"
            "    print('ValueError:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60, cwd=ROOT,
                       env=dict(os.environ, VTHREADS_MONITOR_THRESHOLD=env))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == out


@pytest.mark.parametrize("setup, shown", [("", False),
                                          ("logging.basicConfig()", True)])
def test_reports_show_once_the_program_configures_logging(setup, shown):
    # As for any library: nothing on stderr unless logging is set up.
    code = ("import logging, time, vthreads\n"
            f"{setup}\n"
            "def spin():\n"
            f"    end = time.monotonic() + {LIMIT}\n"
            "    while not vthreads.statistics().monitor_reports \\\n"
            "            and time.monotonic() < end:\n"
            "        pass\n"
            "vthreads.run(spin, carriers=1)\n"
            "print(vthreads.statistics().monitor_reports)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=LIMIT + 30, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"
    assert ("WARNING:vthreads.monitor:carrier 0 has run" in r.stderr) is shown
    if not shown:
        assert r.stderr == ""


def test_only_the_held_carrier_is_reported(reports):
    vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=2, monitor_threshold=0.1)
    busy = [vthreads.spawn(vthreads.sleep, 0.01) for _ in range(200)]
    vt = hold_until_reported()
    for b in busy:
        b.result(10)
    [msg] = reports.messages()
    assert f"carrier {vt._carrier.index} has run <VThread 'holder'" in msg
