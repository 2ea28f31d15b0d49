"""A carrier's TimerHeap: firing order, stale entries, compaction."""

from vthreads._core._ticket import TIMEOUT, Ticket
from vthreads._core._timers import COMPACT_AFTER, TimerHeap


class Task:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def _resume(self, ticket):
        self.log.append((self.name, ticket.value))


def armed(log, name):
    t = Ticket()
    t.append(Task(log, name))
    return t


def test_due_timers_fire_in_deadline_order_ties_first_come():
    log = []
    h = TimerHeap()
    h.add(2.0, armed(log, "b"))
    h.add(1.0, armed(log, "a1"))
    h.add(1.0, armed(log, "a2"))
    h.add(3.0, armed(log, "c"))
    h.fire_due(2.0)
    assert log == [("a1", TIMEOUT), ("a2", TIMEOUT), ("b", TIMEOUT)]
    assert len(h) == 1 and h.first() == 3.0


def test_next_deadline_skips_and_drops_stale_entries_in_front():
    log = []
    h = TimerHeap()
    early = armed(log, "early")
    h.add(1.0, early)
    h.add(5.0, armed(log, "late"))
    early.claim()                      # woken before its deadline
    h.went_stale()
    assert h.first() == 1.0            # still there, and counted as a timer
    assert h.next_deadline() == 5.0
    assert len(h) == 1


def test_the_heap_compacts_once_most_of_it_is_stale():
    log = []
    h = TimerHeap()
    n = 4 * COMPACT_AFTER
    tickets = [armed(log, i) for i in range(n)]
    for i, t in enumerate(tickets):
        h.add(100.0 + i, t)
    for t in tickets[: n // 2]:        # exactly half: not yet
        t.claim()
        h.went_stale()
    h.fire_due(0.0)
    assert len(h) == n
    tickets[n // 2].claim()            # one more: most of it is stale
    h.went_stale()
    h.fire_due(0.0)
    assert len(h) == n // 2 - 1 and all(e[2] for e in h)
    assert h.next_deadline() == 100.0 + n // 2 + 1
    assert log == []                   # compaction fires nothing


def test_a_few_stale_entries_are_left_alone():
    log = []
    h = TimerHeap()
    tickets = [armed(log, i) for i in range(COMPACT_AFTER)]
    for i, t in enumerate(tickets):
        h.add(10.0 + i, t)
        t.claim()
        h.went_stale()
    h.fire_due(0.0)                    # all stale, but only 64 of them
    assert len(h) == COMPACT_AFTER
    assert h.next_deadline() is None and len(h) == 0
