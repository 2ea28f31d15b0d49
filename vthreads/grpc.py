"""gRPC (grpcio) under vthreads: its C waits happen off the carriers.

grpcio waits in C, with the GIL released, in three places:

- each channel's event loop (the "spin thread", one per channel with calls
  in flight), which cygrpc starts through ``cygrpc.ForkManagedThread``;
- the server's event loop (``grpc._server._serve``), in the thread
  ``grpc._server._start`` makes;
- a blocking unary-response call (``stub.Method(request)``, ``with_call``)
  on the call's own completion queue (``SegregatedCall.next_event``).

With ``threading`` patched, the first two would be vthreads that hold their
carrier for good, and the third holds the caller's carrier for the whole
call -- a server and a client on one carrier deadlock.  ``patch()``:

- binds the name ``threading`` in cygrpc and in ``grpc._server`` to a view
  of the (patched) threading module in which ``Thread`` is the interpreter's
  own: grpc's loops run in real OS threads, while the Conditions, Events
  and locks they notify stay vthreads primitives, which parked vthreads
  wait on and any OS thread may wake;
- makes the blocking unary-response calls take the path ``future()``
  takes (the channel's loop delivers the events) and wait on the call's
  Condition, which parks.  ``Cancelled`` (or KeyboardInterrupt) while
  waiting cancels the RPC -- the server sees it cancelled -- and then
  propagates; the channel stays usable.

What still runs on the calling carrier: grpcio's non-blocking C calls
(starting a call, serialising), and channel and server start-up.  The
experimental single-threaded unary-stream calls
(``grpc.experimental.ChannelOptions.SingleThreadedUnaryStream``) still
wait in C.  grpc.aio is asyncio's business and is left alone.

Threads: monkey calls patch() once, right after grpc's import (or at once
if grpc is imported already), and unpatch() from unpatch_all(); neither
runs while calls are in flight.  The patched methods run in whatever
vthread or thread makes a call.
"""

import time
import types
from typing import Any

from grpc import _channel, _server
from grpc._cython import cygrpc

import vthreads.monkey

_MODULES = (cygrpc, _server)        # where grpc starts its loop threads
_CALLABLES = (_channel._UnaryUnaryMultiCallable,
              _channel._StreamUnaryMultiCallable)
_saved: list[tuple[Any, str, Any]] = []          # [(owner, name, original)], while patched


class _OSThreading(types.ModuleType):
    """The threading module as grpc's loops see it: the patched one, but
    ``Thread`` is the interpreter's own, which starts a real OS thread."""

    def __init__(self, threading):
        super().__init__(threading.__name__)
        self._threading = threading
        self.Thread = vthreads.monkey.get_original("threading", "Thread")

    def __getattr__(self, name):
        return getattr(self._threading, name)


def _wait(rendezvous):
    """Park until the RPC behind ``rendezvous`` ends; cancel it if the wait
    is interrupted (a cancel scope, Ctrl-C)."""
    try:
        rendezvous.exception()      # waits on its Condition, whatever the outcome
    except BaseException:
        rendezvous.cancel()
        raise


def _timeout(timeout):
    # The blocking path also honours a deadline grpc takes from its context
    # (a hook, unset in grpcio itself); future() does not ask: ask for it.
    determine = getattr(_channel, "_determine_deadline", None)
    if determine is None:
        return timeout
    deadline = determine(None if timeout is None else time.time() + timeout)
    return None if deadline is None else deadline - time.time()


def _blocking(self, request, timeout=None, metadata=None, credentials=None,
              wait_for_ready=None, compression=None):
    """The ``_blocking`` of grpc's unary- and stream-unary callables, as
    ``__call__`` and ``with_call`` use it: (state, call), the RPC ended."""
    rendezvous = self.future(request, _timeout(timeout), metadata,
                             credentials, wait_for_ready, compression)
    _wait(rendezvous)
    return rendezvous._state, rendezvous._call


def patch():
    """Apply the integration (idempotent)."""
    if _saved:
        return
    for module in _MODULES:
        _saved.append((module, "threading", module.threading))
        module.threading = _OSThreading(module.threading)
    for cls in _CALLABLES:
        _saved.append((cls, "_blocking", cls.__dict__["_blocking"]))
        cls._blocking = _blocking


def unpatch():
    """Put grpc's own names back."""
    while _saved:
        owner, name, original = _saved.pop()
        setattr(owner, name, original)


__all__ = ["patch", "unpatch"]
