"""A concurrent fetcher: urllib against a local http.server.

    python3 examples/fetcher.py [--pages N]

Starts an unmodified ThreadingHTTPServer (its threads are vthreads once
patched) serving N small pages, then fetches them all at once with plain
urllib.request, one vthread per URL, and checks every body.
"""

import vthreads.monkey

vthreads.monkey.patch_all()            # before the stdlib modules it fixes

import argparse  # noqa: E402
import http.server  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import vthreads  # noqa: E402


class Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.05)                       # a slow backend, parked
        body = f"page {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=200)
    n = ap.parse_args().pages

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 1024

    srv = Server(("127.0.0.1", 0), Pages)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"

    def fetch(i):
        with urllib.request.urlopen(f"{base}/{i}", timeout=30) as r:
            return r.read() == f"page /{i}".encode()

    t0 = time.monotonic()
    ok = vthreads.run(lambda: all(vt.result() for vt in
                                  [vthreads.spawn(fetch, i) for i in range(n)]))
    took = time.monotonic() - t0
    print(f"fetched {n} pages (each served in 50 ms) in {took:.2f}s: "
          f"{'OK' if ok else 'FAILED'}")
    srv.shutdown()
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
