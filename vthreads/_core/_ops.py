"""The core's public operations: spawn, run, sleep, checkpoint, fd waits.

Each works in a vthread (parks it) and in a plain OS thread (blocks it),
honouring cancel scopes in both.

Threads: any caller thread.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .. import _originals as _o
from . import _clock
from .._poller import READ, WRITE, as_fd
from ._block import block, timeout_to_deadline, TIMEOUT
from ._cancel import check as _check_cancel, check_seconds
from ._mainthread import in_main_thread, serve
from ._errors import DeadlockError
from ._runtime import get_runtime, new_claim, runtime_here, shutdown_runtime
from ._switch import getcurrent
from ._threadtask import current_task, thread_task

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike
    from ._vthread import VThread

__all__ = ["spawn", "run", "current", "sleep", "checkpoint",
           "wait_readable", "wait_writable"]

_T = TypeVar("_T")


def current() -> VThread | None:
    """The running VThread, or None in a plain OS thread."""
    vt = getattr(getcurrent(), "vt", None)
    if vt is None:
        # getcurrent() gave this thread greenlets: its task's end gets
        # them freed promptly (see _mainthread._reap_deadline).
        thread_task()
    return vt


def spawn(fn: Callable[..., object], *args: Any, name: object = None,
          **kwargs: Any) -> VThread:
    """Start ``fn(*args, **kwargs)`` in a new vthread and return its handle.

    ``name`` names it (default ``VThread-<ident>``).  Starts the runtime if
    none runs.  Any thread: a vthread, the main thread or any OS thread.
    Never waits, so never raises Cancelled; the new vthread is not inside
    the caller's cancel scopes (a TaskGroup's ``spawn`` puts it in the
    group's).
    """
    if not callable(fn):
        raise TypeError(f"spawn() needs a callable, not {type(fn).__name__}")
    if name is not None:
        name = str(name)
    while True:
        vt = runtime_here().spawn(fn, args, kwargs, name)
        if vt is not None:
            return vt
        # The runtime began shutting down under us: the next one takes it.


def run(main: Callable[..., _T], *args: Any, carriers: int | None = None) -> _T:
    """Run ``main(*args)`` in a vthread, wait, and return its result.

    Starts the runtime if needed (with ``carriers`` if given) and leaves it
    running.  Called from the main thread, the wait also runs the calls
    that must happen there (``signal.signal``) and hands any exception a
    signal handler raises -- KeyboardInterrupt on Ctrl-C -- to ``main``,
    at its current or next park (docs/design.md, "The main thread, signals
    and fork").  It also watches for a deadlock and then throws
    ``DeadlockError`` into ``main``; if ``main`` ends with it, the runtime
    is shut down (its vthreads cancelled) before ``run()`` raises it.
    """
    if not callable(main):
        raise TypeError(f"run() needs a callable, not {type(main).__name__}")
    rt = get_runtime(carriers)
    claim = new_claim(main, args, None, None)
    vt = claim[0]

    def queue():
        r = rt
        while not r.queue(claim):
            r = get_runtime()   # it began shutting down: the next one runs it

    if current() is None and in_main_thread():
        serve(vt, queue, rt)
        if isinstance(vt.exception(), DeadlockError):
            # Nothing in the runtime can run again: cancel its vthreads and
            # stop it, so that a program that ends with the error exits,
            # as Go's does (a patched thread's join at exit would wait for
            # ever).  The next spawn or run starts a fresh runtime.
            shutdown_runtime(rt, DEADLOCK_SHUTDOWN_TIMEOUT)
    else:
        queue()
    return vt.result()


DEADLOCK_SHUTDOWN_TIMEOUT = 5.0     # seconds for the cancelled to unwind


def sleep(seconds: float) -> None:
    """Park for ``seconds``.  ``sleep(0)`` is a checkpoint that yields.

    In an OS thread it blocks that thread.  Raises Cancelled if a cancel
    scope around it is cancelled or its deadline passes first.
    """
    seconds = check_seconds(seconds, "sleep length")
    if seconds == 0:
        checkpoint()
        return
    deadline = None if seconds == math.inf else _clock.now() + seconds
    block("SLEEP", None, None, None, deadline)


def checkpoint() -> None:
    """Raise Cancelled if the current task is cancelled; in a vthread, also
    let the other ready vthreads run."""
    task = current_task()
    _check_cancel(task)
    if getattr(task, "_carrier", None) is not None:
        task._yield()


def _wait_fd(fd, events, reason, timeout):
    fd = as_fd(fd)
    deadline = timeout_to_deadline(timeout)
    value = block(reason, fd, None, None, deadline, io=((fd, events),))
    if value is TIMEOUT:
        raise TimeoutError(f"fd {fd} was not ready in time")


def wait_readable(fd: FileDescriptorLike, timeout: float | None = None) -> None:
    """Park until ``fd`` (an int or an object with fileno()) is readable.

    Raises TimeoutError after ``timeout`` seconds, Cancelled if cancelled
    first.  In an OS thread it blocks that thread.
    """
    _wait_fd(fd, READ, "FD_READABLE", timeout)


def wait_writable(fd: FileDescriptorLike, timeout: float | None = None) -> None:
    """Park until ``fd`` is writable.  Raises TimeoutError after ``timeout``."""
    _wait_fd(fd, WRITE, "FD_WRITABLE", timeout)
