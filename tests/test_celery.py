"""Celery's worker on vthreads.celery:TaskPool, as a real process, against
a real redis broker.

Each test starts ``python -m vthreads -m celery -A app worker --pool
custom`` in a subprocess, as the docs tell users to, sends tasks from
this process with a plain Celery client, and stops the worker with a
signal.  Needs a redis-server: VTHREADS_REDIS_PORT names its port (.ci/run
starts one); skipped otherwise.  The tasks return their own start and end
times, so the tests measure how many ran at once instead of guessing.
"""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

celery = pytest.importorskip("celery")
redis = pytest.importorskip("redis")

PORT = os.environ.get("VTHREADS_REDIS_PORT")
pytestmark = pytest.mark.skipif(not PORT, reason="VTHREADS_REDIS_PORT unset")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APP = '''
import os, time
from celery import Celery
port = os.environ["VTHREADS_REDIS_PORT"]
queue = os.environ["CELERY_TEST_QUEUE"]
app = Celery("celery_app", broker=f"redis://127.0.0.1:{port}/5",
             backend=f"redis://127.0.0.1:{port}/6")
app.conf.task_default_queue = queue
app.conf.worker_prefetch_multiplier = 1
app.conf.task_track_started = True
app.conf.broker_connection_retry_on_startup = True

@app.task
def nap(i, seconds):
    t0 = time.time()
    time.sleep(seconds)
    return [i, t0, time.time()]
'''


def most_at_once(spans):
    """The largest number of (start, end) spans that overlap."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = best = 0
    for _, d in events:
        now += d
        best = max(best, now)
    return best


class Worker:
    def __init__(self, tmp_path, concurrency, *args, env=None):
        (tmp_path / "celery_app.py").write_text(APP)
        self.queue = f"vthreads-test-{uuid.uuid4().hex}"
        full_env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}",
                        VTHREADS_CARRIERS="1", CELERY_TEST_QUEUE=self.queue,
                        CELERY_CUSTOM_WORKER_POOL="vthreads.celery:TaskPool")
        full_env.update(env or {})
        self.log_path = tmp_path / "worker.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vthreads", "-m", "celery", "-A",
             "celery_app", "worker", "--pool", "custom", "--concurrency",
             str(concurrency), "--loglevel", "info", "--without-mingle",
             "--without-gossip", *args],
            cwd=tmp_path, env=full_env, stdout=self.log,
            stderr=subprocess.STDOUT)
        os.environ["CELERY_TEST_QUEUE"] = self.queue
        sys.path.insert(0, str(tmp_path))
        try:
            sys.modules.pop("celery_app", None)
            import celery_app
        finally:
            sys.path.pop(0)
        self.app = celery_app.app
        self.nap = celery_app.nap
        end = time.monotonic() + 60
        while "ready." not in self.read_log():
            assert self.proc.poll() is None, self.read_log()
            assert time.monotonic() < end, self.read_log()
            time.sleep(0.05)

    def read_log(self):
        return self.log_path.read_text()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
        self.app.close()


@pytest.fixture
def start(tmp_path, monkeypatch):
    monkeypatch.setenv("VTHREADS_REDIS_PORT", PORT)
    workers = []

    def start(concurrency, *args, env=None):
        w = Worker(tmp_path, concurrency, *args, env=env)
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.close()


def test_200_tasks_of_100ms_run_at_once(start):
    w = start(200)
    w.nap.delay(-1, 0).get(timeout=30)            # warm: connections made
    t0 = time.monotonic()
    results = [w.nap.delay(i, 0.1) for i in range(200)]
    got = [r.get(timeout=60) for r in results]
    elapsed = time.monotonic() - t0
    assert [g[0] for g in got] == list(range(200))
    # One after another would take 20 s and never overlap; -P threads
    # takes about 0.6 s here.  How many overlap depends on how fast the
    # consumer takes messages in, which a loaded machine slows.
    assert elapsed < 10, elapsed
    assert most_at_once([(g[1], g[2]) for g in got]) >= 10


def test_concurrency_bounds_the_tasks_at_once(start):
    w = start(5)
    got = [r.get(timeout=60) for r in
           [w.nap.delay(i, 0.2) for i in range(20)]]
    assert sorted(g[0] for g in got) == list(range(20))
    assert most_at_once([(g[1], g[2]) for g in got]) == 5


@pytest.mark.parametrize("limit", ["soft_time_limit", "time_limit"])
def test_time_limits_cancel_the_task_and_the_worker_goes_on(start, limit):
    from celery.exceptions import TimeLimitExceeded
    w = start(10)
    t0 = time.monotonic()
    slow = w.nap.apply_async((1, 30), **{limit: 0.5})
    with pytest.raises(TimeLimitExceeded):
        slow.get(timeout=30)
    assert time.monotonic() - t0 < 15             # not the task's 30 s
    assert w.nap.delay(2, 0.01).get(timeout=30)[0] == 2
    if limit == "soft_time_limit":
        assert "Soft time limit (0.5s) exceeded" in w.read_log()
    assert "Hard time limit (0.5s) exceeded" in w.read_log()


def test_revoke_with_terminate_cancels_the_task(start):
    w = start(10)
    slow = w.nap.delay(1, 30)
    end = time.monotonic() + 30
    while slow.state != "STARTED":
        assert time.monotonic() < end, slow.state
        time.sleep(0.05)
    t0 = time.monotonic()
    slow.revoke(terminate=True)
    while slow.state != "REVOKED":
        assert time.monotonic() - t0 < 15, slow.state
        time.sleep(0.05)
    assert w.nap.delay(2, 0.01).get(timeout=30)[0] == 2
    # Its vthread is gone: a warm shutdown does not wait 30 s for it.
    t0 = time.monotonic()
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(30) == 0
    assert time.monotonic() - t0 < 15


def test_sigterm_waits_for_the_tasks_in_flight(start):
    w = start(20)
    results = [w.nap.delay(i, 1.0) for i in range(10)]
    end = time.monotonic() + 30
    while not all(r.state == "STARTED" for r in results):
        assert time.monotonic() < end
        time.sleep(0.05)
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(60) == 0
    assert [r.get(timeout=10)[0] for r in results] == list(range(10))


def test_the_pool_outside_python_m_vthreads_says_how_to_run_it(tmp_path):
    (tmp_path / "celery_app.py").write_text(APP)
    r = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker",
         "--pool", "custom"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}",
                 VTHREADS_REDIS_PORT=PORT, CELERY_TEST_QUEUE="unused",
                 CELERY_CUSTOM_WORKER_POOL="vthreads.celery:TaskPool"))
    assert r.returncode != 0
    assert "runs under python -m vthreads" in r.stdout + r.stderr
