"""leaks(): the vthreads parked on what nothing else references.

On a fresh runtime of one and of two carriers.  Each test parks its
vthreads, waits until they are parked (a condition), asks, and then
wakes or cancels what it parked, so nothing outlives it.
"""

import threading

import pytest

import vthreads

from conftest import wait_until

HELD = vthreads.Queue()             # a module global: reachable


def parked(*vts):
    assert wait_until(lambda: all(v._state == "parked" for v in vts))


def orphan():
    q = vthreads.Queue()
    q.get()


def test_a_healthy_program_has_none(carriers):
    ev = vthreads.Event()
    lock = vthreads.Lock()
    lock.acquire()
    box = {"q": vthreads.Queue()}
    vts = [vthreads.spawn(ev.wait), vthreads.spawn(lock.acquire),
           vthreads.spawn(box["q"].get), vthreads.spawn(HELD.get),
           vthreads.spawn(vthreads.sleep, 3600)]
    parked(*vts)
    assert vthreads.leaks() == []
    ev.set()
    lock.release()
    box["q"].put(1)
    HELD.put(1)
    vts[-1].cancel()
    for v in vts:
        v.exception(10)


def test_an_orphan_waiting_on_a_queue_nobody_holds(carriers):
    vt = vthreads.spawn(orphan, name="orphan")
    healthy = vthreads.spawn(HELD.get)
    parked(vt, healthy)
    assert vthreads.leaks() == [vt]
    # Also from a vthread, which describes its own carrier inline.
    assert vthreads.spawn(vthreads.leaks).result(10) == [vt]
    vt.cancel()
    HELD.put(1)
    assert vt.cancelled() or vt.exception(10) is not None
    healthy.result(10)
    assert vthreads.leaks() == []


def test_a_join_on_a_leaked_vthread_is_leaked_too(carriers):
    vt = vthreads.spawn(orphan, name="orphan")
    joiner = vthreads.spawn(vt.join, name="joiner")
    parked(vt, joiner)
    found = vthreads.leaks()
    assert vt in found and joiner not in found   # we still hold vt
    del vt, found
    found = vthreads.leaks()
    assert sorted(v.name for v in found) == ["joiner", "orphan"]
    orphan_vt = next(v for v in found if v.name == "orphan")
    orphan_vt.cancel()      # the joiner's join then returns
    assert orphan_vt.exception(10) is not None
    assert joiner.result(10) is True


def test_held_by_an_os_thread_stack_is_not_leaked(carriers):
    q = vthreads.Queue()
    gate = threading.Event()
    t = threading.Thread(target=lambda q: gate.wait(), args=(q,))
    t.start()
    vt = vthreads.spawn(q.get)
    del q
    parked(vt)
    assert vthreads.leaks() == []
    gate.set()
    t.join()
    assert vthreads.leaks() == [vt]
    vt.cancel()
    vt.exception(10)


def test_held_by_a_sleeping_vthread_is_not_leaked(carriers):
    def sleeper(q):
        vthreads.sleep(3600)
        q.put(1)
    q = vthreads.Queue()
    s = vthreads.spawn(sleeper, q)
    vt = vthreads.spawn(q.get)
    del q
    parked(s, vt)
    assert vthreads.leaks() == []
    s.cancel()
    s.exception(10)
    # Its Cancelled's traceback still holds the sleeper's frame, and so q.
    assert vthreads.leaks() == []
    del s
    assert vthreads.leaks() == [vt]
    vt.cancel()
    vt.exception(10)


def test_held_by_a_waiter_that_can_be_woken_is_not_leaked(carriers):
    """A waits on a reachable event and holds B's queue: B is not leaked;
    once A's event is dropped too, both are."""
    box = {"ev": vthreads.Event()}

    def a(ev, q):
        ev.wait()
        q.put(1)
    q = vthreads.Queue()
    va = vthreads.spawn(a, box["ev"], q, name="a")
    vb = vthreads.spawn(q.get, name="b")
    del q
    parked(va, vb)
    assert vthreads.leaks() == []
    del box["ev"]
    assert sorted(v.name for v in vthreads.leaks()) == ["a", "b"]
    for v in (va, vb):
        v.cancel()
        v.exception(10)


def test_the_pause_is_not_a_monitor_report():
    """The carriers wait on purpose while leaks() scans: however long
    that takes, the monitor does not call them held."""
    vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=2, monitor_threshold=0.05)
    try:
        junk = [[i] for i in range(300_000)]    # a scan of 0.2 s or more
        vt = vthreads.spawn(orphan)
        parked(vt)
        before = vthreads.statistics().monitor_reports
        assert vthreads.leaks() == [vt]
        assert vthreads.statistics().monitor_reports == before
        vt.cancel()
        vt.exception(10)
        del junk
    finally:
        assert vthreads.shutdown(timeout=10)
        vthreads.configure(None, monitor_threshold=None)


def test_no_runtime_no_leaks():
    vthreads.shutdown(timeout=10)
    assert vthreads.leaks() == []


def test_bad_timeout():
    with pytest.raises(ValueError):
        vthreads.leaks(-1)
