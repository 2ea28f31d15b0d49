"""File-descriptor readiness: the contract every poller backend meets.

The facts:
- A greenlet never moves to another OS thread, so a readiness event for a
  parked vthread is useful only on the carrier that owns it.  Any design
  that harvests events somewhere else must hop them to that carrier: a lock,
  a queue and a wake-up syscall per event.
- Harvesting on a dedicated poller thread therefore costs every I/O event a
  thread hop.  docs/design.md has the measurement; on a GIL build it is the
  dominant cost of a small read.

So each carrier owns one backend instance and harvests it itself when it
runs out of work.  "Shared" means one registry contract for every carrier
and every fd, not one kernel object.  This package knows nothing of
greenlets: it stores opaque tokens and hands them back.

Contract (``Backend``):
- ``register(fd, events, token, key=None) -> bool``: arm a one-shot
  interest in ``events`` (READ and/or WRITE) for ``token``.  Returns False
  when the fd can never block (a regular file): the caller treats it as
  ready at once.  Several tokens may wait on one fd, in either direction.
  Raises OSError for a bad fd.  A ``key`` promises two things: it stands
  for one open file (nobody else passes the same key, and the fd does not
  change under it while it is in use), and the caller has just seen the
  fd drained in the direction it waits for: its operation failed with
  EAGAIN, or, for a stream read, came back short and without the end of
  the stream.  A backend may then keep the fd armed between waits (epoll
  does, edge-triggered); the waiter must tolerate a wake-up for nothing.
- ``unregister(fd, token)``: forget ``token`` (an abandoned wait).  Cheap
  and idempotent; a stale kernel registration may later produce an event
  nobody waits for, which the backend drops.
- ``poll(timeout) -> [(token, events)]``: wait up to ``timeout`` seconds
  (None: forever, 0: don't block) and return every token whose interest
  fired, each at most once per registration, with what the fd is now:
  ``READ | WRITE | HUP | ERR``, never a kernel's own bits.  Errors and
  hang-ups are reported to both directions, so no waiter sleeps through
  them.  ``wake()``
  makes a concurrent or the next ``poll`` return early.
- ``wake()`` is the only method other threads may call.  Every other
  method belongs to the owning carrier's thread.
- ``waiting`` is the number of registered tokens (owner thread only).
- ``close()`` releases the kernel objects.
- ``after_fork()``, in a forked child, gives the backend a kernel object
  and a waker of its own (a child shares the parent's) and arms every
  waiting fd in them again.

The backend is chosen once, at import: epoll on Linux, selectors elsewhere.
"""

from ._base import ERR, HUP, READ, WRITE, Waker, as_fd, normaliser
from .._originals import epoll as _have_epoll

if _have_epoll is not None:
    from ._epoll import EpollBackend as Backend
else:  # pragma: no cover - exercised by tests through SelectorsBackend
    from ._selectors import SelectorsBackend as Backend  # type: ignore[assignment]

__all__ = ["Backend", "READ", "WRITE", "HUP", "ERR", "Waker", "as_fd",
           "normaliser"]
