"""fd readiness: the backend contract, and wait_readable / wait_writable."""

import os
import socket
import tempfile
import threading
import time

import pytest

import vthreads
from vthreads._core import block
from vthreads._poller import ERR, HUP, READ, WRITE
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


def test_backend_reports_normalised_events(backend):
    """poll() says READ | WRITE | HUP | ERR, never the kernel's bits."""
    a, b = socket.socketpair()
    with a:
        backend.register(a.fileno(), WRITE, "w")
        assert backend.poll(1) == [("w", WRITE)]
        b.send(b"x")
        backend.register(a.fileno(), READ, "r")
        assert backend.poll(1) == [("r", READ)]
        b.close()
        backend.register(a.fileno(), READ, "end")
        [(tok, events)] = backend.poll(1)
        assert tok == "end" and events & READ
        if backend.__class__ is EpollBackend:
            assert events == READ | HUP         # selectors cannot tell
        assert events & ~(READ | WRITE | HUP | ERR) == 0


@pytest.mark.parametrize("where", ["vthread", "os thread"])
def test_an_fd_wait_returns_a_tagged_ready_not_a_bare_int(where):
    """block(io=...) returns readiness as a Ready with the poller's bits,
    and any other waker's value as it is, an int included."""
    from vthreads._core._ticket import Ready

    def wait_both():
        a, b = socket.socketpair()
        with a:
            b.close()                   # readable now, and hung up
            got = block("TEST", None, None, None, None,
                        io=((a.fileno(), READ),))
            fired = block("TEST", None, lambda t: t.fire(5), None, None,
                          io=((a.fileno(), READ),))
        return got, fired

    if where == "vthread":
        got, fired = vthreads.spawn(wait_both).result(10)
    else:
        got, fired = wait_both()
    assert got.__class__ is Ready and got.events & READ
    assert got.events & HUP             # the end, from either kind of waiter
    assert fired == 5


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


# --- keyed waits: the fd may stay armed between waits ---------------------------
# A key promises that the caller's operation just failed with EAGAIN and
# that the key stands for one open file.  These hold for both backends;
# epoll keeps such an fd registered, edge-triggered.


def _drain(sock):
    try:
        while sock.recv(4096):
            pass
    except BlockingIOError:
        pass


def test_backend_keyed_waits_repeat_without_losing_data(backend):
    a, b = socket.socketpair()
    a.setblocking(False)
    key = object()
    with a, b:
        for i in range(20):
            _drain(a)                           # the EAGAIN a keyed wait follows
            assert backend.register(a.fileno(), READ, f"r{i}", key)
            assert backend.poll(0) == []
            b.send(b"x")
            assert [t for t, _ in backend.poll(1)] == [f"r{i}"]
            assert backend.waiting == 0


def _woken_once(backend, key):
    """A socketpair whose ``a`` had one keyed wait, woken by data."""
    a, b = socket.socketpair()
    a.setblocking(False)
    backend.register(a.fileno(), READ, "first", key)
    b.send(b"1")
    assert [t for t, _ in backend.poll(1)] == ["first"]
    return a, b


def test_backend_keyed_edge_with_nobody_waiting_is_dropped(backend):
    key = object()
    a, b = _woken_once(backend, key)
    with a, b:
        b.send(b"2")                            # an edge nobody waits for
        assert backend.poll(0.01) == []
        _drain(a)
        backend.register(a.fileno(), READ, "second", key)
        b.send(b"3")
        assert [t for t, _ in backend.poll(1)] == ["second"]


def test_backend_keyed_fd_nobody_waits_on_stops_waking_the_poll(backend):
    """Once an edge finds nobody waiting (the socket may be in use on
    another carrier now), more data must not keep ending this poll early."""
    a, b = _woken_once(backend, object())
    with a, b:
        b.send(b"2")
        assert backend.poll(0.01) == []           # woke nobody
        b.send(b"3")
        t0 = time.monotonic()
        assert backend.poll(0.2) == []
        assert time.monotonic() - t0 >= 0.15      # slept it out


def test_backend_keyed_adds_a_direction(backend):
    a, b = socket.socketpair()
    a.setblocking(False)
    key = object()
    with a, b:
        backend.register(a.fileno(), READ, "r", key)
        backend.register(a.fileno(), WRITE, "w", key)   # writable now
        assert [t for t, _ in backend.poll(1)] == ["w"]
        b.send(b"x")
        assert [t for t, _ in backend.poll(1)] == ["r"]


def _reuse_number(backend):
    """Close a keyed, once-woken socket; return its fd number."""
    a, b = _woken_once(backend, object())
    fd = a.fileno()
    a.close()
    b.close()
    return fd


def test_backend_keyed_fd_number_reused_by_another_key(backend):
    """A closed keyed fd's number, reused by another open file, must be
    armed again: it is no longer the file the old key stood for."""
    fd = _reuse_number(backend)
    c, d = socket.socketpair()
    with c, d:
        if c.fileno() != fd:
            c, d = d, c
        assert c.fileno() == fd
        backend.register(fd, READ, "new", object())
        d.send(b"y")
        assert [t for t, _ in backend.poll(1)] == ["new"]


def test_backend_keyed_fd_then_a_wait_without_key(backend):
    """A wait without a key has not tried its operation: data that came
    before it (whose edge is long gone) must still wake it."""
    key = object()
    a, b = _woken_once(backend, key)
    with a, b:
        b.send(b"y")                  # readable, and its edge goes unseen
        assert backend.poll(0.01) == []
        backend.register(a.fileno(), READ, "plain")
        assert [t for t, _ in backend.poll(1)] == ["plain"]
        # ... and keyed waits work again after it
        _drain(a)
        backend.register(a.fileno(), READ, "keyed again", key)
        assert backend.poll(0) == []
        b.send(b"z")
        assert [t for t, _ in backend.poll(1)] == ["keyed again"]


def test_backend_keyed_fd_number_reused_by_a_pipe(backend):
    fd = _reuse_number(backend)
    r, w = os.pipe()
    try:
        if r != fd:
            pytest.skip("the pipe did not get the socket's fd number")
        backend.register(r, READ, "pipe")
        os.write(w, b"x")
        assert [t for t, _ in backend.poll(1)] == ["pipe"]
    finally:
        os.close(r)
        os.close(w)


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
    with pytest.raises(TypeError):
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
