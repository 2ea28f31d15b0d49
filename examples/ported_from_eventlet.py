"""A small eventlet program, ported to vthreads (docs/migrating.md).

    python3 examples/ported_from_eventlet.py [--pages N]

It checks N pages of a local site at once: at most 20 fetches in flight,
1 s allowed per page, a digest of each body computed off the carriers,
and a reporter that prints progress as results arrive.  The site is a
plain ThreadingHTTPServer started here; every 10th page is too slow and
must come out as a timeout.  docs/migrating.md shows the eventlet
original beside it, line for line.
"""

import vthreads.monkey

vthreads.monkey.patch_all()        # was: eventlet.monkey_patch()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import http.server  # noqa: E402
import queue  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import vthreads  # noqa: E402

SLOW_EVERY = 10


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128        # the default 5 drops a burst of connects


class Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = int(self.path.strip("/"))
        time.sleep(3.0 if n % SLOW_EVERY == 0 else 0.05)
        body = f"page {n}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:             # the client gave up on a slow page
            pass

    def log_message(self, *args):
        pass


def digest(data):
    return hashlib.sha256(data).hexdigest()[:12]


def check(url, results):
    outcome = "timeout"
    with vthreads.move_on_after(1.0):          # was: eventlet.Timeout(1.0, False)
        with urllib.request.urlopen(url) as resp:
            body = resp.read()
        outcome = vthreads.to_thread(digest, body)   # was: tpool.execute
    results.put((url, outcome))
    return outcome


def reporter(results, total, done):
    seen = 0
    while seen < total:
        url, outcome = results.get()
        seen += 1
        if seen % 50 == 0 or seen == total:
            print(f"  {seen}/{total} checked")
    done.set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    n = ap.parse_args().pages

    server = Server(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = [f"{base}/{i}" for i in range(n)]

    results = queue.Queue()                    # was: eventlet.queue.Queue()
    done = vthreads.Event()                    # was: eventlet.event.Event()
    vthreads.spawn(reporter, results, n, done)     # was: eventlet.spawn
    t0 = time.monotonic()
    with vthreads.VThreadPoolExecutor(max_workers=20) as pool:   # GreenPool(20)
        outcomes = list(pool.map(check, urls, [results] * n))    # pool.imap
    done.wait()
    elapsed = time.monotonic() - t0
    server.shutdown()

    slow = [i for i in range(n) if i % SLOW_EVERY == 0]
    timeouts = [i for i, o in enumerate(outcomes) if o == "timeout"]
    good = all(o == digest(f"page {i}".encode())
               for i, o in enumerate(outcomes) if i % SLOW_EVERY)
    ok = timeouts == slow and good
    print(f"{n} pages in {elapsed:.2f}s: {n - len(timeouts)} ok, "
          f"{len(timeouts)} timed out: {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(vthreads.run(main))
