"""One-shot completion with waiters: what join() and to_thread() wait on.

An object with ``_done`` (bool), ``_waiters`` (list of tickets, or None
once done), ``_result`` and ``_exc`` slots completes once; every ticket registered before or after
is fired with the object.  Guard: a stripe lock chosen by the object's id
(64 stripes), so a million objects need no lock each and unrelated objects
rarely contend.  ``_done`` may be read without the lock as a hint; the
decision to park is always re-made under it.

Threads: any.
"""

from .. import _originals as _o
from ._fork import on_child

_STRIPES = tuple(_o.allocate_lock() for _ in range(64))


def _reinit_stripes():
    for lock in _STRIPES:
        lock._at_fork_reinit()


on_child(_reinit_stripes)


def stripe(obj):
    return _STRIPES[(id(obj) >> 4) & 63]


def add_waiter(obj, ticket):
    with _STRIPES[(id(obj) >> 4) & 63]:
        if not obj._done:
            if obj._waiters is None:
                obj._waiters = [ticket]
            else:
                obj._waiters.append(ticket)
            return
    ticket.fire(obj)


def remove_waiter(obj, ticket):
    with _STRIPES[(id(obj) >> 4) & 63]:
        ws = obj._waiters
        if ws is not None and ticket in ws:
            ws.remove(ticket)


def complete(obj, result, exc):
    """Store the outcome, mark done and fire every waiter.

    Returns False (storing nothing) if already done.
    """
    with _STRIPES[(id(obj) >> 4) & 63]:
        if obj._done:
            return False
        obj._result = result
        obj._exc = exc
        obj._done = True
        waiters, obj._waiters = obj._waiters, None
    if waiters:
        for t in waiters:
            t.fire(obj)
    return True
