"""The main thread while ``run()`` waits: calls that must run there, and
exceptions its signal handlers raise.

CPython runs signal handlers only in the main thread, and only the main
thread may install them (``signal.signal``, ``signal.set_wakeup_fd``).
Under ``run()`` -- and so under ``python -m vthreads`` -- the program's
main code is a vthread on a carrier thread, while the real main thread
waits for it.  That wait serves two things:

- ``call_in_main(fn, *args)``: a vthread or OS thread posts a call, parks,
  and the main thread runs it and hands back the result.  With no main
  thread waiting in ``run()``, the call runs in the caller's own thread
  (where ``signal.signal`` raises its usual ValueError).
- A handler that raises while the main thread waits (KeyboardInterrupt
  from Ctrl-C, or any exception of the program's own) does not end the
  wait: the exception is thrown into the main vthread at its current or
  next park, as Python would raise it at the main thread's blocking call.
- After a plain OS thread ends, the wait ends by itself a few times, so
  that the main thread runs the pending call in which greenlet frees that
  thread's greenlets (``_reap_deadline``).

After a fork from a carrier (see _fork), the child's only thread is the
carrier, which CPython makes the child's main thread.  Nobody waits in
``run()`` there any more, so a vthread is set to end the child: when the
vthread that forked (the only one that goes on) finishes, the child runs
its atexit functions and exits -- with the status the interpreter would
give if that vthread was the program's main one, else 0, as when the
last thread of a process returns.

Threads: ``_lock`` guards ``_calls``, ``_ticket``, ``_alert``, ``_serving``
and ``_served``.  Only the main thread runs ``serve``; posters are any thread.
``_thread_ended`` writes ``_ended`` and reads ``_ticket`` without it (it
runs from finalizers); the main thread re-reads ``_ended`` after storing
its ticket, so an end is either seen there or fires that ticket.
"""

import os
import sys
from collections import deque
from typing import Any

from .. import _originals as _o
from .._poller import READ
from . import _deadlock
from ._block import block
from ._errors import Cancelled
from ._fork import on_child
from ._runtime import forked_carrier
from ._switch import getcurrent
from ._threadtask import on_thread_end, thread_task

__all__ = ["call_in_main", "serve"]

_lock = _o.allocate_lock()
_calls: deque[list[Any]] = deque()        # [fn, args, reply ticket, result, exc, taken]
_ticket = [None]        # the main thread's current park, while it serves
_alert = [False]        # the deadlock watch asks for a look (see _deadlock)
_serving = [False]
_served = [None]        # the vthread serve() waits for
_main = [_o.main_thread_ident]
_ended = [0.0]          # when a plain thread last ended (see _reap_deadline)
_REAP_AFTER = (0.01, 0.1, 1.0)


def in_main_thread():
    return _o.get_ident() == _main[0]


def main_ident():
    """The main thread's OS ident (after a fork: the child's)."""
    return _main[0]


def served():
    """The vthread the main thread waits for in ``run()``, or None: the
    program's main code under ``python -m vthreads``.  A hint, read
    without the lock."""
    return _served[0]


def serve(vt, queue, runtime=None):
    """In the main thread: ``queue()`` the unstarted ``vt`` (from the first
    park of the wait), then wait until it finishes, running posted calls
    and throwing handler exceptions into ``vt``; return ``vt``.

    ``vt`` is recorded as served before it is queued, so from its first
    bytecode it is the main thread (``get_ident()``: importlib's module
    locks hold their owner's ident across the first imports).  Once the
    wait begins, whatever a signal handler raises -- inside ``queue()``
    too, which is then simply called again -- goes to ``vt``, which
    raises it at its start if it has not started yet, as Python raises a
    signal at the program's first line.  Cancellation of the main
    thread's own scopes ends the wait with Cancelled.

    With ``runtime`` (the one ``vt`` goes to), the wait also watches it
    for a deadlock (see _deadlock) and throws DeadlockError into ``vt``
    when every vthread waits on a primitive that nothing can set."""
    with _lock:
        if _serving[0]:
            raise RuntimeError("run() is already waiting in the main thread")
        _serving[0] = True
    r = w = hook = watch = None
    try:
        # A signal until the loop: vt is not queued, the program never ran.
        r, w = _wakeup_pipe()
        if r is not None:
            # Its fd is part of the wait from the first round: make it
            # before the program runs, which may count its own fds.
            thread_task().prepare_io()
        hook = _UnraisableToMain(vt)
        with _lock:
            _served[0] = vt
        if runtime is not None and _deadlock.enabled:
            watch = _deadlock.Watch(runtime, vt, _wake_for_watch, _main[0])
            runtime.watch = watch
        start = [queue]
        while not vt.done():
            try:
                _serve_once(vt, r, start, watch)
                if watch is not None:
                    watch.check()
            except Cancelled:
                raise
            except BaseException as exc:
                # Raised by a signal handler, in the middle of the wait.
                if not vt._throw(exc):
                    raise
        return vt
    finally:
        if watch is not None and runtime.watch is watch:
            runtime.watch = None
        if hook is not None:
            hook.drop()
        if w is not None:
            _drop_wakeup_pipe(r, w)
        with _lock:
            _serving[0] = False
            _served[0] = None
            _ticket[0] = None
            _alert[0] = False
            stranded = list(_calls)
            _calls.clear()
        for call in stranded:
            _reply(call, None, RuntimeError("the main thread stopped serving"))


# Tests only (tests/test_startup.py): seconds the main thread sleeps right
# after it queued the main vthread, before it blocks -- the program runs
# while the main thread is not yet waiting, the widest start-up window.
_test_pause_after_queue = 0.0


class _UnraisableToMain:
    """While the main thread serves: a KeyboardInterrupt that its signal
    handler raised inside a finalizer or weakref callback -- which the
    collector runs in whichever thread allocates, here too, for the
    program's garbage -- is not lost as "Exception ignored": it goes to
    the main vthread like any other."""

    def __init__(self, vt):
        self.vt = vt
        self.prev = sys.unraisablehook
        sys.unraisablehook = self

    def __call__(self, args):
        if issubclass(args.exc_type, KeyboardInterrupt) and in_main_thread() \
                and self.vt._throw(args.exc_value):
            return
        self.prev(args)

    def drop(self):
        if sys.unraisablehook is self:  # the program did not set its own
            sys.unraisablehook = self.prev


def _wakeup_pipe():
    """(r, w): a pipe whose w end is the signal wake-up fd, or (None, None).

    A signal may land on a carrier thread, and ``interrupt_main()`` sends
    none at all: either way the main thread's wait would not end, and its
    Python handler would not run, until something else woke it.  CPython
    writes to the wake-up fd whichever thread takes the signal, so the main
    thread also waits for ``r`` to be readable.  If the program has a
    wake-up fd of its own, it is left alone (and this help is lost)."""
    try:
        r, w = _o.os_pipe()
    except OSError:
        return None, None
    _o.set_blocking(r, False)
    _o.set_blocking(w, False)
    try:
        old = _o.signal_set_wakeup_fd(w, warn_on_full_buffer=False)
    except (ValueError, OSError):
        old = None
    if old != -1:
        if old is not None:
            _o.signal_set_wakeup_fd(old)
        _o.os_close(r)
        _o.os_close(w)
        return None, None
    return r, w


def _drop_wakeup_pipe(r, w):
    current = _o.signal_set_wakeup_fd(-1)
    if current != w:                 # the program set its own since
        _o.signal_set_wakeup_fd(current)
    _o.os_close(r)
    _o.os_close(w)


def _drain(r):
    try:
        while _o.os_read(r, 512):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def _thread_ended():
    """In a plain OS thread, as it ends: have the main thread run bytecode
    soon (``_reap_deadline``).  Lock-free: it runs from a finalizer, maybe
    in a forked child or under ``_lock`` itself."""
    _ended[0] = _o.monotonic()
    t = _ticket[0]
    if t is not None:
        t.fire(None)


on_thread_end(_thread_ended)


def _reap_deadline(ended):
    """When the wait in ``run()`` should end by itself, or None.

    greenlet frees a finished thread's greenlets from a pending call, which
    it queues as that OS thread exits -- a little after its last bytecode --
    and which CPython runs only in the main thread, between two bytecodes.
    A main thread asleep here would let them pile up, one set per thread.
    So a few rounds after a thread ends end by themselves; the rounds coalesce
    over a burst of thread ends, and a late exit is caught by a later one.
    """
    now = _o.monotonic()
    for after in _REAP_AFTER:
        if ended + after > now:
            return ended + after
    return None


def _wake_for_watch():
    """From a carrier: end the main thread's wait, or its next one, so
    that it judges the watch's suspicion (never parks)."""
    with _lock:
        _alert[0] = True
        t = _ticket[0]
    if t is not None:
        t.fire(None)


def _serve_once(vt, r, start, watch=None):
    ended = _ended[0]

    def register(ticket):
        vt._add_waiter(ticket)
        with _lock:
            _ticket[0] = ticket
            wake = bool(_calls) or _alert[0]
        if wake or _ended[0] != ended:      # a thread ended since: re-time
            ticket.fire(None)
        if start[0] is not None:
            # The first wait queues the main vthread, at the last moment
            # before this thread blocks: the less Python code it runs
            # while the program does, the less likely a signal is handled
            # inside a finalizer or weakref callback the collector runs
            # here, where what the handler raises is lost (see design.md).
            start[0]()
            start[0] = None
            if _test_pause_after_queue:
                _o.sleep(_test_pause_after_queue)

    def unregister(ticket):
        with _lock:
            _ticket[0] = None
        vt._remove_waiter(ticket)

    deadline = _reap_deadline(ended)
    if watch is not None:
        again = watch.deadline()
        if again is not None:
            # Both are on the real clock; block() reads the library's,
            # which is the real one in the main thread (see _clock).
            deadline = again if deadline is None else min(deadline, again)
    if r is None:
        block("RUN", vt, register, unregister, deadline)
    else:
        block("RUN", vt, register, unregister, deadline, io=((r, READ),))
        _drain(r)       # the handlers run as soon as we execute bytecode
    with _lock:
        ticket, _ticket[0] = _ticket[0], None
        _alert[0] = False           # the caller calls watch.check() next
    if ticket is not None:          # woken by a call: not a waiter any more
        vt._remove_waiter(ticket)
    while True:
        with _lock:
            if not _calls:
                return
            call = _calls.popleft()
        fn, args = call[0], call[1]
        try:
            result = fn(*args)
        except BaseException as exc:
            _reply(call, None, exc)
        else:
            _reply(call, result, None)


def _reply(call, result, exc):
    call[3], call[4] = result, exc
    call[0] = call[1] = None
    call[2].fire(True)


def call_in_main(fn, *args):
    """Run ``fn(*args)`` in the main thread, if it waits in ``run()``, and
    return its result; otherwise run it here."""
    if in_main_thread():
        return fn(*args)
    call = [fn, args, None, None, None]

    def register(ticket):
        call[2] = ticket
        with _lock:
            if not _serving[0]:
                ticket.fire(False)
                return
            _calls.append(call)
            main = _ticket[0]
        if main is not None:
            main.fire(None)

    def unregister(ticket):
        with _lock:
            try:
                _calls.remove(call)
            except ValueError:
                pass

    if not block("MAIN_THREAD_CALL", fn, register, unregister):
        return fn(*args)        # nobody serves: as the stdlib would, here
    if call[4] is not None:
        exc, call[4] = call[4], None
        raise exc
    return call[3]


def _after_fork():
    _lock._at_fork_reinit()
    _calls.clear()
    _ticket[0] = None
    serving, main_vt = _serving[0], _served[0]
    _serving[0] = False
    _served[0] = None
    _main[0] = _o.get_ident()
    c = forked_carrier()
    if c is None:
        return
    me = getattr(getcurrent(), "vt", None)
    if me is not None:
        c.runtime.spawn(_exit_when_done, (me, serving and me is main_vt),
                        None, "vthreads-exit-after-fork")


on_child(_after_fork)


def _exit_when_done(vt, is_main):
    """End a forked child as the interpreter would end it."""
    vt.join()
    exc = vt._exc
    vt._retrieved = True
    code = 0
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
    elif exc is not None and not isinstance(exc, Cancelled):
        sys.excepthook(type(exc), exc, exc.__traceback__)
        code = 1 if is_main else 0      # a thread's error: the process goes on
    del exc
    try:
        import atexit
        atexit._run_exitfuncs()
    finally:
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
        os._exit(code)
