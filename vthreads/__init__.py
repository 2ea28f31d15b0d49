"""vthreads: virtual threads for plain blocking Python code.

Greenlets multiplexed over a pool of OS carrier threads, with cooperative
cancellation that also works in plain OS threads.  See docs/design.md.
"""

from ._core import (Cancelled, CancelScope, DeadlockError, ExceptHookArgs,
                    TaskGroup, leaks,
                    VThread, check_cancelled, checkpoint, configure, current,
                    current_time,
                    dump,
                    current_effective_deadline, fail_after, fail_at,
                    move_on_after, move_on_at, run, shutdown, sleep, spawn,
                    statistics, to_thread, wait_readable, wait_writable)
from ._core import default_excepthook as excepthook
from ._io import BusyResourceError, VThreadPoolExecutor
from ._sync import (Barrier, BoundedSemaphore, BrokenBarrierError, Channel,
                    ChannelClosed, Condition, Empty, Event, Full, LifoQueue, Lock,
                    PriorityQueue, Queue, RLock, Semaphore, ShutDown,
                    SimpleQueue, join_async, run_coroutine, select,
                    select_async)

__version__ = "0.1.0"

__all__ = [
    "BusyResourceError", "VThreadPoolExecutor",
    "Barrier", "BoundedSemaphore", "BrokenBarrierError", "Channel",
    "ChannelClosed", "Condition", "Empty", "Event", "Full", "LifoQueue", "Lock",
    "PriorityQueue", "Queue", "RLock", "Semaphore", "ShutDown",
    "SimpleQueue", "join_async", "run_coroutine", "select", "select_async",
    "Cancelled", "CancelScope", "DeadlockError", "ExceptHookArgs", "TaskGroup",
    "VThread", "leaks",
    "check_cancelled", "checkpoint", "configure", "current", "current_effective_deadline",
    "current_time", "dump",
    "excepthook", "fail_after", "fail_at", "move_on_after", "move_on_at",
    "run", "shutdown", "sleep", "spawn", "statistics", "to_thread",
    "wait_readable", "wait_writable",
]

# What users see names the public path, not the module that defines it:
# tracebacks say ``vthreads.Cancelled``, reprs ``<class 'vthreads.Queue'>``
# and ``vthreads.Queue[int]``, and pickles find the class there.  An alias
# (``excepthook``) keeps its defining module, where its own name is found.
# See docs/design.md, "Layers".
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__qualname__", None) == _name and \
            _obj.__module__.startswith(__name__ + "."):
        _obj.__module__ = __name__
del _name, _obj

# VTHREADS_DUMP_SIGNAL=USR2 (off when unset): that signal writes dump() to
# VTHREADS_DUMP_FILE or stderr; see vthreads/_core/_dump_signal.py.
from ._core import install_dump_signal as _install_dump_signal
_install_dump_signal()
del _install_dump_signal
