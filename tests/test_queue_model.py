"""Stateful property test: vthreads.Queue against a model deque.

Hypothesis drives random sequences of the non-blocking operations,
shutdown included, and checks every result and exception against a plain
model of queue.Queue's documented behaviour (3.13 shutdown semantics).
"""

import queue
from collections import deque

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import settings, strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402

import vthreads  # noqa: E402


class QueueModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.maxsize = 3
        self.q = vthreads.Queue(self.maxsize)
        self.model = deque()
        self.unfinished = 0
        self.shut = False

    @rule(item=st.integers())
    def put_nowait(self, item):
        if self.shut:
            with pytest.raises(vthreads.ShutDown):
                self.q.put_nowait(item)
        elif len(self.model) >= self.maxsize:
            with pytest.raises(queue.Full):
                self.q.put_nowait(item)
        else:
            self.q.put_nowait(item)
            self.model.append(item)
            self.unfinished += 1

    @rule()
    def get_nowait(self):
        if self.model:
            assert self.q.get_nowait() == self.model.popleft()
        elif self.shut:
            with pytest.raises(vthreads.ShutDown):
                self.q.get_nowait()
        else:
            with pytest.raises(queue.Empty):
                self.q.get_nowait()

    @rule()
    def task_done(self):
        if self.unfinished == 0:
            with pytest.raises(ValueError):
                self.q.task_done()
        else:
            self.q.task_done()
            self.unfinished -= 1

    @rule(immediate=st.booleans())
    def shutdown(self, immediate):
        self.q.shutdown(immediate=immediate)
        self.shut = True
        if immediate:
            n = len(self.model)
            self.model.clear()
            self.unfinished = max(0, self.unfinished - n)

    @invariant()
    def sizes_agree(self):
        assert self.q.qsize() == len(self.model)
        assert self.q.empty() == (not self.model)
        assert self.q.full() == (len(self.model) >= self.maxsize)
        assert self.q.unfinished_tasks == self.unfinished


TestQueueModel = QueueModel.TestCase
TestQueueModel.settings = settings(max_examples=150, stateful_step_count=40,
                                   deadline=None)
