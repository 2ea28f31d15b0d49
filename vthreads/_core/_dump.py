"""dump(): every virtual thread, what it waits on, and where it is stuck.

Each carrier is asked, through its inbox, to describe its own vthreads
(only the owner thread may look at a parked greenlet's frame).  A carrier
that does not answer within ``timeout`` is not returning to its hub: some
vthread is running without parking -- a CPU loop or a real blocking call
that was not made cooperative.  For that carrier the report shows the OS
thread's current stack instead, which is exactly what is blocking it.

Threads: ``dump`` runs in any thread; ``_describe`` on each carrier.
"""

import os
import sys
import traceback

from .. import _originals as _o
from ._cancel import check_seconds
from ._runtime import current_runtime
from ._switch import getcurrent


_CORE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_stack(frame):
    """The frames worth reading: the runtime's own park machinery
    (this directory) is left out."""
    summary = [f for f in traceback.extract_stack(frame)
               if not f.filename.startswith(_CORE)]
    return traceback.format_list(summary)


def _describe(carrier, out, done):
    def describe():
        try:
            for vt in sorted(carrier.live, key=lambda v: v.ident):
                g = vt._g
                if g is None:
                    frame = None
                elif g is getcurrent():
                    # The carrier dozes inside this vthread's park (see
                    # Carrier.doze_in_place): its frames are live ones.
                    frame = sys._getframe()
                else:
                    frame = g.gr_frame
                stack = _user_stack(frame) if frame is not None else []
                out.append((repr(vt), stack))
            out.append(("", [f"{len(carrier.runq)} queued to run, "
                             f"{len(carrier.timers)} timers, "
                             f"{carrier.poller.waiting} fd waits"]))
        finally:
            done.release()
    return describe


def dump(file=None, timeout=1.0):
    """Describe every live vthread of the runtime, carrier by carrier.

    Returns the report and also writes it to ``file`` (default stderr;
    pass ``file=False`` to only return it).
    """
    if file is not None and file is not False \
            and not callable(getattr(file, "write", None)):
        raise TypeError(f"dump() writes to a file with write(), None or "
                        f"False, not {type(file).__name__}")
    timeout = check_seconds(timeout)
    rt = current_runtime()
    lines = []
    if rt is None:
        lines.append("vthreads: no runtime is running")
    else:
        frames = None
        for c in rt.carriers:
            out, done = [], _o.allocate_lock()
            done.acquire()
            c.post_call(_describe(c, out, done))
            if done.acquire(True, timeout):
                lines.append(f"== carrier {c.index} (thread {c.thread_id}) ==")
                for head, stack in out:
                    if head:
                        lines.append(head)
                        lines.extend("    " + s.rstrip().replace("\n", "\n    ")
                                     for s in stack)
                    else:
                        lines.extend(stack)
            else:
                if frames is None:
                    frames = sys._current_frames()
                lines.append(f"== carrier {c.index} (thread {c.thread_id}) is "
                             f"BLOCKED: no return to its hub in {timeout}s; "
                             f"it is running: ==")
                frame = frames.get(c.thread_id)
                if frame is not None:
                    lines.extend("    " + s.rstrip().replace("\n", "\n    ")
                                 for s in traceback.format_stack(frame))
        if rt.injected:
            lines.append(f"{len(rt.injected)} spawned from outside, not yet placed")
    report = "\n".join(lines) + "\n"
    if file is not False:
        (file or sys.stderr).write(report)
    return report
