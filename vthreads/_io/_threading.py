"""threading.Thread, current_thread, local and get_ident over vthreads.

With ``monkey.patch_threading(threads=True)``, ``threading.Thread`` and
``_thread.start_new_thread`` start vthreads.  This module is their
implementation: a ``Thread`` with threading.Thread's public API (start,
run, join, is_alive, name, ident, native_id, daemon), a per-vthread
``current_thread()``, a ``local`` whose attributes are per task, and a
``get_ident`` that tells vthreads apart.  In a plain OS thread every
function here answers as the stdlib does.

Exit: like threading, the interpreter waits for non-daemon Threads before
it stops the runtime (a hook the runtime runs first at exit).

The vthread that ``run()`` runs for the main thread (the program's main
code under ``python -m vthreads``) answers as the main thread: its
``get_ident()`` is the main thread's and ``current_thread()`` is
``threading.main_thread()``, so threads it starts are non-daemon by
default and ``signal.pthread_kill(get_ident(), ...)`` reaches the real main
thread.  Other vthread idents are small numbers, not pthread_t values:
``pthread_kill`` and ``pthread_getcpuclockid`` translate them to their
carrier's (see ``os_ident``).

Threads: any.  ``_lock`` guards ``_by_vthread``, ``_by_ident`` (written
under it, read without: a WeakValueDictionary lookup), ``_non_daemon``,
``_started``; each ``local``'s own lock guards its per-task dicts (tasks on
different carriers touch them at the same instant).
"""

import signal as _std_signal
import sys as _sys
import threading as _std_threading
import weakref
from typing import Any

from .. import _originals as _o
from .._core import (Cancelled, OwnThread, current as _current_vthread,
                     current_task, on_child, spawn)
from .._core import add_exit_hook, call_in_main, main_ident, served

_lock = _o.allocate_lock()
on_child(_lock._at_fork_reinit)  # type: ignore[attr-defined]
# VThread -> Thread
_by_vthread: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
# vthread ident -> VThread
_by_ident: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_non_daemon: set[Any] = set()
_orig_current_thread = _std_threading.current_thread
_orig_excepthook = _std_threading.excepthook
_started = [0]      # running vthreads from Thread.start or start_new_thread


def _new_name(target):
    # threading's own counter, shared with its real Threads.
    name = f"Thread-{_std_threading._counter()}"
    try:
        name += f" ({target.__name__})"     # as threading names them
    except AttributeError:
        pass
    return name


class Thread:
    """threading.Thread's API, run in a vthread."""

    def __init__(self, group=None, target=None, name=None, args=(),
                 kwargs=None, *, daemon=None):
        if isinstance(self, _o.Thread):
            # A subclass of the stdlib's own Thread, defined before patching
            # (threading.Timer, threading's _DummyThread, a library's class)
            # calls "Thread.__init__(self)" and finds us: it keeps the
            # stdlib machinery, and so runs in a real OS thread.
            _o.Thread.__init__(self, group, target, name, args, kwargs,
                               daemon=daemon)
            return
        assert group is None, "group argument must be None for now"
        self._target, self._args = target, args
        self._kwargs = {} if kwargs is None else kwargs
        self._name = str(name) if name else _new_name(target)
        if daemon is None:
            daemon = current_thread().daemon
        self._daemonic = bool(daemon)
        self._vt = None
        self._started = False

    def __repr__(self):
        state = "initial"
        if self._started:
            state = "started" if self.is_alive() else "stopped"
        if self._daemonic:
            state += " daemon"
        if self.ident is not None:
            state += f" {self.ident}"
        return f"<{type(self).__name__}({self._name}, {state})>"

    def start(self):
        if self._started:
            raise RuntimeError("threads can only be started once")
        self._started = True
        with _lock:
            if not self._daemonic:
                _non_daemon.add(self)
            _started[0] += 1
        try:
            self._vt = spawn(self._bootstrap, name=self._name)
            with _lock:
                _by_ident[self._vt.ident] = self._vt
                _by_vthread[self._vt] = self    # enumerate() lists it now
        except BaseException:
            with _lock:
                _non_daemon.discard(self)
                _started[0] -= 1
            raise

    def _bootstrap(self):
        with _lock:
            _by_vthread[self._vt or _current_vthread()] = self
        try:
            self.run()
        except Cancelled:
            pass      # cancelled at exit, or by its owner: a quiet end
        except BaseException as exc:
            # SystemExit too: threading hands it to the hook, whose default
            # ignores it.
            self._report(exc)
        finally:
            with _lock:
                _non_daemon.discard(self)
                _started[0] -= 1

    def _report(self, exc):
        hook = getattr(_std_threading, "excepthook", _orig_excepthook)
        try:
            hook(_std_threading.ExceptHookArgs(
                (type(exc), exc, exc.__traceback__, self)))
        except BaseException as hook_exc:
            # As threading does when its hook fails.
            if _sys.stderr is not None:
                _sys.stderr.write("Exception in threading.excepthook:\n")
                _sys.stderr.flush()
            _sys.excepthook(type(hook_exc), hook_exc, hook_exc.__traceback__)

    def run(self):
        try:
            if self._target is not None:
                self._target(*self._args, **self._kwargs)
        finally:
            del self._target, self._args, self._kwargs

    def join(self, timeout=None):
        if not self._started:
            raise RuntimeError("cannot join thread before it is started")
        if self is current_thread():
            raise RuntimeError("cannot join current thread")
        if timeout is not None and timeout < 0:
            timeout = 0
        self._vt.join(timeout)

    def is_alive(self):
        return self._started and not self._vt.done()

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = str(value)

    @property
    def ident(self):
        return None if self._vt is None else self._vt.ident

    native_id = ident

    @property
    def daemon(self):
        return self._daemonic

    @daemon.setter
    def daemon(self, value):
        if self._started:
            raise RuntimeError("cannot set daemon status of active thread")
        self._daemonic = bool(value)

    def isDaemon(self):
        _deprecated("isDaemon() is deprecated, get the daemon attribute instead")
        return self._daemonic

    def setDaemon(self, value):
        _deprecated("setDaemon() is deprecated, set the daemon attribute instead")
        self.daemon = value

    def getName(self):
        _deprecated("getName() is deprecated, get the name attribute instead")
        return self._name

    def setName(self, value):
        _deprecated("setName() is deprecated, set the name attribute instead")
        self.name = value


def _deprecated(msg):
    import warnings
    warnings.warn(msg, DeprecationWarning, stacklevel=3)


class _DummyThread(Thread):
    """current_thread() of a vthread not started through Thread."""

    def __init__(self, vt):
        super().__init__(name=vt.name, daemon=True)
        self._vt = vt
        self._started = True


# threading's own at-fork code (which runs in the forking thread, between
# our before and after hooks) matches threads by OS ident: while a thread
# forks, it sees the real answers.  Only that thread: the others keep theirs.
_forking = [None]


def _before_fork():
    _forking[0] = _o.get_ident()


def _after_fork():
    _forking[0] = None


_o.register_at_fork(before=_before_fork, after_in_parent=_after_fork,
                    after_in_child=_after_fork)


def current_thread():
    vt = _current_vthread()
    if vt is None or _forking[0] == _o.get_ident():
        return _orig_current_thread()
    if vt is served():
        # The program's main code (python -m vthreads) is the main thread.
        return _std_threading.main_thread()
    with _lock:
        t = _by_vthread.get(vt)
        if t is None:
            t = _by_vthread[vt] = _DummyThread(vt)
    return t


def get_ident():
    vt = _current_vthread()
    if vt is None or (_forking[0] is not None
                      and _forking[0] == _o.get_ident()):
        return _o.get_ident()
    if vt is served():
        return main_ident()     # the main code is the main thread
    ident = vt.ident
    if ident not in _by_ident:
        with _lock:
            _by_ident[ident] = vt
    return ident


def os_ident(ident):
    """The OS thread ident behind a vthread's ident (its carrier's), for
    the C functions that take a pthread_t; other idents pass unchanged."""
    vt = _by_ident.get(ident)
    if vt is None:
        return ident
    c = vt._carrier
    if c is None or vt.done():
        raise ProcessLookupError(3, f"vthread {ident} is not running")
    return c.thread_id


def interrupt_main(signum=_std_signal.SIGINT):
    """_thread.interrupt_main, while the main thread waits in ``run()``
    for the program's main code (a vthread):
    - called from that vthread, the handler runs at once, in the caller,
      as CPython runs it when the main thread calls it;
    - called from another vthread, the main thread runs the handler before
      this returns, and what it raises is raised in the main vthread.
    Otherwise, and for plain threads, the stdlib's."""
    main = served()
    me = _current_vthread()
    if main is not None and me is not None:
        handler = _std_signal.getsignal(signum)
        if callable(handler):
            if me is main:
                handler(signum, _sys._getframe(1))
            else:
                call_in_main(_handle_in_main, handler, signum)
            return
    return _o.interrupt_main(signum)


def _handle_in_main(handler, signum):
    try:
        handler(signum, _sys._getframe(1))
    except BaseException as exc:
        main = served()
        if main is None or not main._throw(exc):
            raise


def pthread_kill(thread_id, signalnum):
    """signal.pthread_kill, given a vthread's ident: signals its carrier."""
    return _o.pthread_kill(os_ident(thread_id), signalnum)


def pthread_getcpuclockid(thread_id):
    """time.pthread_getcpuclockid for a vthread: its carrier's CPU clock."""
    return _o.pthread_getcpuclockid(os_ident(thread_id))


def _unraisable_args_type():
    # sys.unraisablehook only accepts its own UnraisableHookArgs, which has
    # no public constructor: catch one instance, once, at import.
    caught = []
    saved = _sys.unraisablehook
    _sys.unraisablehook = caught.append
    try:
        class Probe:
            def __del__(self):
                raise RuntimeError("probe")
        Probe()
    finally:
        _sys.unraisablehook = saved
    return type(caught[0])


_UnraisableHookArgs = _unraisable_args_type()


def _thread_main(function, args, kwargs):
    """A start_new_thread body, with _thread's rules: SystemExit ends it
    quietly, any other exception goes to sys.unraisablehook."""
    try:
        function(*args, **kwargs)
    except SystemExit:
        pass
    except BaseException as exc:
        _sys.unraisablehook(_UnraisableHookArgs(
            (type(exc), exc, exc.__traceback__,
             "Exception ignored in thread started by", function)))
        del exc
    finally:
        del function, args, kwargs
        with _lock:
            _started[0] -= 1


def start_new_thread(function, args, kwargs=None):
    """_thread.start_new_thread: a vthread; returns its ident."""
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")
    with _lock:
        _started[0] += 1
    try:
        vt = spawn(_thread_main, function, args, kwargs or {})
        with _lock:
            _by_ident[vt.ident] = vt
        return vt.ident
    except BaseException:
        with _lock:
            _started[0] -= 1
        raise


def thread_count():
    """_thread._count(): the program's threads -- its running vthreads from
    Thread.start or start_new_thread, and its own OS threads, not counting
    vthreads' own (carriers, helpers: see _core._ownthread)."""
    ours = sum(1 for t in _o.enumerate_threads() if isinstance(t, OwnThread))
    with _lock:
        return max(0, _o.thread_count() - ours) + _started[0]


def enumerate():
    """threading.enumerate(): the program's threads -- its OS threads
    without vthreads' own, then its live vthreads that threading would
    know: those started by Thread.start, and those current_thread() was
    asked about (as threading's dummy threads are)."""
    threads = [t for t in _o.enumerate_threads()
               if not isinstance(t, OwnThread)]
    with _lock:
        vthreads = list(_by_vthread.values())
    return threads + [t for t in vthreads if t.is_alive()]


def active_count():
    """threading.active_count(): ``len(enumerate())``, as threading's."""
    return len(enumerate())


class local:
    """threading.local: attributes private to each task (vthread or OS
    thread).  ``__init__`` runs again, with the constructor's arguments,
    the first time each task touches the object, as threading.local does."""

    __slots__ = ("_local__args", "_local__dicts", "_local__lock", "__weakref__")

    def __new__(cls, *args, **kw):
        if (args or kw) and cls.__init__ is object.__init__:
            raise TypeError("Initialization arguments are not supported")
        self = object.__new__(cls)
        object.__setattr__(self, "_local__args", (args, kw))
        object.__setattr__(self, "_local__dicts", weakref.WeakKeyDictionary())
        object.__setattr__(self, "_local__lock", _o.allocate_lock())
        return self

    def _local__dict(self):
        dicts = object.__getattribute__(self, "_local__dicts")
        task = current_task()
        with object.__getattribute__(self, "_local__lock"):
            d = dicts.get(task)
            fresh = d is None
            if fresh:
                d = dicts[task] = {}
        if fresh:
            init = type(self).__init__
            if init is not object.__init__:
                args, kw = object.__getattribute__(self, "_local__args")
                init(self, *args, **kw)
        return d

    def __getattribute__(self, name):
        if name in ("_local__args", "_local__dicts", "_local__lock",
                    "_local__dict", "__class__", "__dict__"):
            if name == "__dict__":
                return object.__getattribute__(self, "_local__dict")()
            return object.__getattribute__(self, name)
        d = object.__getattribute__(self, "_local__dict")()
        if name in d:
            return d[name]
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        if name == "__dict__":
            raise AttributeError("__dict__ is read-only")
        cls_attr = getattr(type(self), name, None)
        if hasattr(cls_attr, "__set__"):
            return object.__setattr__(self, name, value)
        object.__getattribute__(self, "_local__dict")()[name] = value

    def __delattr__(self, name):
        d = object.__getattribute__(self, "_local__dict")()
        try:
            del d[name]
        except KeyError:
            raise AttributeError(name) from None


def _join_non_daemon():
    """At exit: wait for non-daemon Threads, as threading._shutdown does."""
    while True:
        with _lock:
            pending = [t for t in _non_daemon if t.is_alive()]
        if not pending:
            return
        for t in pending:
            t.join()


add_exit_hook(_join_non_daemon)
