"""vthreads.dump(): every vthread with what it waits on, and blocked carriers."""

import threading

import vthreads
from conftest import wait_until


def parked_in_here(ev):
    ev.wait()


def test_dump_lists_parked_vthreads_with_reason_and_stack(one_carrier):
    ev = vthreads.Event()
    vts = [vthreads.spawn(parked_in_here, ev, name=f"waiter-{i}") for i in range(3)]
    assert wait_until(lambda: all("EVENT_WAIT" in repr(v) for v in vts))
    report = vthreads.dump(file=False)
    for i in range(3):
        assert f"'waiter-{i}' parked on EVENT_WAIT" in report
    # Each vthread's own frame -- the last one to park is the one whose
    # stack the idle carrier dozes on (Carrier.doze_in_place).
    assert report.count("in parked_in_here") == 3
    assert "== carrier 0" in report and "BLOCKED" not in report
    ev.set()
    for v in vts:
        v.join(10)


def test_dump_reports_a_carrier_blocked_by_a_busy_vthread(one_carrier):
    stop = threading.Event()
    started = threading.Event()

    def hog_the_carrier():
        started.set()
        while not stop.is_set():      # never parks: the carrier is stuck
            pass

    vt = vthreads.spawn(hog_the_carrier)
    assert started.wait(10)
    try:
        report = vthreads.dump(file=False, timeout=0.2)
    finally:
        stop.set()
    vt.join(10)
    assert "carrier 0" in report and "BLOCKED" in report
    assert "in hog_the_carrier" in report


def test_dump_without_runtime():
    vthreads.shutdown(timeout=10)
    assert "no runtime" in vthreads.dump(file=False)
