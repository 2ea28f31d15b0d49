"""The park protocol: the one way any library call blocks.

``block()`` parks the current task -- a vthread or a plain OS thread --
until a waker fires its ticket, the call's timeout passes, or a cancel
scope cancels it.  Every wait in the library (sleep, join, fd readiness,
the primitives, to_thread) is a ``register`` function that puts the ticket
where a waker will find it, an ``unregister`` that takes it back when the
wait is abandoned, and a reason for dumps.

The loop: check the scopes (raising Cancelled), register a fresh ticket,
park with the nearest deadline, and on TIMEOUT or INTERRUPT unregister and
check again.  An interrupt that does not turn out to be a cancellation
(a shield, a moved deadline) simply parks again.

Threads: runs in the parking task's own thread.
"""

import math

from .. import _originals as _o
from . import _clock
from ._cancel import check as _check_cancel, check_seconds
from ._threadtask import current_task
from ._ticket import INTERRUPT, TIMEOUT, Ready

__all__ = ["block", "TIMEOUT", "timeout_to_deadline"]


def timeout_to_deadline(timeout):
    """None -> None; seconds -> a deadline on ``_clock.now()``.  Rejects NaN and < 0."""
    if timeout is None:
        return None
    timeout = check_seconds(timeout)
    if timeout == math.inf:
        return None
    return _clock.now() + timeout


def block(reason, obj=None, register=None, unregister=None, deadline=None,
          io=None):
    """Park until fired; return the waker's value, or TIMEOUT at ``deadline``.

    ``io=((fd, events), ...)`` waits until one of the fds is ready, and then
    returns a ``Ready`` (``_ticket``) whose ``events`` say what the fd that
    fired is now (the poller's READ | WRITE | HUP | ERR); a pair may carry
    a poller key third (see ``_poller``'s ``register``).
    ``register`` may still put the ticket somewhere else too (a socket's
    close() fires it).
    """
    task = current_task()
    while True:
        if task._scope is not None or task._pending is not None \
                or task._cancel_requested:
            scope_deadline = _check_cancel(task)
        else:
            scope_deadline = None   # no scope, nothing pending: the usual
        park_deadline = deadline
        if scope_deadline is not None and (
                deadline is None or scope_deadline < deadline):
            park_deadline = scope_deadline
        ticket = task._new_ticket(io is not None)
        try:
            if register is not None:
                register(ticket)
            if io is not None:
                value = task._park_io(ticket, io, reason, obj,
                                      park_deadline)
            else:
                value = task._park(ticket, reason, obj, park_deadline)
        except BaseException:
            # KeyboardInterrupt (main thread) or an error from register or
            # the fd: withdraw the ticket so no waker counts on this park.
            if not ticket.retract(INTERRUPT):
                ticket.await_value()    # so unregister sees the grant
            if unregister is not None:
                unregister(ticket)
            raise
        if value is TIMEOUT or value is INTERRUPT or (
                io is not None and value.__class__ is not Ready):
            if unregister is not None:
                unregister(ticket)
            if value is not TIMEOUT and value is not INTERRUPT:
                return value       # an fd wait ended by another waker
            if value is TIMEOUT and deadline is not None \
                    and _clock.now() >= deadline:
                return TIMEOUT
            continue
        return value
