"""Cancel scopes: level-triggered, trio-style cancellation for any task.

A task (a VThread or an OS thread's ThreadTask) has a stack ``_scopes``.
At every park the stack is read from the innermost scope outwards: a
cancelled scope raises ``Cancelled``; a scope whose deadline has passed
becomes cancelled and raises; a shielding scope stops the walk, hiding
everything outside it.  Below the stack, a VThread's own ``cancel()`` flag
acts as the outermost scope.  ``Cancelled`` keeps being raised at every
park until the cancelled scope is left: ``__exit__`` of that scope
swallows it and records ``cancelled_caught``.

Threads: a scope is entered and left by its owner task.  ``cancel()`` and
the ``deadline`` / ``shield`` setters may be called from any thread: they
write the field, then interrupt the owner (``task._interrupt()``), which is
guarded on the task's side (see _threadtask and _vthread), so the owner
re-reads its scopes at its next park or at once if it is parked.
"""

import math

from .. import _originals as _o
from ._errors import Cancelled
from ._threadtask import current_task

__all__ = ["CancelScope", "move_on_after", "move_on_at", "fail_after",
           "fail_at", "check", "check_number", "check_seconds",
           "current_effective_deadline"]


def check(task):
    """Raise Cancelled if ``task`` is effectively cancelled, or the
    exception thrown into it (``VThread._throw``) if one is pending.

    Otherwise return the nearest deadline that applies to it, or None.
    """
    if task._pending is not None:
        raise task._take_pending()
    scopes = task._scopes
    if not scopes:
        if task._cancel_requested:
            raise Cancelled()
        return None
    deadline = None
    now = None
    for i in range(len(scopes) - 1, -1, -1):
        s = scopes[i]
        if s._cancel_called:
            raise Cancelled()
        d = s._deadline
        if d is not None:
            if now is None:
                now = _o.monotonic()
            if d <= now:
                s._cancel_called = True
                raise Cancelled()
            if deadline is None or d < deadline:
                deadline = d
        if s._shield:
            return deadline
    if task._cancel_requested:
        raise Cancelled()
    return deadline


def current_effective_deadline():
    """The deadline that applies to the current task (math.inf if none)."""
    try:
        d = check(current_task())
    except Cancelled:
        return -math.inf
    return math.inf if d is None else d


class CancelScope:
    """A region of code that can be cancelled, by hand or by a deadline.

    ``deadline`` is in seconds of the monotonic clock.  A shielded scope hides
    the cancellation of the scopes outside it.
    """

    __slots__ = ("_deadline", "_shield", "_cancel_called", "cancelled_caught",
                 "_task", "_exited")

    def __init__(self, deadline=None, shield=False):
        self._deadline = _check_deadline(deadline)
        self._shield = bool(shield)
        self._cancel_called = False
        self.cancelled_caught = False
        self._task = None
        self._exited = False

    def __repr__(self):
        state = "cancelled" if self._cancel_called else "active"
        if self._exited:
            state += ", exited"
        dl = "" if self._deadline is None else f" deadline={self._deadline:.3f}"
        sh = " shield" if self._shield else ""
        return f"<CancelScope {state}{dl}{sh}>"

    def __enter__(self):
        if self._task is not None:
            raise RuntimeError("a CancelScope can be entered only once")
        task = current_task()
        scopes = task._scopes
        if type(scopes) is tuple:         # vthreads start with a shared ()
            scopes = task._scopes = []
        self._task = task
        scopes.append(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        scopes = self._task._scopes
        if not scopes or scopes[-1] is not self:
            raise RuntimeError(
                f"{self!r} exited out of order or in another task")
        scopes.pop()
        self._exited = True
        if exc_type is not None and issubclass(exc_type, Cancelled):
            if not self._cancel_called and self._deadline is not None \
                    and self._deadline <= _o.monotonic():
                self._cancel_called = True
            if self._cancel_called:
                self.cancelled_caught = True
                return True
        return False

    def cancel(self):
        """Cancel everything inside this scope.  Any thread; idempotent."""
        if self._cancel_called:
            return
        self._cancel_called = True
        self._poke()

    @property
    def cancel_called(self):
        return self._cancel_called

    @property
    def deadline(self):
        return math.inf if self._deadline is None else self._deadline

    @deadline.setter
    def deadline(self, value):
        self._deadline = _check_deadline(value)
        self._poke()

    @property
    def shield(self):
        return self._shield

    @shield.setter
    def shield(self, value):
        self._shield = bool(value)
        self._poke()

    def _poke(self):
        task = self._task
        if task is not None and not self._exited:
            task._interrupt()


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


def move_on_at(deadline, *, shield=False):
    """A scope cancelled at ``deadline`` (monotonic seconds)."""
    return CancelScope(deadline=deadline, shield=shield)


def move_on_after(seconds, *, shield=False):
    """A scope cancelled ``seconds`` from now; the block is simply left."""
    return CancelScope(deadline=_o.monotonic() + check_seconds(seconds),
                       shield=shield)


class _FailScope:
    """``with fail_after(s):`` -- like move_on_after, but raises TimeoutError."""

    __slots__ = ("_scope",)

    def __init__(self, scope):
        self._scope = scope

    def __enter__(self):
        return self._scope.__enter__()

    def __exit__(self, exc_type, exc, tb):
        swallowed = self._scope.__exit__(exc_type, exc, tb)
        if swallowed and self._scope.cancelled_caught:
            raise TimeoutError("deadline exceeded") from None
        return swallowed


def fail_at(deadline, *, shield=False):
    return _FailScope(CancelScope(deadline=deadline, shield=shield))


def fail_after(seconds, *, shield=False):
    return _FailScope(move_on_after(seconds, shield=shield))
