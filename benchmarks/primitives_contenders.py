"""Contenders for benchmarks/primitives.py; each runs in its own subprocess."""

import asyncio
import queue
import threading
import time


# --- thread bridge: round trips between two worlds -----------------------------

def _thread_side(get, put, n):
    for i in range(n):
        put(i)
        get()


def bridge_vthreads_thread_vthread(n):
    import vthreads
    req, rep = vthreads.Queue(), vthreads.Queue()

    def echo():
        for _ in range(n):
            rep.put(req.get())

    vt = vthreads.spawn(echo)
    t0 = time.perf_counter()
    _thread_side(rep.get, req.put, n)
    secs = time.perf_counter() - t0
    vt.join()
    return {"round_trips_per_s": n / secs}


def bridge_vthreads_coroutine_vthread(n):
    import vthreads
    req, rep = vthreads.Queue(), vthreads.Queue()

    def echo():
        for _ in range(n):
            rep.put(req.get())

    async def main():
        vt = vthreads.spawn(echo)
        t0 = time.perf_counter()
        for i in range(n):
            await req.put_async(i)
            await rep.get_async()
        secs = time.perf_counter() - t0
        await vthreads.join_async(vt)
        return secs

    return {"round_trips_per_s": n / asyncio.run(main())}


def bridge_vthreads_thread_coroutine(n):
    import vthreads
    req, rep = vthreads.Queue(), vthreads.Queue()

    async def echo():
        for _ in range(n):
            await rep.put_async(await req.get_async())

    t = threading.Thread(target=lambda: asyncio.run(echo()))
    t.start()
    t0 = time.perf_counter()
    _thread_side(rep.get, req.put, n)
    secs = time.perf_counter() - t0
    t.join()
    return {"round_trips_per_s": n / secs}


def bridge_culsans_thread_coroutine(n):
    import culsans
    out = {}

    async def main():
        req, rep = culsans.Queue(), culsans.Queue()

        async def echo():
            for _ in range(n):
                await rep.async_q.put(await req.async_q.get())

        task = asyncio.create_task(echo())
        t = threading.Thread(target=lambda: out.setdefault(
            "secs", _timed(_thread_side, rep.sync_q.get, req.sync_q.put, n)))
        t.start()
        await task
        await asyncio.to_thread(t.join)

    asyncio.run(main())
    return {"round_trips_per_s": n / out["secs"]}


def bridge_janus_style_thread_coroutine(n):
    """The call_soon_threadsafe pattern: thread -> loop via
    call_soon_threadsafe into an asyncio.Queue, loop -> thread via queue.Queue."""
    out = {}

    async def main():
        loop = asyncio.get_running_loop()
        req = asyncio.Queue()
        rep = queue.Queue()

        async def echo():
            for _ in range(n):
                rep.put(await req.get())

        task = asyncio.create_task(echo())

        def put(x):
            loop.call_soon_threadsafe(req.put_nowait, x)

        t = threading.Thread(target=lambda: out.setdefault(
            "secs", _timed(_thread_side, rep.get, put, n)))
        t.start()
        await task
        await asyncio.to_thread(t.join)

    asyncio.run(main())
    return {"round_trips_per_s": n / out["secs"]}


def bridge_queue_thread_thread(n):
    req, rep = queue.Queue(), queue.Queue()

    def echo():
        for _ in range(n):
            rep.put(req.get())

    t = threading.Thread(target=echo)
    t.start()
    secs = _timed(_thread_side, rep.get, req.put, n)
    t.join()
    return {"round_trips_per_s": n / secs}


def _timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


# --- lock contention: 1,000 tasks taking turns, yielding inside --------------

def lock_vthreads(n):
    import vthreads
    lock = vthreads.Lock()
    per = n // 1000

    def worker():
        for _ in range(per):
            with lock:
                vthreads.sleep(0)

    def main():
        t0 = time.perf_counter()
        vts = [vthreads.spawn(worker) for _ in range(1000)]
        for vt in vts:
            vt.join()
        return time.perf_counter() - t0

    return {"acquires_per_s": per * 1000 / vthreads.run(main, carriers=1)}


def lock_gevent(n):
    import gevent
    import gevent.lock
    lock = gevent.lock.Semaphore()
    per = n // 1000

    def worker():
        for _ in range(per):
            with lock:
                gevent.sleep(0)

    t0 = time.perf_counter()
    gevent.joinall([gevent.spawn(worker) for _ in range(1000)])
    return {"acquires_per_s": per * 1000 / (time.perf_counter() - t0)}


def lock_asyncio(n, uvloop=False):
    per = n // 1000

    async def main():
        lock = asyncio.Lock()

        async def worker():
            for _ in range(per):
                async with lock:
                    await asyncio.sleep(0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(1000)))
        return time.perf_counter() - t0

    if uvloop:
        import uvloop as _u
        secs = _u.run(main())
    else:
        secs = asyncio.run(main())
    return {"acquires_per_s": per * 1000 / secs}


# --- event fan-out: one set() wakes N waiters --------------------------------

def fanout_vthreads(n):
    import vthreads
    out = {}
    for size in (n // 10, n):
        ev = vthreads.Event()
        woke = []

        def waiter():
            ev.wait()
            woke.append(1)

        def main():
            vts = [vthreads.spawn(waiter) for _ in range(size)]
            while len(ev._waiters) < size:
                vthreads.sleep(0.001)
            t0 = time.perf_counter()
            ev.set()
            for vt in vts:
                vt.join()
            return time.perf_counter() - t0

        secs = vthreads.run(main, carriers=1)
        out[f"ns_per_waiter_{size}"] = secs / size * 1e9
    out["growth"] = out[f"ns_per_waiter_{n}"] / out[f"ns_per_waiter_{n // 10}"]
    return out


def fanout_threads_on_vthreads_event(n):
    """OS threads waiting on a vthreads.Event (aiologic's 'square problem'
    setting), with at most 1,000 threads."""
    import vthreads
    out = {}
    sizes = (100, 1000)
    for size in sizes:
        ev = vthreads.Event()
        done = threading.Semaphore(0)

        def waiter():
            ev.wait()
            done.release()

        ts = [threading.Thread(target=waiter) for _ in range(size)]
        for t in ts:
            t.start()
        while len(ev._waiters) < size:
            time.sleep(0.001)
        t0 = time.perf_counter()
        ev.set()
        for _ in range(size):
            done.acquire()
        out[f"ns_per_waiter_{size}"] = (time.perf_counter() - t0) / size * 1e9
        for t in ts:
            t.join()
    out["growth"] = out["ns_per_waiter_1000"] / out["ns_per_waiter_100"]
    return out


def fanout_threading_event(n):
    out = {}
    for size in (100, 1000):
        ev = threading.Event()
        done = threading.Semaphore(0)

        def waiter():
            ev.wait()
            done.release()

        ts = [threading.Thread(target=waiter) for _ in range(size)]
        for t in ts:
            t.start()
        time.sleep(0.2)
        t0 = time.perf_counter()
        ev.set()
        for _ in range(size):
            done.acquire()
        out[f"ns_per_waiter_{size}"] = (time.perf_counter() - t0) / size * 1e9
        for t in ts:
            t.join()
    out["growth"] = out["ns_per_waiter_1000"] / out["ns_per_waiter_100"]
    return out


def fanout_gevent(n):
    import gevent
    import gevent.event
    out = {}
    for size in (n // 10, n):
        ev = gevent.event.Event()
        gs = [gevent.spawn(ev.wait) for _ in range(size)]
        gevent.sleep(0.01)
        t0 = time.perf_counter()
        ev.set()
        gevent.joinall(gs)
        out[f"ns_per_waiter_{size}"] = (time.perf_counter() - t0) / size * 1e9
    out["growth"] = out[f"ns_per_waiter_{n}"] / out[f"ns_per_waiter_{n // 10}"]
    return out


def fanout_asyncio(n):
    out = {}

    async def one(size):
        ev = asyncio.Event()
        tasks = [asyncio.create_task(ev.wait()) for _ in range(size)]
        await asyncio.sleep(0.01)
        t0 = time.perf_counter()
        ev.set()
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0

    for size in (n // 10, n):
        out[f"ns_per_waiter_{size}"] = asyncio.run(one(size)) / size * 1e9
    out["growth"] = out[f"ns_per_waiter_{n}"] / out[f"ns_per_waiter_{n // 10}"]
    return out


BENCHES = {
    "bridge": {
        "vthreads thread<->vthread": bridge_vthreads_thread_vthread,
        "vthreads coroutine<->vthread": bridge_vthreads_coroutine_vthread,
        "vthreads thread<->coroutine": bridge_vthreads_thread_coroutine,
        "culsans thread<->coroutine": bridge_culsans_thread_coroutine,
        "janus-style thread<->coroutine": bridge_janus_style_thread_coroutine,
        "queue.Queue thread<->thread": bridge_queue_thread_thread,
    },
    "lock": {
        "vthreads": lock_vthreads, "gevent": lock_gevent,
        "asyncio": lock_asyncio, "uvloop": lambda n: lock_asyncio(n, True),
    },
    "fanout": {
        "vthreads": fanout_vthreads, "gevent": fanout_gevent,
        "asyncio": fanout_asyncio,
        "threads on vthreads.Event": fanout_threads_on_vthreads_event,
        "threads on threading.Event": fanout_threading_event,
    },
}
