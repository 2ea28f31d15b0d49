"""The primitives layer: locks, events, queues and channels whose waiters
may be vthreads on any carrier, plain OS threads, or asyncio coroutines on
any loop (the ``*_async`` twins).

Built only on what ``vthreads._core`` exports (block, tickets, scopes).
"""

from ._aio import join_async, run_coroutine
from ._barrier import Barrier, BrokenBarrierError
from ._channel import Channel, ChannelClosed, select, select_async
from ._condition import Condition
from ._event import Event
from ._locks import Lock, RLock
from ._queues import Empty, Full, LifoQueue, PriorityQueue, Queue, ShutDown, SimpleQueue
from ._semaphore import BoundedSemaphore, Semaphore

__all__ = ["Barrier", "BoundedSemaphore", "BrokenBarrierError", "Channel",
           "ChannelClosed", "Condition", "Empty", "Event", "Full",
           "LifoQueue", "Lock", "PriorityQueue", "Queue", "RLock",
           "Semaphore", "ShutDown", "SimpleQueue", "join_async", "run_coroutine",
           "select", "select_async"]
