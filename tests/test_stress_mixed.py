"""Every kind of waiter on the same primitives at once, with random
cancellations and timeouts: exact counts, no duplicates, bounded time.

Producers and consumers are vthreads on two carriers, plain OS threads and
coroutines on two asyncio loops in two threads.  Every item is tagged; at
the end every item that a put reported as delivered was received exactly
once or is still in the queue, and nothing else was received.
"""

import asyncio
import random
import threading

import vthreads
from vthreads import Cancelled


def test_mixed_worlds_random_cancels_and_timeouts(two_carriers):
    q = vthreads.Queue(8)
    ch = vthreads.Channel(2)
    lock = threading.Lock()
    delivered, received = [], []
    stop = vthreads.Event()

    def record(lst, x):
        with lock:
            lst.append(x)

    # --- producers -----------------------------------------------------------
    def v_producer(tag):
        for i in range(150):
            item = (tag, i)
            try:
                with vthreads.move_on_after(random.choice([0.0005, 0.01, 1])):
                    if i % 2:
                        q.put(item)
                    else:
                        ch.send(item)
                    record(delivered, item)
            except Cancelled:
                return
            except vthreads.ChannelClosed:
                return

    def t_producer(tag):
        for i in range(150):
            item = (tag, i)
            try:
                if i % 2:
                    q.put(item, timeout=random.choice([0.0005, 0.01, 1]))
                else:
                    ch.send(item, timeout=random.choice([0.0005, 0.01, 1]))
                record(delivered, item)
            except (vthreads.Full, TimeoutError):
                pass

    async def a_producer(tag):
        for i in range(150):
            item = (tag, i)
            try:
                if i % 2:
                    await asyncio.wait_for(q.put_async(item), random.choice([0.0005, 0.01, 1]))
                else:
                    await ch.send_async(item, timeout=random.choice([0.0005, 0.01, 1]))
                record(delivered, item)
            except (asyncio.TimeoutError, TimeoutError):
                pass

    # --- consumers -----------------------------------------------------------
    def v_consumer():
        while not stop.is_set():
            try:
                idx, item = vthreads.select(ch.recv_case(), timeout=0.01)
                record(received, item)
            except TimeoutError:
                pass
            try:
                record(received, q.get(timeout=0.01))
            except vthreads.Empty:
                pass

    def t_consumer():
        while not stop.is_set():
            try:
                record(received, q.get(timeout=0.005))
            except vthreads.Empty:
                pass

    async def a_consumer():
        while not stop.is_set():
            try:
                record(received, await ch.recv_async(timeout=0.005))
            except TimeoutError:
                pass

    producers = [vthreads.spawn(v_producer, f"v{k}") for k in range(4)]
    victims = list(producers)
    threads = [threading.Thread(target=t_producer, args=(f"t{k}",)) for k in range(2)]
    threads += [threading.Thread(target=lambda k=k: asyncio.run(a_producer(f"a{k}")))
                for k in range(2)]
    consumers = [vthreads.spawn(v_consumer) for _ in range(3)]
    threads += [threading.Thread(target=t_consumer)]
    threads += [threading.Thread(target=lambda: asyncio.run(a_consumer()))
                for _ in range(2)]
    for t in threads:
        t.start()
    # random cancellations of whole producer vthreads
    vthreads.sleep(0.05)
    for vt in random.sample(victims, 2):
        vt.cancel()
    for vt in producers:
        vt.join(60)
    for t in threads[:4]:
        t.join(60)
    # drain, then stop the consumers
    deadline = vthreads.current_effective_deadline()  # inf: no scope here
    assert deadline == float("inf")
    while q.qsize() or len(ch):
        vthreads.sleep(0.01)
    vthreads.sleep(0.05)
    stop.set()
    for vt in consumers:
        vt.result(60)
    for t in threads[4:]:
        t.join(60)
        assert not t.is_alive()
    assert len(received) == len(set(received)), "an item was received twice"
    assert sorted(received) == sorted(delivered)
    assert len(delivered) > 300, len(delivered)   # the test did real work
