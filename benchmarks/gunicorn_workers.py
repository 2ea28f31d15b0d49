"""gunicorn's worker classes side by side under wrk, in one run.

    python3 benchmarks/gunicorn_workers.py [--repeat R] [--seconds S]
                                           [--connections C] [--threads T]

One gunicorn master with one worker per column, each serving the same
plain WSGI app: ``/hello`` answers at once, ``/sleep`` sleeps 50 ms (a
stand-in for a database or an upstream call) with ``time.sleep``, which
the vthreads and gevent workers make cooperative.  Columns:

- ``vthreads``: ``-k vthreads.gunicorn.Worker`` (1 carrier);
- ``gevent``: ``-k gevent`` (needs gevent: ``pip install -e '.[bench]'``);
- ``gthread``: ``-k gthread --threads T`` (T OS threads, default 200).

wrk (Debian's package) drives each with C keep-alive connections for S
seconds; the columns alternate, R rounds, and the table shows the median
requests/s, the median p99 latency and the total of wrk's errors
(connect, read, write, timeout, and non-2xx answers).
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

APP = '''
import time
BODY = b"Hello, world!\\n"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]
def app(environ, start_response):
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(0.05)
    start_response("200 OK", HEADERS)
    return [BODY]
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind, workdir, threads):
    port = free_port()
    args = {"vthreads": ["-k", "vthreads.gunicorn.Worker",
                         "--worker-connections", "10000"],
            "gevent": ["-k", "gevent", "--worker-connections", "10000"],
            "gthread": ["-k", "gthread", "--threads", str(threads)]}[kind]
    env = dict(os.environ, PYTHONPATH=ROOT, VTHREADS_CARRIERS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *args, "--workers", "1",
         "--no-control-socket", "--keep-alive", "30", "--log-level",
         "warning", "-b", f"127.0.0.1:{port}", "app:app"],
        cwd=workdir, env=env)
    end = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
                if s.recv(100).split(b" ")[1:2] == [b"200"]:
                    return proc, port
        except OSError:
            pass
        if time.monotonic() > end or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"{kind}: gunicorn did not start")
        time.sleep(0.1)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def to_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(port, path, seconds, connections):
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", "10s", "--latency", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        errors += sum(map(int, m.groups()))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return rps, p99, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--threads", type=int, default=200)
    ap.add_argument("--kinds", default="vthreads,gevent,gthread")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    results = {(k, p): [] for k in kinds for p in ("/hello", "/sleep")}
    with tempfile.TemporaryDirectory() as workdir:
        with open(os.path.join(workdir, "app.py"), "w") as f:
            f.write(APP)
        for r in range(args.repeat):
            for kind in kinds:
                proc, port = start(kind, workdir, args.threads)
                try:
                    for path in ("/hello", "/sleep"):
                        results[kind, path].append(
                            wrk(port, path, args.seconds, args.connections))
                finally:
                    stop(proc)
            print(f"round {r + 1}/{args.repeat} done", file=sys.stderr)
    print(f"wrk -c{args.connections}, {args.seconds} s, {args.repeat} rounds, "
          f"Python {sys.version.split()[0]}; medians (errors: total)")
    print(f"{'worker':10} {'route':7} {'req/s':>9} {'p99 ms':>8} {'errors':>7}")
    for kind in kinds:
        for path in ("/hello", "/sleep"):
            runs = results[kind, path]
            rps = statistics.median(x[0] for x in runs)
            p99 = statistics.median(x[1] for x in runs)
            errors = sum(x[2] for x in runs)
            print(f"{kind:10} {path:7} {rps:9.0f} {p99:8.1f} {errors:7d}")


if __name__ == "__main__":
    main()
