"""gunicorn -k vthreads.gunicorn.Worker, as real processes on real sockets.

Each test starts gunicorn's master in a subprocess on a port the kernel
picks (read back from gunicorn's log), loads it with real concurrent
clients (plain threads with http.client), and stops it with a signal.
The app below counts the requests in flight, so the tests can wait for a
state instead of sleeping for it.
"""

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

gunicorn = pytest.importorskip("gunicorn")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APP = '''
import os, threading, time
from time import sleep as early_sleep      # --preload: taken before patching

_lock = threading.Lock()
_state = {"now": 0, "max": 0, "done": 0}

def _count(d):
    with _lock:
        _state["now"] += d
        _state["max"] = max(_state["max"], _state["now"])
        if d < 0:
            _state["done"] += 1

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stats":
        with _lock:
            body = "{now} {max} {done} {pid}".format(pid=os.getpid(), **_state)
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body.encode()]
    _count(1)
    try:
        seconds = float(environ.get("QUERY_STRING") or 0)
        if path.startswith("/stream"):
            start_response("200 OK", [])       # no length: body streams
            def chunks():
                yield b"first;"
                time.sleep(seconds)
                yield b"second"
            return chunks()
        if path.startswith("/gather"):
            # Answer once N requests (the query) are in flight at once, or
            # after 20 s: only a server holding them all together can.
            end = time.monotonic() + 20
            while _state["max"] < seconds and time.monotonic() < end:
                time.sleep(0.01)
        elif seconds:
            time.sleep(seconds)
        body = (path + " " + str(os.getpid())).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    finally:
        _count(-1)
'''


class Gunicorn:
    def __init__(self, tmp_path, *args, env=None):
        (tmp_path / "app.py").write_text(APP)
        self.log_path = tmp_path / "gunicorn.log"
        full_env = dict(os.environ, PYTHONPATH=ROOT, VTHREADS_CARRIERS="1")
        full_env.pop("VTHREADS_REQUEST_TIMEOUT", None)
        full_env.update(env or {})
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "vthreads.gunicorn.Worker",
             "-b", "127.0.0.1:0", "--no-control-socket", "--workers", "1",
             "--log-level", "info", *args, "app:app"],
            cwd=tmp_path, env=full_env, stdout=self.log,
            stderr=subprocess.STDOUT)
        self.port = int(self.wait_for_log(r"Listening at: http://127\.0\.0\.1:(\d+)"))
        self.stats()                # a worker is up and answering

    def wait_for_log(self, pattern, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.log_path.read_text())
            if m:
                return m.group(1) if m.groups() else m.group(0)
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} in the log:\n{self.read_log()}")

    def read_log(self):
        return self.log_path.read_text()

    def get(self, path, timeout=30):
        """(status, body) of one request on a new connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stats(self, timeout=30):
        end = time.monotonic() + timeout
        while True:
            try:
                status, body = self.get("/stats", timeout=5)
                now, most, done, pid = map(int, body.split())
                return {"now": now, "max": most, "done": done, "pid": pid}
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)

    def wait_in_flight(self, n, timeout=30):
        end = time.monotonic() + timeout
        while self.stats()["now"] < n:
            assert time.monotonic() < end, f"never {n} requests in flight"
            time.sleep(0.02)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=30):
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def start(tmp_path):
    servers = []

    def start(*args, env=None):
        g = Gunicorn(tmp_path, *args, env=env)
        servers.append(g)
        return g

    yield start
    for g in servers:
        g.close()


def clients(g, paths, timeout=30):
    """GET every path concurrently, each on its own connection; the
    results in order, each (status, body) or the exception raised."""
    results = [None] * len(paths)

    def one(i):
        try:
            results[i] = g.get(paths[i], timeout=timeout)
        except Exception as exc:        # reported, not lost
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,))
               for i in range(len(paths))]
    for t in threads:
        t.start()
    return threads, results


def join(threads):
    for t in threads:
        t.join(60)
        assert not t.is_alive()


def test_serves_many_slow_requests_at_once_on_one_carrier(start):
    g = start()
    # Each request waits until all 100 are in flight together.
    paths = [f"/gather/{i}?100" for i in range(100)]
    threads, results = clients(g, paths)
    join(threads)
    pid = g.stats()["pid"]
    assert results == [(200, f"{p.split('?')[0]} {pid}".encode())
                       for p in paths]
    assert g.stats()["max"] == 100
    g.signal(signal.SIGTERM)
    assert g.wait() == 0


def test_keep_alive_connection_serves_many_requests(start):
    g = start("--keep-alive", "5")
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=30)
    try:
        for i in range(20):
            conn.request("GET", f"/k/{i}")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.read().startswith(f"/k/{i} ".encode())
            assert not resp.will_close
    finally:
        conn.close()
    g.signal(signal.SIGTERM)
    assert g.wait() == 0


def test_worker_connections_bounds_the_connections_in_flight(start):
    g = start("--worker-connections", "5")
    threads, results = clients(g, [f"/sleep/{i}?0.2" for i in range(20)])
    join(threads)
    assert [r[0] for r in results] == [200] * 20
    assert g.stats()["max"] == 5


def test_sigterm_lets_the_requests_in_flight_finish(start):
    g = start("--graceful-timeout", "30")
    threads, results = clients(g, [f"/sleep/{i}?1.0" for i in range(20)])
    g.wait_in_flight(20)
    g.signal(signal.SIGTERM)
    join(threads)
    assert [r[0] for r in results] == [200] * 20, results
    assert g.wait() == 0
    assert "Worker exiting" in g.read_log()


def test_sigterm_cancels_what_outlives_the_graceful_timeout(start):
    g = start("--graceful-timeout", "1")
    threads, results = clients(g, [f"/sleep/{i}?60" for i in range(5)])
    g.wait_in_flight(5)
    t0 = time.monotonic()
    g.signal(signal.SIGTERM)
    assert g.wait() == 0
    assert time.monotonic() - t0 < 15
    join(threads)
    assert all(isinstance(r, OSError) or isinstance(r, http.client.HTTPException)
               for r in results), results
    log = g.read_log()
    assert "Worker graceful timeout" in log
    assert "Worker exiting" in log          # on its own, before the SIGKILL


@pytest.mark.parametrize("sig", [signal.SIGQUIT, signal.SIGINT])
def test_sigquit_and_sigint_stop_at_once(start, sig):
    g = start("--graceful-timeout", "60")
    threads, results = clients(g, [f"/sleep/{i}?60" for i in range(5)])
    g.wait_in_flight(5)
    t0 = time.monotonic()
    g.signal(sig)
    assert g.wait() == 0
    assert time.monotonic() - t0 < 15      # not the 60 s graceful timeout
    join(threads)
    assert not any(r == (200, b"") or (isinstance(r, tuple) and r[0] == 200)
                   for r in results), results


def test_sighup_replaces_the_worker(start):
    g = start()
    old = g.stats()["pid"]
    g.signal(signal.SIGHUP)
    end = time.monotonic() + 30
    while g.stats()["pid"] == old:
        assert time.monotonic() < end, "no new worker after SIGHUP"
        time.sleep(0.05)
    g.wait_for_log(rf"Worker exiting \(pid: {old}\)")
    assert g.get("/after-hup")[0] == 200
    g.signal(signal.SIGTERM)
    assert g.wait() == 0


def test_sigusr1_reopens_the_access_log(start, tmp_path):
    access = tmp_path / "access.log"
    g = start("--access-logfile", str(access))
    assert g.get("/one")[0] == 200
    os.rename(access, tmp_path / "access.log.1")
    worker = g.stats()["pid"]
    os.kill(worker, signal.SIGUSR1)
    end = time.monotonic() + 30
    while True:             # the reopen happens in a vthread of the worker
        assert g.get("/two")[0] == 200
        if access.exists() and "/two" in access.read_text():
            break
        assert time.monotonic() < end, "the access log was not reopened"
        time.sleep(0.05)
    assert "/one" in (tmp_path / "access.log.1").read_text()
    assert "/one" not in access.read_text()


def test_request_timeout_answers_503_and_the_worker_goes_on(start):
    g = start(env={"VTHREADS_REQUEST_TIMEOUT": "0.5"})
    t0 = time.monotonic()
    status, body = g.get("/sleep/slow?30")
    assert status == 503, body
    assert time.monotonic() - t0 < 10
    assert g.get("/sleep/quick?0.01")[0] == 200
    s = g.stats()               # /stats counts neither itself ...
    assert (s["now"], s["done"]) == (0, 2)     # ... nor a request twice
    assert "Request timed out after 0.5s: GET /sleep/slow" in g.read_log()


def test_request_timeout_after_the_response_began_closes_it(start):
    g = start(env={"VTHREADS_REQUEST_TIMEOUT": "0.5"})
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=30)
    try:
        conn.request("GET", "/stream?30")
        resp = conn.getresponse()
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert info.value.partial == b"first;"
    finally:
        conn.close()
    assert g.get("/after")[0] == 200


def test_bad_request_timeout_stops_the_worker_with_a_clear_error(start,
                                                                 tmp_path):
    (tmp_path / "app.py").write_text(APP)
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-k", "vthreads.gunicorn.Worker",
         "-b", "127.0.0.1:0", "--no-control-socket", "app:app"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT,
                 VTHREADS_REQUEST_TIMEOUT="soon"))
    assert proc.returncode != 0
    assert "VTHREADS_REQUEST_TIMEOUT must be a number of seconds, not 'soon'" \
        in proc.stderr


def test_preload_warns_about_modules_that_kept_blocking_functions(start):
    g = start("--preload")
    log = g.wait_for_log(r"vthreads: time was patched after [^\n]*")
    assert "app" in log
    assert "with --preload the application was imported before" in g.read_log()


def test_a_storm_of_signals_does_not_wedge_the_worker(start):
    # Handlers run between any two bytecodes of the main thread; thousands
    # of them while it waits inside vthreads must not deadlock it.  The
    # requests outlive the storm, so the worker is there for all of it.
    g = start("--graceful-timeout", "30")
    worker = g.stats()["pid"]
    threads, results = clients(g, [f"/sleep/{i}?6" for i in range(10)])
    g.wait_in_flight(10)
    end = time.monotonic() + 2.0
    sent = 0
    while sent < 3000 and time.monotonic() < end:
        os.kill(worker, signal.SIGUSR1)     # spaced, so most are handled
        if sent % 100 == 0:                 # one by one
            os.kill(worker, signal.SIGTERM)
        sent += 1
        time.sleep(0.0002)
    assert sent >= 500
    g.signal(signal.SIGTERM)
    join(threads)
    assert [r[0] for r in results] == [200] * 10, results
    assert g.wait() == 0
    assert f"Worker exiting (pid: {worker})" in g.read_log()


def test_preload_with_the_master_patched_in_the_config_file(start, tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text(
        "import vthreads.monkey\nvthreads.monkey.patch_all()\n")
    g = start("-c", "gunicorn.conf.py", "--preload")
    threads, results = clients(g, [f"/sleep/{i}?0.5" for i in range(50)])
    join(threads)
    assert [r[0] for r in results] == [200] * 50
    assert g.stats()["max"] >= 25
    assert "vthreads:" not in g.read_log()       # nothing patched too late
    g.signal(signal.SIGTERM)
    assert g.wait() == 0
