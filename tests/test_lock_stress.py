"""Lock, RLock and Semaphore with every kind of waiter at once and random
cancellations and timeouts: never more holders than allowed, every acquire
returns, and at the end nothing is held, parked or owed a wake-up.

Holders are vthreads on two carriers, plain OS threads and coroutines on an
asyncio loop in its own thread; they hold across switches at random, so
the lock is handed off, barged and retried in every order.  A lost wake-up
shows as a worker that never finishes (the joins time out) or as a
non-zero ``_woken`` at the end.
"""

import asyncio
import random
import threading

import pytest

import vthreads
from vthreads import Cancelled

ROUNDS = 120


def _make(kind):
    if kind == "Semaphore":
        return vthreads.Semaphore(2), 2
    return getattr(vthreads, kind)(), 1


@pytest.mark.parametrize("kind", ["Lock", "RLock", "Semaphore"])
def test_holders_of_every_kind_with_cancels_and_timeouts(kind, two_carriers):
    lock, cap = _make(kind)
    guard = threading.Lock()          # a real lock, never held across a park
    state = {"inside": 0, "max": 0, "held": 0, "missed": 0}

    def count(key, delta=1):
        with guard:
            state[key] += delta
            if key == "inside":
                state["max"] = max(state["max"], state["inside"])

    def blocking_acquire():
        how = random.randrange(4)
        if how == 0:
            return lock.acquire()
        if how == 1:
            return lock.acquire(timeout=random.choice([0, 0.0005, 0.005]))
        if how == 2:
            return lock.acquire(blocking=False)
        with vthreads.move_on_after(random.choice([0.0005, 0.005])):
            return lock.acquire()
        return False

    def hold():
        count("inside")
        count("held")
        try:
            if random.random() < 0.3:
                vthreads.sleep(0)      # hold across a switch
        finally:
            count("inside", -1)
            lock.release()

    def worker():
        for _ in range(ROUNDS):
            if blocking_acquire():
                hold()
            else:
                count("missed")

    async def coro_worker():
        for _ in range(ROUNDS // 2):
            timeout = random.choice([None, 0.0005, 0.005])
            if not await lock.acquire_async(timeout):
                count("missed")
                continue
            count("inside")
            count("held")
            try:
                if random.random() < 0.3:
                    await asyncio.sleep(0)
            finally:
                count("inside", -1)
                lock.release()

    async def coros():
        tasks = [asyncio.create_task(coro_worker()) for _ in range(8)]
        for _ in range(6):
            await asyncio.sleep(0.002)
            random.choice(tasks).cancel()
        for res in await asyncio.gather(*tasks, return_exceptions=True):
            if not isinstance(res, asyncio.CancelledError):
                assert res is None

    def in_thread(fn):
        errors = []

        def run():
            try:
                fn()
            except BaseException as exc:    # re-raised by the test below
                errors.append(exc)

        t = threading.Thread(target=run, daemon=True)    # a hang fails, not blocks exit
        t.start()
        return t, errors

    loop_thread = in_thread(lambda: asyncio.run(coros()))
    threads = [in_thread(worker) for _ in range(3)]
    vts = [vthreads.spawn(worker) for _ in range(30)]
    for _ in range(10):
        vthreads.sleep(0.002)
        random.choice(vts).cancel()
    for vt in vts:
        assert vt.join(60), "an acquire never returned"
        if not vt.cancelled():
            assert vt.result() is None
    for t, errors in threads + [loop_thread]:
        t.join(60)
        assert not t.is_alive(), "an acquire never returned"
        assert errors == []

    assert state["inside"] == 0 and 1 <= state["max"] <= cap
    assert state["held"] > ROUNDS            # the lock really went round
    assert lock._woken == 0 and len(lock._waiters) == 0
    got = [lock.acquire(timeout=5) for _ in range(cap)]
    assert got == [True] * cap
