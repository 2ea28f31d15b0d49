"""TaskGroup: structured concurrency over vthreads.

``with TaskGroup() as tg: tg.spawn(fn)`` waits for every child.  The first
child failure cancels the body and the other children; cancelling the
owner cancels the children.  Errors come out together as a
BaseExceptionGroup.

Threads: the owner task enters, spawns and exits.  Children finish on any
carrier and call ``_child_done`` there; ``_lock`` guards ``_children``,
``_errors`` and the "all done" waiters.
"""

from .. import _originals as _o
from ._block import block
from ._cancel import CancelScope
from ._completion import add_waiter, complete, remove_waiter
from ._errors import Cancelled
from ._runtime import get_runtime


class TaskGroup:
    __slots__ = ("_scope", "_lock", "_children", "_errors", "_entered",
                 "_closed", "_done", "_waiters", "_result", "_exc")

    def __init__(self):
        self._scope = CancelScope()
        self._lock = _o.allocate_lock()
        self._children = set()
        self._errors = []
        self._entered = False
        self._closed = False
        self._done = False       # "no children left" -- see _completion
        self._waiters = None
        self._result = self._exc = None

    def __repr__(self):
        return f"<TaskGroup children={len(self._children)} errors={len(self._errors)}>"

    @property
    def cancel_scope(self):
        return self._scope

    def __enter__(self):
        if self._entered:
            raise RuntimeError("a TaskGroup can be entered only once")
        self._entered = True
        self._scope.__enter__()
        return self

    def spawn(self, fn, *args, name=None, **kwargs):
        """Start a child vthread that the group waits for."""
        if not callable(fn):
            raise TypeError(f"spawn() needs a callable, not {type(fn).__name__}")
        if not self._entered or self._closed:
            raise RuntimeError("TaskGroup.spawn() outside its with-block")
        while True:
            with self._lock:
                # The group is set before the child is queued: it may
                # finish on another carrier before spawn() returns.
                vt = get_runtime().spawn(fn, args, kwargs,
                                         None if name is None else str(name),
                                         group=self)
                if vt is None:
                    continue
                self._children.add(vt)
                if self._scope._cancel_called:
                    vt.cancel()
            return vt

    def _child_done(self, vt):
        exc = vt._exc
        with self._lock:
            self._children.discard(vt)
            failed = exc is not None and not isinstance(exc, Cancelled)
            if failed:
                self._errors.append(exc)
            others = list(self._children) if failed else ()
            empty = self._closed and not self._children
        if failed:
            self._scope.cancel()
            for other in others:
                other.cancel()
        if empty:
            complete(self, None, None)

    def _cancel_children(self):
        with self._lock:
            children = list(self._children)
        for vt in children:
            vt.cancel()

    def _wait_children(self):
        with self._lock:
            self._closed = True
            empty = not self._children
        if empty:
            complete(self, None, None)
        block("TASKGROUP", self, self._add_waiter, self._remove_waiter)

    def _add_waiter(self, ticket):
        add_waiter(self, ticket)

    def _remove_waiter(self, ticket):
        remove_waiter(self, ticket)

    def __exit__(self, exc_type, exc, tb):
        body_exc = exc
        if exc_type is not None and not issubclass(exc_type, Cancelled):
            self._cancel_children()      # the body failed: stop the children
        try:
            swallowed = self._scope.__exit__(exc_type, exc, tb)
        except BaseException as e:      # out-of-order exit: still wait
            body_exc, swallowed = e, False
        if swallowed:
            body_exc = None
        outer_cancel = None
        try:
            self._wait_children()
        except Cancelled as c:           # our owner was cancelled
            outer_cancel = c
            self._cancel_children()
            with CancelScope(shield=True):
                self._wait_children()
        errors = list(self._errors)
        if body_exc is not None and not isinstance(body_exc, Cancelled):
            errors.insert(0, body_exc)
        if errors:
            raise BaseExceptionGroup("errors in a TaskGroup", errors)
        if outer_cancel is not None:
            raise outer_cancel
        if body_exc is not None and body_exc is not exc:
            raise body_exc
        return swallowed

