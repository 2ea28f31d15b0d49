"""Queues and channels: the queue module's API, shutdown, Go channels,
select, and nothing lost on cancellation."""

import queue
import random
import threading

import pytest

import vthreads
from vthreads import Cancelled, ChannelClosed
from conftest import autojump, wait_until


# --- Queue family ---------------------------------------------------------------

def test_queue_orders():
    for cls, expect in ((vthreads.Queue, [3, 1, 2]), (vthreads.LifoQueue, [2, 1, 3]),
                        (vthreads.PriorityQueue, [1, 2, 3])):
        q = cls()
        for x in (3, 1, 2):
            q.put(x)
        assert [q.get() for _ in range(3)] == expect, cls


def test_queue_empty_full_and_exceptions_are_the_queue_modules():
    q = vthreads.Queue(1)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    q.put_nowait(1)
    assert q.full() and q.qsize() == 1 and not q.empty()
    with pytest.raises(queue.Full):
        q.put_nowait(2)
    with pytest.raises(queue.Full):
        q.put(2, timeout=0.01)
    with pytest.raises(ValueError):
        q.put(2, timeout=-1)
    assert q.get() == 1


def test_negative_maxsize_is_unbounded_as_in_queue():
    q = vthreads.Queue(-5)
    for i in range(100):
        q.put_nowait(i)
    assert q.qsize() == 100 and not q.full()


def test_task_done_and_join():
    q = vthreads.Queue()
    for i in range(10):
        q.put(i)
    done = []

    def worker():
        while True:
            item = q.get()
            done.append(item)
            q.task_done()

    w = vthreads.spawn(worker)
    q.join()                       # from a plain thread
    assert sorted(done) == list(range(10))
    w.cancel()
    with pytest.raises(ValueError, match="too many"):
        q.task_done()


def test_blocking_put_and_get_across_worlds(two_carriers):
    q = vthreads.Queue(3)
    got = []
    lock = threading.Lock()

    def producer(base):
        for i in range(300):
            q.put(base + i)

    def consumer(n):
        for _ in range(n):
            x = q.get(timeout=30)
            with lock:
                got.append(x)

    prods = [vthreads.spawn(producer, k * 1000) for k in range(3)]
    t = threading.Thread(target=producer, args=(3000,))
    t.start()
    cons = [vthreads.spawn(consumer, 300) for _ in range(3)]
    tc = threading.Thread(target=consumer, args=(300,))
    tc.start()
    for v in prods + cons:
        v.result(60)
    t.join(60)
    tc.join(60)
    expect = sorted(k * 1000 + i for k in range(4) for i in range(300))
    assert sorted(got) == expect


def test_getters_served_fifo():
    q = vthreads.Queue()
    order = []

    def getter(i):
        order.append((i, q.get()))

    def main():
        vts = [vthreads.spawn(getter, i) for i in range(5)]
        vthreads.sleep(0.01)
        for x in "abcde":
            q.put(x)
        for vt in vts:
            vt.join()

    autojump(main)
    assert order == list(zip(range(5), "abcde"))


def test_shutdown_non_immediate():
    q = vthreads.Queue()
    q.put(1)
    getter = vthreads.spawn(lambda: [q.get(), q.get()])
    q.shutdown()
    with pytest.raises(vthreads.ShutDown):
        q.put(2)
    with pytest.raises(vthreads.ShutDown):
        getter.result(10)          # took 1, then the queue was empty and shut
    with pytest.raises(vthreads.ShutDown):
        q.get()


def test_shutdown_releases_parked_getters_and_putters():
    q = vthreads.Queue(1)
    g = vthreads.spawn(vthreads.Queue().get)    # unrelated, stays parked
    getters = [vthreads.spawn(q.get) for _ in range(3)]
    assert wait_until(lambda: len(q._getters) == 3)
    q.shutdown()
    for v in getters:
        with pytest.raises(vthreads.ShutDown):
            v.result(10)
    q2 = vthreads.Queue(1)
    q2.put(0)
    putter = vthreads.spawn(q2.put, 1)
    assert wait_until(lambda: len(q2._putters) == 1)
    q2.shutdown()
    with pytest.raises(vthreads.ShutDown):
        putter.result(10)
    assert q2.get() == 0           # what was in stays gettable
    g.cancel()


def test_shutdown_immediate_drains_and_releases_join():
    q = vthreads.Queue()
    for i in range(5):
        q.put(i)
    joiner = vthreads.spawn(q.join)
    assert wait_until(lambda: "QUEUE_JOIN" in repr(joiner))
    q.shutdown(immediate=True)
    assert joiner.join(10)
    assert q.qsize() == 0
    with pytest.raises(vthreads.ShutDown):
        q.get_nowait()


def test_simple_queue():
    q = vthreads.SimpleQueue()
    assert q.empty()
    q.put(1)
    q.put_nowait(2)
    assert q.qsize() == 2
    assert q.get() == 1 and q.get_nowait() == 2
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)


def test_cancelled_get_never_consumes(two_carriers):
    """Getters are cancelled while items arrive; every item put is either
    returned by a get that succeeded or still in the queue."""
    q = vthreads.Queue()
    received = []
    lock = threading.Lock()

    def getter():
        try:
            x = q.get()
        except Cancelled:
            return
        with lock:
            received.append(x)

    sent = 0
    for _round in range(30):
        vts = [vthreads.spawn(getter) for _ in range(20)]
        for i in range(10):
            q.put(sent)
            sent += 1
        for vt in random.sample(vts, 12):
            vt.cancel()
        for _ in range(20):
            q.put(sent)
            sent += 1
        for vt in vts:
            vt.join(30)
    left = []
    while not q.empty():
        left.append(q.get_nowait())
    assert sorted(received + left) == list(range(sent))


def test_cancelled_put_never_delivers(two_carriers):
    q = vthreads.Queue(1)
    delivered = []
    lock = threading.Lock()

    def putter(i):
        try:
            q.put(i)
        except Cancelled:
            return
        with lock:
            delivered.append(i)

    taken = []
    for r in range(30):
        vts = [vthreads.spawn(putter, r * 100 + i) for i in range(10)]
        cancel = random.sample(vts, 5)
        for _ in range(3):
            taken.append(q.get(timeout=30))
        for vt in cancel:
            vt.cancel()
        for vt in vts:
            if vt not in cancel:
                pass
        while True:
            try:
                taken.append(q.get(timeout=0.05))
            except queue.Empty:
                if all(v.done() for v in vts):
                    break
    while not q.empty():
        taken.append(q.get_nowait())
    assert sorted(taken) == sorted(delivered)


# --- Channel ----------------------------------------------------------------------

def test_unbuffered_send_waits_for_a_receiver():
    ch = vthreads.Channel()
    trace = []

    def sender():
        trace.append("send start")
        ch.send("x")
        trace.append("send done")

    def main():
        s = vthreads.spawn(sender)
        vthreads.sleep(0.01)
        trace.append("recv")
        trace.append(ch.recv())
        s.join()

    autojump(main)
    assert trace == ["send start", "recv", "x", "send done"]


def test_buffered_channel_len_close_and_iteration():
    ch = vthreads.Channel(3)
    for i in range(3):
        ch.send_nowait(i)
    assert len(ch) == 3
    with pytest.raises(BlockingIOError):
        ch.send_nowait(9)
    with pytest.raises(TimeoutError):
        ch.send(9, timeout=0.01)
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.send(9)
    assert list(ch) == [0, 1, 2]
    with pytest.raises(ChannelClosed):
        ch.recv()
    with pytest.raises(ChannelClosed):
        ch.recv_nowait()


def test_close_wakes_parked_senders_and_receivers():
    ch = vthreads.Channel()
    r = vthreads.spawn(ch.recv)
    assert wait_until(lambda: "CHANNEL_RECV" in repr(r))
    ch.close()
    with pytest.raises(ChannelClosed):
        r.result(10)
    ch2 = vthreads.Channel()
    s = vthreads.spawn(ch2.send, 1)
    assert wait_until(lambda: "CHANNEL_SEND" in repr(s))
    ch2.close()
    with pytest.raises(ChannelClosed):
        s.result(10)


def test_channel_bad_input():
    with pytest.raises(ValueError):
        vthreads.Channel(-1)
    with pytest.raises(TypeError):
        vthreads.Channel(1.5)
    with pytest.raises(ValueError):
        vthreads.select()
    with pytest.raises(TypeError):
        vthreads.select(1)


def test_select_fires_exactly_one_case():
    a, b, c = vthreads.Channel(), vthreads.Channel(), vthreads.Channel(1)
    vthreads.spawn(b.send, "from b")
    idx, val = vthreads.select(a.recv_case(), b.recv_case(), timeout=10)
    assert (idx, val) == (1, "from b")
    # a send case that can go now
    assert vthreads.select(a.recv_case(), c.send_case("in c"), timeout=10) == (1, None)
    assert c.recv() == "in c"
    with pytest.raises(TimeoutError):
        vthreads.select(a.recv_case(), b.recv_case(), timeout=0.01)
    # nothing was left registered in the channels after the timeout
    assert len(a._recvq) == 0 and len(b._recvq) == 0


def test_select_many_senders_each_value_taken_once(two_carriers):
    chans = [vthreads.Channel() for _ in range(4)]
    N = 400

    def sender(k):
        for i in range(N):
            chans[k].send((k, i))

    senders = [vthreads.spawn(sender, k) for k in range(4)]
    got = []
    for _ in range(4 * N):
        idx, val = vthreads.select(*(ch.recv_case() for ch in chans), timeout=30)
        assert val[0] == idx
        got.append(val)
    for s in senders:
        s.result(30)
    assert sorted(got) == sorted((k, i) for k in range(4) for i in range(N))
    assert all(len(ch._sendq) == 0 and len(ch._recvq) == 0 for ch in chans)


def test_cancelled_send_never_delivers(two_carriers):
    ch = vthreads.Channel()
    delivered = []
    lock = threading.Lock()

    def sender(i):
        try:
            ch.send(i)
        except Cancelled:
            return
        with lock:
            delivered.append(i)

    received = []
    for r in range(30):
        vts = [vthreads.spawn(sender, r * 100 + i) for i in range(10)]
        for _ in range(4):
            received.append(ch.recv(timeout=30))
        for vt in random.sample(vts, 5):
            vt.cancel()
        while not all(v.done() for v in vts):
            try:
                received.append(ch.recv(timeout=0.05))
            except TimeoutError:
                pass
    assert sorted(received) == sorted(delivered)


def test_channel_between_os_thread_and_vthread():
    ch = vthreads.Channel()
    out = []
    t = threading.Thread(target=lambda: out.extend(ch))
    t.start()
    vthreads.spawn(lambda: [ch.send(i) for i in range(50)] and ch.close()).result(10)
    t.join(10)
    assert out == list(range(50))



def test_simple_queue_put_is_reentrant():
    # queue.SimpleQueue.put() may be called from a __del__ that the
    # collector runs in the middle of a put or a get (bpo-14976), or from
    # a signal handler: in the same thread, inside the queue's own
    # critical section.  CPython's own test, with the collector made to run
    # at nearly every allocation; in a fresh process, so that a deadlock
    # is a timeout.  Every item arrives once; unlike the C class's, a put
    # here is not atomic to __del__, so one from inside may overtake it.
    from conftest import run_script
    r = run_script("""if 1:
        import gc, itertools, vthreads
        gc.set_threshold(1)
        q = vthreads.SimpleQueue()
        gen = itertools.count()
        results = []

        class Circular:
            def __init__(self):
                self.circular = self

            def __del__(self):
                q.put(next(gen))

        for _ in range(10000):
            o = Circular()
            q.put(next(gen))
            del o
            results.append(q.get())
        gc.set_threshold(700)
        gc.collect()
        while not q.empty():
            results.append(q.get_nowait())
        assert sorted(results) == list(range(next(gen))), results[:10]
        assert len(results) > 10000
        print("ok")
    """, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
