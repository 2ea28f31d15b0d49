"""100 queries of 0.1 s server-side, from 100 threads, on a pool of 20.

    python -m vthreads --carriers 1 benchmarks/db_pools.py STACK   # vthreads
    python benchmarks/db_pools.py STACK                           # OS threads

STACK is one of: psycopg (psycopg 3 + psycopg_pool; PSYCOPG_IMPL=python
for the pure-Python implementation), psycopg2 (via SQLAlchemy), pymysql
(via SQLAlchemy), pymysql-nossl (the same with ``ssl_disabled``: PyMySQL
1.2 builds an SSL context, ~30 ms of CPU, at every connect otherwise).  The servers come from VTHREADS_PG_DSN and
VTHREADS_MYSQL_DSN, as .ci/servers.sh exports them.  The ideal is 0.5 s
(5 rounds of 20); serially it would be 10 s.  A ticker thread records the
longest gap between its 10 ms sleeps, and the longest "held": a gap less
the time the OS kept the thread waiting for a CPU, how long a carrier was
held (tests/dbload.py, which the tests use too).

Prints one line: stack, seconds, the longest ticker gap and held, the
answers.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests"))
from dbload import load      # noqa: E402  (the tests' load and ticker)

N, POOL, DELAY = 100, 20, 0.1


def psycopg_query():
    import psycopg_pool
    pool = psycopg_pool.ConnectionPool(os.environ["VTHREADS_PG_DSN"],
                                       min_size=POOL, max_size=POOL, open=True)
    pool.wait()

    def query(i):
        with pool.connection() as conn:
            return conn.execute("select %s::int, pg_sleep(%s)",
                                (i, DELAY)).fetchone()[0]
    return query, pool.close


def sqlalchemy_query(url, sql, **connect_args):
    import sqlalchemy
    engine = sqlalchemy.create_engine(url, pool_size=POOL, max_overflow=0,
                                      connect_args=connect_args)
    with engine.connect() as conn:      # connect once before timing
        conn.execute(sqlalchemy.text("select 1"))

    def query(i):
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text(sql),
                                {"i": i, "d": DELAY}).scalar()
    return query, engine.dispose


def stack(name):
    if name == "psycopg":
        return psycopg_query()
    if name == "psycopg2":
        url = os.environ["VTHREADS_PG_DSN"].replace(
            "postgresql://", "postgresql+psycopg2://", 1)
        return sqlalchemy_query(url, "select CAST(:i AS int) "
                                "FROM (select pg_sleep(:d)) AS s")
    if name in ("pymysql", "pymysql-nossl"):
        url = os.environ["VTHREADS_MYSQL_DSN"].replace(
            "mysql://", "mysql+pymysql://", 1)
        return sqlalchemy_query(url, "select :i + 0 * sleep(:d)",
                                **({"ssl_disabled": True}
                                   if name.endswith("nossl") else {}))
    raise SystemExit(f"unknown stack {name!r}")


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "psycopg"
    query, close = stack(name)
    answers, elapsed, ticks = load(query, N)
    close()
    ok = answers == {i: i for i in range(N)}
    impl = f" ({os.environ['PSYCOPG_IMPL']})" if "PSYCOPG_IMPL" in os.environ else ""
    print(f"{name}{impl}: {elapsed:.2f} s, longest ticker gap "
          f"{ticks.longest * 1000:.0f} ms (held {ticks.held * 1000:.0f} ms), "
          f"answers {'exact' if ok else 'WRONG'}")


if __name__ == "__main__":
    main()
