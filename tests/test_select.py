"""Cooperative select.select, select.poll and selectors."""

import selectors
import select as std_select
import threading

import pytest

import vthreads
from vthreads._io import (DefaultSelector, EpollSelector, PollSelector,
                          SelectSelector, poll, select, socketpair)
from conftest import run_in, wait_until


def test_select_parks_and_lets_others_run(one_carrier):
    a, b = socketpair()
    c, d = socketpair()
    trace = []

    def watcher():
        r, w, x = select([a, c], [], [], 10)
        trace.append(("ready", [s is c for s in r]))

    def ticker():
        for i in range(3):
            trace.append(("tick", i))
            vthreads.sleep(0.005)
        d.send(b"!")

    def main():
        w = vthreads.spawn(watcher)
        t = vthreads.spawn(ticker)
        w.join()
        t.join()

    with a, b, c, d:
        vthreads.run(main)
    assert trace == [("tick", 0), ("tick", 1), ("tick", 2), ("ready", [True])]


@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_select_results_timeout_and_writable(where):
    a, b = socketpair()
    with a, b:
        assert run_in(where, lambda: select([a], [], [], 0.02)) == ([], [], [])
        assert run_in(where, lambda: select([], [a], [], 1)) == ([], [a], [])
        b.send(b"x")
        r, w, x = run_in(where, lambda: select([a.fileno(), b], [b], [], 1))
        assert r == [a.fileno()] and w == [b]
        with pytest.raises(ValueError):
            select([a], [], [], -1)


def test_select_is_cancellable_and_matches_stdlib_errors():
    a, b = socketpair()
    with a, b:
        vt = vthreads.spawn(select, [a], [], [])
        assert wait_until(lambda: "SELECT" in repr(vt))
        vt.cancel()
        with pytest.raises(vthreads.Cancelled):
            vt.result(10)
    with pytest.raises(ValueError):
        select([a], [], [], 0)        # closed: fileno() is -1, as stdlib
    import os
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError):
        select([r], [], [], 0)


def test_poll_object(one_carrier):
    a, b = socketpair()
    with a, b:
        p = poll()
        p.register(a, std_select.POLLIN)
        assert vthreads.spawn(p.poll, 20).result(10) == []
        vt = vthreads.spawn(p.poll)
        assert wait_until(lambda: "POLL" in repr(vt))
        b.send(b"x")
        assert vt.result(10) == [(a.fileno(), std_select.POLLIN)]
        p.modify(a, std_select.POLLOUT)
        assert p.poll(0) == [(a.fileno(), std_select.POLLOUT)]
        p.unregister(a)
        assert p.poll(0) == []
        with pytest.raises(FileNotFoundError):
            p.modify(a, std_select.POLLIN)
    # As with select.poll, only poll() makes one.
    with pytest.raises(TypeError, match="cannot create"):
        type(p)()
    with pytest.raises(TypeError, match="fileno"):
        p.register(object())


@pytest.mark.parametrize("cls, reason", [
    (DefaultSelector, "EPOLL"), (EpollSelector, "EPOLL"),
    (PollSelector, "SELECTOR"), (SelectSelector, "SELECT")],
    ids=["default", "epoll", "poll", "select"])
def test_selector_parks(cls, reason):
    a, b = socketpair()
    with a, b, cls() as sel:
        sel.register(a, selectors.EVENT_READ, data="a")
        assert sel.select(0.02) == []
        vt = vthreads.spawn(sel.select)
        assert wait_until(lambda: f"parked on {reason} " in repr(vt))
        b.send(b"x")
        ((key, events),) = vt.result(10)
        assert key.data == "a" and events == selectors.EVENT_READ
        done = threading.Event()
        t = threading.Thread(target=lambda: (sel.select(5), done.set()))
        t.start()
        t.join(10)
        assert done.is_set()


def test_a_select_loop_that_never_parks_still_lets_others_run(one_carrier):
    # multiprocessing's Pool waits in a loop on a queue that another of its
    # threads drains: a select() that finds something ready at once must
    # still give the carrier's other vthreads their turn.
    a, b = socketpair()
    b.send(b"x")                       # a stays readable
    done = []

    def spinner():
        sel = DefaultSelector()
        sel.register(a, selectors.EVENT_READ)
        n = 0
        while not done:
            assert sel.select(None)
            select([a], [], [], None)
            p = poll()
            p.register(a, std_select.POLLIN)
            assert p.poll(None)
            n += 1
        sel.close()
        return n

    def other():
        done.append(True)

    def main():
        s = vthreads.spawn(spinner)
        vthreads.spawn(other).join()
        return s.result(10)

    with a, b:
        assert vthreads.run(main) >= 1
