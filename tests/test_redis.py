"""redis-py, unmodified, under python -m vthreads on one carrier, against
the redis-server .ci/run starts (VTHREADS_REDIS_PORT; skipped without).

redis-py is pure Python over the socket module: patching alone makes it
cooperative.  The pool is a ``BlockingConnectionPool`` of 20, as
docs/integrations.md recommends (the default pool raises past its
maximum instead of waiting).

- 100 threads each wait 0.1 s in the server (``BLPOP`` on an empty key of
  its own, which blocks that connection only), then write and read back a
  key of their own: 10 s one after another, 0.5 s ideally on 20
  connections; under 1.5 s passes, every reply is its own thread's, and the
  carrier is never held for 0.1 s (tests/dbload.py's ticker).
- Cancellation: a thread cancelled in a 10 s ``BLPOP`` returns within a
  second, by ``cancel()`` and by a cancel scope's deadline, and the pool
  serves the next commands with the right replies: the connection whose
  reply was abandoned is closed (the server drops its BLPOP), not handed
  out again.
"""

import os

import pytest

from dbload import run_program

pytest.importorskip("redis")
PORT = os.environ.get("VTHREADS_REDIS_PORT")
pytestmark = pytest.mark.skipif(not PORT, reason="VTHREADS_REDIS_PORT unset")

CLIENT = """
    import os, uuid
    import redis
    pool = redis.BlockingConnectionPool(
        host="127.0.0.1", port=int(os.environ["VTHREADS_REDIS_PORT"]),
        db=7, max_connections=20, timeout=10)
    r = redis.Redis(connection_pool=pool)
    prefix = uuid.uuid4().hex        # keys of this run only
"""


def test_100_waits_on_a_pool_of_20():
    out = run_program(CLIENT, """
        def query(i):
            assert r.blpop(f"{prefix}:empty:{i}", timeout=0.1) is None
            r.set(f"{prefix}:v:{i}", i, ex=60)
            return int(r.get(f"{prefix}:v:{i}"))

        answers, elapsed, ticks = load(query)
        assert answers == {i: i for i in range(100)}, answers
        assert elapsed < 1.5, elapsed        # one after another: 10 s
        assert ticks.held < 0.1, ticks       # the carrier was never held
        print(f"ok {elapsed:.2f} {ticks.held:.3f} {ticks.longest:.3f}")
    """)
    assert out.startswith("ok"), out


def test_a_cancelled_command_returns_and_the_pool_serves_on():
    out = run_program(CLIENT, """
        import time

        def running():
            return any(c.get("cmd") == "blpop" for c in r.client_list())

        key = f"{prefix}:never"
        cancel_while_running(lambda: r.blpop(key, timeout=10), running)
        cancel_by_deadline(lambda: r.blpop(key, timeout=10))
        # The abandoned BLPOPs' connections were closed: the server drops
        # their waits (within 3 s here; a kept connection would hold its
        # BLPOP for 10 s).  A value pushed then stays, and every later
        # command gets its own reply.
        deadline = time.monotonic() + 3
        while running() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not running(), r.client_list()
        r.rpush(key, "kept")
        for i in range(50):
            r.set(f"{prefix}:after:{i}", i, ex=60)
            assert int(r.get(f"{prefix}:after:{i}")) == i
        assert r.lpop(key) == b"kept"
        print("ok")
    """)
    assert out.startswith("ok"), out
