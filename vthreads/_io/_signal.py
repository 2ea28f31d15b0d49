"""signal.signal, set_wakeup_fd, raise_signal, pause and pidfd_send_signal
from any vthread.

Only the main thread may install handlers, but under ``vthreads.run()``
(and ``python -m vthreads``) the program's main code is a vthread on a
carrier thread.  These two forward the call to the main thread, which
runs it while it waits in ``run()`` (``_core._mainthread``).  Handlers
then run in the main thread as always; an exception one raises reaches
the main vthread at its park.  ``raise_signal`` is raised by the main
thread too, so that its handler has run when it returns, and what the
handler raised is raised there, as in Python.  ``pidfd_send_signal`` is
sent from the main thread as well: sent to the process itself, the
kernel gives the signal to the main thread, whose handler then runs as
the call returns (a few bytecodes later, which the call still covers).
``pause`` waits in the
main thread, which is where the kernel sends a process's signals (a
carrier's pause() would sleep through them); while it waits there, the
main thread runs no other posted call, as a main thread in pause() would
not.  With no main thread waiting in ``run()``
the call is made where it is, and raises ValueError outside the main
thread, as the stdlib's does.

Threads: any.
"""

from .. import _originals as _o
from .._core import call_in_main, current

__all__ = ["signal", "set_wakeup_fd", "raise_signal", "pause",
           "pidfd_send_signal"]


def signal(signalnum, handler):
    """signal.signal; from a vthread, installed by the main thread."""
    if current() is None:
        return _o.signal_signal(signalnum, handler)
    return call_in_main(_o.signal_signal, signalnum, handler)


def set_wakeup_fd(fd, /, *, warn_on_full_buffer=True):
    """signal.set_wakeup_fd; from a vthread, set by the main thread."""
    if current() is None:
        return _wakeup(fd, warn_on_full_buffer)
    return call_in_main(_wakeup, fd, warn_on_full_buffer)


def _wakeup(fd, warn):
    return _o.signal_set_wakeup_fd(fd, warn_on_full_buffer=warn)


def raise_signal(signalnum, /):
    """signal.raise_signal; from a vthread, raised by the main thread."""
    if current() is None:
        return _o.raise_signal(signalnum)
    return call_in_main(_o.raise_signal, signalnum)


def pause():
    """signal.pause; from a vthread, the main thread waits for the signal."""
    if current() is None:
        return _o.signal_pause()
    return call_in_main(_o.signal_pause)


def pidfd_send_signal(pidfd, sig, siginfo=None, flags=0):
    """signal.pidfd_send_signal; from a vthread, sent by the main thread."""
    if current() is None:
        return _o.pidfd_send_signal(pidfd, sig, siginfo, flags)
    return call_in_main(_o.pidfd_send_signal, pidfd, sig, siginfo, flags)
