"""to_thread: run blocking work on helper OS threads and park the caller.

A bounded pool (``max_workers``, default min(32, cpus + 4) as in
concurrent.futures) of helper threads made on demand; idle helpers exit
after ``IDLE_EXIT`` seconds.  The caller parks on the job's completion.
Cancelling the caller ends its wait at once; a job not yet started is
dropped, a running one finishes in the background and its result is
discarded -- unless it calls ``check_cancelled()``, which then raises.

Threads and guards: ``_Pool._lock`` guards the job queue and the thread
counts; ``_cond`` (a real Condition on that lock) wakes idle helpers.  A
job's ``_done`` / ``_waiters`` / result fields follow _completion.
"""

from __future__ import annotations

import contextvars
import os
from typing import Callable, ParamSpec, TypeVar

from .. import _originals as _o
from ._block import block
from ._cancel import check as _check_cancel
from ._completion import add_waiter, complete, remove_waiter
from ._errors import Cancelled
from ._fork import on_child
from ._ownthread import OwnThread
from ._threadtask import current_task

IDLE_EXIT = 10.0
_local = _o.ThreadLocal()          # .job: the job a helper thread runs


class _Job:
    __slots__ = ("fn", "args", "kwargs", "ctx", "abandoned", "_done",
                 "_waiters", "_result", "_exc")

    def __init__(self, fn, args, kwargs, ctx):
        self.fn, self.args, self.kwargs, self.ctx = fn, args, kwargs, ctx
        self.abandoned = False
        self._done = False
        self._waiters = None
        self._result = self._exc = None

    def run(self):
        result = exc = None
        _local.job = self
        try:
            result = self.ctx.run(self.fn, *self.args, **self.kwargs)
        except BaseException as e:
            exc = e
        finally:
            _local.job = None
        self.fn = self.args = self.kwargs = self.ctx = None
        complete(self, result, exc)


class _Pool:
    def __init__(self, max_workers):
        self.max_workers = max_workers
        self._lock = _o.allocate_lock()
        self._cond = _o.Condition(self._lock)
        self._jobs = []
        self._threads = 0
        self._idle = 0

    def submit(self, job):
        with self._lock:
            self._jobs.append(job)
            if self._idle > len(self._jobs) - 1:
                self._cond.notify()
                return
            if self._threads >= self.max_workers:
                return
            self._threads += 1
        try:
            OwnThread(self._worker, "vthreads-helper").start()
        except BaseException:
            with self._lock:
                self._threads -= 1
            raise

    def _worker(self):
        while True:
            with self._lock:
                while not self._jobs:
                    self._idle += 1
                    woke = self._cond.wait(IDLE_EXIT)
                    self._idle -= 1
                    if not woke and not self._jobs:
                        self._threads -= 1
                        return
                job = self._jobs.pop(0)
            if not job.abandoned:
                job.run()

    def after_fork(self):
        """In a forked child the helpers are gone: start over, keeping the
        queued jobs."""
        jobs = [j for j in self._jobs if not j.abandoned]
        self.__init__(self.max_workers)
        for job in jobs:
            self.submit(job)

    def statistics(self):
        with self._lock:
            return {"threads": self._threads, "idle": self._idle,
                    "queued": len(self._jobs)}


_pool = _Pool(min(32, (os.cpu_count() or 1) + 4))
on_child(_pool.after_fork)


def pool_idle():
    """True if no to_thread job is queued or running (every helper
    thread waits for work, or is on its way out)."""
    s = _pool.statistics()
    return s["threads"] == s["idle"] and not s["queued"]


def helper_thread_count():
    """How many helper OS threads exist now."""
    return _pool.statistics()["threads"]


def check_cancelled() -> None:
    """Raise Cancelled if whoever waits for this code was cancelled.

    In a ``to_thread`` job, that is the vthread or thread that called
    ``to_thread``: once it is cancelled it stops waiting, and the job runs
    on for nothing unless it looks (anyio's ``from_thread.check_cancelled``).
    Anywhere else, it is the current vthread or thread and its cancel
    scopes, as ``checkpoint()`` checks them, without yielding.
    Any thread may call it.
    """
    job = getattr(_local, "job", None)
    if job is not None:
        if job.abandoned:
            raise Cancelled("the caller of to_thread() was cancelled")
        return
    _check_cancel(current_task())


_P = ParamSpec("_P")
_T = TypeVar("_T")


def to_thread(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``fn(*args, **kwargs)`` on a helper OS thread; park until done.

    Returns its result or raises its exception.  Works from vthreads and
    plain threads alike.
    """
    if not callable(fn):
        raise TypeError(f"to_thread() needs a callable, not {type(fn).__name__}")
    job = _Job(fn, args, kwargs, contextvars.copy_context())
    _pool.submit(job)
    try:
        block("TO_THREAD", fn,
              lambda t: add_waiter(job, t), lambda t: remove_waiter(job, t))
    except Cancelled:
        job.abandoned = True
        raise
    if job._exc is not None:
        raise job._exc
    return job._result
