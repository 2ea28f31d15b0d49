"""The public API as a user's strictly typed code calls it.

Not a test module: .ci/run checks it with mypy (strict for this file,
see [tool.mypy] in pyproject.toml), so a public name that loses its
annotations, or a signature that no longer takes what users pass, fails
CI.  tests/test_typing.py runs it too, so it cannot rot into code that
does not work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from typing import Callable

import vthreads
import vthreads.monkey


def work(n: int, *, scale: int = 1) -> int:
    vthreads.sleep(0)
    vthreads.checkpoint()
    vthreads.check_cancelled()
    return n * scale


def main() -> int:
    vt: vthreads.VThread = vthreads.spawn(work, 2, scale=3, name="worker")
    assert vt.join(5) and vt.done() and not vt.cancelled()
    total: int = vt.result(5)
    failure: BaseException | None = vt.exception(5)
    assert failure is None and isinstance(vt.name, str)

    with vthreads.TaskGroup() as tg:
        kids = [tg.spawn(work, i) for i in range(3)]
        scope: vthreads.CancelScope = tg.cancel_scope
    total += sum(k.result() for k in kids)
    assert not scope.cancel_called

    with vthreads.move_on_after(0.01) as timed:
        vthreads.sleep(1)
    assert timed.cancelled_caught and timed.deadline < float("inf")
    with vthreads.move_on_at(vthreads.current_effective_deadline(), shield=True):
        pass
    try:
        with vthreads.fail_after(0.01):
            vthreads.sleep(1)
    except TimeoutError:
        pass
    with vthreads.fail_at(float("inf")) as inner:
        inner.shield = False

    doubled: int = vthreads.to_thread(work, 21, scale=2)
    q: vthreads.Queue[int] = vthreads.Queue(maxsize=4)
    q.put(doubled)
    got: int = q.get(timeout=1)
    sq: vthreads.SimpleQueue[str] = vthreads.SimpleQueue()
    sq.put_nowait("x")
    word: str = sq.get_nowait()
    lq: vthreads.LifoQueue[int] = vthreads.LifoQueue()
    pq: vthreads.PriorityQueue[tuple[int, str]] = vthreads.PriorityQueue()
    lq.put(1)
    pq.put((1, word))

    lock = vthreads.Lock()
    with lock:
        assert lock.locked()
    rlock = vthreads.RLock()
    assert rlock.acquire(timeout=1)
    rlock.release()
    sem = vthreads.BoundedSemaphore(2)
    with sem:
        pass
    event = vthreads.Event()
    event.set()
    assert event.wait(1) and event.is_set()
    cond = vthreads.Condition(vthreads.Lock())
    with cond:
        cond.notify_all()
        ready: bool = cond.wait_for(lambda: True, timeout=1)
    barrier = vthreads.Barrier(1)
    index: int = barrier.wait(1)

    ch = vthreads.Channel(1)
    ch.send("hello")
    which, value = vthreads.select(ch.recv_case(), timeout=1)
    ch.close()
    assert ch.closed and which == 0 and value == "hello"

    async def coro() -> int:
        return await asyncio.sleep(0, result=got + index)
    from_coroutine: int = vthreads.run_coroutine(coro())

    with vthreads.VThreadPoolExecutor(max_workers=2) as pool:
        fut: concurrent.futures.Future[int] = pool.submit(work, 1)
        total += fut.result()

    report: str = vthreads.dump(file=io.StringIO(), timeout=1.0)
    here: vthreads.VThread | None = vthreads.current()
    assert ready and report and here is not None
    stats = vthreads.statistics()
    live: int = sum(c.live for c in stats.carriers)
    running: int = stats.vthreads.get("running", 0)
    threshold: float = stats.monitor_threshold
    assert len(stats.carriers) == 2 and live >= 1 and running >= 1
    assert threshold == 0.5
    vthreads.excepthook(vthreads.ExceptHookArgs(ValueError("shown"), None))
    patched: bool = vthreads.monkey.is_patched("socket")
    # Typed, not called: patching gRPC is for a whole program.
    patch_grpc: Callable[[], None] = vthreads.monkey.patch_grpc
    assert callable(patch_grpc)
    sleep_fn: object = vthreads.monkey.get_original("time", "sleep")
    assert not patched and callable(sleep_fn)
    return total + from_coroutine


def run() -> int:
    """Run main() on a fresh two-carrier runtime, leaving none running."""
    assert vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=2, monitor_threshold=0.5)
    try:
        result: int = vthreads.run(main)
    finally:
        assert vthreads.shutdown(timeout=10)
        vthreads.configure(None, monitor_threshold=None)
    return result


if __name__ == "__main__":
    print(run())
