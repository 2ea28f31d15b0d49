"""Monkeypatching socket and time.  Each test runs in a fresh interpreter:
patching is process-wide."""

import textwrap

from conftest import run_script


def run(code):
    r = run_script(textwrap.dedent(code), timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def test_patched_socket_and_time_let_plain_blocking_code_scale():
    r = run("""
        import vthreads.monkey as monkey
        monkey.patch_socket()
        monkey.patch_time()
        import socket, threading, time, vthreads

        srv = socket.create_server(("127.0.0.1", 0))
        port = srv.getsockname()[1]

        def serve():                              # plain blocking code
            while True:
                c, _ = srv.accept()
                vthreads.spawn(handle, c)

        def handle(c):
            with c:
                data = c.recv(100)
                time.sleep(0.05)                   # blocking sleep, parked
                c.sendall(data.upper())

        def client(i):
            s = socket.create_connection(("127.0.0.1", port))
            with s:
                s.sendall(b"ping %d" % i)
                return s.recv(100)

        vthreads.spawn(serve)
        t0 = time.monotonic()
        vts = [vthreads.spawn(client, i) for i in range(200)]
        got = [v.result(30) for v in vts]
        took = time.monotonic() - t0
        assert got == [b"PING %d" % i for i in range(200)], got[:3]
        # 200 handlers each slept 50 ms on one carrier: parked, not blocked.
        assert took < 5, took
        # main + the monitor + the inspect listener + carriers + the bounded
        # helper pool (DNS there)
        from vthreads._core._to_thread import _pool
        from vthreads._core._runtime import current_runtime
        bound = 3 + current_runtime().size + _pool.max_workers
        os_threads = monkey.get_original("threading", "active_count")()
        assert os_threads <= bound, os_threads
        print("ok")
    """)
    assert r.stdout.strip() == "ok"


def test_idempotent_get_original_is_patched_and_unpatch():
    run("""
        import socket, time, vthreads
        import vthreads.monkey as monkey
        real_socket, real_sleep = socket.socket, time.sleep
        assert not monkey.is_patched("socket")
        monkey.patch_socket(); monkey.patch_socket(); monkey.patch_time()
        assert socket.socket is vthreads._io.socket
        assert time.sleep is vthreads.sleep
        assert monkey.is_patched("socket") and monkey.is_patched("time")
        assert monkey.get_original("socket", "socket") is real_socket
        assert monkey.get_original("time", "sleep") is real_sleep
        assert monkey.get_original("os", "getpid") is __import__("os").getpid
        monkey.unpatch_all()
        assert socket.socket is real_socket and time.sleep is real_sleep
        assert not monkey.is_patched("socket")
    """)


def test_warns_about_modules_that_grabbed_originals_first():
    r = run("""
        import warnings, sys, types
        early = types.ModuleType("early_user")
        from socket import create_connection as cc
        early.cc = cc
        sys.modules["early_user"] = early
        import vthreads.monkey as monkey
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            monkey.patch_socket()
        msgs = [str(x.message) for x in w]
        assert any("early_user" in m for m in msgs), msgs
        print("warned")
    """)
    assert "warned" in r.stdout


def test_patched_sleep_in_plain_thread_honours_cancel_scopes():
    run("""
        import time, threading, vthreads
        import vthreads.monkey as monkey
        monkey.patch_time()
        out = []
        def body():
            with vthreads.move_on_after(0.05) as s:
                time.sleep(10)
            out.append(s.cancelled_caught)
        t = threading.Thread(target=body); t.start(); t.join(10)
        assert out == [True], out
    """)


def test_patched_ssl_makes_default_contexts_cooperative():
    import pytest
    pytest.importorskip("trustme")
    r = run("""
        import trustme
        import vthreads.monkey as monkey
        monkey.patch_socket(); monkey.patch_ssl()
        import socket, ssl, vthreads
        ca = trustme.CA()
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(server)
        client = ssl.create_default_context()
        ca.configure_trust(client)
        srv = socket.create_server(("127.0.0.1", 0))
        def serve():
            raw, _ = srv.accept()
            with server.wrap_socket(raw, server_side=True) as s:
                s.sendall(s.recv(100)[::-1])
        vthreads.spawn(serve)
        def client_side():
            raw = socket.create_connection(srv.getsockname())
            with client.wrap_socket(raw, server_hostname="localhost") as s:
                assert isinstance(s, vthreads._io.SSLSocket)
                s.sendall(b"abc")
                return s.recv(100)
        assert vthreads.run(client_side) == b"cba"
        assert monkey.get_original("ssl", "SSLContext.sslsocket_class") is ssl.SSLSocket
        monkey.unpatch_all()
        assert ssl.SSLContext.sslsocket_class is ssl.SSLSocket
        print("ok")
    """)
    assert r.stdout.strip() == "ok"


def test_patched_select_and_selectors_park():
    r = run("""
        import vthreads.monkey as monkey
        monkey.patch_select(); monkey.patch_socket()
        import select, selectors, socket, vthreads
        a, b = socket.socketpair()
        trace = []
        def watcher():
            select.select([a], [], [], 10)
            trace.append("select woke")
            with selectors.DefaultSelector() as sel:
                sel.register(a, selectors.EVENT_READ)
                a.recv(1)
                sel.select(10)
                trace.append("selector woke")
        def poker():
            trace.append("poke 1"); b.send(b"1")
            vthreads.sleep(0.01)
            trace.append("poke 2"); b.send(b"2")
        def main():
            w = vthreads.spawn(watcher); vthreads.sleep(0.01)
            p = vthreads.spawn(poker); w.join(); p.join()
        vthreads.run(main, carriers=1)
        assert trace == ["poke 1", "select woke", "poke 2", "selector woke"], trace
        print("ok")
    """)
    assert r.stdout.strip() == "ok"


def test_patch_dns():
    run("""
        import socket, threading, vthreads
        import vthreads.monkey as monkey
        real = socket.getaddrinfo
        monkey.patch_dns()
        assert socket.getaddrinfo is not real
        where = []
        vthreads._io._dns._resolver["getaddrinfo"] = (
            lambda *a: where.append(threading.current_thread().name) or real(*a))
        assert vthreads.run(socket.getaddrinfo, "localhost", 80) == real("localhost", 80)
        assert where == ["vthreads-helper"], where
        assert monkey.get_original("socket", "getaddrinfo") is real
        monkey.unpatch_all()
        assert socket.getaddrinfo is real
    """)


def test_c_simple_queue_parks_even_from_a_fresh_copy_of_queue():
    # A consumer vthread waits in get() while its producer is a vthread on
    # the same (only) carrier: the C class would block that carrier for
    # good.  import_fresh_module makes a new _queue, with new C types.
    run("""
        import vthreads, vthreads.monkey as monkey
        import _queue
        c_simple = _queue.SimpleQueue
        monkey.patch_queue()
        from test.support.import_helper import import_fresh_module
        fresh = import_fresh_module("queue", fresh=["_queue"])
        import queue, sys
        kinds = [_queue.SimpleQueue, fresh.SimpleQueue,
                 sys.modules["_queue"].SimpleQueue]
        assert all(k is vthreads.SimpleQueue for k in kinds), kinds
        assert monkey.get_original("_queue", "SimpleQueue") is c_simple

        def main():
            for kind in kinds:
                q = kind()
                got = vthreads.spawn(lambda: [q.get() for _ in range(3)])
                vthreads.spawn(lambda: [q.put(i) for i in range(3)])
                assert got.result(5) == [0, 1, 2]
        vthreads.run(main, carriers=1)
        monkey.unpatch_all()
        assert _queue.SimpleQueue is c_simple
        assert import_fresh_module("_queue").SimpleQueue is not vthreads.SimpleQueue
    """)
