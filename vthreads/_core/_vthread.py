"""VThread: the handle of a virtual thread, and how it parks and wakes.

Life of a vthread: NEW (queued, not started; may be stolen by any carrier)
-> RUNNING on the carrier that started it, for good (a greenlet never
changes thread) <-> PARKED (switched away, a ticket out) -> DONE.

Threads and guards:
- Owner carrier thread only: ``_g``, ``_state``, ``_ticket``, ``_reason``,
  ``_waiting_on``, ``_interrupted``, ``_scope`` (a task group's child
  starts with its group's scope there, see _cancel).  Other threads read
  ``_state`` / ``_reason`` only for repr and dumps, as hints.
- The stripe lock (``_completion.stripe(vt)``): ``_carrier`` (written once,
  at start), ``_cancel_requested``, ``_pending``, ``_done``, ``_waiters``,
  ``_groups`` (the stripe lock is the vthread's ``_tree_lock()``, see
  _cancel), and the result fields, which are written before ``_done``
  under it.
  ``_parent`` and ``_born`` are written once, by the spawning thread,
  before the vthread is queued, and only read after (dumps).
  The owner reads ``_pending`` without the lock as a hint (None is the
  common case) and takes it under the lock.
- Waking (``_resume``) is legal from any thread: on the owner thread it
  appends to the run queue, elsewhere it posts to the carrier's inbox.
  Each ticket is fired at most once and the vthread parks exactly once per
  ticket, so every park gets exactly one resume.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from .. import _originals as _o
from ._block import block, timeout_to_deadline, TIMEOUT
from ._cancel import interrupt_tree
from ._completion import add_waiter, complete, remove_waiter, stripe
from ._errors import Cancelled
from ._fork import on_child
from ._switch import getcurrent, leave
from ._ticket import INTERRUPT, READY, Ready, Ticket

NEW, RUNNING, PARKED, DONE = "new", "running", "parked", "done"

_ids_lock = _o.allocate_lock()
on_child(_ids_lock._at_fork_reinit)  # type: ignore[attr-defined]
_next_block = [1]
_id_local = _o.ThreadLocal()


def _new_ident():
    """Unique idents without a shared counter per spawn: each thread takes
    blocks of 4096 under ``_ids_lock``."""
    loc = _id_local
    nxt = getattr(loc, "next", 0)
    if nxt == getattr(loc, "end", 0):
        with _ids_lock:
            nxt = _next_block[0]
            _next_block[0] = nxt + 4096
        loc.end = nxt + 4096
    loc.next = nxt + 1
    return nxt


class VThread:
    """A virtual thread.  Made by ``vthreads.spawn``; not constructed directly.

    A vthread always ends with an outcome: its return value or the
    exception it raised -- ``Cancelled`` if it was cancelled, even before it
    started.  ``result()`` returns the value or raises the exception;
    ``exception()`` returns the exception (or None) and never raises it, so
    ``p.exception() is not None`` means "gave no result" and ``cancelled()``
    says whether it was cancelled.  Why this differs from
    concurrent.futures: docs/primitives.md, "The outcome of a vthread".
    """

    __slots__ = ("_fn", "_args", "_kwargs", "_name", "ident", "_ctx", "_g",
                 "_carrier", "_state", "_ticket", "_reason", "_waiting_on",
                 "_interrupted", "_scope", "_groups", "_cancel_requested",
                 "_done", "_waiters", "_result", "_exc", "_retrieved", "_group",
                 "_pending", "_parent", "_born", "__weakref__")

    def __init__(self, fn: Any, args: Any, kwargs: Any, name: str | None, ctx: Any,
                 group: Any = None) -> None:
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._name = name
        self.ident = _new_ident()
        """A number unique among the process's vthreads."""
        self._ctx = ctx
        self._g = None
        self._carrier = None
        self._state = NEW
        self._ticket = None
        self._reason = None
        self._waiting_on = None
        self._interrupted = False
        # A group's child sees the group's scope and all around it.
        self._scope = None if group is None else group.cancel_scope
        self._groups = ()
        self._cancel_requested = False
        self._done = False
        self._waiters = None
        self._result = None
        self._exc = None
        self._retrieved = False
        self._group = group
        self._pending = None
        # Who spawned it, for dumps and ``pstree``: the spawner's ident (0
        # for an OS thread), not a reference, so a finished parent is not
        # kept alive by its children; 8 bytes, the int is the parent's own.
        me = getattr(getcurrent(), "vt", None)
        self._parent = 0 if me is None else me.ident
        self._born = _o.monotonic()     # for a dump's "age"

    # --- public API -------------------------------------------------------

    @property
    def name(self) -> str:
        """The vthread's name (``VThread-<ident>`` unless given); settable."""
        n = self._name
        return f"VThread-{self.ident}" if n is None else n

    @name.setter
    def name(self, value: object) -> None:
        self._name = str(value)

    def done(self) -> bool:
        """True once the vthread has finished, with any outcome."""
        return self._done

    def cancelled(self) -> bool:
        """True if the vthread has finished with Cancelled."""
        return self._done and isinstance(self._exc, Cancelled)

    def cancel(self) -> bool:
        """Ask the vthread to stop: ``Cancelled`` is raised at its next park.

        A vthread that has not started never runs.  Returns False if it had
        already finished.  Any thread.
        """
        with stripe(self):
            if self._done:
                return False
            already = self._cancel_requested
            self._cancel_requested = True
            started = self._carrier is not None
        if started and not already:
            interrupt_tree(self)        # and what runs in its groups
        return True

    def _throw(self, exc):
        """Raise ``exc`` in the vthread at its current or next park (or
        checkpoint).  Used to hand it an exception a signal handler raised
        in the main thread.  A later throw before that park replaces an
        earlier one.  False if the vthread has finished.  Any thread."""
        with stripe(self):
            if self._done:
                return False
            self._pending = exc
            started = self._carrier is not None
        if started:
            self._interrupt()
        return True

    def _take_pending(self):
        with stripe(self):
            exc, self._pending = self._pending, None
        return exc

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the vthread finishes; False if ``timeout`` passed first."""
        deadline = timeout_to_deadline(timeout)
        if self._done:
            return True
        if getattr(getcurrent(), "vt", None) is self:
            raise RuntimeError("cannot join the current vthread")
        if block("JOIN", self, self._add_waiter, self._remove_waiter,
                 deadline) is TIMEOUT:
            return self._done
        return True

    def result(self, timeout: float | None = None) -> Any:
        """The return value; re-raises the vthread's exception (its
        Cancelled if it was cancelled).  TimeoutError if not done within
        ``timeout``."""
        if not self.join(timeout):
            raise TimeoutError(f"{self.name} did not finish in time")
        self._retrieved = True
        exc = self._exc
        if exc is not None:
            raise exc
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The exception the vthread ended with, or None if it returned.
        A cancelled vthread's Cancelled is returned, not raised.
        TimeoutError if not done within ``timeout``."""
        if not self.join(timeout):
            raise TimeoutError(f"{self.name} did not finish in time")
        self._retrieved = True
        return self._exc

    def __repr__(self):
        state = self._state
        if state == DONE:
            state = "cancelled" if self.cancelled() else (
                "failed" if self._exc is not None else "done")
        extra = ""
        if state == PARKED:
            extra = f" on {self._reason}"
            obj = self._waiting_on
            if obj is not None and obj is not self:
                extra += f" {_short(obj)}"
        c = self._carrier
        where = f" carrier={c.index}" if c is not None and state != DONE else ""
        return f"<VThread {self.name!r} {state}{extra}{where}>"

    # --- waiting on completion (any thread) -------------------------------

    def _add_waiter(self, ticket):
        add_waiter(self, ticket)

    def _remove_waiter(self, ticket):
        remove_waiter(self, ticket)

    # --- parking (owner thread) -------------------------------------------

    def _new_ticket(self, io=False):
        return Ticket((self,))

    def _park(self, ticket, reason, obj, deadline):
        c = self._carrier
        self._ticket = ticket
        self._reason = reason
        self._waiting_on = obj
        if self._interrupted:
            self._interrupted = False
            ticket.fire(INTERRUPT)
        elif deadline is not None:
            c.add_timer(deadline, ticket)
        self._state = PARKED
        c.parks += 1
        leave(c)
        self._state = RUNNING
        self._ticket = self._reason = self._waiting_on = None
        value = ticket.value
        if deadline is not None and value is not TIMEOUT:
            c.timers.went_stale()
        return value

    def _park_io(self, ticket, pairs, reason, obj, deadline):
        """Park until one of ``pairs`` ((fd, READ|WRITE), ...) is ready.
        A pair may carry the poller's ``key`` third: (fd, events, key)."""
        poller = self._carrier.poller
        if len(pairs) == 1:                 # the common case, kept lean
            pair = pairs[0]
            fd, events = pair[0], pair[1]
            if not poller.register(fd, events, ticket,
                                   pair[2] if len(pair) > 2 else None):
                ticket.fire(READY[events])  # a regular file: ready now
                return self._park(ticket, reason, obj, deadline)
            value = self._park(ticket, reason, obj, deadline)
            if value.__class__ is not Ready:
                poller.unregister(fd, ticket)
            return value
        done = []
        try:
            for pair in pairs:
                fd, events = pair[0], pair[1]
                if not poller.register(fd, events, ticket,
                                       pair[2] if len(pair) > 2 else None):
                    ticket.fire(READY[events])  # a regular file: ready now
                    break
                done.append(fd)
        except BaseException:
            for fd in done:
                poller.unregister(fd, ticket)
            raise
        value = self._park(ticket, reason, obj, deadline)
        if len(done) > 1 or value.__class__ is not Ready:
            # The poller drops only the registration that fired.
            for fd in done:
                poller.unregister(fd, ticket)
        return value

    def _yield(self):
        """Go to the back of the run queue (sleep(0))."""
        c = self._carrier
        c.runq.append(self)
        self._state = PARKED
        self._reason = "YIELD"
        leave(c)
        self._state = RUNNING
        self._reason = None

    # --- waking (any thread) ----------------------------------------------

    def _resume(self, ticket=None):
        c = self._carrier
        if c.thread_id == _o.get_ident():
            c.runq.append(self)
        else:
            c.post_ready(self)

    def _tree_lock(self):
        return stripe(self)

    def _interrupt(self):
        c = self._carrier
        if c is None:
            return          # not started: the start checks the flags
        if c.thread_id == _o.get_ident():
            self._interrupt_local()
        else:
            c.post_call(self._interrupt_local)

    def _interrupt_local(self):
        """On the owner thread: end the current park, or flag the next one."""
        if self._state == DONE:
            return
        t = self._ticket if self._state == PARKED else None
        if t is None or not t.fire(INTERRUPT):
            self._interrupted = True

    # --- running and finishing (owner thread) -----------------------------

    def _main(self):
        """The greenlet's body.  Keeps no local reference to ``self`` while
        user code runs, so a traceback does not make a cycle with it."""
        fn, args, kwargs = self._fn, self._args, self._kwargs
        self._fn = self._args = self._kwargs = None
        del self
        try:
            # Plain calls for the common arities: CPython 3.11/3.12 run a
            # Python callee of CALL in the same C eval frame, but ``f(*a)``
            # re-enters the eval loop, and every parked vthread would keep
            # that second C frame in its saved stack (~1.5 KB).
            n = len(args)
            if kwargs:
                result = fn(*args, **kwargs)
            elif n == 0:
                result = fn()
            elif n == 1:
                result = fn(args[0])
            elif n == 2:
                result = fn(args[0], args[1])
            elif n == 3:
                result = fn(args[0], args[1], args[2])
            else:
                result = fn(*args)
        except BaseException as exc:
            getcurrent().vt._finish(None, exc)
        else:
            getcurrent().vt._finish(result, None)

    def _finish(self, result, exc):
        if exc is not None and exc.__traceback__ is not None:
            exc.__traceback__ = exc.__traceback__.tb_next  # drop _main
        c = self._carrier
        if c is not None:
            c.live.discard(self)
            g = self._g
            if g is not None:
                g.vt = None
            self._g = None
        self._state = DONE
        self._ticket = self._reason = self._waiting_on = None
        self._scope = None
        complete(self, result, exc)
        group = self._group
        if group is not None:
            group._child_done(self)

    def __del__(self):
        exc = self._exc
        if exc is None or self._retrieved or isinstance(exc, Cancelled):
            return
        if self._group is not None:
            return
        report_unhandled(self, exc)


class ExceptHookArgs:
    """What ``vthreads.excepthook`` receives, shaped like threading's."""

    __slots__ = ("exc_type", "exc_value", "exc_traceback", "vthread")

    def __init__(self, exc: BaseException, vt: VThread | None) -> None:
        if not isinstance(exc, BaseException):
            raise TypeError(f"ExceptHookArgs needs an exception, not "
                            f"{type(exc).__name__}")
        if vt is not None and not isinstance(vt, VThread):
            raise TypeError(f"ExceptHookArgs needs a VThread or None, not "
                            f"{type(vt).__name__}")
        self.exc_type = type(exc)
        """The exception's class."""
        self.exc_value = exc
        """The exception nobody retrieved."""
        self.exc_traceback = exc.__traceback__
        """Its traceback."""
        self.vthread = vt
        """The VThread it ended, or None."""


def default_excepthook(args: ExceptHookArgs) -> None:
    """Print the traceback of an exception nobody retrieved, like threading."""
    if not isinstance(args, ExceptHookArgs):
        # threading.excepthook's own words
        raise TypeError("excepthook argument type must be ExceptHookArgs")
    stderr = sys.stderr
    if stderr is None:
        return
    name = args.vthread.name if args.vthread is not None else "?"
    print(f"Exception in vthread {name}:", file=stderr, flush=True)
    traceback.print_exception(args.exc_type, args.exc_value,
                              args.exc_traceback, file=stderr)
    stderr.flush()


def report_unhandled(vt, exc):
    # The hook is user-settable as ``vthreads.excepthook``; look it up there
    # at call time, as threading does with its own module attribute.
    pkg = sys.modules.get("vthreads")
    hook = getattr(pkg, "excepthook", None) or default_excepthook
    try:
        hook(ExceptHookArgs(exc, vt))
    except BaseException:
        try:
            default_excepthook(ExceptHookArgs(exc, vt))
        except BaseException:
            pass


def _short(obj):
    r = repr(obj)
    return r if len(r) <= 60 else r[:57] + "..."
