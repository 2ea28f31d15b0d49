"""N GETs from N threads on one httpx.Client, against a local server.

    python3 benchmarks/httpx_pool.py --serve PORT &          # the server
    python3 -m vthreads benchmarks/httpx_pool.py N PORT [MAXCONN] [--gate K]
    python3 benchmarks/httpx_pool.py N PORT [MAXCONN] [--gate K]  # OS threads
    python3 benchmarks/httpx_pool.py --compare R N PORT [MAXCONN] [--gate K]

The server is the stdlib's ThreadingHTTPServer, answering each GET after
50 ms with its path.  The client's ``httpx.Limits`` get
``max_connections=max_keepalive_connections=MAXCONN`` (default 100;
``none`` for no limit).  ``--gate K`` makes each thread hold a
``threading.BoundedSemaphore(K)`` around its GET, so at most K requests
are inside httpcore's pool at once.

The client prints whether every reply matched its request, the wall time,
how often httpcore's pool retried a request (``retries``: the connection
it was handed was taken first), assigned one (``assigns``), and the
longest queue of requests waiting for a connection that one of the pool's
assignment passes saw (``maxq``; each pass costs queued x connections).

``--compare R`` runs the client R rounds, each round once under
``python -m vthreads`` (1 carrier) and once with OS threads, back to back
in subprocesses against the server already listening on PORT, and prints
every run and the medians.
"""

import os
import statistics
import subprocess
import sys
import threading
import time


def serve(port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            time.sleep(0.05)
            body = self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def counting(cls, name, counter):
    orig = getattr(cls, name)

    def counted(self, *args):
        counter[0] += 1
        return orig(self, *args)
    setattr(cls, name, counted)


def watching_queue(maxq):
    """Record the longest queue an assignment pass of the pool looks at."""
    import httpcore._sync.connection_pool as pool
    orig = pool.ConnectionPool._assign_requests_to_connections

    def assign(self):
        queued = sum(1 for r in self._requests if r.is_queued())
        maxq[0] = max(maxq[0], queued)
        return orig(self)
    pool.ConnectionPool._assign_requests_to_connections = assign


def main(n, port, maxconn, gate):
    import httpx
    import httpcore._sync.connection_pool as pool
    client = httpx.Client(timeout=60, limits=httpx.Limits(
        max_connections=maxconn, max_keepalive_connections=maxconn))
    retries, assigns, errors, maxq = [0], [0], [0], [0]
    counting(pool.PoolRequest, "clear_connection", retries)
    counting(pool.PoolRequest, "assign_to_connection", assigns)
    watching_queue(maxq)
    replies = [None] * n
    sem = threading.BoundedSemaphore(gate) if gate else None

    def get(i):
        url = f"http://127.0.0.1:{port}/{i}"
        try:
            if sem is None:
                replies[i] = client.get(url).text
            else:
                with sem:
                    replies[i] = client.get(url).text
        except Exception:
            errors[0] += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=get, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = replies == [f"/{i}" for i in range(n)]
    print("ok" if ok else "BAD", f"{time.monotonic() - t0:.2f} s",
          "retries", retries[0], "assigns", assigns[0], "maxq", maxq[0],
          "errors", errors[0], flush=True)


def compare(rounds, args):
    """Alternate vthreads and OS threads; print each run, then medians."""
    me = [sys.executable]
    # This checkout's vthreads, wherever the command is run from.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    runs = {"vthreads": me + ["-m", "vthreads", __file__] + args,
            "threads": me + [__file__] + args}
    got = {k: [] for k in runs}
    for r in range(rounds):
        for kind, cmd in runs.items():
            out = subprocess.run(cmd, capture_output=True, text=True,
                                 check=True, env=env).stdout.split()
            if out[0] != "ok":
                raise SystemExit(f"{kind}: {' '.join(out)}")
            wall, retries, maxq = float(out[1]), int(out[4]), int(out[8])
            got[kind].append((wall, retries, maxq))
            print(f"round {r + 1} {kind:8s} {wall:6.2f} s  retries {retries}"
                  f"  maxq {maxq}", flush=True)
    for kind, rows in got.items():
        med = [statistics.median(col) for col in zip(*rows)]
        print(f"median   {kind:8s} {med[0]:6.2f} s  retries {med[1]:g}"
              f"  maxq {med[2]:g}")
    print(f"ratio vthreads/threads {statistics.median(r[0] for r in got['vthreads']) / statistics.median(r[0] for r in got['threads']):.2f}")


def parse(argv):
    gate = 0
    if "--gate" in argv:
        i = argv.index("--gate")
        gate = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    n, port = int(argv[0]), argv[1]
    maxconn = argv[2] if len(argv) > 2 else "100"
    maxconn = None if maxconn == "none" else int(maxconn)
    return n, port, maxconn, gate


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    elif sys.argv[1] == "--compare":
        parse(sys.argv[3:])          # check the arguments before running
        compare(int(sys.argv[2]), sys.argv[3:])
    else:
        main(*parse(sys.argv[1:]))
