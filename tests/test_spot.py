"""The C parking spots (native/spot.c through vthreads/_core/_spot.py).

Built whenever the install had cffi, which is every supported Python but
3.13 (setup.py); there the carriers and plain threads park on locks, and
the rest of the suite covers that.
"""

import signal
import sys
import threading
import time

import pytest

import vthreads
from vthreads._core import _spot

needs_spots = pytest.mark.skipif(not _spot.AVAILABLE,
                                 reason="built without the C helpers")


class Owner:
    """Something to own a spot in these tests."""


@pytest.mark.skipif(sys.version_info[:2] == (3, 13),
                    reason="cffi is not a build requirement on 3.13")
def test_the_install_built_the_c_helpers():
    assert _spot.AVAILABLE, (
        "vthreads/_spot_c was not built: the install had no cffi or no C "
        "compiler; vthreads runs, on its slower pure-Python fallback")


@needs_spots
def test_a_pending_permit_is_taken_at_once_and_does_not_accumulate():
    owner = Owner()
    s = _spot.new_spot(owner)
    _spot.unpark(s)
    _spot.unpark(s)
    assert _spot.park(s, 5.0) is True
    t0 = time.monotonic()
    assert _spot.park(s, 0.05) is False          # one permit, not two
    assert time.monotonic() - t0 >= 0.04


@needs_spots
def test_a_zero_timeout_only_takes_a_pending_permit():
    owner = Owner()
    s = _spot.new_spot(owner)
    assert _spot.park(s, 0) is False
    _spot.unpark(s)
    assert _spot.park(s, 0) is True


@needs_spots
def test_unpark_from_another_thread_wakes_a_sleeping_parker():
    owner = Owner()
    s = _spot.new_spot(owner)
    woke = []

    def parker():
        _spot.adopt(s)
        woke.append(_spot.park(s, 10.0))
        woke.append(time.monotonic())

    t = threading.Thread(target=parker)
    t.start()
    time.sleep(0.2)                # well past the spin: it sleeps in a futex
    t0 = time.monotonic()
    _spot.unpark(s)
    t.join(10)
    assert not t.is_alive()
    assert woke[0] is True
    assert woke[1] - t0 < 5.0


@needs_spots
def test_two_threads_ping_pong_without_losing_a_wake_up():
    owner = Owner()
    a, b = _spot.new_spot(owner), _spot.new_spot(owner)
    n = 20_000
    counts = [0, 0]
    failed = []

    def side(mine, other, idx, first):
        _spot.adopt(mine)
        if first:
            _spot.unpark(other)
        for _ in range(n):
            if not _spot.park(mine, 10.0):
                failed.append(idx)
                return
            counts[idx] += 1
            _spot.unpark(other)

    ta = threading.Thread(target=side, args=(a, b, 0, False))
    tb = threading.Thread(target=side, args=(b, a, 1, True))
    ta.start()
    tb.start()
    ta.join(60)
    tb.join(60)
    assert failed == []
    assert counts == [n, n]


@needs_spots
@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals go to the main thread")
def test_a_signal_handler_runs_while_the_main_thread_parks_on_its_spot():
    class Alarm(Exception):
        pass

    def handler(signum, frame):
        raise Alarm

    q = vthreads.Queue()
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        t0 = time.monotonic()
        with pytest.raises(Alarm):
            q.get(timeout=10)             # parks this thread on its spot
        assert time.monotonic() - t0 < 5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    # The park it left gave nothing away: the queue still works.
    q.put(1)
    assert q.get(timeout=5) == 1


@needs_spots
def test_a_spot_outlives_its_owner_and_goes_to_the_next_one():
    import gc
    owner = Owner()
    s = _spot.new_spot(owner)
    addr = int(_spot._ffi.cast("uintptr_t", s))
    del owner
    gc.collect()
    # Never freed (a woken thread may still read it), but handed on.
    assert any(int(_spot._ffi.cast("uintptr_t", f)) == addr
               for f in _spot._free)
    # A thread that ends meanwhile (a helper retiring) may free its spot
    # after ours, and the free list hands out the latest first: new owners
    # take spots until they get ours, which is at most all of them.
    owners, s2 = [], None
    for _ in range(len(_spot._keep) + 1):
        owners.append(Owner())
        got = _spot.new_spot(owners[-1])
        if int(_spot._ffi.cast("uintptr_t", got)) == addr:
            s2 = got
            break
    assert s2 is not None, "the freed spot was never handed on"
    _spot.unpark(s2)
    assert _spot.park(s2, 5.0) is True


@needs_spots
def test_a_finished_thread_gives_its_spot_back():
    import gc
    got = []

    def body():
        got.append(int(_spot._ffi.cast("uintptr_t", _spot.my_spot())))

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    gc.collect()
    assert got and any(int(_spot._ffi.cast("uintptr_t", f)) == got[0]
                       for f in _spot._free)
