"""Hello-world HTTP under wrk: the h11 server on vthreads, gevent, and
asyncio+uvloop, side by side in one run.

    python3 benchmarks/http_servers.py [--repeat R] [--seconds S]
                                       [--connections C] [--handler h11|raw]
                                       [--against DIR]

Each server is the same h11 handler loop in its own subprocess: vthreads
(examples/http_server.py's handler, 1 carrier), gevent (the same blocking
code under gevent's monkeypatching) and uvloop (an asyncio Protocol-free
streams version).  wrk (Debian's package) drives each with C keep-alive
connections on one thread; the servers alternate, R rounds, median req/s.
The "vthreads vs it" ratios are medians of each round's own ratio.

``--against DIR`` adds a column for another checkout of vthreads (a
``git worktree`` of an older commit, say), run the same way: an A/B of two
commits in one run.

``--handler raw`` replaces h11 by a fixed response to every read: what is
left is each runtime's own cost per request (the socket calls, the park,
the poller, the switches), which h11's 40-odd µs otherwise dilute.

It also reports each server's CPU time (user + system, from /proc) per
request.  A server with one carrier runs at one core, so its throughput is
about 1 / (CPU per request); that figure moves less with the machine's
noise than req/s does, since wrk and neighbours share the two cores.
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

BLOCKING_SERVER = r'''
import sys
MODE = sys.argv[1]
if MODE == "gevent":
    from gevent import monkey; monkey.patch_all()
    import gevent
    spawn = gevent.spawn
    def run(fn, *a): fn(*a)
else:
    import os, vthreads, vthreads.monkey
    assert vthreads.__file__.startswith(os.environ["PYTHONPATH"]), vthreads.__file__
    vthreads.monkey.patch_socket()
    spawn = vthreads.spawn
    def run(fn, *a): vthreads.run(fn, *a, carriers=1)
import socket, h11
BODY = b"Hello, world!\n"
HEADERS = [("content-type", "text/plain"), ("content-length", str(len(BODY)))]
RAW = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
       b"content-length: %d\r\n\r\n" % len(BODY)) + BODY
def handle_raw(conn):
    # Every wrk request fits one read: answer each read with one response.
    with conn:
        while True:
            if not conn.recv(65536):
                return
            conn.sendall(RAW)
def handle(conn):
    h = h11.Connection(h11.SERVER)
    with conn:
        while True:
            ev = h.next_event()
            if ev is h11.NEED_DATA:
                data = conn.recv(65536)
                h.receive_data(data)
                if not data:
                    return
            elif isinstance(ev, h11.EndOfMessage):
                conn.sendall(h.send(h11.Response(status_code=200, headers=HEADERS))
                             + h.send(h11.Data(data=BODY)) + h.send(h11.EndOfMessage()))
                if h.our_state is h11.MUST_CLOSE:
                    return
                h.start_next_cycle()
            elif isinstance(ev, h11.ConnectionClosed):
                return
HANDLER = handle_raw if sys.argv[3] == "raw" else handle
def serve(port):
    ls = socket.create_server(("127.0.0.1", port), backlog=1024)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        spawn(HANDLER, c)
run(serve, int(sys.argv[2]))
'''

ASYNC_SERVER = r'''
import asyncio, sys, h11, uvloop
BODY = b"Hello, world!\n"
HEADERS = [("content-type", "text/plain"), ("content-length", str(len(BODY)))]
RAW = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
       b"content-length: %d\r\n\r\n" % len(BODY)) + BODY
async def handle_raw(reader, writer):
    while await reader.read(65536):
        writer.write(RAW)
        await writer.drain()
    writer.close()
async def handle(reader, writer):
    h = h11.Connection(h11.SERVER)
    while True:
        ev = h.next_event()
        if ev is h11.NEED_DATA:
            data = await reader.read(65536)
            h.receive_data(data)
            if not data:
                break
        elif isinstance(ev, h11.EndOfMessage):
            writer.write(h.send(h11.Response(status_code=200, headers=HEADERS))
                         + h.send(h11.Data(data=BODY)) + h.send(h11.EndOfMessage()))
            await writer.drain()
            if h.our_state is h11.MUST_CLOSE:
                break
            h.start_next_cycle()
        elif isinstance(ev, h11.ConnectionClosed):
            break
    writer.close()
async def main(port):
    srv = await asyncio.start_server(handle_raw if sys.argv[3] == "raw" else handle,
                                     "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    await srv.serve_forever()
uvloop.run(main(int(sys.argv[2])))
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(mode, seconds, connections, handler, root=ROOT):
    port = free_port()
    code = ASYNC_SERVER if mode == "uvloop" else BLOCKING_SERVER
    env = dict(os.environ, PYTHONPATH=root)
    srv = subprocess.Popen([sys.executable, "-c", code, mode, str(port), handler],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env, cwd=root)
    try:
        if srv.stdout.readline().strip() != "ready":
            raise RuntimeError(srv.stderr.read())
        cpu0 = cpu_seconds(srv.pid)
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                              f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=seconds + 60).stdout
        cpu = cpu_seconds(srv.pid) - cpu0
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        n = int(re.search(r"(\d+) requests in", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
        return float(m.group(1)), cpu / n * 1e6, (errors.group(0) if errors else "")
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--handler", choices=["h11", "raw"], default="h11")
    ap.add_argument("--against", metavar="DIR",
                    help="another vthreads checkout, as an extra column")
    a = ap.parse_args()
    modes = ["vthreads", "gevent", "uvloop"]
    if a.against:
        modes.insert(1, "vthreads@" + a.against)
    rates = {m: [] for m in modes}
    cpus = {m: [] for m in modes}
    notes = {}
    for _ in range(a.repeat):
        for m in modes:
            if m.startswith("vthreads@"):
                rate, cpu, err = one("vthreads", a.seconds, a.connections,
                                     a.handler, os.path.abspath(a.against))
            else:
                rate, cpu, err = one(m, a.seconds, a.connections, a.handler)
            rates[m].append(rate)
            cpus[m].append(cpu)
            if err:
                notes[m] = err
    med = {m: statistics.median(v) for m, v in rates.items()}
    cpu = {m: statistics.median(v) for m, v in cpus.items()}
    # The ratios are paired: each round's servers ran back to back, so a
    # round's ratio is less at the mercy of the machine's drift than the
    # ratio of two medians would be.
    v_rates, v_cpus = rates["vthreads"], cpus["vthreads"]
    rate_ratio = {m: statistics.median(x / y for x, y in zip(v_rates, rates[m]))
                  for m in modes}
    cpu_ratio = {m: statistics.median(y / x for x, y in zip(v_cpus, cpus[m]))
                 for m in modes}
    ahead = {m: sum(x < y for x, y in zip(v_cpus, cpus[m])) for m in modes}
    print(f"{a.handler} handler, wrk -t1 -c{a.connections} -d{a.seconds}s, "
          f"{a.repeat} alternated rounds: medians, and medians of each "
          "round's ratio")
    print("| server | requests/s | vthreads vs it | server CPU µs/request "
          "| vthreads vs it | rounds vthreads used less CPU |")
    print("|---|---|---|---|---|---|")
    for m in modes:
        print(f"| {m} | {med[m]:,.0f} | {rate_ratio[m]:.2f} "
              f"| {cpu[m]:.1f} | {cpu_ratio[m]:.2f} "
              f"| {'-' if m == 'vthreads' else f'{ahead[m]}/{a.repeat}'} |"
              + (f" {notes[m]}" if m in notes else ""))


if __name__ == "__main__":
    main()
