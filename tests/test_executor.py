"""VThreadPoolExecutor: concurrent.futures with one vthread per task."""

import concurrent.futures as cf
import threading
import time

import pytest

import vthreads
from conftest import autojump, run_in


@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_many_sleeping_tasks_run_concurrently(where):
    def body():
        with vthreads.VThreadPoolExecutor() as ex:
            t0 = time.monotonic()
            futs = [ex.submit(lambda i=i: (vthreads.sleep(0.1), i)[1]) for i in range(200)]
            got = [f.result(10) for f in futs]
            return got, time.monotonic() - t0
    got, took = run_in(where, body)
    assert got == list(range(200))
    assert took < 5          # serially it would take 20 s


def test_results_exceptions_map_and_is_an_executor():
    ex = vthreads.VThreadPoolExecutor()
    assert isinstance(ex, cf.Executor)
    assert list(ex.map(lambda x: x * x, range(5))) == [0, 1, 4, 9, 16]
    f = ex.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        f.result(10)
    assert isinstance(f.exception(), ZeroDivisionError)
    ex.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(print)


def test_max_workers_bounds_concurrency():
    state = {"in": 0, "max": 0}
    lock = threading.Lock()

    def task():
        with lock:
            state["in"] += 1
            state["max"] = max(state["max"], state["in"])
        vthreads.sleep(0.01)
        with lock:
            state["in"] -= 1

    def main():
        with vthreads.VThreadPoolExecutor(max_workers=3) as ex:
            for f in [ex.submit(task) for _ in range(30)]:
                f.result(10)

    autojump(main)      # the 0.01 s of each task are virtual
    assert state["max"] == 3
    with pytest.raises(ValueError):
        vthreads.VThreadPoolExecutor(max_workers=0)


def test_shutdown_cancel_futures_and_wait():
    gate = vthreads.Event()
    ex = vthreads.VThreadPoolExecutor(max_workers=1)
    first = ex.submit(gate.wait)
    from conftest import wait_until
    assert wait_until(first.running)       # it holds the only worker slot
    queued = [ex.submit(lambda: "never") for _ in range(3)]
    threading.Timer(0.05, gate.set).start()
    ex.shutdown(wait=True, cancel_futures=True)
    assert first.result() is True
    assert all(f.cancelled() for f in queued)


def test_future_result_parks_a_vthread_not_the_carrier():
    trace = []
    ex = vthreads.VThreadPoolExecutor()

    def main():
        f = ex.submit(lambda: (vthreads.sleep(0.05), "slow")[1])
        t = vthreads.spawn(lambda: trace.append("other vthread ran"))
        trace.append(f.result(10))
        t.join()

    autojump(main)
    assert trace == ["other vthread ran", "slow"]
