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

A carrier's answer is data (``_describe``: plain dicts, lists, strings and
numbers), the same for both formats: the text report is rendered from it,
and the JSON one is it, under a versioned head (docs/debugging.md, "The
JSON shape", documents every field; a change to a field's meaning or a
removal bumps ``VERSION``, a new field does not).

Threads: ``dump`` runs in any thread; ``_answer`` on each other carrier.
An answer is a one-shot completion (``_completion``: its stripe lock).
Reading a vthread's fields, its scopes (whose ``_outer`` chain stays put
while the vthread can see it, see _cancel) and its group happens on its
owner carrier.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import IO, Any, Literal
from functools import partial

from .. import _originals as _o
from ._block import TIMEOUT, block, timeout_to_deadline
from ._completion import add_waiter, complete, remove_waiter, stripe
from ._runtime import current_runtime
from ._switch import getcurrent
from ._vthread import VThread, _short


_CORE = os.path.dirname(os.path.abspath(__file__)) + os.sep

FORMAT = "vthreads-dump"
VERSION = 1
FORMATS = ("text", "json")


def _user_stack(frame):
    """The frames worth reading, outermost first, as dicts: the runtime's
    own park machinery (this directory) is left out."""
    return [{"file": f.filename, "line": f.lineno, "function": f.name,
             "code": f.line or None}
            for f in traceback.extract_stack(frame)
            if not f.filename.startswith(_CORE)]


def _os_stack(frame):
    return [{"file": f.filename, "line": f.lineno, "function": f.name,
             "code": f.line or None}
            for f in traceback.extract_stack(frame)]


def _format_stack(stack):
    return traceback.format_list(
        [(f["file"], f["line"], f["function"], f["code"]) for f in stack])


def _indent(stack):
    return ["    " + s.rstrip().replace("\n", "\n    ") for s in stack]


def _object(obj):
    if obj is None:
        return None
    t = type(obj)
    return {"type": f"{t.__module__}.{t.__qualname__}", "id": id(obj),
            "repr": _short(obj)}


def _scopes(vt, now):
    """The cancel scopes around ``vt``, innermost first (see _cancel: its
    own, then its group's and those around the group)."""
    out = []
    s = vt._scope
    while s is not None:
        owner = s._task
        d = s._deadline
        out.append({
            "deadline": d,
            "deadline_in": None if d is None else round(d - now, 6),
            "shield": s._shield,
            "cancel_called": s._cancel_called,
            "owner": owner.ident if isinstance(owner, VThread) else None,
        })
        s = s._outer
    return out


def _group(vt):
    g = vt._group
    if g is None:
        return None
    owner = g._scope._task
    return {"id": id(g),
            "owner": owner.ident if isinstance(owner, VThread) else None}


def _record(vt, carrier, frame, now):
    state = vt._state
    parked = state == "parked"
    return {
        "id": vt.ident,
        "name": vt.name,
        "state": state,
        "carrier": carrier,
        "reason": vt._reason if parked else None,
        "waiting_on": (_object(vt._waiting_on)
                       if parked and vt._waiting_on is not vt else None),
        "age": round(now - vt._born, 6),
        "parent": vt._parent or None,
        "taskgroup": _group(vt),
        "cancel_requested": vt._cancel_requested,
        "scopes": _scopes(vt, now),
        "repr": repr(vt),
        "stack": [] if frame is None else _user_stack(frame),
    }


def _describe(carrier):
    """What ``carrier`` runs, as data (see the header).  On its own thread."""
    now = _o.monotonic()
    me = getcurrent()
    records = []
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
        records.append(_record(vt, carrier.index, frame, now))
    for x in list(carrier.runq):
        if type(x) is list:                 # a claim: not started yet
            try:
                vt = x[0]
            except IndexError:              # started meanwhile, elsewhere
                continue
            records.append(_record(vt, carrier.index, None, now))
    return {"index": carrier.index, "thread": carrier.thread_id,
            "blocked": False, "stack": None,
            "ready": len(carrier.runq), "timers": len(carrier.timers),
            "fd_waits": carrier.poller.waiting, "vthreads": records}


class _Answer:
    """One carrier's description, completed once by that carrier."""

    __slots__ = ("_done", "_waiters", "_result", "_exc")

    def __init__(self):
        self._done = False
        self._waiters = None
        self._result = self._exc = None


def _answer(carrier, answer):
    try:
        data = _describe(carrier)
    except Exception as exc:    # a repr that raises: not the carrier's end
        data = {"index": carrier.index, "thread": carrier.thread_id,
                "blocked": False, "stack": None,
                "error": f"could not describe this carrier: {exc!r}",
                "vthreads": []}
    complete(answer, data, None)


def _wait(carrier, answer, deadline):
    """The answer's data, or TIMEOUT."""
    block("DUMP", carrier, partial(add_waiter, answer),
          partial(remove_waiter, answer), deadline)
    with stripe(answer):        # it may have come as the deadline passed
        return answer._result if answer._done else TIMEOUT


def collect(timeout: float | None = 1.0,
            runtime: Any = None) -> dict[str, Any]:
    """The dump as data: the JSON shape of docs/debugging.md, as dicts.
    ``timeout`` has been checked (or is checked here, as everywhere).
    ``runtime``: the one to describe (default: the default runtime)."""
    deadline = timeout_to_deadline(timeout)
    carriers: list[dict[str, Any]] = []
    vthreads: list[dict[str, Any]] = []
    head: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "pid": os.getpid(),
        "time": time.time(), "monotonic": _o.monotonic(),
        "running": False, "timeout": timeout, "injected": 0,
        "carriers": carriers, "vthreads": vthreads}
    rt = current_runtime() if runtime is None else runtime
    if rt is None or rt.closing:
        return head
    head["running"] = True
    here = _o.get_ident()
    answers: list[Any] = []
    carriers_now = rt.carriers      # copied on write: read it once
    for c in carriers_now:
        if c.thread_id == here:
            answers.append(_describe(c))
        else:
            ask = _Answer()
            c.post_call(partial(_answer, c, ask))
            answers.append(ask)
    frames = None
    for c, asked in zip(carriers_now, answers):
        a: Any = (_wait(c, asked, deadline) if type(asked) is _Answer
                  else asked)
        if a is TIMEOUT:
            if frames is None:
                frames = sys._current_frames()
            frame = frames.get(c.thread_id)
            a = {"index": c.index, "thread": c.thread_id, "blocked": True,
                 "stack": None if frame is None else _os_stack(frame),
                 "vthreads": []}
        vthreads.extend(a.pop("vthreads"))
        carriers.append(a)
    head["injected"] = len(rt.injected)
    return head


def render_text(data: dict[str, Any]) -> str:
    """The text report of ``collect()``'s data."""
    if not data["running"]:
        return "vthreads: no runtime is running\n"
    lines = []
    by_carrier: dict[int, list[dict[str, Any]]] = {}
    for r in data["vthreads"]:
        by_carrier.setdefault(r["carrier"], []).append(r)
    for c in data["carriers"]:
        if c["blocked"]:
            lines.append(f"== carrier {c['index']} (thread {c['thread']}) is "
                         f"BLOCKED: no return to its hub in "
                         f"{data['timeout']}s; it is running: ==")
            if c["stack"]:
                lines.extend(_indent(_format_stack(c["stack"])))
            continue
        lines.append(f"== carrier {c['index']} (thread {c['thread']}) ==")
        if "error" in c:
            lines.append(f"({c['error']})")
            continue
        for r in by_carrier.get(c["index"], ()):
            lines.append(r["repr"])
            lines.extend(_indent(_format_stack(r["stack"])))
        lines.append(f"{c['ready']} queued to run, {c['timers']} timers, "
                     f"{c['fd_waits']} fd waits")
    if data["injected"]:
        lines.append(f"{data['injected']} spawned from outside, not yet placed")
    return "\n".join(lines) + "\n"


def dump(file: IO[str] | Literal[False] | None = None,
         format: Literal["text", "json"] = "text",
         timeout: float | None = 1.0) -> str:
    """Describe every live vthread of the runtime, carrier by carrier.

    Returns the report and also writes it to ``file`` (default stderr;
    pass ``file=False`` to only return it).  ``format`` is ``"text"``, for
    people, or ``"json"``, for tools: one JSON object in the versioned
    shape that docs/debugging.md documents field by field; anything else
    is a ValueError.  ``timeout`` is how long to
    wait, in all, for the other carriers to answer, in seconds, or None to
    wait as long as they take; as every timeout in vthreads, it must not be
    negative.  A carrier that has not answered by then is reported BLOCKED.
    Called from a vthread, dump parks while it waits (cancellation ends
    the wait with Cancelled), and describes its own carrier at once.  Any
    thread may call it.
    """
    if file is not None and file is not False \
            and not callable(getattr(file, "write", None)):
        raise TypeError(f"dump() writes to a file with write(), None or "
                        f"False, not {type(file).__name__}")
    if format not in FORMATS:
        raise ValueError(f"dump() format must be 'text' or 'json', "
                         f"not {format!r}")
    data = collect(timeout)
    if format == "json":
        report = json.dumps(data, indent=1) + "\n"
    else:
        report = render_text(data)
    if file is not False:
        (file or sys.stderr).write(report)
    return report
