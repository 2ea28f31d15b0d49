"""The asyncio twins and bridges: coroutines on any loop wait on the same
primitives as vthreads and plain threads."""

import asyncio
import queue
import random
import threading

import pytest

import vthreads
from vthreads import Cancelled
from conftest import run_in


def run_loop_in_thread(coro_fn, *args):
    """asyncio.run(coro_fn(*args)) in a fresh OS thread; returns the result."""
    return run_in("thread", lambda: asyncio.run(coro_fn(*args)))


def test_every_twin_from_a_coroutine():
    async def main():
        lock, rlock = vthreads.Lock(), vthreads.RLock()
        sem, ev = vthreads.Semaphore(1), vthreads.Event()
        q, ch = vthreads.Queue(), vthreads.Channel(1)
        cond = vthreads.Condition()
        async with lock:
            assert lock.locked()
        async with rlock:
            async with rlock:             # re-entrant for this asyncio task
                assert rlock._is_owned()
        async with sem:
            assert await sem.acquire_async(timeout=0.01) is False
        vthreads.spawn(ev.set)
        assert await ev.wait_async(10)
        await q.put_async(1)
        assert await q.get_async() == 1
        q.task_done()
        await q.join_async()
        await ch.send_async("x")
        assert await ch.recv_async() == "x"
        async with cond:
            assert await cond.wait_async(0.01) is False
            assert cond._is_owned()
        b = vthreads.Barrier(2)
        other = vthreads.spawn(b.wait)
        assert await b.wait_async(10) in (0, 1)
        assert await vthreads.join_async(other)
        return "done"

    assert asyncio.run(main()) == "done"


def test_twin_timeouts():
    async def main():
        lock = vthreads.Lock()
        lock.acquire()
        assert await lock.acquire_async(timeout=0.01) is False
        with pytest.raises(queue.Empty):
            await vthreads.Queue().get_async(timeout=0.01)
        with pytest.raises(TimeoutError):
            await vthreads.Channel().recv_async(timeout=0.01)
        assert await vthreads.Event().wait_async(0.01) is False
        vt = vthreads.spawn(vthreads.sleep, 5)
        assert await vthreads.join_async(vt, timeout=0.01) is False
        vt.cancel()
        lock.release()
    asyncio.run(main())


def test_condition_between_coroutine_and_vthread():
    cond = vthreads.Condition()
    items = []

    def producer():
        for i in range(20):
            with cond:
                items.append(i)
                cond.notify()
            vthreads.sleep(0.001)

    async def consumer():
        got = []
        for _ in range(20):
            async with cond:
                await cond.wait_for_async(lambda: items, timeout=10)
                got.append(items.pop(0))
        return got

    vthreads.spawn(producer)
    assert asyncio.run(consumer()) == list(range(20))


def test_two_loops_vthreads_and_threads_share_one_queue(two_carriers):
    """Producers: vthreads, a plain thread and a coroutine; consumers: two
    asyncio loops in two threads and vthreads.  Exact counts, no dups."""
    q = vthreads.Queue(16)
    N = 200
    got = []
    lock = threading.Lock()

    def v_producer(base):
        for i in range(N):
            q.put(base + i)

    async def a_producer(base):
        for i in range(N):
            await q.put_async(base + i)

    async def a_consumer(n):
        mine = [await q.get_async(timeout=30) for _ in range(n)]
        with lock:
            got.extend(mine)

    def v_consumer(n):
        mine = [q.get(timeout=30) for _ in range(n)]
        with lock:
            got.extend(mine)

    prods = [vthreads.spawn(v_producer, k * 10000) for k in range(2)]
    tp = threading.Thread(target=v_producer, args=(20000,))
    tp.start()
    ta = threading.Thread(target=run_loop_in_thread, args=(a_producer, 30000))
    ta.start()
    cons = [threading.Thread(target=run_loop_in_thread, args=(a_consumer, N))
            for _ in range(2)]
    for t in cons:
        t.start()
    vcons = [vthreads.spawn(v_consumer, N) for _ in range(2)]
    for v in prods + vcons:
        v.result(60)
    for t in [tp, ta] + cons:
        t.join(60)
    assert sorted(got) == sorted(k * 10000 + i for k in range(4) for i in range(N))


def test_cancelled_get_async_never_consumes():
    async def main():
        q = vthreads.Queue()
        got = []

        async def getter():
            got.append(await q.get_async())

        sent = 0
        for _round in range(30):
            tasks = [asyncio.create_task(getter()) for _ in range(10)]
            await asyncio.sleep(0)
            feeder = vthreads.spawn(lambda s=sent: [q.put(s + i) for i in range(5)])
            for t in random.sample(tasks, 5):
                t.cancel()
            await vthreads.join_async(feeder)
            sent += 5
            await asyncio.gather(*tasks, return_exceptions=True)
        left = []
        while not q.empty():
            left.append(q.get_nowait())
        return sorted(got + left), sent

    got, sent = asyncio.run(main())
    assert got == list(range(sent))


def test_cancelled_acquire_async_never_leaves_lock_held():
    async def main():
        lock = vthreads.Lock()

        async def contender():
            async with lock:
                await asyncio.sleep(0)

        for _round in range(20):
            tasks = [asyncio.create_task(contender()) for _ in range(10)]
            await asyncio.sleep(0)
            for t in random.sample(tasks, 5):
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            assert not lock.locked()
        return await lock.acquire_async(timeout=1)

    assert asyncio.run(main()) is True


def test_run_coroutine_default_and_given_loop():
    async def double(x):
        await asyncio.sleep(0.001)
        return 2 * x

    assert vthreads.run(lambda: vthreads.run_coroutine(double(4))) == 8
    assert vthreads.run_coroutine(double(5)) == 10      # from a plain thread

    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever)
    t.start()
    try:
        assert vthreads.spawn(vthreads.run_coroutine, double(6), loop).result(10) == 12
    finally:
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        loop.close()


def test_run_coroutine_errors_and_cancellation():
    async def boom():
        raise KeyError("k")

    with pytest.raises(KeyError):
        vthreads.run_coroutine(boom())
    with pytest.raises(TypeError):
        vthreads.run_coroutine(lambda: None)

    cancelled = threading.Event()

    async def forever():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    vt = vthreads.spawn(vthreads.run_coroutine, forever())
    from conftest import wait_until
    assert wait_until(lambda: "COROUTINE" in repr(vt))
    vt.cancel()
    with pytest.raises(Cancelled):
        vt.result(10)
    assert cancelled.wait(10)

    async def inside():
        coro = boom()
        with pytest.raises(RuntimeError, match="block the loop"):
            vthreads.run_coroutine(coro, asyncio.get_running_loop())
    asyncio.run(inside())


# A grant that lands in the same loop iteration as the task's cancellation:
# the loop thread itself makes room (firing the parked coroutine's ticket)
# and then cancels the task before the wake-up callback runs.  The item was
# delivered, so the call must not report a cancellation.

def _grant_then_cancel(wait, grant):
    async def main():
        task = asyncio.create_task(wait())
        for _ in range(3):
            await asyncio.sleep(0)          # the task parks
        got = grant()                       # fires its ticket: delivered
        task.cancel()                       # ... and the cancel arrives
        try:
            outcome = ("returned", await task)
        except asyncio.CancelledError:
            outcome = ("cancelled", None)
        return outcome, got

    return asyncio.run(asyncio.wait_for(main(), 10))


def test_put_async_that_delivered_is_not_reported_cancelled():
    q = vthreads.Queue(1)
    q.put("first")
    outcome, got = _grant_then_cancel(lambda: q.put_async("second"),
                                      q.get_nowait)
    assert got == "first"
    assert q.get_nowait() == "second"      # the parked item went in ...
    assert outcome == ("returned", None)   # ... so put_async says so


def test_send_async_that_delivered_is_not_reported_cancelled():
    ch = vthreads.Channel()
    outcome, got = _grant_then_cancel(lambda: ch.send_async("v"),
                                      ch.recv_nowait)
    assert got == "v"
    assert outcome == ("returned", None)


def test_get_async_granted_then_cancelled_gives_the_item_back():
    q = vthreads.Queue()
    outcome, _ = _grant_then_cancel(q.get_async, lambda: q.put_nowait("x"))
    assert outcome == ("cancelled", None)
    assert q.get_nowait() == "x"           # back in the queue, not lost


def test_acquire_async_granted_then_cancelled_releases():
    lock = vthreads.Lock()
    lock.acquire()
    outcome, _ = _grant_then_cancel(lock.acquire_async, lock.release)
    assert outcome == ("cancelled", None)
    assert not lock.locked()


# The same race for a wake-up that grants nothing: a release woke the
# parked coroutine to retry, and the cancel lands before it runs.  The
# wake-up must go on to the next waiter.

def test_acquire_async_woken_then_cancelled_passes_the_wake_up_on():
    async def main():
        lock = vthreads.Lock()
        lock.acquire()
        first = asyncio.create_task(lock.acquire_async())
        await asyncio.sleep(0)
        second = asyncio.create_task(lock.acquire_async(timeout=5))
        for _ in range(3):
            await asyncio.sleep(0)          # both parked, first in front
        lock.release()                      # first woken to retry ...
        first.cancel()                      # ... cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second, lock._woken

    assert asyncio.run(asyncio.wait_for(main(), 10)) == (True, 0)


def test_acquire_async_handed_off_then_cancelled_gives_it_on():
    # The waiter lost one retry to a barging acquire, so the next release
    # hands it the lock; it is cancelled in that same loop iteration.
    async def main():
        lock = vthreads.Lock()
        lock.acquire()
        first = asyncio.create_task(lock.acquire_async())
        await asyncio.sleep(0)
        second = asyncio.create_task(lock.acquire_async(timeout=5))
        for _ in range(3):
            await asyncio.sleep(0)
        lock.release()
        assert lock.acquire(blocking=False)     # barges past first
        for _ in range(3):
            await asyncio.sleep(0)              # first retries, loses, parks
        lock.release()                          # handed to first ...
        first.cancel()                          # ... which leaves
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second, lock._woken

    assert asyncio.run(asyncio.wait_for(main(), 10)) == (True, 0)
