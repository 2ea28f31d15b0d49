"""The core layer: vthreads, carriers, parking, timers, cancellation.

Knows nothing of sockets or patching.  Upper layers import from here only.
"""

from . import _clock as clock
from ._clock import current_time
from ._block import TIMEOUT, block, timeout_to_deadline
from ._cancel import check as check_cancel
from ._cancel import (CancelScope, check_number, current_effective_deadline,
                      fail_after, fail_at, move_on_after, move_on_at)
from ._dump import FORMAT as DUMP_FORMAT, VERSION as DUMP_VERSION, dump
from ._dump_signal import install_from_env as install_dump_signal
from ._errors import Cancelled, DeadlockError
from ._leaks import leaks
from ._fork import on_child
from . import _inspect  # noqa: F401  (listens as a runtime starts)
from ._inspect import socket_path
from ._mainthread import call_in_main, in_main_thread, main_ident, serve, served
from ._ownthread import OwnThread
from ._ops import (checkpoint, current, run, sleep, spawn, wait_readable,
                   wait_writable)
from ._runtime import (Runtime, add_exit_hook, check_carriers, configure,
                       current_runtime, new_claim, shutdown)
from ._stats import statistics
from ._taskgroup import TaskGroup
from ._threadtask import current_task
from ._ticket import INTERRUPT, Ticket
from ._to_thread import check_cancelled, to_thread
from ._vthread import ExceptHookArgs, VThread, default_excepthook

__all__ = [
    "clock", "current_time", "TIMEOUT", "INTERRUPT", "Ticket", "block", "timeout_to_deadline",
    "CancelScope", "check_number", "current_effective_deadline",
    "fail_after", "fail_at", "move_on_after", "move_on_at", "dump",
    "Cancelled", "DeadlockError", "leaks", "checkpoint", "current", "run", "sleep", "spawn", "wait_readable", "wait_writable",
    "configure", "current_runtime", "shutdown", "TaskGroup", "current_task",
    "to_thread", "ExceptHookArgs", "VThread", "default_excepthook",
    "on_child", "OwnThread", "statistics", "check_cancelled", "check_cancel",
    "DUMP_FORMAT", "DUMP_VERSION", "install_dump_signal", "socket_path",
    "call_in_main", "main_ident", "served", "add_exit_hook", "check_carriers",
    "Runtime", "new_claim", "in_main_thread", "serve",   # vthreads.testing.run
]
