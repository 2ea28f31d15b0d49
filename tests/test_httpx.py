"""httpx, unmodified, under python -m vthreads on one carrier.

A user's program (tests/dbload.py runs it) with an HTTP/1.1 server of the
stdlib's (``ThreadingHTTPServer``, its threads vthreads too) whose handler
sleeps, and one ``httpx.Client`` shared by every thread.  httpx is pure
Python over the socket module: patching alone makes it cooperative, and
there is no integration module.

- 100 GETs of 0.1 s at once on 20 connections: 10 s one after another,
  0.5 s ideally; under 3 s passes (measured: 0.8 s on 3.11, as with plain
  threads; 1.0-2.2 s on 3.13t on the loaded 2-core machine, where the
  server's Python and httpx's share the one carrier), every answer is its
  own path, and no vthread holds the
  carrier for 0.1 s: the monitor (threshold 0.1 s) reports nothing while
  the requests run.  The ticker of tests/dbload.py is bounded at 0.3 s
  here, not 0.1 s: with 100 requests at once, a 10 ms tick waits its turn
  behind up to 100 others, each a short run of httpx's own Python --
  about 1.5 ms on 3.13t, so 0.15 s there with no carrier held (the
  monitor reported nothing in those runs).
- Cancellation: a GET cancelled while the server sleeps returns within a
  second, by ``cancel()`` and by a cancel scope's deadline, and the client
  serves the next request.

The server's listen backlog is raised from socketserver's 5: 20 vthreads
connecting at once overflow 5 before the server, on the same carrier, can
accept, and Linux retries a dropped SYN only after a second
(docs/integrations.md, "httpx").
"""

import pytest

from dbload import run_program

pytest.importorskip("httpx")

SERVER = """
    import threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import httpx

    running = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"       # keep-alive, as httpx pools

        def do_GET(self):
            running.append(self.path)
            time.sleep(5 if self.path.startswith("/slow") else 0.1)
            body = self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{server.server_address[1]}",
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=20))
"""


def test_100_gets_on_20_connections():
    out = run_program(SERVER, """
        import vthreads
        before = vthreads.statistics().monitor_reports
        answers, elapsed, ticks = load(lambda i: client.get(f"/{i}").text)
        held = vthreads.statistics().monitor_reports - before
        assert answers == {i: f"/{i}" for i in range(100)}, answers
        assert elapsed < 3.0, elapsed         # one after another: 10 s
        assert held == 0, held                # no vthread held the carrier
        assert ticks.held < 0.3, ticks        # a tick's wait for its turn
        print(f"ok {elapsed:.2f} {ticks.held:.3f} {ticks.longest:.3f}")
    """, env={"VTHREADS_MONITOR_THRESHOLD": "0.1"}, timeout=60)
    assert out.startswith("ok"), out


def test_a_cancelled_get_returns_and_the_client_serves_on():
    out = run_program(SERVER, """
        cancel_while_running(lambda: client.get("/slow1"),
                             lambda: "/slow1" in running)
        cancel_by_deadline(lambda: client.get("/slow2"))
        assert client.get("/after").text == "/after"
        print("ok")
    """, timeout=60)
    assert out.startswith("ok"), out
