"""Parking spots: where a carrier or a plain OS thread sleeps, in C.

A spot is a permit (Java's LockSupport): ``unpark(spot)`` makes it
available, ``park(spot, timeout)`` takes it or waits for it, and may also
return early for no reason, so every caller loops on its own condition.
The C side is native/spot.c, built through cffi when the build had cffi
and a C compiler (not on 3.13, see setup.py).  ``AVAILABLE`` is False
otherwise, and the carrier and ThreadTask keep their plain-lock parks.

Why: on a GIL build every hand-off between two threads costs a sleep and a
futex wake-up on each side, plus a wait for the GIL, since the waker still
holds it when the woken thread gets to run.  A spot parker spins with the
GIL released, and after taking the permit it waits (spinning, bounded)
until its waker parks as well, so it finds the GIL free.  A thread <->
vthread ping-pong then runs without any sleep (docs/design.md).

Spinning wastes a CPU when the wait is long, so it is bounded in time:
``SPIN_NS`` before sleeping, ``FOLLOW_NS`` waiting for the waker, or
``BLIND_NS`` when the waker has no spot to watch.  With one CPU there is
nobody to spin for, and with the GIL disabled there is no GIL to wait
for, so those bounds drop to 0.

Threads: ``park`` only by the spot's owner thread, ``unpark`` by any.
Each thread has one spot of its own (``my_spot``), which names it as the
waker; a carrier thread's is its carrier's spot.

Memory: a woken thread reads its waker's spot for a few microseconds
after the waker may have finished, so a spot's memory is never freed.
When its owner goes (a thread ends, a carrier is collected) the spot
goes to ``_free`` for the next owner; a permit left in it only makes the
new owner's first park return early, which every caller tolerates.
``_free`` and ``_keep`` change by single list operations only.
"""

import weakref
from typing import Any

from .. import _originals as _o
from ._spin import MULTI_CPU

try:
    from .._spot_c import ffi as _ffi, lib as _lib
except ImportError:        # built without cffi, or another interpreter's build
    _ffi = _lib = None

AVAILABLE = _lib is not None

SPIN_NS = 50_000        # spin this long for the permit before sleeping
FOLLOW_NS = 20_000      # then at most this long for the waker to park
                        # (about what a sleep on the GIL would cost)
BLIND_NS = 5_000        # or this long, if the waker has no spot to watch
                        # (an asyncio loop thread on its way back to
                        # epoll_wait; measured best of 5, 10 and 20 us)

_local = _o.ThreadLocal()
_keep: list[Any] = []      # every spot ever made: never freed (see the header)
_free: list[Any] = []      # spots whose owner is gone


class _Holder:
    """Owns a thread's spot in its thread-local storage."""

    __slots__ = ("spot", "__weakref__")

    def __init__(self, spot):
        self.spot = spot


def new_spot(owner):
    """A spot for ``owner``; it is reused once ``owner`` is collected."""
    try:
        spot = _free.pop()
    except IndexError:
        spot = _ffi.new("vt_spot *")
        _keep.append(spot)
    weakref.finalize(owner, _free.append, spot)
    return spot


def my_spot():
    """This thread's own spot, made on first use: for a thread that parks
    on it."""
    holder = getattr(_local, "holder", None)
    if holder is None:
        holder = _Holder(None)
        holder.spot = new_spot(holder)
        _local.holder = holder
    return holder.spot


def adopt(spot):
    """Make ``spot`` this thread's own (a carrier thread, at its start;
    the carrier owns it)."""
    holder = _Holder(spot)
    _local.holder = holder


def unpark(spot):
    # The waker names itself only if it parks on a spot: a woken thread
    # waits for its waker to park, and an asyncio loop thread, say, never
    # does (it would wait FOLLOW_NS for nothing on every wake-up).
    holder = getattr(_local, "holder", None)
    _lib.vt_unpark(spot, _ffi.NULL if holder is None else holder.spot)


def park(spot, timeout=None):
    """Take the permit: True; or False once ``timeout`` seconds (None:
    no limit) have passed.  May return True without a permit."""
    ns = -1 if timeout is None else max(int(timeout * 1e9), 0)
    if not MULTI_CPU:
        spin = follow = blind = 0
    elif _o.gil_enabled():
        spin, follow, blind = SPIN_NS, FOLLOW_NS, BLIND_NS
    else:
        spin, follow, blind = SPIN_NS, 0, 0
    r = _lib.vt_park(spot, spin, follow, blind, ns)
    # -1: a signal interrupted the sleep.  Returning lets the interpreter
    # run its handler (KeyboardInterrupt is raised here); the caller's loop
    # parks again otherwise.
    return r != 0
