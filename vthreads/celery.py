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

Each task runs in a vthread of its own.  ``--concurrency`` bounds how many
run at once: ``on_apply`` waits for a free slot before it spawns, so the
consumer parks when the pool is full, as gevent's pool makes it;
``--autoscale`` moves the bound (``grow``/``shrink``).

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
- ``revoke(task_id, terminate=True)`` cancels the task's vthread.

Threads: every method is called from the worker's vthreads (the consumer,
celery's timer, the pidbox, the tasks).  ``_free`` (a Condition) guards
``_running`` and ``limit``.
"""

import time

from celery.concurrency import base

import vthreads
import vthreads.monkey

__all__ = ["TaskPool"]


class _Job:
    """What ``on_apply`` returns: celery keeps it (weakly) to terminate the
    task through it."""

    __slots__ = ("vthread", "__weakref__")

    def __init__(self, vthread):
        self.vthread = vthread

    def terminate(self, signal=None):
        self.vthread.cancel()

    def wait(self, timeout=None):
        self.vthread.join(timeout)


class TaskPool(base.BasePool):
    """Celery pool: one vthread per task, at most ``--concurrency`` at once."""

    is_green = True              # celery's blocking synloop, not its hub
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
        self._taken = 0             # slots taken: tasks spawned, not ended
        self._running = {}          # vthread ident -> VThread

    def spawn_n(self, fn, *args, **kwargs):
        """Run celery's own loops (the pidbox) in a vthread."""
        return vthreads.spawn(fn, *args, **kwargs)

    def on_apply(self, target, args=None, kwargs=None, callback=None,
                 accept_callback=None, timeout=None, soft_timeout=None,
                 timeout_callback=None, **_):
        with self._free:
            self._free.wait_for(lambda: self._taken < self.limit)
            self._taken += 1
        try:
            vt = vthreads.spawn(self._run, target, args or (), kwargs or {},
                                callback, accept_callback, timeout,
                                soft_timeout, timeout_callback,
                                name="celery-task")
        except BaseException:
            self._release()
            raise
        return _Job(vt)

    def _release(self):
        with self._free:
            self._taken -= 1
            self._free.notify()

    def grow(self, n=1):
        with self._free:
            self.limit += n
            self._free.notify(n)

    def shrink(self, n=1):
        with self._free:
            self.limit = max(1, self.limit - n)

    def _run(self, target, args, kwargs, callback, accept_callback,
             hard, soft, timeout_callback):
        me = vthreads.current()
        with self._free:
            self._running[me.ident] = me
        try:
            limits = [t for t in (soft, hard) if t]
            limit = min(limits, default=None)
            if limit is None:
                base.apply_target(target, args, kwargs, callback,
                                  accept_callback, pid=me.ident)
                return
            with vthreads.move_on_after(limit) as scope:
                base.apply_target(target, args, kwargs, callback,
                                  accept_callback, pid=me.ident)
            if scope.cancelled_caught and timeout_callback is not None:
                if limit == soft:
                    timeout_callback(True, soft)     # celery's warning
                timeout_callback(False, limit)       # recorded as failed
        except vthreads.Cancelled:
            # Revoked with terminate=True: celery has announced it already.
            pass
        finally:
            with self._free:
                self._running.pop(me.ident, None)
            self._release()

    def terminate_job(self, pid, signal=None):
        with self._free:
            vt = self._running.get(pid)
        if vt is not None:
            vt.cancel()

    def on_stop(self):
        """Warm shutdown: wait for the tasks that run."""
        while True:
            with self._free:
                running = list(self._running.values())
            if not running:
                return
            for vt in running:
                vt.join()

    def on_terminate(self):
        """Cold shutdown: cancel them."""
        with self._free:
            running = list(self._running.values())
        for vt in running:
            vt.cancel()
        deadline = time.monotonic() + 5.0
        for vt in running:
            vt.join(max(0.0, deadline - time.monotonic()))

    def _get_info(self):
        info = super()._get_info()
        with self._free:
            info["running"] = len(self._running)
        return info

    @property
    def num_processes(self):
        return self.limit
