"""Cancel scopes: level-triggered, trio-style cancellation for any task.

The scopes form a tree (design.md, "Cancellation").  An entered scope
points at the scope that encloses it, ``_outer``: the one its task entered
before it or, for the outermost scope of a task group's child, the group's
scope in the task that opened the group.  A task points at its innermost
scope, ``_scope``; a child starts out pointing at its group's scope.  So a
child sees its group's scope and every scope around the ``with
TaskGroup()``, and none of those its spawner enters later in the body.

Reading (``check``, at every park) walks from the task's innermost scope
outwards: a cancelled scope raises ``Cancelled``; a scope whose deadline
has passed becomes cancelled and raises; a shield stops the walk.  Where
the walk leaves a task's own scopes for its group's, it reads that task's
``cancel()`` flag, which acts as the task's outermost scope.  A task with
no scope and no group reads only its flag (and ``block`` skips even that
when nothing is set).  ``Cancelled`` keeps being raised at every park until
the cancelled scope is left: ``__exit__`` of that scope swallows it and
records ``cancelled_caught``.

Writing (``cancel()``, the ``deadline`` / ``shield`` setters,
``VThread.cancel``) sets the field, then interrupts every task that can see
it (``interrupt_tree``): the owner, the children of the owner's groups
inside the scope, their children, and so on.  Each re-reads its scopes at
its next park, or at once if it is parked; one that finds nothing
cancelled (a shield on its way up, a later deadline) parks again.

Threads and guards:
- A scope is entered and left by its owner task.  ``_task``, ``_outer``
  and ``_depth`` are written at enter, before any child can see the scope,
  and stay put while any child can: a group waits for its children inside
  its scope, and every scope around it outlives it.
- The flags may be written from any thread.  Readers re-read them after an
  interrupt, and every interrupt is delivered under a lock (see _threadtask
  and _vthread).
- A task's ``_groups``, the task groups it has open, is replaced (never
  changed in place) under the task's ``_tree_lock()``, and read under it by
  ``interrupt_tree``.  A group's children are read under the group's lock.
  Taking both locks is what makes a child spawned during a cancel safe:
  either the canceller finds it, or the child's first park sees the flag,
  which was written before the canceller took the locks.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from .. import _originals as _o
from . import _clock
from ._errors import Cancelled
from ._threadtask import current_task

__all__ = ["CancelScope", "move_on_after", "move_on_at", "fail_after",
           "fail_at", "check", "check_number", "check_seconds",
           "current_effective_deadline", "interrupt_tree", "open_group",
           "close_group"]


def check(task):
    """Raise Cancelled if ``task`` is effectively cancelled, or the
    exception thrown into it (``VThread._throw``) if one is pending.

    Otherwise return the nearest deadline that applies to it, or None.
    """
    if task._pending is not None:
        raise task._take_pending()
    s = task._scope
    if s is None:                   # the usual case: nothing to walk
        if task._cancel_requested:
            raise Cancelled()
        return None
    deadline = None
    now = None
    t = task
    while s is not None:
        if s._task is not t:
            # Past t's outermost scope, into its group's: t's own flag
            # first, since it encloses all of t.
            if t._cancel_requested:
                raise Cancelled()
            t = s._task
        if s._cancel_called:
            raise Cancelled()
        d = s._deadline
        if d is not None:
            if now is None:
                now = _clock.now()
            if d <= now:
                s._cancel_called = True
                raise Cancelled()
            if deadline is None or d < deadline:
                deadline = d
        if s._shield:
            return deadline
        s = s._outer
    if t._cancel_requested:
        raise Cancelled()
    return deadline


def interrupt_tree(task, depth=0):
    """Interrupt ``task`` and every task under its scopes of ``depth`` or
    deeper (0: all of them): the children of its groups there, theirs...

    Over-reaches only where a shield sits between: those tasks find
    nothing cancelled and park again.
    """
    todo = [(task, depth)]
    while todo:
        t, d = todo.pop()
        t._interrupt()
        with t._tree_lock():
            groups = t._groups
        for g in groups:
            if g.cancel_scope._depth >= d:
                todo.extend((kid, 0) for kid in g._children_now())


def open_group(group):
    """``group``'s scope was entered: from now on, what interrupts the task
    that entered it reaches the group's children too."""
    task = group.cancel_scope._task
    with task._tree_lock():
        task._groups = task._groups + (group,)


def close_group(group):
    task = group.cancel_scope._task
    with task._tree_lock():
        task._groups = tuple(g for g in task._groups if g is not group)


def current_effective_deadline() -> float:
    """The deadline that applies to the current task (math.inf if none).

    The nearest deadline of the cancel scopes around the caller, up to the
    first shield; -math.inf if the task is already cancelled.  Any task.
    """
    try:
        d = check(current_task())
    except Cancelled:
        return -math.inf
    return math.inf if d is None else d


class CancelScope:
    """A region of code that can be cancelled, by hand or by a deadline.

    ``deadline`` is in seconds of ``current_time()``.  A shielded scope hides
    the cancellation of the scopes outside it.
    """

    __slots__ = ("_deadline", "_shield", "_cancel_called", "cancelled_caught",
                 "_task", "_outer", "_depth", "_exited")

    def __init__(self, deadline: float | None = None,
                 shield: bool = False) -> None:
        self._deadline = _check_deadline(deadline)
        self._shield = bool(shield)
        self._cancel_called = False
        self.cancelled_caught = False
        """True if the scope caught the Cancelled that its own cancellation raised."""
        self._task: Any = None          # the task that entered it
        self._outer: CancelScope | None = None
        self._depth = 0        # how many scopes enclose it, itself included
        self._exited = False

    def __repr__(self):
        state = "cancelled" if self._cancel_called else "active"
        if self._exited:
            state += ", exited"
        dl = "" if self._deadline is None else f" deadline={self._deadline:.3f}"
        sh = " shield" if self._shield else ""
        return f"<CancelScope {state}{dl}{sh}>"

    def __enter__(self) -> CancelScope:
        if self._task is not None:
            raise RuntimeError("a CancelScope can be entered only once")
        task = current_task()
        outer = task._scope
        self._task = task
        self._outer = outer
        self._depth = 1 if outer is None else outer._depth + 1
        task._scope = self
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        task = self._task
        if task._scope is not self:
            raise RuntimeError(
                f"{self!r} exited out of order or in another task")
        task._scope = self._outer
        self._exited = True
        if exc_type is not None and issubclass(exc_type, Cancelled):
            if not self._cancel_called and self._deadline is not None \
                    and self._deadline <= _clock.now():
                self._cancel_called = True
            if self._cancel_called:
                self.cancelled_caught = True
                return True
        return False

    def cancel(self) -> None:
        """Cancel everything inside this scope.  Any thread; idempotent."""
        if self._cancel_called:
            return
        self._cancel_called = True
        self._poke()

    @property
    def cancel_called(self) -> bool:
        """True once ``cancel()`` was called, or the deadline was seen to pass."""
        return self._cancel_called

    @property
    def deadline(self) -> float:
        """The deadline in ``current_time()`` seconds (math.inf: none); settable, from any thread."""
        return math.inf if self._deadline is None else self._deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._deadline = _check_deadline(value)
        self._poke()

    @property
    def shield(self) -> bool:
        """True if the scope hides outer cancellations; settable."""
        return self._shield

    @shield.setter
    def shield(self, value: bool) -> None:
        self._shield = bool(value)
        self._poke()

    def _poke(self):
        task = self._task
        if task is not None and not self._exited:
            interrupt_tree(task, self._depth)


def _check_deadline(deadline):
    if deadline is None:
        return None
    deadline = check_number(deadline, "deadline")
    return None if deadline == math.inf else deadline


def check_number(seconds, what="timeout"):
    """A time in seconds, of any sign: TypeError for what is not a number,
    ValueError for NaN.  Every timeout, deadline and sleep length of the
    library passes here before the call does anything else (the rule is
    in docs/design.md, "Bad input")."""
    if not isinstance(seconds, (int, float)):
        if not hasattr(type(seconds), "__float__"):
            raise TypeError(f"{what} must be a number of seconds, not "
                            f"{type(seconds).__name__}")
        seconds = float(seconds)
    if seconds != seconds:
        raise ValueError(f"{what} must not be NaN")
    return seconds


def check_seconds(seconds, what="timeout"):
    """``check_number``, and also ValueError for a negative value, as the
    stdlib sleep does."""
    seconds = check_number(seconds, what)
    if seconds < 0:
        raise ValueError(f"{what} must be non-negative")
    return seconds


def move_on_at(deadline: float, *, shield: bool = False) -> CancelScope:
    """A scope cancelled at ``deadline`` (``current_time()`` seconds); the block is simply left."""
    return CancelScope(deadline=deadline, shield=shield)


def move_on_after(seconds: float, *, shield: bool = False) -> CancelScope:
    """A scope cancelled ``seconds`` from now; the block is simply left."""
    return CancelScope(deadline=_clock.now() + check_seconds(seconds),
                       shield=shield)


class _FailScope:
    """``with fail_after(s):`` -- like move_on_after, but raises TimeoutError."""

    __slots__ = ("_scope",)

    def __init__(self, scope: CancelScope) -> None:
        self._scope = scope

    def __repr__(self):
        return f"<fail_after {self._scope!r}>"

    def __enter__(self) -> CancelScope:
        return self._scope.__enter__()

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        swallowed = self._scope.__exit__(exc_type, exc, tb)
        if swallowed and self._scope.cancelled_caught:
            raise TimeoutError("deadline exceeded") from None
        return swallowed


def fail_at(deadline: float, *,
            shield: bool = False) -> AbstractContextManager[CancelScope]:
    """A scope cancelled at ``deadline`` (``current_time()`` seconds); the block raises TimeoutError."""
    return _FailScope(CancelScope(deadline=deadline, shield=shield))


def fail_after(seconds: float, *,
               shield: bool = False) -> AbstractContextManager[CancelScope]:
    """A scope cancelled ``seconds`` from now; the block raises TimeoutError."""
    return _FailScope(move_on_after(seconds, shield=shield))
