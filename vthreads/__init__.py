"""vthreads: virtual threads for plain blocking Python code.

Greenlets multiplexed over a pool of OS carrier threads, with cooperative
cancellation that also works in plain OS threads.  See docs/design.md.
"""

from ._core import (Cancelled, CancelScope, ExceptHookArgs, TaskGroup,
                    VThread, checkpoint, configure, current, dump,
                    current_effective_deadline, fail_after, fail_at,
                    move_on_after, move_on_at, run, shutdown, sleep, spawn,
                    to_thread, wait_readable, wait_writable)
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
    "Cancelled", "CancelScope", "ExceptHookArgs", "TaskGroup", "VThread",
    "checkpoint", "configure", "current", "current_effective_deadline", "dump",
    "excepthook", "fail_after", "fail_at", "move_on_after", "move_on_at",
    "run", "shutdown", "sleep", "spawn", "to_thread", "wait_readable",
    "wait_writable",
]
