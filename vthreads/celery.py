"""A Celery execution pool that runs each task in a vthread.

    CELERY_CUSTOM_WORKER_POOL=vthreads.celery:TaskPool \\
        python -m vthreads -m celery -A app worker --pool custom --concurrency N

An integration, so a guest: it imports celery (only when this module is
imported) and uses nothing of vthreads but its public API.  See
docs/integrations.md for how to run it and what it costs.

``python -m vthreads`` patches the standard library before celery is
imported, and runs the worker's main code in a vthread, so the consumer
loop (kombu's ``drain_events``, its epoll and sockets) parks like any
other vthread instead of holding the carrier.  The pool says it is green
(``is_green``), so celery runs its plain blocking loop (``synloop``), as it
does for gevent and eventlet.

Tasks run in worker vthreads, started as needed up to ``--concurrency``
and kept: celery keeps per-thread state (``app.backend``, and with it a
result-backend connection, is a thread-local, so one per vthread), and a
vthread per task would pay a new backend connection for every task -- a
quarter of the worker's time in a profile.  ``--concurrency`` bounds the
tasks in flight: ``on_apply`` waits for a free slot, so the consumer
parks when the pool is full, as gevent's pool makes it; ``--autoscale``
moves the bound (``grow``/``shrink``).

Time limits and revocation are cancel scopes:

- the task runs in a cancel scope whose deadline is the first of its
  soft and hard time limits: when it passes, the task gets
  ``vthreads.Cancelled`` at its next park (its ``finally`` blocks and
  ``with`` exits run; a park in them is cancelled again, as everywhere in
  vthreads).  When the Cancelled has ended the task, celery is told as it
  is by its other pools: the soft limit's warning if it was the soft one,
  and the hard limit's failure (the task is recorded as failed with
  ``TimeLimitExceeded``).  Nothing stops a vthread between two parks: a
  task that computes without parking, or swallows ``Cancelled`` and
  returns, ends when it ends and is recorded as it ends;
- ``revoke(task_id, terminate=True)`` cancels the task's scope.

A cancelled task ends its scope, not its worker vthread, which goes on to
the next task.

Threads: every method is called from the worker's vthreads (the consumer,
celery's timer, the pidbox, the tasks).  ``_free`` (a Condition) guards
``limit``, ``_taken``, ``_scopes``, ``_revoked`` and ``_workers``; ``_jobs``
is a queue.
"""

import itertools
import time

from celery.concurrency import base

import vthreads
import vthreads.monkey

__all__ = ["TaskPool"]


class _Job:
    """What ``on_apply`` returns: celery keeps it (weakly) to terminate the
    task through it."""

    __slots__ = ("pool", "id", "__weakref__")

    def __init__(self, pool, job_id):
        self.pool = pool
        self.id = job_id

    def terminate(self, signal=None):
        self.pool.terminate_job(self.id, signal)


class TaskPool(base.BasePool):
    """Celery pool: tasks in vthreads, at most ``--concurrency`` at once.

    ``CELERY_CUSTOM_WORKER_POOL=vthreads.celery:TaskPool python -m vthreads
    -m celery -A app worker --pool custom``; it refuses to start outside
    ``python -m vthreads``.  A task's soft and hard time limits and
    ``revoke(terminate=True)`` cancel it at its next park.  Celery calls
    its methods; an application never does.
    """

    is_green = True              # celery's blocking loop, not its hub
    signal_safe = False
    task_join_will_block = False
    body_can_be_buffer = True

    def __init__(self, *args, **kwargs):
        if not vthreads.monkey.is_patched("socket") or \
                vthreads.current() is None:
            raise RuntimeError(
                "vthreads.celery:TaskPool runs under python -m vthreads: "
                "CELERY_CUSTOM_WORKER_POOL=vthreads.celery:TaskPool "
                "python -m vthreads -m celery -A APP worker --pool custom")
        super().__init__(*args, **kwargs)
        if not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"--concurrency must be a whole number >= 1, "
                             f"not {self.limit!r}")
        self._free = vthreads.Condition()
        self._taken = 0             # tasks accepted and not ended
        self._jobs = vthreads.Queue()
        self._workers = []          # worker vthreads, kept once started
        self._scopes = {}           # job id -> its CancelScope, while it runs
        self._revoked = {}          # job id -> True: terminated, not timed out
        self._ids = itertools.count(1)

    def spawn_n(self, fn, *args, **kwargs):
        """Run celery's own loops (the pidbox) in a vthread."""
        return vthreads.spawn(fn, *args, **kwargs)

    def on_apply(self, target, args=None, kwargs=None, callback=None,
                 accept_callback=None, timeout=None, soft_timeout=None,
                 timeout_callback=None, **_):
        job_id = next(self._ids)
        with self._free:
            self._free.wait_for(lambda: self._taken < self.limit)
            self._taken += 1
            start = len(self._workers) < self._taken
            if start:
                self._workers.append(None)      # its place, filled below
        if start:
            vt = vthreads.spawn(self._work, name="celery-worker")
            with self._free:
                self._workers[self._workers.index(None)] = vt
        self._jobs.put((job_id, target, args or (), kwargs or {}, callback,
                        accept_callback, timeout, soft_timeout,
                        timeout_callback))
        return _Job(self, job_id)

    def grow(self, n=1):
        with self._free:
            self.limit += n
            self._free.notify(n)

    def shrink(self, n=1):
        with self._free:
            self.limit = max(1, self.limit - n)

    def _work(self):
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._run(*job)
            finally:
                with self._free:
                    self._taken -= 1
                    self._free.notify()

    def _run(self, job_id, target, args, kwargs, callback, accept_callback,
             hard, soft, timeout_callback):
        limit = min([t for t in (soft, hard) if t], default=None)
        scope = (vthreads.CancelScope() if limit is None
                 else vthreads.move_on_after(limit))
        with self._free:
            self._scopes[job_id] = scope
        try:
            with scope:
                # apply_target turns any other BaseException into a lost
                # worker; the scope's own Cancelled must reach the scope.
                base.apply_target(target, args, kwargs, callback,
                                  accept_callback, pid=job_id,
                                  propagate=(vthreads.Cancelled,))
        finally:
            with self._free:
                self._scopes.pop(job_id, None)
                revoked = self._revoked.pop(job_id, False)
        if scope.cancelled_caught and not revoked and \
                timeout_callback is not None:
            if limit == soft:
                timeout_callback(True, soft)     # celery's warning
            timeout_callback(False, limit)       # recorded as failed
        # Otherwise a cancelled task was revoked with terminate=True, and
        # celery has announced it already.

    def terminate_job(self, pid, signal=None):
        with self._free:
            scope = self._scopes.get(pid)
            if scope is not None:
                self._revoked[pid] = True
        if scope is not None:
            scope.cancel()

    def on_stop(self):
        """Warm shutdown: the workers finish the tasks queued, then end."""
        with self._free:
            workers = list(self._workers)
        for _ in workers:
            self._jobs.put(None)
        for vt in workers:
            if vt is not None:
                vt.join()

    def on_terminate(self):
        """Cold shutdown: cancel the tasks that run."""
        with self._free:
            scopes = list(self._scopes.values())
            workers = list(self._workers)
        for scope in scopes:
            scope.cancel()
        for _ in workers:
            self._jobs.put(None)
        deadline = time.monotonic() + 5.0
        for vt in workers:
            if vt is not None:
                vt.join(max(0.0, deadline - time.monotonic()))

    def _get_info(self):
        info = super()._get_info()
        with self._free:
            info["running"] = len(self._scopes)
            info["workers"] = len(self._workers)
        return info

    @property
    def num_processes(self):
        return self.limit
