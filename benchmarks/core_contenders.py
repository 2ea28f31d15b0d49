"""The contenders of benchmarks/core.py, one function per (bench, library).

Each function runs in its own subprocess (see _harness) and returns a dict
of numbers.
"""

import gc
import threading
import time

from _harness import pctl, rss_bytes


# --- spawn + join -----------------------------------------------------------

def spawn_vthreads(n):
    import vthreads

    def nothing():
        pass

    def main():
        t0 = time.perf_counter()
        vts = [vthreads.spawn(nothing) for _ in range(n)]
        for vt in vts:
            vt.join()
        return time.perf_counter() - t0

    vthreads.run(main)            # warm up the runtime
    secs = vthreads.run(main)
    return {"per_s": n / secs}


def spawn_gevent(n):
    import gevent

    def nothing():
        pass

    def main():
        t0 = time.perf_counter()
        gs = [gevent.spawn(nothing) for _ in range(n)]
        gevent.joinall(gs)
        return time.perf_counter() - t0

    main()
    return {"per_s": n / main()}


def spawn_asyncio(n, uvloop=False):
    import asyncio

    async def nothing():
        pass

    async def main():
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(nothing()) for _ in range(n)]
        for t in tasks:
            await t
        return time.perf_counter() - t0

    runner = _runner(uvloop)
    runner(main())
    return {"per_s": n / runner(main())}


def spawn_threads(n):
    n = min(n, 10000)             # 100k OS threads take minutes
    t0 = time.perf_counter()
    ts = [threading.Thread(target=lambda: None) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"per_s": n / (time.perf_counter() - t0)}


# --- ping-pong: two tasks handing the CPU to each other -----------------------

def pingpong_vthreads(n):
    import vthreads

    def player():
        for _ in range(n // 2):
            vthreads.sleep(0)

    def main():
        t0 = time.perf_counter()
        a, b = vthreads.spawn(player), vthreads.spawn(player)
        a.join()
        b.join()
        return time.perf_counter() - t0

    vthreads.run(main, carriers=1)
    return {"switch_per_s": n / vthreads.run(main)}


def pingpong_gevent(n):
    import gevent

    def player():
        for _ in range(n // 2):
            gevent.sleep(0)

    def main():
        t0 = time.perf_counter()
        gevent.joinall([gevent.spawn(player), gevent.spawn(player)])
        return time.perf_counter() - t0

    main()
    return {"switch_per_s": n / main()}


def pingpong_asyncio(n, uvloop=False):
    import asyncio

    async def player():
        for _ in range(n // 2):
            await asyncio.sleep(0)

    async def main():
        t0 = time.perf_counter()
        await asyncio.gather(player(), player())
        return time.perf_counter() - t0

    runner = _runner(uvloop)
    runner(main())
    return {"switch_per_s": n / runner(main())}


def pingpong_threads(n):
    n = min(n, 100000)
    a, b = threading.Lock(), threading.Lock()
    a.acquire()
    b.acquire()

    def player(mine, other, first):
        for _ in range(n // 2):
            if not first:
                mine.acquire()
            other.release()
            if first:
                mine.acquire()

    t0 = time.perf_counter()
    ts = [threading.Thread(target=player, args=(a, b, True)),
          threading.Thread(target=player, args=(b, a, False))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"switch_per_s": n / (time.perf_counter() - t0)}


# --- 100k sleepers: memory per idle task, wake-up lateness --------------------

# Sleep lengths: uniform over [START, START + SPREAD) s.
# "sleepers" (2 s + 5 s): every sleeper has started before the first
# deadline, and wake-ups come at most about a fifth as fast as spawns, so
# lateness measures the timers with 100k tasks parked.
# "sleepers_overlap" (1 s + 1 s): wake-ups arrive while later sleepers are
# still starting, about as fast as spawns; the carrier runs near its
# capacity, and one GC pause leaves a backlog that drains slowly.
START, SPREAD = 2.0, 5.0


def _durations(n):
    return [START + SPREAD * (i % 1000) / 1000.0 for i in range(n)]


def sleepers_vthreads(n):
    import vthreads
    late = []
    durations = _durations(n)

    started = []

    def sleeper(d):
        deadline = time.monotonic() + d
        started.append(1)
        vthreads.sleep(d)
        late.append(time.monotonic() - deadline)

    def main():
        vthreads.sleep(0.01)
        gc.collect()
        base = rss_bytes()
        vts = [vthreads.spawn(sleeper, d) for d in durations]
        while len(started) < n:              # every sleeper is parked now
            vthreads.sleep(0.01)
        per = (rss_bytes() - base) / n
        for vt in vts:
            vt.join()
        return per

    per = vthreads.run(main)
    return _sleep_result(per, late)


def sleepers_gevent(n):
    import gevent
    late = []
    durations = _durations(n)

    started = []

    def sleeper(d):
        deadline = time.monotonic() + d
        started.append(1)
        gevent.sleep(d)
        late.append(time.monotonic() - deadline)

    gevent.sleep(0.01)
    gc.collect()
    base = rss_bytes()
    gs = [gevent.spawn(sleeper, d) for d in durations]
    while len(started) < n:
        gevent.sleep(0.01)
    per = (rss_bytes() - base) / n
    gevent.joinall(gs)
    return _sleep_result(per, late)


def sleepers_asyncio(n, uvloop=False):
    import asyncio
    late = []
    durations = _durations(n)

    started = []

    async def sleeper(d):
        deadline = time.monotonic() + d
        started.append(1)
        await asyncio.sleep(d)
        late.append(time.monotonic() - deadline)

    async def main():
        await asyncio.sleep(0.01)
        gc.collect()
        base = rss_bytes()
        tasks = [asyncio.create_task(sleeper(d)) for d in durations]
        while len(started) < n:
            await asyncio.sleep(0.01)
        per = (rss_bytes() - base) / n
        for t in tasks:
            await t
        return per

    per = _runner(uvloop)(main())
    return _sleep_result(per, late)


def sleepers_threads(n):
    n = min(n, 10000)
    late = []
    lock = threading.Lock()
    durations = _durations(n)

    def sleeper(d):
        deadline = time.monotonic() + d
        time.sleep(d)
        x = time.monotonic() - deadline
        with lock:
            late.append(x)

    gc.collect()
    base = rss_bytes()
    ts = [threading.Thread(target=sleeper, args=(d,)) for d in durations]
    for t in ts:
        t.start()                 # start() returns once the thread runs
    per = (rss_bytes() - base) / n
    for t in ts:
        t.join()
    return _sleep_result(per, late)


def _sleep_result(per, late):
    return {"bytes_per_task": per,
            "late_p50_ms": pctl(late, 50) * 1000,
            "late_p99_ms": pctl(late, 99) * 1000,
            "late_max_ms": max(late) * 1000}


def _runner(use_uvloop):
    import asyncio
    if use_uvloop:
        import uvloop
        return lambda coro: uvloop.run(coro)
    return asyncio.run


def _overlap(fn):
    def run(n):
        global START, SPREAD
        START, SPREAD = 1.0, 1.0
        return fn(n)
    return run


BENCHES = {
    "spawn_join": {
        "vthreads": spawn_vthreads, "gevent": spawn_gevent,
        "asyncio": spawn_asyncio,
        "uvloop": lambda n: spawn_asyncio(n, True), "threads": spawn_threads},
    "pingpong": {
        "vthreads": pingpong_vthreads, "gevent": pingpong_gevent,
        "asyncio": pingpong_asyncio,
        "uvloop": lambda n: pingpong_asyncio(n, True),
        "threads": pingpong_threads},
    "sleepers": {
        "vthreads": sleepers_vthreads, "gevent": sleepers_gevent,
        "asyncio": sleepers_asyncio,
        "uvloop": lambda n: sleepers_asyncio(n, True),
        "threads": sleepers_threads},
    "sleepers_overlap": {
        "vthreads": _overlap(sleepers_vthreads),
        "gevent": _overlap(sleepers_gevent),
        "asyncio": _overlap(sleepers_asyncio),
        "uvloop": _overlap(lambda n: sleepers_asyncio(n, True))},
}
