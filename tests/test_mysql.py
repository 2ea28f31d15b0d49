"""MySQL/MariaDB through PyMySQL via SQLAlchemy, unmodified, against a real
server: a user's program run by python -m vthreads on one carrier
(tests/dbload.py).  PyMySQL is pure Python over the socket module, so
patching alone makes it cooperative; there is no integration module.

Load: 100 queries of SLEEP(0.1) from 100 threads on a pool of 20 take
10 s one after another and 0.5 s ideally; under 1.5 s passes, and the
carrier is never held for 0.1 s (a ticker's gaps less the time the OS
kept the carrier's thread waiting for a CPU: tests/dbload.py).  Each
query returns its own argument.
``ssl_disabled``: PyMySQL 1.2 otherwise builds an SSL context -- loading
the system's CA store, ~30 ms of CPU that holds the carrier -- at every
connect, to try TLS with a server that offers none here (docs/integrations.md).

Cancellation: a vthread cancelled in SLEEP(10) returns within a second and
the engine serves the next queries on all its connections.  MySQL's
protocol has no cancel request: the cancelled connection is dropped by
SQLAlchemy, and the server ends that query when it sees the client gone.

The server is the one .ci/run starts (VTHREADS_MYSQL_DSN); without it these
tests are skipped.
"""

import os

import pytest

from dbload import run_program

pytestmark = [
    pytest.mark.skipif(not os.environ.get("VTHREADS_MYSQL_DSN"),
                       reason="needs a MariaDB server (started by .ci/run)"),
]

ENGINE = """
    import os, sqlalchemy
    URL = os.environ["VTHREADS_MYSQL_DSN"].replace(
        "mysql://", "mysql+pymysql://", 1)

    def engine(size):
        return sqlalchemy.create_engine(
            URL, pool_size=size, max_overflow=0, pool_timeout=5,
            connect_args={"ssl_disabled": True})
"""


def test_pymysql_via_sqlalchemy_100_queries_on_20_connections():
    pytest.importorskip("pymysql")
    pytest.importorskip("sqlalchemy")
    out = run_program(ENGINE, """
        eng = engine(20)
        sql = sqlalchemy.text("select :i + 0 * sleep(0.1)")

        def query(i):
            with eng.connect() as conn:
                return conn.execute(sql, {"i": i}).scalar()

        answers, elapsed, ticks = load(query)
        eng.dispose()
        assert answers == {i: i for i in range(100)}, answers
        assert elapsed < 1.5, elapsed         # serially: 10 s
        assert ticks.held < 0.1, ticks       # the carrier was never held
        print(f"ok {elapsed:.2f} {ticks.held:.3f} {ticks.longest:.3f}")
    """)
    assert out.startswith("ok"), out


def test_pymysql_cancelled_query_returns_and_the_engine_serves_on():
    pytest.importorskip("pymysql")
    pytest.importorskip("sqlalchemy")
    out = run_program(ENGINE, """
        import time
        eng = engine(2)
        watch = engine(1)

        def running():
            with watch.connect() as conn:
                return conn.execute(sqlalchemy.text(
                    "select count(*) from information_schema.processlist "
                    "where info like 'select sleep(10)%'")).scalar()

        def slow():
            with eng.connect() as conn:
                conn.execute(sqlalchemy.text("select sleep(10)"))

        for cancel in (lambda: cancel_while_running(slow, running),
                       lambda: cancel_by_deadline(slow)):
            cancel()
            with eng.connect() as a, eng.connect() as b:
                assert a.execute(sqlalchemy.text("select 1")).scalar() == 1
                assert b.execute(sqlalchemy.text("select 2")).scalar() == 2
            assert eng.pool.checkedout() == 0
        eng.dispose()
        # The dropped connections' queries end with them, in the server.
        for _ in range(500):
            if not running():
                break
            time.sleep(0.01)
        assert running() == 0
        print("ok")
    """)
    assert out.startswith("ok"), out
