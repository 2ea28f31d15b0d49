"""patch_threading / patch_queue: unmodified threaded code on vthreads.
Each test runs in a fresh interpreter."""

import textwrap

from conftest import run_script


def run(code):
    r = run_script(textwrap.dedent(code), timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def test_threading_tcp_server_scales_on_few_os_threads():
    r = run("""
        import vthreads.monkey as monkey
        monkey.patch_socket(); monkey.patch_threading(); monkey.patch_queue()
        monkey.patch_select()
        monkey.patch_time()
        import socket, socketserver, threading, time, vthreads

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline()
                time.sleep(0.05)
                self.wfile.write(line.upper())

        class Server(socketserver.ThreadingTCPServer):
            request_queue_size = 512      # the default backlog is 5
        srv = Server(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        port = srv.server_address[1]
        server_thread = threading.Thread(target=srv.serve_forever, daemon=True)
        server_thread.start()
        peak = [0]

        def client(i):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"hi %d\\n" % i)
                f = s.makefile("rb")
                peak[0] = max(peak[0], threading.active_count())
                return f.readline()

        def main():
            vts = [vthreads.spawn(client, i) for i in range(300)]
            return [v.result(30) for v in vts]

        got = vthreads.run(main)
        assert got == [b"HI %d\\n" % i for i in range(300)]
        from vthreads._core._to_thread import _pool
        from vthreads._core._runtime import current_runtime
        # OS threads: main, monitor, inspect listener, carriers, helper pool;
        # not 300 handlers
        bound = 3 + current_runtime().size + _pool.max_workers
        os_threads = monkey.get_original("threading", "active_count")()
        assert os_threads <= bound, os_threads
        srv.shutdown()
        srv.server_close()
        print("ok")
    """)
    assert r.stdout.strip() == "ok"


def test_thread_api_locals_current_thread_and_originals():
    run("""
        import vthreads.monkey as monkey
        monkey.patch_threading()
        import threading, _thread, vthreads
        data = threading.local()
        data.x = "main"
        seen = {}
        lock = threading.Lock()
        assert isinstance(lock, vthreads.Lock)
        def worker(i):
            assert not hasattr(data, "x")
            data.x = i
            vthreads.sleep(0.01)
            with lock:
                seen[threading.current_thread().name] = (data.x, threading.get_ident())
        ts = [threading.Thread(target=worker, args=(i,), name=f"w{i}") for i in range(5)]
        for t in ts: t.start()
        for t in ts: t.join()
        assert {k: v[0] for k, v in seen.items()} == {f"w{i}": i for i in range(5)}
        assert len({v[1] for v in seen.values()}) == 5
        assert data.x == "main"
        assert not ts[0].is_alive()
        try:
            ts[0].start()
        except RuntimeError:
            pass
        else:
            raise AssertionError("second start() allowed")
        ident = _thread.start_new_thread(lambda: None, ())
        assert isinstance(ident, int)
        Real = monkey.get_original("threading", "Thread")
        where = []
        r = Real(target=lambda: where.append(vthreads.current()))
        r.start(); r.join()
        assert where == [None]          # a real OS thread, not a vthread
        print("ok")
    """)


def test_non_daemon_threads_are_joined_at_exit():
    r = run("""
        import vthreads.monkey as monkey
        monkey.patch_threading(); monkey.patch_time()
        import threading, time
        def late():
            time.sleep(0.2)
            print("non-daemon thread finished", flush=True)
        threading.Thread(target=late).start()
        print("main done", flush=True)
    """)
    assert r.stdout.splitlines() == ["main done", "non-daemon thread finished"]


def test_thread_exceptions_go_to_threading_excepthook():
    r = run("""
        import vthreads.monkey as monkey
        monkey.patch_threading()
        import threading
        got = []
        threading.excepthook = lambda args: got.append((args.exc_type, args.thread.name))
        t = threading.Thread(target=lambda: 1 / 0, name="boom")
        t.start(); t.join()
        assert got == [(ZeroDivisionError, "boom")], got
        print("ok")
    """)
    assert "ok" in r.stdout


def test_stdlib_modules_that_fork_hook_locks_import_after_patch_all():
    """concurrent.futures.thread registers _at_fork_reinit of a
    threading.Lock at import: patched locks must have it."""
    run("""
        import vthreads.monkey as monkey
        monkey.patch_all()
        from concurrent.futures import ThreadPoolExecutor
        import threading
        for cls in (threading.Lock, threading.RLock, threading.Event, threading.Condition):
            obj = cls()
            obj._at_fork_reinit()
        with ThreadPoolExecutor(4) as ex:
            assert list(ex.map(abs, [-1, -2])) == [1, 2]
    """)
