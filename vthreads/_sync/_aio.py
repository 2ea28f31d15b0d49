"""asyncio waiters: how a coroutine parks on the same primitives.

A coroutine waits with a ticket like any other task.  Its owner is an
``_AsyncWaiter``: resuming it schedules ``fut.set_result`` on the
coroutine's own loop with ``call_soon_threadsafe``, so a vthread on any
carrier, a plain thread or a coroutine on another loop can wake it.

asyncio cancellation (and ``timeout=``) retracts the ticket.  If a grant
won the ticket first, the coroutine waits for that grant to land -- the
winner writes the value, then resumes the waiter, whose ``_land`` runs on
the loop -- and then:
- hands it back through the primitive's unregister and raises, where a
  grant can be handed back (a lock's ownership, a received item);
- or, where it cannot (a put or send whose item was already taken in),
  returns it as if the cancellation had come a moment later: raising
  would tell the caller the item was not delivered.  ``keep`` says which
  grants these are.  Under ``wait_for`` or ``asyncio.timeout`` the call
  then simply returns; a bare ``Task.cancel()`` is absorbed, as asyncio
  lets a task do.

Also here: ``join_async`` (await a vthread) and ``run_coroutine`` (park a
vthread or thread on a coroutine).

Threads: ``_AsyncWaiter._resume`` from any thread; the rest on the loop's
thread.  ``_private_loop`` state is guarded by ``_loop_lock``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

from .. import _originals as _o
from .._core import (INTERRUPT, TIMEOUT, Cancelled, OwnThread, Ticket,
                     VThread, block, current_task, on_child)
from ._args import async_timeout


class _AsyncWaiter:
    __slots__ = ("loop", "fut", "landed", "settled")

    def __init__(self, loop, fut):
        self.loop, self.fut = loop, fut
        self.landed = False         # loop thread only, like the rest
        self.settled = None         # a future _settle waits on, if any

    def _resume(self, ticket):
        try:
            self.loop.call_soon_threadsafe(self._land)
        except RuntimeError:        # the loop is closed: nobody is waiting
            pass

    def _land(self):
        """On the loop: the winner's value is in the ticket."""
        self.landed = True
        if not self.fut.done():
            self.fut.set_result(None)
        s = self.settled
        if s is not None and not s.done():
            s.set_result(None)


async def _settle(waiter):
    """Wait, whatever else happens, for a grant whose winner has claimed
    the ticket but may not have written its value yet.  (``fut`` is no
    guide: a cancellation of the task cancels it.)"""
    if waiter.landed:
        return
    waiter.settled = s = waiter.loop.create_future()
    while not s.done():
        try:
            await asyncio.shield(s)
        except asyncio.CancelledError:
            pass


async def park_async(register, unregister, timeout=None, keep=None):
    """The coroutine twin of ``block``: the waker's value, or TIMEOUT.

    ``keep(value)``: True for a grant that cannot be handed back, which a
    cancellation arriving after it must not undo (see the module doc).
    """
    timeout = async_timeout(timeout)
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    waiter = _AsyncWaiter(loop, fut)
    ticket = Ticket((waiter,))
    register(ticket)
    try:
        if timeout is None:
            await fut
        else:
            try:
                await asyncio.wait_for(asyncio.shield(fut), timeout)
            except TimeoutError:
                if ticket.retract(TIMEOUT):
                    unregister(ticket)
                    return TIMEOUT
                await _settle(waiter)
    except BaseException as e:
        if not ticket.retract(INTERRUPT):
            await _settle(waiter)   # a grant won: let it land, then ...
            if (keep is not None and isinstance(e, asyncio.CancelledError)
                    and keep(ticket.value)):
                return ticket.value     # ... keep it: it was delivered
        unregister(ticket)          # ... or give it back
        raise
    return ticket.value


def current_owner():
    """Who holds an RLock: the asyncio task when called from a coroutine,
    else the vthread or OS thread."""
    if asyncio._get_running_loop() is not None:
        t = asyncio.current_task()
        if t is not None:
            return t
    return current_task()


_T = TypeVar("_T")


async def join_async(vt: VThread, timeout: float | None = None) -> bool:
    """Await a vthread from any asyncio loop; True once it has finished."""
    if not isinstance(vt, VThread):
        raise TypeError(f"join_async() needs a VThread, not {type(vt).__name__}")
    async_timeout(timeout)
    if vt.done():
        return True
    return await park_async(vt._add_waiter, vt._remove_waiter,
                            timeout) is not TIMEOUT


_loop_lock = _o.allocate_lock()
_loop = None


def _after_fork():
    # The private loop's thread did not survive the fork.
    global _loop
    _loop_lock._at_fork_reinit()
    _loop = None


on_child(_after_fork)


def _private_loop():
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = _o.allocate_lock()
            ready.acquire()

            def main():
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.release)
                loop.run_forever()

            OwnThread(main, "vthreads-asyncio").start()
            ready.acquire()
            _loop = loop
        return _loop


def run_coroutine(coro: Coroutine[Any, Any, _T],
                  loop: asyncio.AbstractEventLoop | None = None) -> _T:
    """Run ``coro`` on ``loop`` (default: one private loop thread) and park
    until it finishes; return its result or raise its exception.  Cancelling
    the caller cancels the coroutine."""
    if not asyncio.iscoroutine(coro):
        raise TypeError(f"run_coroutine() needs a coroutine, not {type(coro).__name__}")
    if loop is not None and not isinstance(loop, asyncio.AbstractEventLoop):
        coro.close()
        raise TypeError(f"run_coroutine() needs an asyncio event loop, not "
                        f"{type(loop).__name__}")
    if loop is None:
        loop = _private_loop()
    if asyncio._get_running_loop() is loop:
        coro.close()
        raise RuntimeError("run_coroutine() would block the loop it runs on")
    cfut = asyncio.run_coroutine_threadsafe(coro, loop)

    def register(ticket):
        cfut.add_done_callback(lambda f: ticket.fire(True))

    try:
        block("COROUTINE", coro, register, None)
    except Cancelled:
        cfut.cancel()
        raise
    return cfut.result()
