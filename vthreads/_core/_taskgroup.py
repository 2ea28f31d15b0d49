"""TaskGroup: structured concurrency over vthreads.

``with TaskGroup() as tg: tg.spawn(fn)`` waits for every child.  The
children live under the group's scope (``cancel_scope``), in the cancel
tree (_cancel): whatever cancels that scope or one around the group --
``cancel()``, a deadline, the first child failure, the owner's own
cancellation -- cancels them, and a shield around the group protects
them.  The owner waits for them inside that scope, so a cancellation that
ends the group is caught by the scope it came from.  Errors come out
together as a BaseExceptionGroup.

Threads: the owner task enters and exits; any task may spawn.  Children
finish on any carrier and call ``_child_done`` there; ``_lock`` guards
``_children``, ``_errors`` and the "all done" waiters.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable

from .. import _originals as _o
from ._block import block
from ._cancel import CancelScope, check, close_group, open_group
from ._completion import add_waiter, complete, remove_waiter
from ._errors import Cancelled
from ._runtime import runtime_here
from ._threadtask import current_task

if TYPE_CHECKING:
    from ._vthread import VThread


class TaskGroup:
    """Structured concurrency: ``with TaskGroup() as tg: tg.spawn(fn)``.

    The with-block does not end until every child has.  The children run
    inside the group's cancel scope (``cancel_scope``) and every scope
    around the group: cancelling any of them, or the first child (or the
    body) failing, cancels them all.  Errors come out together as a
    BaseExceptionGroup; a child that was cancelled is not an error.  The
    task that entered the group must exit it; any task may spawn into it
    while it is open.
    """
    __slots__ = ("_scope", "_lock", "_children", "_errors", "_entered",
                 "_closed", "_done", "_waiters", "_result", "_exc")

    def __init__(self) -> None:
        self._scope = CancelScope()
        self._lock = _o.allocate_lock()
        self._children: set[VThread] = set()
        self._errors: list[BaseException] = []
        self._entered = False
        self._closed = False
        self._done = False       # "no children left" -- see _completion
        self._waiters = None
        self._result = self._exc = None

    def __repr__(self):
        return f"<TaskGroup children={len(self._children)} errors={len(self._errors)}>"

    @property
    def cancel_scope(self) -> CancelScope:
        """The group's CancelScope: ``cancel()`` stops the body and every child."""
        return self._scope

    def __enter__(self) -> TaskGroup:
        if self._entered:
            raise RuntimeError("a TaskGroup can be entered only once")
        self._entered = True
        self._scope.__enter__()
        open_group(self)
        return self

    def spawn(self, fn: Callable[..., object], *args: Any, name: object = None,
              **kwargs: Any) -> VThread:
        """Start a child vthread that the group waits for."""
        if not callable(fn):
            raise TypeError(f"spawn() needs a callable, not {type(fn).__name__}")
        if not self._entered or self._closed:
            raise RuntimeError("TaskGroup.spawn() outside its with-block")
        while True:
            with self._lock:
                # The group is set before the child is queued: it may
                # finish on another carrier before spawn() returns.
                vt = runtime_here().spawn(fn, args, kwargs,
                                         None if name is None else str(name),
                                         group=self)
                if vt is None:
                    continue
                self._children.add(vt)
            return vt

    def _children_now(self):
        with self._lock:
            return list(self._children)

    def _child_done(self, vt):
        exc = vt._exc
        with self._lock:
            self._children.discard(vt)
            failed = exc is not None and not isinstance(exc, Cancelled)
            if failed:
                self._errors.append(exc)
            empty = self._closed and not self._children
        if failed:
            self._scope.cancel()         # the body and the other children
        if empty:
            complete(self, None, None)

    def _wait_children(self):
        """Wait, inside the group's scope, until no child is left.

        Returns the Cancelled that came meanwhile, or None.  A cancellation
        from this scope or one around it reaches the children as well:
        wait on for them, shielded, then hand it back to go on outwards.
        """
        with self._lock:
            self._closed = True
            empty = not self._children
        if empty:
            complete(self, None, None)
        try:
            self._park()
            # A deadline can end the children just before it would have
            # woken us: leaving is a checkpoint, so it is seen here.
            check(current_task())
            return None
        except Cancelled as c:
            with CancelScope(shield=True):
                self._park()
            return c

    def _park(self):
        block("TASKGROUP", self, self._add_waiter, self._remove_waiter)

    def _add_waiter(self, ticket):
        add_waiter(self, ticket)

    def _remove_waiter(self, ticket):
        remove_waiter(self, ticket)

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        scope = self._scope
        failed = cancelled = None
        if exc_type is not None:
            if issubclass(exc_type, Cancelled):
                cancelled = exc
            else:
                failed = exc
                scope.cancel()           # the body failed: stop the children
        try:
            came = self._wait_children()
        except BaseException:
            # Left early (KeyboardInterrupt): the children must not go on
            # as if the group were still there.
            scope.cancel()
            close_group(self)
            scope.__exit__(None, None, None)
            raise
        close_group(self)
        if cancelled is None:
            cancelled = came
        errors = list(self._errors)
        if failed is not None:
            errors.insert(0, failed)
        if errors:
            eg = BaseExceptionGroup("errors in a TaskGroup", errors)
            scope.__exit__(type(eg), eg, eg.__traceback__)
            raise eg
        if cancelled is None:
            return scope.__exit__(None, None, None)
        if scope.__exit__(Cancelled, cancelled, cancelled.__traceback__):
            return True                  # ours: the group ends normally
        if cancelled is exc:
            return False                 # the body's: it goes on as it is
        raise cancelled
