"""The cooperative socket: stdlib behaviour, parking, timeouts, close.

(The monkeypatching issue builds on this; these tests use the class
directly.)
"""

import errno
import os
import socket as std
import tempfile
import threading
import time

import pytest

import vthreads
from vthreads._io import (BusyResourceError, create_connection,
                          create_server, fromfd, socket, socketpair)
from vthreads._poller import READ
from conftest import run_in, wait_until

WHERE = pytest.mark.parametrize("where", ["vthread", "thread"])


def echo_server():
    srv = create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            vthreads.spawn(handle, c)

    def handle(c):
        with c:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                c.sendall(data)

    vthreads.spawn(serve)
    return srv, srv.getsockname()[1]


@WHERE
def test_tcp_echo_from_vthread_and_thread(where):
    srv, port = echo_server()
    try:
        def client():
            with create_connection(("127.0.0.1", port), timeout=10) as s:
                payload = os.urandom(300_000)          # several send() calls
                got = bytearray()
                sender = vthreads.spawn(s.sendall, payload)
                while len(got) < len(payload):
                    got += s.recv(65536)
                sender.result(10)
                return bytes(got) == payload
        assert run_in(where, client)
    finally:
        srv.close()


def test_many_connections_across_carriers(two_carriers):
    srv, port = echo_server()

    def client(i):
        with create_connection(("127.0.0.1", port), timeout=30) as s:
            msg = f"hello {i}".encode()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += s.recv(100)
            return got == msg

    try:
        vts = [vthreads.spawn(client, i) for i in range(300)]
        assert all(vt.result(60) for vt in vts)
    finally:
        srv.close()


def test_timeout_modes_follow_the_stdlib():
    a, b = socketpair()
    with a, b:
        assert a.gettimeout() == std.getdefaulttimeout() and a.getblocking()
        a.settimeout(0.02)
        assert a.gettimeout() == 0.02 and a.timeout == 0.02
        with pytest.raises(std.timeout):
            a.recv(1)
        a.setblocking(False)
        assert a.gettimeout() == 0.0 and not a.getblocking()
        with pytest.raises(BlockingIOError):
            a.recv(1)
        a.setblocking(True)
        assert a.gettimeout() is None
        with pytest.raises(ValueError):
            a.settimeout(-1)
        with pytest.raises(TypeError):
            a.settimeout("1")
        b.send(b"x")
        assert a.recv(1) == b"x"


def test_default_timeout_applies_to_new_sockets():
    old = std.getdefaulttimeout()
    std.setdefaulttimeout(0.02)
    try:
        a, b = socketpair()
    finally:
        std.setdefaulttimeout(old)
    with a, b:
        assert a.gettimeout() == 0.02
        with pytest.raises(TimeoutError):
            vthreads.spawn(a.recv, 1).result(10)


@WHERE
def test_recv_is_cancellable(where):
    a, b = socketpair()
    with a, b:
        def body():
            with vthreads.move_on_after(0.02) as scope:
                a.recv(1)
            return scope.cancelled_caught
        assert run_in(where, body) is True
        b.send(b"y")                      # the socket still works after
        assert a.recv(1) == b"y"


@WHERE
def test_close_wakes_a_waiter_with_ebadf(where):
    a, b = socketpair()
    box = []

    def reader():
        try:
            a.recv(1)
        except OSError as exc:
            return exc.errno

    if where == "vthread":
        vt = vthreads.spawn(reader)
        assert wait_until(lambda: "SOCKET_RECV" in repr(vt))
        a.close()
        assert vt.result(10) == errno.EBADF
    else:
        t = threading.Thread(target=lambda: box.append(reader()))
        t.start()
        assert wait_until(lambda: a._vt_waiters)
        a.close()
        t.join(10)
        assert box == [errno.EBADF]
    b.close()


def test_a_thread_fd_ticket_fired_before_the_thread_parks():
    # close() in another thread can fire a plain thread's fd ticket after
    # recv() registered it and before the thread starts polling (the test
    # above lost that race now and then: the closer found no wake-up fd).
    from vthreads._core._threadtask import ThreadTask
    box = []

    def fresh_thread():
        ticket = ThreadTask()._new_ticket(io=True)
        box.append(ticket.fire(1))      # 1: "readable", as the poller says

    t = threading.Thread(target=fresh_thread)
    t.start()
    t.join(10)
    assert box == [True]



def test_a_thread_fd_wait_claimed_by_a_waker_returns_the_waker_value():
    # A waker claims a plain thread's fd ticket, and the fd turns ready
    # before the waker has written its value: the thread must wait for the
    # value, not read a ticket that has none yet (CI hit this on 3.13t).
    from vthreads._core import block
    r, w = socketpair()
    claimed, box = threading.Event(), []

    def register(ticket):
        box.append(ticket)
        claimed.set()

    def parker():
        box.append(block("TEST", register=register,
                         io=((r.fileno(), READ),)))

    t = threading.Thread(target=parker)
    t.start()
    assert claimed.wait(10)
    ticket = box[0]
    task = ticket.claim()
    assert task is not None
    w.send(b"x")                 # poll() now returns at once: claimed, no value
    assert not wait_until(lambda: not t.is_alive(), timeout=0.3)
    ticket.deliver(task, "from the waker")
    t.join(10)
    assert not t.is_alive()
    assert box[1:] == ["from the waker"]
    r.close()
    w.close()



def test_two_readers_same_direction_get_a_clear_error():
    a, b = socketpair()
    with a, b:
        first = vthreads.spawn(a.recv, 1)
        assert wait_until(lambda: "SOCKET_RECV" in repr(first))
        with pytest.raises(BusyResourceError):
            vthreads.spawn(a.recv, 1).result(10)
        # a writer in the other direction is fine
        vthreads.spawn(a.sendall, b"ok").result(10)
        assert b.recv(2) == b"ok"
        b.send(b"z")
        assert first.result(10) == b"z"


def test_udp_and_unix_sockets():
    u1 = socket(std.AF_INET, std.SOCK_DGRAM)
    u2 = socket(std.AF_INET, std.SOCK_DGRAM)
    with u1, u2:
        u1.bind(("127.0.0.1", 0))
        got = vthreads.spawn(u1.recvfrom, 100)
        u2.sendto(b"dgram", u1.getsockname())
        data, addr = got.result(10)
        assert data == b"dgram" and addr[1] == u2.getsockname()[1]
        buf = bytearray(10)
        r = vthreads.spawn(u1.recvfrom_into, buf)
        u2.sendto(b"into", u1.getsockname())
        assert r.result(10)[0] == 4 and bytes(buf[:4]) == b"into"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s")
        srv = socket(std.AF_UNIX, std.SOCK_STREAM)
        srv.bind(path)
        srv.listen()
        acc = vthreads.spawn(srv.accept)
        c = socket(std.AF_UNIX, std.SOCK_STREAM)
        c.connect(path)
        conn, _ = acc.result(10)
        with srv, c, conn:
            c.sendmsg([b"via ", b"sendmsg"])
            assert vthreads.spawn(conn.recvmsg, 100).result(10)[0] == b"via sendmsg"


def test_makefile_and_sendfile():
    a, b = socketpair()
    with a, b:
        reader = a.makefile("rb")
        vthreads.spawn(b.sendall, b"line one\nline two\n")
        assert vthreads.spawn(reader.readline).result(10) == b"line one\n"
        assert reader.readline() == b"line two\n"
        reader.close()
        with tempfile.TemporaryFile() as f:
            f.write(b"0123456789" * 1000)
            f.seek(0)
            sent = vthreads.spawn(b.sendfile, f).result(10)
            assert sent == 10000
            got = b""
            while len(got) < 10000:
                got += a.recv(65536)
            assert got == b"0123456789" * 1000


def test_connect_refused_and_connect_ex():
    probe = std.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                                  # nobody listens there
    s = socket()
    with s:
        assert vthreads.spawn(s.connect_ex, ("127.0.0.1", port)).result(10) \
            == errno.ECONNREFUSED
    with pytest.raises(ConnectionRefusedError):
        vthreads.spawn(create_connection, ("127.0.0.1", port), 5).result(10)


def test_fromfd_dup_and_accept_keep_the_class():
    a, b = socketpair()
    with a, b:
        c = fromfd(a.fileno(), a.family, a.type)
        d = a.dup()
        with c, d:
            assert type(c) is socket and type(d) is socket
            b.send(b"q")
            assert vthreads.spawn(c.recv, 1).result(10) == b"q"


def test_accepted_socket_timeout_follows_the_stdlib():
    srv = create_server(("127.0.0.1", 0))
    with srv:
        srv.settimeout(5)
        c = vthreads.spawn(create_connection, srv.getsockname(), 5)
        conn, _ = srv.accept()
        with conn, c.result(10):
            # stdlib rule: no default timeout + a listener timeout -> blocking
            assert conn.gettimeout() is None and conn.getblocking()


def test_sequential_waits_in_one_direction_are_fine():
    a, b = socketpair()
    with a, b:
        def reader():
            return [a.recv(1) for _ in range(5)]
        vt = vthreads.spawn(reader)
        for ch in b"abcde":
            assert wait_until(lambda: "SOCKET_RECV" in repr(vt))
            b.send(bytes([ch]))
        assert vt.result(10) == [b"a", b"b", b"c", b"d", b"e"]


# --- a short read lets the next recv wait at once ---------------------------
# After recv(n) on a stream returns fewer than n bytes, the next recv(n)
# parks without asking the kernel first (no EAGAIN).  Data that came in
# between must still be delivered, however its readiness edge was seen.

def _read_twice(sock, go):
    got = [sock.recv(100)]               # short: b"one"
    go.wait(10)                          # parked elsewhere while b"two" comes
    got.append(sock.recv(100))
    return got


def test_recv_after_a_short_read_gets_what_came_meanwhile(one_carrier):
    a, b = socketpair()
    with a, b:
        a.settimeout(10)                 # a hang fails as socket.timeout
        go = vthreads.Event()
        vt = vthreads.spawn(_read_twice, a, go)
        assert wait_until(lambda: "SOCKET_RECV" in repr(vt))  # fd armed
        b.send(b"one")
        assert wait_until(lambda: "EVENT" in repr(vt))
        b.send(b"two")
        time.sleep(0.05)                 # the idle carrier sees its edge
        go.set()
        assert vt.result(20) == [b"one", b"two"]


def test_recv_after_a_short_read_while_a_writer_waits_on_the_socket(
        one_carrier):
    """The edge for the new data is seen while the only waiter on the
    socket is a writer (one carrier: the same epoll, which the writer's
    wait makes it sleep in): the reader must still get the data."""
    a, b = socketpair()
    with a, b:
        a.settimeout(10)
        big = b"w" * (8 << 20)           # more than both buffers hold
        go = vthreads.Event()
        r = vthreads.spawn(_read_twice, a, go)
        assert wait_until(lambda: "SOCKET_RECV" in repr(r))   # fd armed
        b.send(b"one")
        assert wait_until(lambda: "EVENT" in repr(r))
        w = vthreads.spawn(a.sendall, big)
        assert wait_until(lambda: "SOCKET_SENDALL" in repr(w))
        b.send(b"two")
        time.sleep(0.05)
        go.set()
        assert r.result(20) == [b"one", b"two"]
        received = 0
        b.settimeout(10)
        while received < len(big):
            received += len(b.recv(1 << 20))
        w.result(20)


@pytest.mark.parametrize("size", [1, 150])
def test_end_of_file_that_came_with_the_data_is_seen(size, one_carrier):
    """Data and the peer's FIN arrive together, while the reader waits:
    one edge for both.  After the data (one short read, or a full one and
    then a short one) recv must return b"" rather than wait for an edge
    that will never come."""
    a, b = socketpair()
    with a:
        a.settimeout(10)

        def reader():
            got = []
            while True:
                chunk = a.recv(100)
                got.append(chunk)
                if not chunk:
                    return got
        vt = vthreads.spawn(reader)
        assert wait_until(lambda: "SOCKET_RECV" in repr(vt))
        b.sendall(b"d" * size)
        b.close()
        got = vt.result(20)
        assert b"".join(got) == b"d" * size and got[-1] == b""


def test_recv_after_end_of_file_keeps_returning_empty():
    a, b = socketpair()
    with a:
        a.settimeout(10)
        b.send(b"x")
        b.close()
        assert vthreads.spawn(
            lambda: [a.recv(100), a.recv(100), a.recv(100)]).result(20) == \
            [b"x", b"", b""]


def test_short_peek_does_not_make_recv_wait():
    a, b = socketpair()
    with a, b:
        a.settimeout(10)
        b.send(b"abc")

        def body():
            return a.recv(100, std.MSG_PEEK), a.recv(100)
        assert vthreads.spawn(body).result(20) == (b"abc", b"abc")


def test_datagram_short_read_does_not_make_recv_wait():
    a, b = socketpair(std.AF_UNIX, std.SOCK_DGRAM)
    with a, b:
        a.settimeout(10)
        b.send(b"first")
        b.send(b"second")
        assert vthreads.spawn(
            lambda: (a.recv(100), a.recv(100))).result(20) == \
            (b"first", b"second")


@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_recvmsg_into_and_sendmsg_take_a_generator_of_buffers(where):
    # Nothing has arrived yet, so the call waits and is made again: the
    # generator must not have been used up by the first attempt.
    a, b = socketpair()
    with a, b:
        bufs = [bytearray(2), bytearray(3)]
        timer = threading.Timer(0.05, lambda: b.sendmsg(x for x in [b"he", b"llo"]))
        timer.start()
        got = run_in(where, lambda: a.recvmsg_into(x for x in bufs))
        timer.join()
        assert got[0] == 5 and bufs == [bytearray(b"he"), bytearray(b"llo")]
