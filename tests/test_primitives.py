"""Locks, events, semaphores, conditions and barriers, for vthreads and
plain OS threads alike: threading's API and errors, FIFO wake-ups,
barging with a bounded overtake, cancellation that loses nothing."""

import random
import threading
import time

import pytest

import vthreads
from vthreads import Cancelled
from vthreads._core._vthread import PARKED
from conftest import autojump, run_in, wait_until


WHERE = pytest.mark.parametrize("where", ["vthread", "thread"])


# --- Lock ---------------------------------------------------------------------------

def test_lock_basics_and_errors():
    lock = vthreads.Lock()
    assert not lock.locked()
    assert lock.acquire()
    assert lock.locked()
    assert lock.acquire(False) is False
    assert lock.acquire(timeout=0.01) is False
    with pytest.raises(ValueError, match="non-blocking"):
        lock.acquire(False, 1)
    with pytest.raises(ValueError, match="positive"):
        lock.acquire(True, -2)
    lock.release()
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        lock.release()
    with lock:
        assert lock.locked()
    assert "unlocked" in repr(lock)


@WHERE
def test_lock_acquire_timeout_while_held_elsewhere(where):
    lock = vthreads.Lock()
    lock.acquire()
    assert run_in(where, lambda: lock.acquire(timeout=0.02)) is False
    lock.release()
    assert run_in(where, lambda: lock.acquire(timeout=1)) is True


def test_lock_wakes_parked_waiters_in_fifo_order():
    lock = vthreads.Lock()
    order = []

    def waiter(i):
        with lock:
            order.append(i)

    def main():
        lock.acquire()
        vts = [vthreads.spawn(waiter, i) for i in range(20)]
        vthreads.sleep(0.01)          # all twenty are queued now
        lock.release()
        for vt in vts:
            vt.join()

    autojump(main)
    assert order == list(range(20))


def test_a_running_task_retakes_a_lock_with_waiters_without_switching():
    """As threading.Lock: release does not hand the lock to a parked
    waiter, so the releaser can take it back at once (no lock convoy)."""
    lock = vthreads.Lock()
    trace = []

    def waiter(i):
        with lock:
            trace.append(f"waiter {i}")

    def main():
        lock.acquire()
        vts = [vthreads.spawn(waiter, i) for i in range(5)]
        vthreads.sleep(0.01)          # all five are parked
        for i in range(10):
            lock.release()
            trace.append(f"main {i}: {lock.acquire(blocking=False)}")
        lock.release()
        for vt in vts:
            vt.join()

    autojump(main)
    assert trace == [f"main {i}: True" for i in range(10)] + [
        f"waiter {i}" for i in range(5)]


@pytest.mark.parametrize("kind", ["Lock", "RLock", "Semaphore"])
def test_a_woken_waiter_is_overtaken_at_most_once(kind):
    """The waiter woken by a release loses to a barging task once; it then
    parks at the front and the next release hands the lock straight to
    it, so the barger cannot take it again, nor can anyone queued later."""
    lock = getattr(vthreads, kind)()
    trace = []

    def waiter(name):
        with lock:
            trace.append(name)

    def main():
        lock.acquire()
        first = vthreads.spawn(waiter, "first")
        vthreads.sleep(0.01)              # first is parked
        later = vthreads.spawn(waiter, "later")
        vthreads.sleep(0.01)              # later is parked behind it
        lock.release()                    # first is woken to retry ...
        trace.append(f"barge {lock.acquire(blocking=False)}")   # ... and loses
        vthreads.sleep(0.01)              # first re-parks, owed the lock
        lock.release()                    # handed to first
        trace.append(f"again {lock.acquire(blocking=False)}")
        first.join()
        later.join()

    autojump(main)
    assert trace == ["barge True", "again False", "first", "later"]
def test_lock_mutual_exclusion_across_carriers_and_threads(two_carriers):
    lock = vthreads.Lock()
    state = {"inside": 0, "max": 0, "count": 0}

    def body(n):
        for _ in range(n):
            with lock:
                state["inside"] += 1
                state["max"] = max(state["max"], state["inside"])
                state["count"] += 1
                if random.random() < 0.3:
                    vthreads.sleep(0)
                state["inside"] -= 1

    vts = [vthreads.spawn(body, 200) for _ in range(20)]
    ts = [threading.Thread(target=body, args=(200,)) for _ in range(3)]
    for t in ts:
        t.start()
    for vt in vts:
        vt.result(60)
    for t in ts:
        t.join(60)
    assert state == {"inside": 0, "max": 1, "count": 23 * 200}


def test_cancelled_acquire_never_leaves_the_lock_held(two_carriers):
    """Waiters are cancelled at random while the lock is handed around;
    afterwards the lock is free and every successful acquire released."""
    lock = vthreads.Lock()
    got = []

    def contender(i):
        try:
            with lock:
                got.append(i)
                vthreads.sleep(0)
        except Cancelled:
            pass

    for _round in range(20):
        vts = [vthreads.spawn(contender, i) for i in range(30)]
        for vt in random.sample(vts, 15):
            vt.cancel()
        for vt in vts:
            vt.join(30)
        assert not lock.locked()
    assert lock.acquire(timeout=5)


@pytest.mark.parametrize("kind", ["Lock", "RLock", "Semaphore"])
def test_a_woken_waiter_that_finds_the_lock_free_takes_it_as_it_runs(
        kind, one_carrier):
    """A woken waiter that finds the unit still free takes it at once: it
    does not go round the run queue again, behind a task that became ready
    after the release (that was a second park per acquire)."""
    lock = getattr(vthreads, kind)()
    order = []

    def waiter():
        with lock:
            order.append("waiter")

    def main():
        lock.acquire()
        w = vthreads.spawn(waiter)
        while w._state != PARKED:        # on the lock, on our one carrier
            vthreads.sleep(0)
        lock.release()                   # the waiter is woken, first in line
        later = vthreads.spawn(order.append, "later")   # queued behind it
        w.join()
        later.join()

    vthreads.run(main)
    assert order == ["waiter", "later"]


@pytest.mark.parametrize("kind", ["Lock", "RLock", "Semaphore"])
def test_a_woken_waiter_cancelled_before_its_retry_passes_the_wake_up_on(
        kind):
    """The release woke the first waiter to retry and freed the lock; that
    waiter is cancelled before it runs.  The wake-up must reach the next
    waiter, or the lock sits free with a waiter parked for ever."""
    lock = getattr(vthreads, kind)()

    def main():
        lock.acquire()
        first = vthreads.spawn(lock.acquire)
        vthreads.sleep(0.01)
        second = vthreads.spawn(lambda: lock.acquire(timeout=5))
        vthreads.sleep(0.01)             # both parked, first in front
        lock.release()                   # first is woken to retry ...
        first.cancel()                   # ... and cancelled before it runs
        with pytest.raises(Cancelled):
            first.result()
        return second.result(), lock._woken

    assert autojump(main) == (True, 0)


def test_lock_between_vthread_and_os_thread():
    lock = vthreads.Lock()
    lock.acquire()
    trace = []

    def thread_side():
        with lock:
            trace.append("thread got it")

    t = threading.Thread(target=thread_side)
    t.start()
    time.sleep(0.02)
    trace.append("vthread releases")
    vthreads.spawn(lock.release).join(10)
    t.join(10)
    assert trace == ["vthread releases", "thread got it"]


# --- RLock --------------------------------------------------------------------------

@WHERE
def test_rlock_reentrant_and_owned(where):
    r = vthreads.RLock()

    def body():
        with r:
            with r:
                assert r._is_owned()
        return r._is_owned()

    assert run_in(where, body) is False
    r.acquire()
    with pytest.raises(RuntimeError, match="un-acquired"):
        run_in(where, r.release)
    assert run_in(where, lambda: r.acquire(timeout=0.02)) is False
    r.release()
    with pytest.raises(RuntimeError):
        r.release()


def test_rlock_waiter_owed_a_hand_off_owns_it_when_it_runs():
    r = vthreads.RLock()
    trace = []

    def waiter():
        with r:
            trace.append(("waiter owns", r._is_owned(), r._recursion_count()))

    def main():
        r.acquire()
        r.acquire()
        vt = vthreads.spawn(waiter)
        vthreads.sleep(0.01)               # parked on RLOCK_ACQUIRE
        r.release()
        vthreads.sleep(0.01)
        trace.append(("still held", vt.done()))
        r.release()                        # woken to retry ...
        trace.append(("main retakes", r.acquire(blocking=False)))
        vthreads.sleep(0.01)               # ... loses, parks, owed it
        r.release()                        # handed over: the owner changes
        trace.append(("main again", r.acquire(blocking=False), r._is_owned()))
        vt.join()

    autojump(main)
    assert trace == [("still held", False), ("main retakes", True),
                     ("main again", False, False), ("waiter owns", True, 1)]


# --- Semaphore ----------------------------------------------------------------------

def test_semaphore_and_bounded_errors():
    with pytest.raises(ValueError, match=">= 0"):
        vthreads.Semaphore(-1)
    s = vthreads.Semaphore(2)
    assert s.acquire() and s.acquire()
    assert s.acquire(False) is False
    assert s.acquire(timeout=0.01) is False
    with pytest.raises(ValueError, match="one or more"):
        s.release(0)
    s.release(2)
    b = vthreads.BoundedSemaphore(1)
    with pytest.raises(ValueError, match="too many"):
        b.release()
    with b:
        pass


def test_semaphore_limits_concurrency(two_carriers):
    sem = vthreads.Semaphore(3)
    state = {"in": 0, "max": 0}
    lock = threading.Lock()

    def body():
        with sem:
            with lock:
                state["in"] += 1
                state["max"] = max(state["max"], state["in"])
            vthreads.sleep(0.001)
            with lock:
                state["in"] -= 1

    vts = [vthreads.spawn(body) for _ in range(100)]
    for vt in vts:
        vt.result(30)
    assert state == {"in": 0, "max": 3}


def test_semaphore_release_n_wakes_n_in_order():
    sem = vthreads.Semaphore(0)
    order = []

    def waiter(i):
        sem.acquire()
        order.append(i)

    def main():
        vts = [vthreads.spawn(waiter, i) for i in range(6)]
        vthreads.sleep(0.01)
        sem.release(4)
        vthreads.sleep(0.01)
        first = list(order)
        sem.release(2)
        for vt in vts:
            vt.join()
        return first

    assert autojump(main) == [0, 1, 2, 3]
    assert order == [0, 1, 2, 3, 4, 5]


# --- Event --------------------------------------------------------------------------

@WHERE
def test_event_wait_set_clear(where):
    e = vthreads.Event()
    assert run_in(where, lambda: e.wait(0.01)) is False
    assert run_in(where, lambda: e.wait(-1)) is False
    threading.Timer(0.02, e.set).start()
    assert run_in(where, lambda: e.wait(10)) is True
    assert e.is_set()
    e.clear()
    assert not e.is_set()


def test_event_set_wakes_every_kind_of_waiter(two_carriers):
    e = vthreads.Event()
    woke = []
    lock = threading.Lock()

    def waiter(tag):
        assert e.wait(30)
        with lock:
            woke.append(tag)

    vts = [vthreads.spawn(waiter, f"v{i}") for i in range(500)]
    ts = [threading.Thread(target=waiter, args=(f"t{i}",)) for i in range(5)]
    for t in ts:
        t.start()
    assert wait_until(lambda: len(e._waiters) == 505)
    e.set()
    for vt in vts:
        vt.result(30)
    for t in ts:
        t.join(30)
    assert len(woke) == 505 and len(set(woke)) == 505


def test_event_set_costs_one_wakeup_per_waiter():
    """No square problem: N waiters cost N ticket fires, not N^2."""
    e = vthreads.Event()
    from vthreads._core import _ticket
    fires = []
    original = _ticket.Ticket.fire

    def counting_fire(self, value=None):
        fires.append(1)
        return original(self, value)

    vts = [vthreads.spawn(e.wait) for _ in range(900)]
    assert wait_until(lambda: len(e._waiters) == 900)
    _ticket.Ticket.fire = counting_fire
    try:
        e.set()
    finally:
        _ticket.Ticket.fire = original
    assert len(fires) == 900
    for vt in vts:
        assert vt.result(30) is True


# --- Condition ----------------------------------------------------------------------

def test_condition_errors_without_the_lock():
    c = vthreads.Condition()
    with pytest.raises(RuntimeError, match="wait on un-acquired"):
        c.wait(0.01)
    with pytest.raises(RuntimeError, match="notify on un-acquired"):
        c.notify()
    with pytest.raises(RuntimeError):
        c.notify_all()


@pytest.mark.parametrize("lock_type", ["RLock", "Lock"])
def test_condition_producer_consumer(lock_type, two_carriers):
    c = vthreads.Condition(getattr(vthreads, lock_type)())
    items = []
    got = []

    def consumer():
        for _ in range(100):
            with c:
                assert c.wait_for(lambda: items, timeout=30)
                got.append(items.pop(0))

    def producer():
        for i in range(100):
            with c:
                items.append(i)
                c.notify()
            if i % 7 == 0:
                vthreads.sleep(0)

    cons = vthreads.spawn(consumer)
    prod = threading.Thread(target=producer)
    prod.start()
    cons.result(60)
    prod.join(30)
    assert got == list(range(100))


def test_condition_wait_timeout_and_notify_all():
    c = vthreads.Condition()
    with c:
        assert c.wait(0.01) is False
        assert c._is_owned()
    woke = []

    def waiter(i):
        with c:
            c.wait()
            woke.append(i)

    vts = [vthreads.spawn(waiter, i) for i in range(10)]
    assert wait_until(lambda: len(c._waiters) == 10)
    with c:
        c.notify(3)
    assert wait_until(lambda: len(woke) == 3)
    with c:
        c.notify_all()
    for vt in vts:
        vt.result(10)
    assert sorted(woke) == list(range(10))


def test_cancelled_condition_wait_still_reacquires_the_lock():
    c = vthreads.Condition()
    seen = []

    def waiter():
        with c:
            try:
                c.wait()
            except Cancelled:
                seen.append(c._is_owned())
                raise

    vt = vthreads.spawn(waiter)
    assert wait_until(lambda: "CONDITION_WAIT" in repr(vt))
    with c:                       # hold the lock while the cancel lands
        vt.cancel()
        time.sleep(0.02)
        assert not vt.done()      # it waits for the lock, shielded
    with pytest.raises(Cancelled):
        vt.result(10)
    assert seen == [True]
    assert c.acquire(timeout=1)


# --- Barrier ------------------------------------------------------------------------

def test_barrier_passes_with_distinct_indices(two_carriers):
    b = vthreads.Barrier(5)
    idx = vthreads.spawn(lambda: [vthreads.spawn(b.wait) for _ in range(4)]).result(10)
    mine = b.wait(10)
    got = sorted([mine] + [v.result(10) for v in idx])
    assert got == [0, 1, 2, 3, 4]
    assert b.n_waiting == 0 and not b.broken and b.parties == 5


def test_barrier_abort_reset_timeout_and_action():
    b = vthreads.Barrier(2)
    vt = vthreads.spawn(b.wait)
    assert wait_until(lambda: b.n_waiting == 1)
    b.abort()
    with pytest.raises(vthreads.BrokenBarrierError):
        vt.result(10)
    with pytest.raises(vthreads.BrokenBarrierError):
        b.wait()
    b.reset()
    assert not b.broken
    with pytest.raises(vthreads.BrokenBarrierError):
        b.wait(timeout=0.01)          # nobody else comes: breaks it
    assert b.broken
    b.reset()
    calls = []
    b2 = vthreads.Barrier(2, action=lambda: calls.append(1))
    vt = vthreads.spawn(b2.wait)
    b2.wait(10)
    vt.result(10)
    assert calls == [1]
    with pytest.raises(ValueError):
        vthreads.Barrier(0)


def test_barrier_reset_fails_current_waiters():
    b = vthreads.Barrier(3)
    vt = vthreads.spawn(b.wait)
    assert wait_until(lambda: b.n_waiting == 1)
    b.reset()
    with pytest.raises(vthreads.BrokenBarrierError):
        vt.result(10)
    assert not b.broken
