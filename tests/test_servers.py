"""Unmodified stdlib servers under patch_all(): 5,000 idle keep-alive
connections held while new requests are still answered, on a handful of
OS threads, and every socket closed at shutdown.  In a fresh interpreter
each (patching is process-wide)."""

import textwrap

import pytest

from conftest import run_script

N = 5000

COMMON = """
import os, resource, socket, sys, threading, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = 2 * N + 200                 # both ends of every connection live here
if hard != resource.RLIM_INFINITY and hard < need:
    print("skip: fd limit", hard); sys.exit(0)
resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else max(soft, min(hard, need)), hard))
import vthreads.monkey as monkey
monkey.patch_all()
import vthreads
from vthreads._core._to_thread import _pool
from vthreads._core._runtime import current_runtime

def fds():
    return len(os.listdir("/proc/self/fd"))

def hold_idle(port, request, expect):
    def open_idle(i):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        got = b""
        while not got.endswith(expect):
            got += s.recv(1000)
        return s
    idle = [v.result(120) for v in [vthreads.spawn(open_idle, i) for i in range(N)]]
    fresh = [open_idle(-1) for _ in range(20)]     # still answered
    threads = monkey.get_original("threading", "active_count")()  # OS threads
    for s in idle + fresh:
        s.close()
    return threads
"""


def run(body):
    code = f"N = {N}\n" + COMMON + textwrap.dedent(body)
    r = run_script(code, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    if r.stdout.startswith("skip"):
        pytest.skip(r.stdout.strip())
    assert r.stdout.strip().endswith("ok"), r.stdout
    return r


def test_threading_http_server_holds_5000_idle_keepalive_connections():
    run("""
        import http.server

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            request_queue_size = 4096
            daemon_threads = False        # server_close() joins handlers

        def main():
            base = fds()
            srv = S(("127.0.0.1", 0), H)
            t = threading.Thread(target=srv.serve_forever)
            t.start()
            threads = hold_idle(srv.server_address[1],
                                b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n", b"ok")
            srv.shutdown(); srv.server_close(); t.join()
            vthreads.sleep(0.2)
            return threads, fds() - base

        threads, left = vthreads.run(main)
        # main, the monitor, the inspect listener, the carriers, the helper pool
        assert threads <= 3 + current_runtime().size + _pool.max_workers, threads
        assert left <= 0, left
        print("ok")
    """)


def test_threading_tcp_server_holds_5000_idle_connections():
    run("""
        import socketserver

        class Echo(socketserver.StreamRequestHandler):
            def handle(self):
                for line in self.rfile:          # idles between lines
                    self.wfile.write(line)

        class S(socketserver.ThreadingTCPServer):
            request_queue_size = 4096
            daemon_threads = False

        def main():
            base = fds()
            srv = S(("127.0.0.1", 0), Echo)
            t = threading.Thread(target=srv.serve_forever)
            t.start()
            threads = hold_idle(srv.server_address[1], b"ping\\n", b"ping\\n")
            srv.shutdown(); srv.server_close(); t.join()
            vthreads.sleep(0.2)
            return threads, fds() - base

        threads, left = vthreads.run(main)
        # main, the monitor, the inspect listener, the carriers, the helper pool
        assert threads <= 3 + current_runtime().size + _pool.max_workers, threads
        assert left <= 0, left
        print("ok")
    """)
