"""gRPC (grpcio), unmodified, under python -m vthreads on one carrier.

Each test is a user's program (tests/dbload.py runs it) with a gRPC server
and its clients: generic handlers on raw bytes, so no generated code.
Unpatched, 100 concurrent calls to a server in the same process on one
carrier deadlock until their deadline, and a blocking call holds its
carrier for as long as the call takes (vthreads/grpc.py says why).

- 100 unary calls of 0.1 s at once, client and server in one process:
  every reply is its own request, in under 1 s (one after another: 10 s),
  and the carrier is never held for 0.1 s (tests/dbload.py: the
  ticker's gaps less the time its thread waited for a CPU).
- The same server answers a client in another process, started without
  vthreads; and a client under vthreads calls a plain server.
- The other call shapes (stream-unary, unary-stream, stream-stream,
  with_call, future) give the results they give without vthreads, and a
  server error or a deadline raises the same RpcError codes.
- Cancellation: a vthread cancelled in a call returns within a second,
  the server's handler sees the RPC cancelled, and the channel serves the
  next call.
- ``patch_all(grpc=False)`` leaves grpc alone and ``is_patched`` says so.

grpcio has no wheel for the free-threaded build (and building it takes
longer than the CI run): these tests skip where it is not importable.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import skip_unless_importable
from dbload import HERE, ROOT, run_program as _run_program


@pytest.fixture(autouse=True)
def _grpcio():
    skip_unless_importable("grpc")


def run_program(*parts):
    # Well within the watchdog's limit: a program that hangs (grpc's loop
    # holding the only carrier) fails here, with its output.
    return _run_program(*parts, timeout=60)


SERVER = """
    import threading, time
    from concurrent import futures
    import grpc

    started, ended = [], []          # requests a handler began / saw cancelled

    def echo(request, context):
        seconds = float(request.split(b":")[1]) if b":" in request else 0.1
        started.append(request)
        context.add_callback(lambda: ended.append(request))
        end = time.monotonic() + seconds      # as a handler that stops
        while context.is_active() and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))       # once its caller is gone
        return request

    def fail(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no " + request.decode())

    def total(requests, context):
        return b"%d" % sum(int(r) for r in requests)

    def count(request, context):
        for i in range(int(request)):
            yield b"%d" % i

    def double(requests, context):
        for r in requests:
            yield r + r

    def serve(workers=200):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        handlers = {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "Total": grpc.stream_unary_rpc_method_handler(total),
            "Count": grpc.unary_stream_rpc_method_handler(count),
            "Double": grpc.stream_stream_rpc_method_handler(double),
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("t.T", handlers),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        return server, port

    def channel(port):
        ch = grpc.insecure_channel(f"127.0.0.1:{port}")
        calls = {name: getattr(ch, kind)(f"/t.T/{name}") for name, kind in [
            ("Echo", "unary_unary"), ("Fail", "unary_unary"),
            ("Total", "stream_unary"), ("Count", "unary_stream"),
            ("Double", "stream_stream")]}
        return ch, calls
"""

LOAD = """
    def hundred(echo):
        answers, elapsed, ticks = load(
            lambda i: echo(b"%d:0.1" % i, timeout=10))
        assert answers == {i: b"%d:0.1" % i for i in range(100)}, answers
        assert elapsed < 1.0, elapsed      # one after another: 10 s
        assert ticks.held < 0.1, ticks     # the carrier was never held
        print(f"ok {elapsed:.2f} {ticks.held:.3f} {ticks.longest:.3f}")
"""


def test_100_concurrent_calls_client_and_server_in_one_process():
    out = run_program(SERVER, LOAD, """
        server, port = serve()
        ch, calls = channel(port)
        hundred(calls["Echo"])
        ch.close()
        server.stop(None)
    """)
    assert out.startswith("ok"), out


def _plain_python(code, *args):
    """Start ``code`` in a fresh interpreter without vthreads."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, HERE]))
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env,
                            stdout=subprocess.PIPE, text=True)


PLAIN_SERVER = textwrap.dedent(SERVER) + """
server, port = serve()
print(port, flush=True)
time.sleep(60)
"""


PLAIN_CLIENT = """
import sys, time, threading, grpc
ch = grpc.insecure_channel("127.0.0.1:" + sys.argv[1])
echo = ch.unary_unary("/t.T/Echo")
out = {}
def one(i):
    out[i] = echo(b"%d:0.1" % i, timeout=10)
t0 = time.monotonic()
ts = [threading.Thread(target=one, args=(i,)) for i in range(100)]
for t in ts:
    t.start()
for t in ts:
    t.join()
took = time.monotonic() - t0
assert out == {i: b"%d:0.1" % i for i in range(100)}, out
print(f"{took:.2f}")
"""


def test_a_server_under_vthreads_answers_a_plain_client():
    # The program serves while a plain client, its child, makes 100
    # concurrent calls.
    out = run_program(SERVER, f"""
        import subprocess, sys
        server, port = serve()
        client = subprocess.run([sys.executable, "-c", {PLAIN_CLIENT!r},
                                 str(port)], capture_output=True, text=True,
                                timeout=60)
        assert client.returncode == 0, client.stderr
        assert float(client.stdout) < 1.0, client.stdout
        assert len(started) == 100, len(started)
        server.stop(None)
        print("ok", client.stdout.strip())
    """)
    assert out.startswith("ok"), out


def test_a_client_under_vthreads_calls_a_plain_server():
    server = _plain_python(PLAIN_SERVER)
    try:
        port = int(server.stdout.readline())
        out = run_program(SERVER, LOAD, f"""
            ch, calls = channel({port})
            hundred(calls["Echo"])
        """)
        assert out.startswith("ok"), out
    finally:
        server.kill()
        server.wait()


def test_every_call_shape_and_error_as_without_vthreads():
    program = """
        import grpc
        server, port = serve()
        ch, calls = channel(port)
        results = []
        results.append(calls["Echo"](b"a:0"))
        response, call = calls["Echo"].with_call(b"b:0")
        results.append((response, call.code().name))
        results.append(calls["Echo"].future(b"c:0").result())
        results.append(calls["Total"](iter([b"1", b"2", b"3"])))
        response, call = calls["Total"].with_call(iter([b"4"]))
        results.append((response, call.code().name))
        results.append(calls["Total"].future(iter([b"5", b"6"])).result())
        results.append(list(calls["Count"](b"3")))
        results.append(list(calls["Double"](iter([b"x", b"y"]))))
        for name, args in [("Fail", (b"thing",)),
                           ("Echo", (b"d:1",))]:
            try:
                calls[name](*args, timeout=0.3)
            except grpc.RpcError as e:
                results.append((type(e).__name__, e.code().name, e.details()))
        ch.close()
        server.stop(None)
        print(repr(results))
    """
    patched = run_program(SERVER, program)
    plain = subprocess.run(
        [sys.executable, "-c",
         textwrap.dedent(SERVER) + textwrap.dedent(program)],
        capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert "NOT_FOUND" in plain.stdout and "DEADLINE_EXCEEDED" in plain.stdout
    assert patched == plain.stdout


def test_a_cancelled_call_cancels_the_rpc_and_the_channel_serves_on():
    out = run_program(SERVER, """
        import time, vthreads
        server, port = serve()
        ch, calls = channel(port)
        echo = calls["Echo"]

        # By cancel(), while the handler sleeps its 5 s.
        cancel_while_running(lambda: echo(b"one:5"),
                             lambda: b"one:5" in started)
        # By a cancel scope's deadline, through with_call.
        cancel_by_deadline(lambda: echo.with_call(b"two:5"))
        # The server saw both ended long before their 5 s were up.
        deadline = time.monotonic() + 1
        while len(ended) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(ended) == [b"one:5", b"two:5"], ended
        assert echo(b"three:0", timeout=5) == b"three:0"
        ch.close()
        server.stop(None)
        print("ok")
    """)
    assert out.startswith("ok"), out


def test_patch_all_grpc_false_leaves_grpc_alone():
    code = """
import vthreads.monkey as m
m.patch_all(grpc=False)
import grpc, grpc._server
from grpc._cython import cygrpc
print(m.is_patched("grpc"), type(cygrpc.threading).__name__,
      type(grpc._server.threading).__name__)
m.patch_grpc()
print(m.is_patched("grpc"), type(cygrpc.threading).__name__,
      type(grpc._server.threading).__name__)
m.unpatch_all()
print(m.is_patched("grpc"), type(cygrpc.threading).__name__,
      grpc._channel._UnaryUnaryMultiCallable._blocking.__module__)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == [
        "False module module",
        "True _OSThreading _OSThreading",
        "False module grpc._channel", ""]
