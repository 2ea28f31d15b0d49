"""A carrier's timers: a heap of (deadline, seq, ticket) that owns its
stale-entry accounting.

A timed park adds an entry; whichever comes first -- the deadline, a
wake-up, a cancel -- claims the ticket, so an entry whose park ended
otherwise stays in the heap, *stale* (its ticket is empty), until it
reaches the front or the heap is compacted.  The parker says when its
entry went stale (``went_stale``), and the heap decides when to compact:
once more than 64 entries and more than half of them are stale, so a
server whose requests all finish before their timeouts does not grow
the heap without bound.  docs/design.md, "Timers", says why a heap with
stale entries rather than removal.

A list subclass, so that the carrier's ``if timers:`` and ``len()`` on
its hot path stay C calls.  A stale entry counts as a timer for
truthiness: it will end a sleep, later (see _deadlock).

Threads: the owner carrier's thread only (statistics() and dump() read
``len()`` as a hint).
"""

import heapq

from ._ticket import TIMEOUT

__all__ = ["TimerHeap", "COMPACT_AFTER"]

COMPACT_AFTER = 64      # stale entries tolerated before compacting


class TimerHeap(list):
    __slots__ = ("_seq", "_stale")

    def __init__(self):
        super().__init__()
        self._seq = 0           # ties: earlier timers fire first
        self._stale = 0         # entries whose park ended another way

    def add(self, deadline, ticket):
        self._seq += 1
        heapq.heappush(self, (deadline, self._seq, ticket))

    def went_stale(self):
        """A timed park ended before its deadline: its entry is stale."""
        self._stale += 1

    def fire_due(self, now):
        """Fire (TIMEOUT) every timer due at ``now``; compact if stale
        entries are most of the heap."""
        while self and self[0][0] <= now:
            heapq.heappop(self)[2].fire(TIMEOUT)
        if self._stale > COMPACT_AFTER and self._stale * 2 > len(self):
            self[:] = [e for e in self if e[2]]
            heapq.heapify(self)
            self._stale = 0

    def first(self):
        """The earliest deadline in the heap, stale or not (non-empty)."""
        return self[0][0]

    def next_deadline(self):
        """The earliest deadline of a timer still armed, or None; drops
        the stale ones in front (a mock clock must not jump to them)."""
        while self and not self[0][2]:
            heapq.heappop(self)
            if self._stale:
                self._stale -= 1
        return self[0][0] if self else None
