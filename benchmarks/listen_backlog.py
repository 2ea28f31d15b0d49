"""A burst of connects against a small listen backlog, vthreads and threads.

    python3 benchmarks/listen_backlog.py [--connects N] [--repeat R]

A plain-Python ``ThreadingHTTPServer`` (answering at once) runs in a
subprocess, once with socketserver's default backlog (5) and once with
128.  Against each, a client process opens N fresh connections at once,
one thread each, and makes one GET on each (raw sockets, HTTP/1.0), once
under ``python -m vthreads --carriers 1`` and once as plain threads.  The
table shows the median seconds for the N GETs over R rounds.  A dropped
SYN is sent again only after a second, which is what a burst costs when
it overflows the backlog.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SERVER = '''
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
ThreadingHTTPServer.request_queue_size = int(sys.argv[1])
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
'''

CLIENT = '''
import socket, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
bad = []
def get():
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    if not data.endswith(b"ok"):
        bad.append(data)
threads = [threading.Thread(target=get) for _ in range(n)]
t0 = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not bad, bad[:1]
print(f"{time.monotonic() - t0:.3f}")
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connects", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=ROOT)
    rows = {}
    with tempfile.NamedTemporaryFile("w", suffix=".py") as client:
        client.write(CLIENT)
        client.flush()
        for backlog in (5, 128):
            server = subprocess.Popen([sys.executable, "-c", SERVER,
                                       str(backlog)], stdout=subprocess.PIPE,
                                      text=True)
            try:
                port = server.stdout.readline().strip()
                for _ in range(args.repeat):
                    for name, prefix in (("vthreads", ["-m", "vthreads",
                                                       "--carriers", "1"]),
                                         ("threads", [])):
                        out = subprocess.run(
                            [sys.executable, *prefix, client.name, port,
                             str(args.connects)], capture_output=True,
                            text=True, timeout=120, env=env, check=True)
                        rows.setdefault((backlog, name), []).append(
                            float(out.stdout))
            finally:
                server.kill()
                server.wait()
    print(f"{args.connects} connects at once, medians of {args.repeat} rounds")
    print(f"{'backlog':>8} {'python -m vthreads':>20} {'threads':>10}")
    for backlog in (5, 128):
        print(f"{backlog:>8} {statistics.median(rows[backlog, 'vthreads']):>18.3f} s"
              f" {statistics.median(rows[backlog, 'threads']):>8.3f} s")


if __name__ == "__main__":
    main()
