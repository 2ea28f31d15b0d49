"""A signal that writes dump() of a running process: VTHREADS_DUMP_SIGNAL.

Off unless the environment names a signal (``USR2``, ``SIGUSR2`` or its
number) when vthreads is imported.  The handler, which Python runs in the
main thread, only starts an OS thread of vthreads' own, which writes
``dump()`` to VTHREADS_DUMP_FILE (appended; default stderr) and ends.  The
handler itself never waits: the main thread may be the one serving the
runtime (docs/design.md, "The main thread, signals and fork"), and a
dump parks until the carriers answer.  A program that installs its own
handler for the same signal replaces this one.

Threads: ``install_from_env`` in the main thread, at import; the handler
in the main thread; ``_write`` in its own thread.
"""

import os
import signal
import sys
import time
import warnings

from .. import _originals as _o
from ._dump import dump
from ._ownthread import OwnThread

__all__ = ["install_from_env"]


def _signal_number(text):
    name = text.strip().upper()
    if name.isdigit():
        return signal.Signals(int(name))
    if not name.startswith("SIG"):
        name = "SIG" + name
    return signal.Signals[name]


def _write(path):
    report = dump(file=False)
    head = (f"=== vthreads dump, pid {os.getpid()}, "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')} ===\n")
    if path:
        with open(path, "a") as f:
            f.write(head + report + "\n")
    else:
        sys.stderr.write(head + report + "\n")
        sys.stderr.flush()


def install_from_env() -> None:
    """Install the dump handler if VTHREADS_DUMP_SIGNAL names a signal;
    ValueError if it names none."""
    text = os.environ.get("VTHREADS_DUMP_SIGNAL")
    if not text:
        return None
    try:
        signum = _signal_number(text)
    except (KeyError, ValueError):
        raise ValueError(f"VTHREADS_DUMP_SIGNAL must name a signal "
                         f"(USR2, SIGUSR2 or a number), not {text!r}") from None
    path = os.environ.get("VTHREADS_DUMP_FILE") or None

    def handler(signo, frame):
        OwnThread(lambda: _write(path), "vthreads-dump").start()

    handler._vthreads_own = True    # type: ignore[attr-defined]  # _deadlock

    if _o.get_ident() != _o.main_thread_ident:
        warnings.warn("VTHREADS_DUMP_SIGNAL is set, but vthreads was first "
                      "imported outside the main thread, where no signal "
                      "handler can be installed", RuntimeWarning)
        return None
    _o.signal_signal(signum, handler)
    return signum
