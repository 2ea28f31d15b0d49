"""gRPC unary calls, client and server in one process: vthreads against
plain threads, in one run.

    python3 benchmarks/grpc_calls.py [--repeat R] [--calls N]

Each round starts two fresh interpreters running the same program: a
grpcio server (``futures.ThreadPoolExecutor(max_workers=N)``, a generic
handler on raw bytes) and N client threads on one channel, all calls at
once.  One interpreter runs it under ``python -m vthreads --carriers 1``
(so the threads are vthreads and ``vthreads.grpc`` is applied), the other
as plain Python.  Two workloads: N calls whose handler sleeps 0.1 s (the
ideal is 0.1 s), and 10 x N calls that answer at once (throughput).  The
table shows the medians over R rounds, the sides alternating.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROGRAM = '''
import sys, threading, time
from concurrent import futures
import grpc

N = int(sys.argv[1])

def handler(request, context):
    if request.startswith(b"s"):
        time.sleep(0.1)
    return request

server = grpc.server(futures.ThreadPoolExecutor(max_workers=N))
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
    "b.B", {"Call": grpc.unary_unary_rpc_method_handler(handler)}),))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
channel = grpc.insecure_channel(f"127.0.0.1:{port}")
call = channel.unary_unary("/b.B/Call")
call(b"warm-up", timeout=10)

def run(prefix, per_thread):
    bad = []
    def client(i):
        for j in range(per_thread):
            request = b"%s%d.%d" % (prefix, i, j)
            if call(request, timeout=30) != request:
                bad.append(request)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(N)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    assert not bad, bad[:3]
    return took

sleep = run(b"s", 1)
quick = run(b"q", 10)
print(f"{sleep:.3f} {10 * N / quick:.0f}")
channel.close()
server.stop(None)
'''


def side(vthreads, calls, script):
    cmd = [sys.executable]
    if vthreads:
        cmd += ["-m", "vthreads", "--carriers", "1"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(cmd + [script, str(calls)], capture_output=True,
                         text=True, timeout=300, env=env, check=True).stdout
    sleep, rate = out.split()
    return float(sleep), float(rate)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    results = {True: [], False: []}
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(PROGRAM)
        script.flush()
        for _ in range(args.repeat):
            for vt in (True, False):
                results[vt].append(side(vt, args.calls, script.name))
    print(f"{args.calls} threads, medians of {args.repeat} rounds")
    print(f"{'':28} {args.calls} calls of 0.1 s   calls/s (answered at once)")
    for vt, name in ((True, "python -m vthreads (1 carrier)"),
                     (False, "plain threads")):
        sleep = statistics.median(r[0] for r in results[vt])
        rate = statistics.median(r[1] for r in results[vt])
        print(f"{name:30} {sleep:8.2f} s {rate:20,.0f}")


if __name__ == "__main__":
    main()
