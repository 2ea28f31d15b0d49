"""leaks(): the vthreads parked on objects that nothing else references.

Go's goroutine-leak profile, in Python terms.  A vthread parked on a
primitive (``_deadlock.PRIMITIVES``) can only be woken by someone who can
reach that primitive.  If no path of references leads to it from the
program's roots -- except through parked vthreads that are themselves in
that situation -- no one ever will: the vthread is leaked.

How, in a stopped world:
1. ``gc.collect()``: garbage whose finalizer might still set something
   goes first.
2. Each carrier describes its own vthreads on its own thread (only there
   may a parked greenlet's frames be read, as in _dump): for each, the
   values of its frames' locals (``f_locals``, which include cells) and
   its context; a vthread parked on a primitive is a *candidate*, with
   the object it waits on.  Then that carrier waits, on its hub, until
   the scan is over, so no vthread moves an object meanwhile.  (OS
   threads of the program do go on.)
3. Mark, with ``gc.get_referents`` (strings and numbers are not
   followed), from the roots: ``sys.modules``, the
   frames of every OS thread (``sys._current_frames``, less this
   module's own and those of vthreads' monitor, inspect listener and dump
   writers, which hold the runtime's frames, not the program's), the signal handlers, and the vthreads that are not
   candidates with their stacks.  The carriers' ``live`` sets are not
   followed (they are the runtime's, not the program's: a vthread only
   they hold is one the program dropped), nor are candidates' VThread
   objects: the runtime's bookkeeping (tickets in timers and waiter
   lists) reaches them without making what they wait on reachable for
   the program.  A suspended greenlet's frames are
   invisible to the collector, so a candidate's own stack is not a root
   either -- but a candidate whose object turns out marked is not
   leaked, and its stack becomes a root in turn; repeat until nothing
   changes.
4. A candidate whose object is still unmarked, and that is still parked
   in the same wait (its ticket unclaimed), is leaked.

What is not seen: a reference held only by C code (an extension's
registry, atexit's list, a ``threading.local`` of another thread) or
only by an unfinished expression on a stack (a temporary between two
calls).  Such an object can be reported although something could still
reach it: leaks() is a tool for tests and health checks, whose programs
hold their primitives in variables, attributes and containers.

Cost: one full collection, then one pass over every object
reachable from the roots, in Python -- about 1.5-2.5 us per object
(docs/performance.md), with the carriers paused for that long.  Not for
a hot path.

Threads and guards: any thread may call ``leaks``; a vthread parks
(reason ``LEAKS``) while the other carriers answer.  ``_Scan.release``
is a real lock the caller holds while it scans; each other carrier's hub
waits on it after answering.  An answer is a one-shot completion
(_completion).
"""

from __future__ import annotations

import gc
import sys
from functools import partial
from typing import Any

from .. import _originals as _o
from ._block import TIMEOUT, block, timeout_to_deadline
from ._completion import add_waiter, complete, remove_waiter, stripe
from ._deadlock import PRIMITIVES
from ._dump import _Answer     # one carrier's reply, completed once
from ._ownthread import OwnThread
from ._runtime import current_runtime
from ._switch import getcurrent
from ._vthread import PARKED, VThread

__all__ = ["leaks"]

_HERE = __file__
_REPORTERS = frozenset({"vthreads-monitor", "vthreads-inspect",
                        "vthreads-dump"})
_ATOMIC = frozenset({str, bytes, int, float, complex, bool, type(None)})


def _stack_values(frame, out):
    while frame is not None:
        if frame.f_code.co_filename != _HERE:
            out.extend(frame.f_locals.values())
        frame = frame.f_back


def _gather(carrier: Any) -> list[Any]:
    """On ``carrier``'s thread: [(vt, waited-on object or None, ticket,
    stack values)] for each vthread it runs."""
    me = getcurrent()
    out = []
    for vt in list(carrier.live):
        g = vt._g
        values: list[Any] = []
        if g is not None:
            _stack_values(sys._getframe() if g is me else g.gr_frame,
                          values)
            values.append(g.gr_context)
        obj = None
        ticket = None
        if vt._state == PARKED and vt._reason in PRIMITIVES \
                and vt._waiting_on is not None:
            obj, ticket = vt._waiting_on, vt._ticket
        out.append((vt, obj, ticket, values))
    return out


def _answer_and_wait(carrier, answer, release):
    try:
        data = _gather(carrier)
    except Exception as exc:        # a frame that would not read
        complete(answer, None, exc)
    else:
        complete(answer, data, None)
    carrier.pause_until(release)    # the scan runs: stay still


def _wait(answer, deadline):
    block("LEAKS", answer, partial(add_waiter, answer),
          partial(remove_waiter, answer), deadline)
    with stripe(answer):
        if not answer._done:
            return TIMEOUT
        if answer._exc is not None:
            raise answer._exc
        return answer._result


def _mark(roots, marked, opaque):
    """Mark (ids in ``marked``) everything reachable from ``roots``,
    not following the objects whose ids are in ``opaque``."""
    # Strings, numbers and the like hold no reference: not followed.
    # (Not ``gc.is_tracked``: 3.13t reports modules, classes and functions
    # as untracked, and they hold most of a program.)
    atomic = _ATOMIC
    todo = [o for o in roots if id(o) not in marked]
    get = gc.get_referents
    while todo:
        obj = todo.pop()
        i = id(obj)
        if i in marked:
            continue
        marked.add(i)
        if i in opaque:
            continue
        todo.extend(r for r in get(obj)
                    if type(r) not in atomic and id(r) not in marked)


def _os_roots(skip: set[int]) -> list[Any]:
    # vthreads' own reporting threads hold the runtime's frames (a monitor
    # report, a dump), not the program's.
    skip = skip | {t.ident for t in _o.enumerate_threads()
                   if isinstance(t, OwnThread) and t.name in _REPORTERS
                   and t.ident is not None}
    roots: list[Any] = [sys.modules]
    for ident, frame in sys._current_frames().items():
        if ident not in skip:
            _stack_values(frame, roots)
            roots.append(frame.f_globals)
    for sig in _o.valid_signals():
        try:
            roots.append(_o.signal_getsignal(sig))
        except (OSError, ValueError):   # pragma: no cover
            pass
    return roots


def leaks(timeout: float | None = 1.0) -> list[VThread]:
    """The vthreads parked on a lock, event, queue, channel, join (or any
    primitive of vthreads) that nothing else references any more: no
    one can wake them.  Oldest first; an empty list for a healthy program.

    Runs ``gc.collect()``, then pauses every carrier while it follows
    every reference from the program's roots; what it proves and what it
    cannot see: docs/debugging.md, "Leaks".  ``timeout``: seconds to wait
    for the carriers to answer (None: as long as they take);
    TimeoutError if one did not -- it is running without parking, see
    ``dump()``.  Called from a vthread it parks while it waits
    (cancellation ends the wait with Cancelled).  Any thread.
    """
    deadline = timeout_to_deadline(timeout)
    rt = current_runtime()
    if rt is None:
        return []
    gc.collect()
    here = _o.get_ident()
    release = _o.allocate_lock()
    release.acquire()
    try:
        asked: list[Any] = []
        for c in rt.carriers:
            if c.thread_id == here:
                asked.append(_gather(c))
            else:
                a = _Answer()
                c.post_call(partial(_answer_and_wait, c, a, release))
                asked.append(a)
        records = []
        for c, a in zip(rt.carriers, asked):
            got = _wait(a, deadline) if type(a) is _Answer else a
            if got is TIMEOUT:
                raise TimeoutError(
                    f"leaks(): carrier {c.index} did not answer within "
                    f"{timeout}s; it runs a vthread that does not park "
                    f"(see vthreads.dump())")
            records.extend(got)
        return _scan(records, rt)
    finally:
        release.release()


def _scan(records: list[Any], rt: Any) -> list[VThread]:
    """Steps 3 and 4 of the header, on the gathered ``records``."""
    # The carriers' own current frames are their hubs and vthreads,
    # described in ``records``; the caller's is among them if it is one.
    roots = _os_roots({c.thread_id for c in rt.carriers})
    candidates = []
    for vt, obj, ticket, values in records:
        if obj is None:
            roots.append(vt)
            roots.extend(values)
        else:
            candidates.append((vt, obj, ticket, values))
    opaque = {id(vt) for vt, _, _, _ in candidates}
    # The carriers' sets of started vthreads are the runtime's, not the
    # program's: a vthread only they hold is one the program dropped (a
    # join on it is as stuck as it is).  The others are roots above.
    marked: set[int] = {id(c.live) for c in rt.carriers}
    # Our own bookkeeping must not count: it holds every candidate.
    marked.update((id(records), id(candidates), id(roots), id(opaque)))
    marked.update(id(r) for r in records)
    marked.update(id(c) for c in candidates)
    for _, _, _, values in records:
        marked.add(id(values))
    _mark(roots, marked, opaque)
    while True:
        woken = [c for c in candidates if id(c[1]) in marked]
        if not woken:
            break
        candidates = [c for c in candidates if id(c[1]) not in marked]
        more = []
        for vt, _, _, values in woken:
            opaque.discard(id(vt))
            marked.discard(id(vt))
            more.append(vt)
            more.extend(values)
        _mark(more, marked, opaque)
    leaked = [vt for vt, _, ticket, _ in candidates
              if vt._ticket is ticket and ticket]
    leaked.sort(key=lambda vt: vt._born)
    return leaked
