"""After os.fork(), in the child: a runtime that works again.

Only the thread that called fork() goes on in the child.  If it was a
carrier, the vthreads on that carrier go on with it -- they are greenlets
of that thread -- and the vthreads of every other carrier are gone, as
the other threads are.  The child then needs:

- every lock another thread may have held at the fork, re-made unlocked
  (each module registers its own with ``on_child``);
- a poller of its own: the parent's epoll and wake-up fds are shared with
  the child, so each would steal the other's events;
- a runtime of one carrier, this one;
- a way to end: the main thread that waited in ``run()`` is gone, so when
  the vthread the child goes on with finishes, the child exits
  (``_mainthread.after_fork``).

Forked from a thread that is not a carrier, the child has no carriers:
the old runtime is dropped and the next spawn starts a fresh one.

Threads: the hooks run in the child's only thread, before anything else.
"""

from typing import Callable

from .. import _originals as _o

__all__ = ["on_child"]

_hooks: list[Callable[[], object]] = []


def on_child(fn):
    """Run ``fn()`` in the child after a fork (registration order)."""
    _hooks.append(fn)


def _after_fork_in_child():
    for fn in _hooks:
        fn()


_o.register_at_fork(after_in_child=_after_fork_in_child)
