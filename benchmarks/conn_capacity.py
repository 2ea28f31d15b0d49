"""Connection capacity: server memory (RSS) for N idle connections.

    python3 benchmarks/conn_capacity.py [--n 10000] [--repeat 3]

One plain blocking server -- an accept loop that starts a
``threading.Thread`` per connection, whose handler waits in ``recv`` --
run three ways: under ``vthreads.monkey.patch_all()`` (one carrier), under
``gevent.monkey.patch_all()``, and unpatched with real OS threads.  A
client in another process opens N connections and leaves them idle.  Once
every handler waits, the server reports its RSS growth per connection
(kernel socket buffers are not in RSS, so this is the runtime's own cost),
then checks that it still answers a new connection.
"""

import argparse
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import compare, rss_bytes  # noqa: E402

CLIENT = r"""
import resource, socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("ready", flush=True)
sys.stdin.read()          # hold them until the server is done
"""


def _raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 200
    if hard != resource.RLIM_INFINITY and hard < want:
        raise RuntimeError(f"RLIMIT_NOFILE hard limit {hard} < {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))


def serve(n):
    """The plain blocking server; socket and threading are whatever the
    contender made them."""
    import socket
    import threading

    waiting = [0]
    lock = threading.Lock()

    def handler(conn):
        with lock:
            waiting[0] += 1
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    return
                conn.sendall(data)

    lsock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = lsock.getsockname()[1]
    time.sleep(0.2)
    base = rss_bytes()
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(n), str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    t0 = time.monotonic()
    for _ in range(n):
        conn, _ = lsock.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()
    accept_s = time.monotonic() - t0
    assert client.stdout.readline().strip() == b"ready"
    while waiting[0] < n:
        time.sleep(0.05)
    time.sleep(1.0)               # every handler parked in recv by now
    per_conn = (rss_bytes() - base) / n
    # Still serving: a new client gets its echo.
    probe = socket.create_connection(("127.0.0.1", port))
    conn, _ = lsock.accept()
    threading.Thread(target=handler, args=(conn,), daemon=True).start()
    t1 = time.monotonic()
    probe.sendall(b"ping")
    assert probe.recv(4) == b"ping"
    echo_ms = (time.monotonic() - t1) * 1000
    probe.close()
    client.stdin.close()
    client.wait(60)
    return {"kb_per_conn": per_conn / 1024, "accept_per_s": n / accept_s,
            "echo_ms": echo_ms}


def c_vthreads(n):
    _raise_fd_limit(n)
    import vthreads
    import vthreads.monkey
    vthreads.monkey.patch_all()
    return vthreads.run(serve, n, carriers=1)


def c_gevent(n):
    _raise_fd_limit(n)
    import gevent.monkey
    gevent.monkey.patch_all()
    return serve(n)


def c_threads(n):
    _raise_fd_limit(n)
    return serve(n)


BENCHES = {"idle_connections": {"vthreads": c_vthreads, "gevent": c_gevent,
                                "threads": c_threads}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--contenders", default="vthreads,gevent,threads")
    a = ap.parse_args()
    compare("conn_capacity", "idle_connections", a.contenders.split(","),
            a.n, a.repeat, "kb_per_conn", False)


if __name__ == "__main__":
    main()
