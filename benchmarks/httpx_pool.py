"""N GETs from N threads on one httpx.Client, against a local server.

    python3 benchmarks/httpx_pool.py --serve PORT &          # the server
    python3 -m vthreads benchmarks/httpx_pool.py N PORT [MAXCONN]
    python3 benchmarks/httpx_pool.py N PORT [MAXCONN]        # OS threads

The server is the stdlib's ThreadingHTTPServer, answering each GET after
50 ms with its path.  The client prints whether every reply matched its
request, the wall time, and how often httpcore's pool retried a request
(a connection it was handed was taken first) and assigned one.
"""

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


def main(n, port, maxconn):
    import httpx
    import httpcore._sync.connection_pool as pool
    client = httpx.Client(timeout=60, limits=httpx.Limits(
        max_connections=maxconn, max_keepalive_connections=maxconn))
    retries, assigns, errors = [0], [0], [0]
    counting(pool.PoolRequest, "clear_connection", retries)
    counting(pool.PoolRequest, "assign_to_connection", assigns)
    replies = [None] * n

    def get(i):
        try:
            replies[i] = client.get(f"http://127.0.0.1:{port}/{i}").text
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
          "retries", retries[0], "assigns", assigns[0], "errors", errors[0])


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        main(int(sys.argv[1]), sys.argv[2],
             int(sys.argv[3]) if len(sys.argv) > 3 else 100)
