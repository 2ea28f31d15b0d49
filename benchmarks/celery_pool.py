"""Celery worker pools side by side against a real redis broker, in one run.

    VTHREADS_REDIS_PORT=PORT python3 benchmarks/celery_pool.py \\
        [--repeat R] [--tasks N] [--seconds S] [--concurrency C]
        [--pools vthreads,threads,gevent] [--loglevel info]

One worker process per pool, each started the way its users start it and
consuming its own queue, with redis as broker and result backend:

- ``vthreads``: ``CELERY_CUSTOM_WORKER_POOL=vthreads.celery:TaskPool
  python -m vthreads -m celery -A app worker --pool custom
  --concurrency C`` (1 carrier);
- ``threads``: ``python -m celery -A app worker -P threads -c C``;
- ``gevent``: ``python -m celery -A app worker -P gevent -c C`` (when
  gevent is installed: ``pip install -e '.[bench]'``).

Workers run with ``--loglevel info`` (two log lines per task) unless
told otherwise, and ``--without-mingle --without-gossip
--without-heartbeat``.  Once a worker has answered one task, a plain Celery
client in this process submits N tasks that ``time.sleep(S)`` (default 200
of 0.1 s at concurrency 200: 0.1 s ideally, 20 s one after another) and
waits for every result.  The time is from the first submit to the last
result; "submit" is the part of it the client spent sending.  "at once"
is the most tasks whose (start, end) spans, as the tasks report them,
overlapped; "worker CPU" the CPU time the worker process used meanwhile
(/proc, so Linux only).  The pools alternate, R rounds; the table shows
medians and each round.  The first round is the first load each worker
sees.  docs/integrations.md (Celery) has the numbers and their reading.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

APP = '''
import os, time
from celery import Celery
port = os.environ["VTHREADS_REDIS_PORT"]
app = Celery("bench_celery_app", broker=f"redis://127.0.0.1:{port}/7",
             backend=f"redis://127.0.0.1:{port}/8")
app.conf.broker_connection_retry_on_startup = True

@app.task
def nap(seconds):
    t0 = time.time()
    time.sleep(seconds)
    return [t0, time.time()]
'''


def most_at_once(spans):
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = best = 0
    for _, d in events:
        now += d
        best = max(best, now)
    return best


def command(kind, concurrency, loglevel):
    celery = ["-m", "celery", "-A", "bench_celery_app", "worker",
              "--loglevel", loglevel, "--without-mingle", "--without-gossip",
              "--without-heartbeat"]
    if kind == "vthreads":
        return ([sys.executable, "-m", "vthreads", *celery, "--pool",
                 "custom", "--concurrency", str(concurrency)],
                {"CELERY_CUSTOM_WORKER_POOL": "vthreads.celery:TaskPool",
                 "VTHREADS_CARRIERS": "1"})
    return [sys.executable, *celery, "-P", kind, "-c", str(concurrency)], {}


class Worker:
    def __init__(self, kind, workdir, concurrency, loglevel):
        self.kind = kind
        self.queue = f"bench-{kind}-{uuid.uuid4().hex[:8]}"
        argv, extra = command(kind, concurrency, loglevel)
        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{workdir}",
                   **extra)
        self.log_path = os.path.join(workdir, f"{kind}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv + ["-Q", self.queue], cwd=workdir,
                                     env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, nap):
        """Until the worker has answered one task: connected, consuming."""
        first = nap.apply_async((0,), queue=self.queue)
        end = time.monotonic() + 60
        while not first.ready():
            if self.proc.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"{self.kind}: the worker did not start:\n"
                                 + open(self.log_path).read()[-3000:])
            time.sleep(0.05)
        first.get()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` (Linux's /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(worker, nap, tasks, seconds):
    cpu0 = cpu_seconds(worker.proc.pid)
    t0 = time.monotonic()
    results = [nap.apply_async((seconds,), queue=worker.queue)
               for _ in range(tasks)]
    submitted = time.monotonic() - t0
    spans = [r.get(timeout=120) for r in results]
    elapsed = time.monotonic() - t0
    return {"elapsed": elapsed, "submit": submitted,
            "at_once": most_at_once(spans),
            "cpu": cpu_seconds(worker.proc.pid) - cpu0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--pools", default="vthreads,threads,gevent")
    ap.add_argument("--loglevel", default="info")
    opts = ap.parse_args()
    if not os.environ.get("VTHREADS_REDIS_PORT"):
        raise SystemExit("set VTHREADS_REDIS_PORT to a redis-server's port "
                         "(.ci/servers.sh: start_redis PORT)")
    kinds = opts.pools.split(",")
    if "gevent" in kinds:
        try:
            import gevent  # noqa: F401  (only to know it is there)
        except ImportError:
            print("gevent is not installed: its column is left out")
            kinds.remove("gevent")

    with tempfile.TemporaryDirectory() as workdir:
        with open(os.path.join(workdir, "bench_celery_app.py"), "w") as f:
            f.write(APP)
        sys.path.insert(0, workdir)
        import bench_celery_app
        app, nap = bench_celery_app.app, bench_celery_app.nap
        workers = [Worker(k, workdir, opts.concurrency, opts.loglevel)
                   for k in kinds]
        try:
            for w in workers:
                w.wait_ready(nap)
            rounds = {k: [] for k in kinds}
            for _ in range(opts.repeat):
                for w in workers:
                    rounds[w.kind].append(
                        one_round(w, nap, opts.tasks, opts.seconds))
        finally:
            for w in workers:
                w.stop()
            app.close()

    print(f"\n{opts.tasks} tasks of {opts.seconds} s, concurrency "
          f"{opts.concurrency}, --loglevel {opts.loglevel}, {opts.repeat} "
          f"interleaved rounds, median (each round)")
    print("| pool | first submit to last result | submit | at once "
          "| worker CPU | time against vthreads |")
    print("|---|---:|---:|---:|---:|---:|")
    base = statistics.median(r["elapsed"] for r in rounds[kinds[0]])
    for k in kinds:
        got = rounds[k]
        med = {key: statistics.median(r[key] for r in got)
               for key in ("elapsed", "submit", "at_once", "cpu")}
        each = ", ".join(f"{r['elapsed']:.2f}" for r in got)
        print(f"| {k} | {med['elapsed']:.2f} s ({each}) | "
              f"{med['submit']:.2f} s | {med['at_once']:.0f} | "
              f"{med['cpu']:.2f} s | {med['elapsed'] / base:.2f} |")


if __name__ == "__main__":
    main()
