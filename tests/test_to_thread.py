"""to_thread: blocking work on helper threads."""

import contextvars
import threading
import time

import pytest

import vthreads
import vthreads.monkey
from vthreads import Cancelled
from conftest import wait_until


def test_runs_on_a_helper_thread_and_returns():
    def where():
        return threading.get_ident()

    def main():
        return threading.get_ident(), vthreads.to_thread(where)

    mine, helper = vthreads.run(main)
    assert mine != helper


def test_reraises_and_passes_arguments():
    def f(a, b=0):
        if a < 0:
            raise ValueError(a)
        return a + b

    assert vthreads.run(lambda: vthreads.to_thread(f, 1, b=2)) == 3
    with pytest.raises(ValueError):
        vthreads.run(lambda: vthreads.to_thread(f, -1))


def test_does_not_block_the_carrier(carriers):
    trace = []

    def ticker():
        for _ in range(5):
            trace.append("tick")
            vthreads.sleep(0.005)

    def main():
        t = vthreads.spawn(ticker)
        vthreads.to_thread(time.sleep, 0.1)     # blocks a helper, not us
        trace.append("slept")
        t.join()

    vthreads.run(main)
    assert trace.index("slept") == 5


def test_a_blocking_call_that_does_not_park_freezes_its_carrier(one_carrier):
    # The other half of the test above, as docs/design.md (the pinning
    # constraint, point 7) and the README warn: the unpatched time.sleep
    # holds the one carrier, and the ticker waits until it returns.
    real_sleep = vthreads.monkey.get_original("time", "sleep")
    trace = []

    def main():
        t = vthreads.spawn(trace.append, "tick")
        real_sleep(0.05)
        trace.append("slept")
        t.join()

    vthreads.run(main)
    assert trace == ["slept", "tick"]


def test_cancel_stops_the_wait_and_helper_finishes_in_background():
    started, gate, finished = (threading.Event(), threading.Event(),
                               threading.Event())

    def slow():
        started.set()
        gate.wait(10)
        finished.set()
        return "late"

    vt = vthreads.spawn(vthreads.to_thread, slow)
    # Wait for the helper to begin: a job cancelled while still queued
    # (helpers busy with other tests' work) is dropped, by design. The
    # helper may start before the vthread has parked, so wait for both.
    assert started.wait(10)
    assert wait_until(lambda: "TO_THREAD" in repr(vt)), repr(vt)
    vt.cancel()
    with pytest.raises(Cancelled):
        vt.result(10)
    assert not finished.is_set()          # the wait ended before the work
    gate.set()
    assert finished.wait(10)


def test_context_is_copied():
    var = contextvars.ContextVar("v")

    def main():
        var.set("x")
        return vthreads.to_thread(var.get)

    assert vthreads.run(main) == "x"


def test_from_plain_thread_and_bad_input():
    assert vthreads.to_thread(lambda: 7) == 7
    with pytest.raises(TypeError):
        vthreads.to_thread(None)


def test_cancelled_job_still_queued_never_runs():
    from vthreads._core._to_thread import _pool
    gate = threading.Event()
    ran = []
    blockers = [vthreads.spawn(vthreads.to_thread, gate.wait, 30)
                for _ in range(_pool.max_workers)]
    try:
        from conftest import wait_until
        assert wait_until(lambda: _pool.statistics()["threads"] == _pool.max_workers
                          and _pool.statistics()["idle"] == 0)
        queued = vthreads.spawn(vthreads.to_thread, ran.append, 1)
        assert wait_until(lambda: _pool.statistics()["queued"] >= 1)
        queued.cancel()
        with pytest.raises(Cancelled):
            queued.result(10)
    finally:
        gate.set()
    for b in blockers:
        assert b.result(10) is True
    from conftest import wait_until
    assert wait_until(lambda: _pool.statistics()["queued"] == 0)
    assert ran == []          # the helper that dequeued it skipped it


@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_a_job_sees_its_caller_cancelled_with_check_cancelled(where):
    from conftest import run_in, wait_until
    started, outcome = threading.Event(), []
    real_sleep = vthreads.monkey.get_original("time", "sleep")

    def job():
        started.set()
        for i in range(1000):
            real_sleep(0.005)
            try:
                vthreads.check_cancelled()
            except Cancelled as exc:
                outcome.append((i, str(exc)))
                raise
        outcome.append("ran to the end")

    def caller():
        with vthreads.move_on_after(0.1) as scope:
            vthreads.to_thread(job)
        return scope.cancelled_caught

    assert run_in(where, caller) is True
    assert started.is_set()
    assert wait_until(lambda: outcome)
    [(i, message)] = outcome
    assert i < 100, i                # stopped soon after, not at 1000
    assert message == "the caller of to_thread() was cancelled"


def test_check_cancelled_outside_a_job_checks_the_current_task():
    from conftest import run_in
    vthreads.check_cancelled()           # nothing cancelled: returns

    def cancelled():
        with vthreads.move_on_after(0) as scope:
            vthreads.check_cancelled()
            return "not raised"
        return scope.cancelled_caught

    assert run_in("vthread", cancelled) is True
    assert run_in("thread", cancelled) is True

    def job_not_cancelled():
        vthreads.check_cancelled()
        return "ok"
    assert vthreads.to_thread(job_not_cancelled) == "ok"
