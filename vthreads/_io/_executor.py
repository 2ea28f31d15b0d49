"""VThreadPoolExecutor: a concurrent.futures.Executor, one vthread a task.

Its futures wait on a vthreads Condition, so ``future.result()`` parks a
vthread (and still blocks a plain thread as usual).  ``max_workers``, if
given, bounds how many tasks run at once (a Semaphore); the default is no
bound -- vthreads are cheap.  ThreadPoolExecutor itself is left alone.

Threads: any.  ``_lock`` guards ``_shutdown`` and ``_running`` (each
task's vthread -> its future).
"""

from __future__ import annotations

import concurrent.futures as _cf
from typing import Any, Callable, ParamSpec, TypeVar

from .. import _originals as _o
from .._core import current, spawn
from .._sync import Condition, Semaphore


_P = ParamSpec("_P")
_T = TypeVar("_T")


class Future(_cf.Future[_T]):
    """A concurrent.futures.Future whose waits park vthreads."""

    def __init__(self) -> None:
        super().__init__()
        self._condition = Condition()  # type: ignore[assignment]


class VThreadPoolExecutor(_cf.Executor):
    """A ``concurrent.futures.Executor`` that runs each task in a new vthread.

    ``max_workers``, if given, bounds how many tasks run at once; the
    default is no bound.  Its futures' ``result()`` parks a vthread and
    blocks an OS thread.  Any thread may submit.
    """
    def __init__(self, max_workers: int | None = None,
                 thread_name_prefix: str = "") -> None:
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._sem = None if max_workers is None else Semaphore(max_workers)
        self._prefix = thread_name_prefix or "VThreadPoolExecutor"
        self._lock = _o.allocate_lock()
        self._shutdown = False
        self._running: dict[Any, Future[Any]] = {}
        self._count = 0

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args,
               **kwargs: _P.kwargs) -> Future[_T]:
        """Start ``fn(*args, **kwargs)`` in a vthread; return its Future."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._count += 1
            name = f"{self._prefix}_{self._count}"
            f: Future[_T] = Future()
            vt = spawn(self._work, f, fn, args, kwargs, name=name)
            self._running[vt] = f
        return f

    def _work(self, f, fn, args, kwargs):
        try:
            if self._sem is not None:
                self._sem.acquire()
            try:
                if not f.set_running_or_notify_cancel():
                    return
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    f.set_exception(exc)
                else:
                    f.set_result(result)
            finally:
                if self._sem is not None:
                    self._sem.release()
        finally:
            with self._lock:
                self._running.pop(current(), None)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new tasks; with ``wait``, wait for the running ones.

        ``cancel_futures`` cancels the futures that have not started yet.
        """
        with self._lock:
            self._shutdown = True
            running = list(self._running.items())
        if cancel_futures:
            for _, f in running:
                f.cancel()        # only those not running yet
        if wait:
            for vt, _ in running:
                vt.join()
