"""Real client libraries, unmodified, over real connections, patched.

Each test runs in a fresh interpreter (patching is process-wide).
requests: 1,000 vthreads share one Session (one urllib3 pool).
redis-py: 1,000 vthreads share one BlockingConnectionPool against a real
redis-server, which .ci/run starts (VTHREADS_REDIS_PORT); without one the
redis test is skipped.
In both, the server side checks that no connection ever carried two
requests at once: one pool really serves every carrier safely.
psycopg and psycopg_pool (if installed): they import under
``python -m vthreads`` (they subclass the patched, generic queue.Queue).
"""

import os
import textwrap

import pytest

from conftest import run_script


def run(code, env=None):
    r = run_script(textwrap.dedent(code), timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_requests_session_shared_by_1000_vthreads():
    pytest.importorskip("requests")
    r = run("""
        import vthreads.monkey as monkey
        monkey.patch_all()
        import http.server, threading, time, collections
        import requests, vthreads

        busy = collections.Counter()          # client port -> in-flight
        overlaps = []
        lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"     # keep-alive: pooled
            def do_GET(self):
                port = self.client_address[1]
                with lock:
                    busy[port] += 1
                    if busy[port] > 1:
                        overlaps.append(port)
                time.sleep(0.002)
                body = self.path.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with lock:
                    busy[port] -= 1
            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            request_queue_size = 1024
            daemon_threads = True
        srv = S(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = "http://127.0.0.1:%d" % srv.server_address[1]

        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1,
                                                pool_maxsize=50, pool_block=True)
        session.mount("http://", adapter)

        def get(i):
            r = session.get(f"{base}/{i}", timeout=30)
            return r.status_code == 200 and r.text == f"/{i}"

        def main():
            vts = [vthreads.spawn(get, i) for i in range(1000)]
            return sum(v.result() for v in vts)

        ok = vthreads.run(main)
        assert ok == 1000, ok
        assert overlaps == [], overlaps[:5]
        ports = len(busy)
        assert 1 <= ports <= 50, ports        # pooled: at most pool_maxsize
        print("ok", ports)
    """)
    assert r.stdout.startswith("ok")


@pytest.mark.skipif(not os.environ.get("VTHREADS_REDIS_PORT"),
                    reason="needs a redis-server (started by .ci/run)")
def test_redis_pool_shared_by_1000_vthreads():
    pytest.importorskip("redis")
    run("""
        import os
        import vthreads.monkey as monkey
        monkey.patch_all()
        import redis, vthreads
        port = int(os.environ["VTHREADS_REDIS_PORT"])
        # The blocking pool: 1,000 vthreads wait in its queue (a vthreads
        # LifoQueue once patched) for one of 40 connections.
        # Named, so the count below sees this program's connections only:
        # the server is shared with the other tests' clients.
        name = f"vthreads-pool-test-{os.getpid()}"
        pool = redis.BlockingConnectionPool(host="127.0.0.1", port=port,
                                            max_connections=40, timeout=60,
                                            client_name=name)
        r = redis.Redis(connection_pool=pool)
        r.delete("vthreads:counter")

        def work(i):
            key = f"vthreads:key:{i}"
            r.set(key, i)
            assert int(r.get(key)) == i
            r.incr("vthreads:counter")
            r.delete(key)
            return True

        def main():
            vts = [vthreads.spawn(work, i) for i in range(1000)]
            return sum(v.result() for v in vts)

        assert vthreads.run(main) == 1000
        assert int(r.get("vthreads:counter")) == 1000
        # Every reply matched its command: a connection shared by two
        # vthreads at once would have mixed replies and failed above.
        created = len([c for c in pool._connections if c is not None])
        assert 1 <= created <= 40, created
        clients = [c for c in r.client_list() if c.get("name") == name]
        assert 1 <= len(clients) <= 40, len(clients)
        print("ok")
    """, env={"VTHREADS_REDIS_PORT": os.environ["VTHREADS_REDIS_PORT"]})


def test_psycopg_and_its_pool_import_under_python_m_vthreads(tmp_path):
    # psycopg_pool subclasses the patched queue at import:
    # class Queue(queue.Queue[T]).  Connecting cooperatively is another
    # matter (psycopg's C wait does not park); this holds the import.
    pytest.importorskip("psycopg")
    pytest.importorskip("psycopg_pool")
    import subprocess
    import sys
    script = tmp_path / "s.py"
    script.write_text(textwrap.dedent("""
        # The sleep steps past the start-up race of issue 10, item 1 (an
        # import that straddles the main vthread's record fails about half
        # the time here); drop it once that is fixed.
        import time; time.sleep(0.05)
        import queue, vthreads
        import psycopg, psycopg_pool
        assert queue.Queue is vthreads.Queue
        pool = psycopg_pool.ConnectionPool("host=127.0.0.1 port=1", open=False)
        print("imported", type(pool).__name__)
    """))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-m", "vthreads", str(script)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "imported ConnectionPool"
