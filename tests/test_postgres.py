"""PostgreSQL through psycopg 3 (binary and pure-Python, with psycopg_pool)
and psycopg2 (directly and via SQLAlchemy), unmodified, against a real
server: each test is a user's program run by python -m vthreads on one
carrier (tests/dbload.py).

Load: 100 queries of pg_sleep(0.1) from 100 threads on a pool of 20 take
10 s one after another and 0.5 s ideally; under 1.5 s passes (a loaded
machine), and the carrier is never held for 0.1 s -- a ticker's gaps less
the time the OS kept the carrier's thread waiting for a CPU (``Ticks`` in
tests/dbload.py says why).  Each query returns its own argument: every
reply matched to its request.

Cancellation: a vthread cancelled in pg_sleep(10) -- by vt.cancel() or a
cancel scope's deadline -- returns within a second, the server's query is
gone from pg_stat_activity, and the pool serves the next queries on all
its connections (psycopg 3 keeps the connection; psycopg2 closes it, and
SQLAlchemy's pool opens another).

The server is the one .ci/run starts (VTHREADS_PG_DSN); without it these
tests are skipped.
"""

import os
import subprocess
import sys

import pytest

from conftest import run_script, skip_unless_importable
from dbload import run_program

DSN = os.environ.get("VTHREADS_PG_DSN")
needs_server = pytest.mark.skipif(
    not DSN, reason="needs a PostgreSQL server (started by .ci/run)")


def _have_psycopg(impl):
    """psycopg importable with this implementation ("binary" needs
    psycopg-binary, "python" the system libpq)."""
    r = subprocess.run([sys.executable, "-c", "import psycopg"],
                       env=dict(os.environ, PSYCOPG_IMPL=impl),
                       capture_output=True)
    return r.returncode == 0


IMPLS = [pytest.param(impl, marks=pytest.mark.skipif(
    not _have_psycopg(impl), reason=f"psycopg ({impl}) is not installed"))
    for impl in ("binary", "python")]

LOAD_CHECKS = """
    assert answers == {i: i for i in range(100)}, answers
    assert elapsed < 1.5, elapsed         # serially: 10 s
    assert ticks.held < 0.1, ticks       # the carrier was never held
    print(f"ok {elapsed:.2f} {ticks.held:.3f} {ticks.longest:.3f}")
"""


@needs_server
@pytest.mark.parametrize("impl", IMPLS)
def test_psycopg_pool_100_queries_on_20_connections(impl):
    out = run_program("""
        import os, psycopg, psycopg_pool
        import vthreads.monkey
        assert psycopg.pq.__impl__ == os.environ["PSYCOPG_IMPL"]
        assert psycopg.waiting.wait is psycopg.waiting.wait_poll
        assert vthreads.monkey.is_patched("psycopg")
        pool = psycopg_pool.ConnectionPool(os.environ["VTHREADS_PG_DSN"],
                                           min_size=20, max_size=20)
        pool.wait()

        def query(i):
            with pool.connection() as conn:
                return conn.execute("select %s::int, pg_sleep(0.1)",
                                    (i,)).fetchone()[0]

        answers, elapsed, ticks = load(query)
        pool.close()
    """, LOAD_CHECKS, env={"PSYCOPG_IMPL": impl})
    assert out.startswith("ok"), out


@needs_server
def test_psycopg_and_its_pool_imported_before_patching():
    """psycopg picked wait_c, the blocking selector and real locks at its
    import, psycopg_pool real conditions and time.sleep: patch_all()
    afterwards replaces them all.  A connection shared by 10 vthreads
    (psycopg serialises them on its lock) deadlocked one carrier before."""
    pytest.importorskip("psycopg_pool")
    r = run_script("""if 1:
        import os, time, threading, warnings
        import psycopg, psycopg_pool
        import vthreads, vthreads.monkey
        warnings.simplefilter("ignore")     # the early-import warning
        vthreads.monkey.patch_all()
        assert psycopg.waiting.wait is psycopg.waiting.wait_poll
        DSN = os.environ["VTHREADS_PG_DSN"]

        def main():
            shared = psycopg.connect(DSN, autocommit=True)
            pool = psycopg_pool.ConnectionPool(DSN, min_size=10, max_size=10)
            pool.wait()

            def on_shared(i):
                return shared.execute("select %s::int, pg_sleep(0.02)",
                                      (i,)).fetchone()[0]

            def on_pool(i):
                with pool.connection() as conn:
                    return conn.execute("select %s::int, pg_sleep(0.2)",
                                        (i,)).fetchone()[0]

            out = {}
            def one(fn, i):
                out[fn.__name__, i] = fn(i)
            start = time.monotonic()
            ts = [threading.Thread(target=one, args=(fn, i))
                  for fn in (on_shared, on_pool) for i in range(10)]
            for t in ts: t.start()
            for t in ts: t.join()
            pool.close()
            return out, time.monotonic() - start

        out, elapsed = vthreads.run(main, carriers=1)
        assert out == {(f, i): i for f in ("on_shared", "on_pool")
                       for i in range(10)}, out
        assert elapsed < 1.5, elapsed       # serially: 2.2 s
        print("ok", elapsed)
    """, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


CANCEL_PRELUDE = """
    import os, time, vthreads, dbload
    import psycopg
    DSN = os.environ["VTHREADS_PG_DSN"]
    SLOW = "select pg_sleep(10) -- vthreads cancel test"
    watch = psycopg.connect(DSN, autocommit=True)

    def running():
        return watch.execute(
            "select count(*) from pg_stat_activity "
            "where query = %s and state = 'active'", (SLOW,)).fetchone()[0]

    def assert_query_gone():
        # The server acts on a cancel request a moment after libpq sent it.
        for _ in range(100):
            if not running():
                return
            time.sleep(0.01)
        raise AssertionError("the server's query was not cancelled")

    def cancel_while_running(fn):
        dbload.cancel_while_running(fn, running)
        assert_query_gone()

    def deadline(fn):
        cancel_by_deadline(fn)
        assert_query_gone()
"""


@needs_server
@pytest.mark.parametrize("impl", IMPLS)
def test_psycopg_cancelled_query_is_cancelled_and_the_pool_serves_on(impl):
    out = run_program(CANCEL_PRELUDE, """
    import psycopg_pool
    pool = psycopg_pool.ConnectionPool(DSN, min_size=2, max_size=2)
    pool.wait()

    def slow():
        with pool.connection() as conn:
            conn.execute(SLOW)

    cancel_while_running(slow)
    deadline(slow)
    # Both connections came back: two at once, each serves a query.
    with pool.connection(timeout=5) as a, pool.connection(timeout=5) as b:
        assert a.execute("select 1").fetchone() == (1,)
        assert b.execute("select 2").fetchone() == (2,)
    assert pool.get_stats()["pool_available"] == 2, pool.get_stats()

    # A connection of one's own, without a pool: usable straight after.
    conn = psycopg.connect(DSN, autocommit=True)
    deadline(lambda: conn.execute(SLOW))
    assert conn.execute("select 3").fetchone() == (3,)
    pool.close()
    print("ok")
    """, env={"PSYCOPG_IMPL": impl})
    assert out.startswith("ok"), out


@needs_server
def test_psycopg2_via_sqlalchemy_100_queries_on_20_connections():
    skip_unless_importable("psycopg2")
    pytest.importorskip("sqlalchemy")
    out = run_program("""
        import os, sqlalchemy
        import psycopg2.extensions
        import vthreads.monkey, vthreads.psycopg2
        assert psycopg2.extensions.get_wait_callback() is \\
            vthreads.psycopg2.wait_callback
        assert vthreads.monkey.is_patched("psycopg2")
        url = os.environ["VTHREADS_PG_DSN"].replace(
            "postgresql://", "postgresql+psycopg2://", 1)
        engine = sqlalchemy.create_engine(url, pool_size=20, max_overflow=0)
        sql = sqlalchemy.text(
            "select CAST(:i AS int) FROM (select pg_sleep(0.1)) AS s")

        def query(i):
            with engine.connect() as conn:
                return conn.execute(sql, {"i": i}).scalar()

        answers, elapsed, ticks = load(query)
        engine.dispose()
    """, LOAD_CHECKS)
    assert out.startswith("ok"), out


@needs_server
def test_psycopg2_cancelled_query_is_cancelled_and_the_client_serves_on():
    skip_unless_importable("psycopg2")
    pytest.importorskip("sqlalchemy")
    out = run_program(CANCEL_PRELUDE, """
    import psycopg2, sqlalchemy
    url = DSN.replace("postgresql://", "postgresql+psycopg2://", 1)
    engine = sqlalchemy.create_engine(url, pool_size=2, max_overflow=0,
                                      pool_timeout=5)

    def slow():
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(SLOW))

    cancel_while_running(slow)
    deadline(slow)
    with engine.connect() as a, engine.connect() as b:
        assert a.execute(sqlalchemy.text("select 1")).scalar() == 1
        assert b.execute(sqlalchemy.text("select 2")).scalar() == 2
    assert engine.pool.checkedout() == 0

    # A connection of one's own: psycopg2 closes it (its rule when a wait
    # callback raises), after the query was cancelled; the next one works.
    conn = psycopg2.connect(DSN)
    deadline(lambda: conn.cursor().execute(SLOW))
    assert conn.closed
    with psycopg2.connect(DSN) as conn:
        cur = conn.cursor()
        cur.execute("select 3")
        assert cur.fetchone() == (3,)
    engine.dispose()
    print("ok")
    """)
    assert out.startswith("ok"), out


@pytest.mark.parametrize("flag", ["psycopg", "psycopg2"])
def test_patch_all_leaves_a_library_alone_when_told(flag):
    pytest.importorskip("psycopg")
    skip_unless_importable("psycopg2")
    r = run_script(f"""if 1:
        import vthreads.monkey as monkey
        monkey.patch_all({flag}=False)
        import psycopg2.extensions, psycopg
        assert monkey.is_patched("select")
        other = "psycopg2" if "{flag}" == "psycopg" else "psycopg"
        assert not monkey.is_patched("{flag}") and monkey.is_patched(other)
        def wrapped():       # our Connection.wait, which cancels queries
            return hasattr(psycopg.Connection.wait, "__wrapped__")
        if "{flag}" == "psycopg":
            assert not wrapped()
            assert psycopg2.extensions.get_wait_callback() is not None
        else:
            assert wrapped()
            assert psycopg2.extensions.get_wait_callback() is None
        monkey.unpatch_all()
        assert not monkey.is_patched("psycopg")
        assert not wrapped()
        assert psycopg2.extensions.get_wait_callback() is None
        print("ok")
    """)
    assert r.returncode == 0, r.stderr[-3000:]
