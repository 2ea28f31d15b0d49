"""fd readiness: the backend contract, and wait_readable / wait_writable."""

import os
import socket
import tempfile
import threading

import pytest

import vthreads
from vthreads._poller import READ, WRITE
from vthreads._poller._epoll import EpollBackend
from vthreads._poller._selectors import SelectorsBackend


@pytest.fixture(params=[EpollBackend, SelectorsBackend], ids=["epoll", "selectors"])
def backend(request):
    b = request.param()
    yield b
    b.close()


def test_backend_reports_readiness_once_per_registration(backend):
    a, b = socket.socketpair()
    with a, b:
        assert backend.register(a.fileno(), READ, "tok-r")
        assert backend.poll(0) == []
        b.send(b"x")
        got = backend.poll(1)
        assert [t for t, _ in got] == ["tok-r"]
        assert backend.waiting == 0
        # one-shot: still readable, but nobody registered again
        assert backend.poll(0) == []


def test_backend_both_directions_and_several_waiters(backend):
    a, b = socket.socketpair()
    with a, b:
        backend.register(a.fileno(), READ, "r1")
        backend.register(a.fileno(), READ, "r2")
        backend.register(a.fileno(), WRITE, "w")
        got = backend.poll(1)
        assert [t for t, _ in got] == ["w"]          # writable, not readable
        assert backend.waiting == 2
        b.send(b"x")
        got = backend.poll(1)
        assert sorted(t for t, _ in got) == ["r1", "r2"]
        assert backend.waiting == 0


def test_backend_unregister_forgets_a_token(backend):
    a, b = socket.socketpair()
    with a, b:
        backend.register(a.fileno(), READ, "gone")
        backend.unregister(a.fileno(), "gone")
        b.send(b"x")
        assert backend.poll(0.05) == []
        assert backend.waiting == 0


def test_backend_wake_from_another_thread(backend):
    t = threading.Timer(0.05, backend.wake)
    t.start()
    assert backend.poll(10) == []      # returned early, nothing ready
    t.join()


def test_backend_regular_file_is_ready_now(backend):
    with tempfile.TemporaryFile() as f:
        if isinstance(backend, SelectorsBackend):
            pytest.skip("epoll-only: selectors' epoll rejects files the same way")
        assert backend.register(f.fileno(), READ, "file") is False
        assert backend.waiting == 0


def test_backend_hangup_wakes_readers_and_writers(backend):
    a, b = socket.socketpair()
    with a:
        backend.register(a.fileno(), READ, "r")
        b.close()
        got = backend.poll(1)
        assert [t for t, _ in got] == ["r"]


def test_backend_bad_fd_raises(backend):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises((OSError, ValueError)):
        backend.register(r, READ, "bad")
    assert backend.waiting == 0


# --- the public waits -----------------------------------------------------------


def _ping_pong(n):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    def side(sock, first):
        got = 0
        if first:
            sock.send(b"p")
        while got < n:
            vthreads.wait_readable(sock)
            sock.recv(1)
            got += 1
            if got < n or not first:
                sock.send(b"p")
        return got

    x = vthreads.spawn(side, a, True)
    y = vthreads.spawn(side, b, False)
    try:
        return x.result(30), y.result(30)
    finally:
        a.close()
        b.close()


def test_wait_readable_ping_pong_between_vthreads(carriers):
    assert _ping_pong(500) == (500, 500)


def test_wait_readable_in_plain_thread():
    a, b = socket.socketpair()
    with a, b:
        threading.Timer(0.02, b.send, (b"x",)).start()
        vthreads.wait_readable(a.fileno(), timeout=10)
        assert a.recv(1) == b"x"
        vthreads.wait_writable(a, timeout=10)


def test_wait_readable_timeout_in_vthread_and_thread():
    a, b = socket.socketpair()
    with a, b:
        def body():
            with pytest.raises(TimeoutError):
                vthreads.wait_readable(a, timeout=0.02)
            return "ok"
        assert vthreads.spawn(body).result(10) == "ok"
        with pytest.raises(TimeoutError):
            vthreads.wait_readable(a, timeout=0.02)


def test_wait_readable_is_cancellable_in_vthread_and_thread():
    a, b = socket.socketpair()
    with a, b:
        vt = vthreads.spawn(vthreads.wait_readable, a)
        from conftest import wait_until
        assert wait_until(lambda: "FD_READABLE" in repr(vt))
        vt.cancel()
        with pytest.raises(vthreads.Cancelled):
            vt.result(10)

        with vthreads.move_on_after(0.05) as scope:
            vthreads.wait_readable(a)
        assert scope.cancelled_caught

        # the fd still works for a later waiter after the abandoned waits
        b.send(b"y")
        assert vthreads.spawn(lambda: vthreads.wait_readable(a) or a.recv(1)).result(10) == b"y"


def test_wait_on_regular_file_returns_at_once():
    with tempfile.TemporaryFile() as f:
        assert vthreads.spawn(vthreads.wait_readable, f).result(10) is None
        vthreads.wait_readable(f, timeout=10)


def test_wait_bad_input():
    with pytest.raises(ValueError):
        vthreads.wait_readable(-1)
    with pytest.raises(AttributeError):
        vthreads.wait_readable("not a file")
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError):
        vthreads.wait_readable(r, timeout=1)
    vt = vthreads.spawn(vthreads.wait_readable, r, 1)
    with pytest.raises(OSError):
        vt.result(10)


def test_backend_fd_number_reused_after_close(backend):
    """An abandoned wait on a closed fd must not hide the next fd that gets
    the same number."""
    a, b = socket.socketpair()
    fd = a.fileno()
    backend.register(fd, READ, "old")
    backend.unregister(fd, "old")
    a.close()
    b.close()
    c, d = socket.socketpair()
    with c, d:
        if c.fileno() != fd:
            c, d = d, c
        assert c.fileno() == fd
        backend.register(fd, READ, "new")
        d.send(b"x")
        assert [t for t, _ in backend.poll(1)] == ["new"]
