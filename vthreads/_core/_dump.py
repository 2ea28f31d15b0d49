"""dump(): every virtual thread, what it waits on, and where it is stuck.

Only a carrier's own thread may look at a parked greenlet's frame, so each
carrier describes its own vthreads.  The caller's own carrier (when dump
runs in a vthread, or on a carrier's hub) is described right here, inline:
asked through its inbox, it could not answer until the caller parked.  The
others are asked through their inboxes, all at once, and the caller parks
until each answers (reason ``DUMP``) or the one deadline passes.  A carrier
that does not answer in time is not returning to its hub: some vthread is
running without parking -- a CPU loop or a real blocking call that was not
made cooperative.  For that carrier the report shows the OS thread's
current stack instead, which is exactly what is blocking it.

Threads: ``dump`` runs in any thread; ``_answer`` on each other carrier.
An answer is a one-shot completion (``_completion``: its stripe lock).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import IO, Literal
from functools import partial

from .. import _originals as _o
from ._block import TIMEOUT, block, timeout_to_deadline
from ._completion import add_waiter, complete, remove_waiter, stripe
from ._runtime import current_runtime
from ._switch import getcurrent


_CORE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_stack(frame):
    """The frames worth reading: the runtime's own park machinery
    (this directory) is left out."""
    summary = [f for f in traceback.extract_stack(frame)
               if not f.filename.startswith(_CORE)]
    return traceback.format_list(summary)


def _indent(stack):
    return ["    " + s.rstrip().replace("\n", "\n    ") for s in stack]


def _describe(carrier):
    """The report lines of ``carrier``'s vthreads.  On its own thread."""
    lines = []
    me = getcurrent()
    for vt in sorted(carrier.live, key=lambda v: v.ident):
        g = vt._g
        if g is None:
            frame = None
        elif g is me:
            # The vthread that calls dump, or the one the carrier dozes in
            # (see Carrier.doze_in_place): its frames are live ones.
            frame = sys._getframe()
        else:
            frame = g.gr_frame
        lines.append(repr(vt))
        if frame is not None:
            lines.extend(_indent(_user_stack(frame)))
    lines.append(f"{len(carrier.runq)} queued to run, "
                 f"{len(carrier.timers)} timers, "
                 f"{carrier.poller.waiting} fd waits")
    return lines


class _Answer:
    """One carrier's description, completed once by that carrier."""

    __slots__ = ("_done", "_waiters", "_result", "_exc")

    def __init__(self):
        self._done = False
        self._waiters = None
        self._result = self._exc = None


def _answer(carrier, answer):
    try:
        lines = _describe(carrier)
    except Exception as exc:    # a repr that raises: not the carrier's end
        lines = [f"(could not describe this carrier: {exc!r})"]
    complete(answer, lines, None)


def _wait(carrier, answer, deadline):
    """The answer's lines, or TIMEOUT."""
    block("DUMP", carrier, partial(add_waiter, answer),
          partial(remove_waiter, answer), deadline)
    with stripe(answer):        # it may have come as the deadline passed
        return answer._result if answer._done else TIMEOUT


def dump(file: IO[str] | Literal[False] | None = None,
         timeout: float | None = 1.0) -> str:
    """Describe every live vthread of the runtime, carrier by carrier.

    Returns the report and also writes it to ``file`` (default stderr;
    pass ``file=False`` to only return it).  ``timeout`` is how long to
    wait, in all, for the other carriers to answer, in seconds, or None to
    wait as long as they take; as every timeout in vthreads, it must not be
    negative.  A carrier that has not answered by then is reported BLOCKED.
    Called from a vthread, dump parks while it waits, and describes its own
    carrier at once.
    """
    if file is not None and file is not False \
            and not callable(getattr(file, "write", None)):
        raise TypeError(f"dump() writes to a file with write(), None or "
                        f"False, not {type(file).__name__}")
    deadline = timeout_to_deadline(timeout)     # checks it, as everywhere
    rt = current_runtime()
    lines = []
    if rt is None:
        lines.append("vthreads: no runtime is running")
    else:
        here = _o.get_ident()
        answers = []
        for c in rt.carriers:
            if c.thread_id == here:
                answers.append(_describe(c))
            else:
                a = _Answer()
                c.post_call(partial(_answer, c, a))
                answers.append(a)
        frames = None
        for c, a in zip(rt.carriers, answers):
            if type(a) is _Answer:
                a = _wait(c, a, deadline)
            if a is not TIMEOUT:
                lines.append(f"== carrier {c.index} (thread {c.thread_id}) ==")
                lines.extend(a)
                continue
            if frames is None:
                frames = sys._current_frames()
            lines.append(f"== carrier {c.index} (thread {c.thread_id}) is "
                         f"BLOCKED: no return to its hub in {timeout}s; "
                         f"it is running: ==")
            frame = frames.get(c.thread_id)
            if frame is not None:
                lines.extend(_indent(traceback.format_stack(frame)))
        if rt.injected:
            lines.append(f"{len(rt.injected)} spawned from outside, not yet placed")
    report = "\n".join(lines) + "\n"
    if file is not False:
        (file or sys.stderr).write(report)
    return report
