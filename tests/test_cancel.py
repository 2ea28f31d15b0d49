"""Cancellation: VThread.cancel, cancel scopes, in vthreads and OS threads.

One parametrized helper proves that every kind of blocking wait of the core
can be cancelled and timed out, in a vthread and in a plain thread.
"""

import math
import select
import socket
import threading
import time

import pytest

import vthreads
from vthreads import Cancelled
from vthreads._io import epoll
from conftest import autojump, run_in, wait_until


# --- every wait, cancellable and with a deadline -------------------------------

def _never_done():
    return vthreads.spawn(vthreads.sleep, 60)


WAITS = {
    "sleep": lambda: vthreads.sleep(60),
    "join": lambda: _never_done().join(),
    "result": lambda: _never_done().result(),
    "wait_readable": lambda: _wait_quiet_socket(),
    "epoll": lambda: _poll_quiet_epoll(),
    "to_thread": lambda: vthreads.to_thread(time.sleep, 0.5),
    "taskgroup": lambda: _taskgroup_wait(),
    "lock": lambda: _held(vthreads.Lock()).acquire(),
    "rlock": lambda: _held_elsewhere(vthreads.RLock()).acquire(),
    "semaphore": lambda: vthreads.Semaphore(0).acquire(),
    "event": lambda: vthreads.Event().wait(),
    "condition": lambda: _condition_wait(),
    "barrier": lambda: vthreads.Barrier(2).wait(),
    "queue_get": lambda: vthreads.Queue().get(),
    "queue_put": lambda: _full_queue().put(2),
    "queue_join": lambda: _unfinished_queue().join(),
    "channel_send": lambda: vthreads.Channel().send(1),
    "channel_recv": lambda: vthreads.Channel().recv(),
    "select": lambda: vthreads.select(vthreads.Channel().recv_case(),
                                      vthreads.Channel().send_case(1)),
}


def _held(lock):
    lock.acquire()
    return lock


def _held_elsewhere(rlock):
    vthreads.spawn(rlock.acquire).join()       # owned by a finished vthread
    return rlock


def _condition_wait():
    c = vthreads.Condition()
    with c:
        c.wait()


def _full_queue():
    q = vthreads.Queue(1)
    q.put(1)
    return q


def _unfinished_queue():
    q = vthreads.Queue()
    q.put(1)
    return q


def _wait_quiet_socket():
    a, b = socket.socketpair()       # both ends stay open: never readable
    with a, b:
        vthreads.wait_readable(a)


def _poll_quiet_epoll():
    a, b = socket.socketpair()
    with a, b, epoll() as ep:      # what select.epoll is, patched
        ep.register(a, select.EPOLLIN)
        ep.poll()


def _taskgroup_wait():
    with vthreads.TaskGroup() as tg:
        tg.spawn(vthreads.sleep, 60)


@pytest.mark.parametrize("wait", sorted(WAITS))
@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_every_wait_obeys_move_on_after(wait, where):
    fn = WAITS[wait]
    out = []

    def body():
        with vthreads.move_on_after(0.02) as scope:
            fn()
        out.append(scope.cancelled_caught)

    if where == "vthread":
        vthreads.spawn(body).result(30)
    else:
        t = threading.Thread(target=body)
        t.start()
        t.join(30)
    assert out == [True]


@pytest.mark.parametrize("wait", sorted(WAITS))
@pytest.mark.parametrize("where", ["vthread", "thread"])
@pytest.mark.parametrize("by", ["group deadline", "outer deadline"])
def test_every_wait_in_a_group_child_obeys_the_scopes_around_it(
        wait, where, by):
    fn = WAITS[wait]

    def body():
        with vthreads.move_on_after(
                0.02 if by == "outer deadline" else 60) as outer:
            with vthreads.TaskGroup() as tg:
                if by == "group deadline":
                    tg.cancel_scope.deadline = time.monotonic() + 0.02
                kid = tg.spawn(fn)
                # The owner stays out of it: only the child can be woken.
                with vthreads.CancelScope(shield=True):
                    kid.join()
        return (outer.cancelled_caught, tg.cancel_scope.cancelled_caught,
                kid.cancelled())

    caught = run_in(where, body)
    assert caught == (by == "outer deadline", by == "group deadline", True)


@pytest.mark.parametrize("wait", sorted(WAITS))
def test_every_wait_obeys_vthread_cancel(wait):
    vt = vthreads.spawn(WAITS[wait])
    assert wait_until(lambda: "parked" in repr(vt) and "YIELD" not in repr(vt)
                      and "JOIN" not in repr(vt).split(" on ")[-1][:5]
                      or wait in ("join", "result"))
    vt.cancel()
    with pytest.raises(Cancelled):
        vt.result(30)
    assert vt.cancelled()


@pytest.mark.parametrize("wait", sorted(WAITS))
def test_every_wait_obeys_scope_cancel_from_another_thread(wait):
    fn = WAITS[wait]
    scope_box = []
    out = []

    def body():
        with vthreads.CancelScope() as scope:
            scope_box.append(scope)
            fn()
        out.append(scope.cancelled_caught)

    t = threading.Thread(target=body)
    t.start()
    assert wait_until(lambda: scope_box)
    time.sleep(0.02)
    scope_box[0].cancel()
    t.join(30)
    assert out == [True]


# --- VThread.cancel ---------------------------------------------------------------

def test_cancel_before_start_never_runs(one_carrier):
    # One carrier: nothing can steal the child before main cancels it.
    ran = []

    def main():
        vt = vthreads.spawn(ran.append, 1)
        assert vt.cancel() is True
        return vt

    vt = vthreads.run(main)
    assert vt.join(10)
    assert ran == []
    assert vt.cancelled()
    with pytest.raises(Cancelled):
        vt.result()
    assert isinstance(vt.exception(), Cancelled)      # returned, not raised


def test_exception_returns_the_cancelled_that_result_raises():
    vt = vthreads.spawn(vthreads.sleep, 10)
    assert wait_until(lambda: "SLEEP" in repr(vt))
    vt.cancel()
    exc = vt.exception(10)
    assert isinstance(exc, Cancelled) and vt.cancelled()
    with pytest.raises(Cancelled) as info:
        vt.result()
    assert info.value is exc


def test_exception_of_a_cancelled_sibling_does_not_unwind_the_caller():
    # The README's idiom, after a TaskGroup whose first child failed: the
    # siblings it cancelled gave no result, and asking says so.
    def fetch(i):
        if i == 0:
            raise OSError("unreachable")
        vthreads.sleep(10)
        return i

    def main():
        try:
            with vthreads.TaskGroup() as tg:
                pages = [tg.spawn(fetch, i) for i in range(20)]
        except* OSError:
            pass
        failed = sum(p.exception() is not None for p in pages)
        cancelled = sum(p.cancelled() for p in pages)
        return failed, cancelled, isinstance(pages[0].exception(), OSError)

    assert vthreads.run(main) == (20, 19, True)


def test_a_vthread_that_absorbs_its_cancellation_has_a_result():
    def body():
        try:
            vthreads.sleep(10)
        except Cancelled:
            return "absorbed"
    vt = vthreads.spawn(body)
    assert wait_until(lambda: "SLEEP" in repr(vt))
    vt.cancel()
    assert vt.exception(10) is None and not vt.cancelled()
    assert vt.result() == "absorbed"


def test_cancel_after_done_returns_false():
    vt = vthreads.spawn(lambda: 1)
    vt.join(10)
    assert vt.cancel() is False
    assert vt.result() == 1


@pytest.mark.parametrize("by", ["vt.cancel", "its group's scope"])
def test_cancellation_is_level_triggered(by):
    trace = []
    groups = []

    def body():
        for i in range(3):
            try:
                vthreads.sleep(10)
            except Cancelled:
                trace.append(i)
        try:
            vthreads.checkpoint()
        except Cancelled:
            trace.append("checkpoint")
        return "survived"

    def owner():
        with vthreads.TaskGroup() as tg:
            groups.append(tg)
            kid = tg.spawn(body)
        return kid.result()

    vt = vthreads.spawn(body if by == "vt.cancel" else owner)
    assert wait_until(lambda: "SLEEP" in repr(vt) or "TASKGROUP" in repr(vt))
    if groups:
        groups[0].cancel_scope.cancel()
    else:
        vt.cancel()
    assert vt.result(10) == "survived"
    assert trace == [0, 1, 2, "checkpoint"]


def test_cancel_is_not_caught_by_except_exception():
    def body():
        try:
            vthreads.sleep(10)
        except Exception:          # noqa: BLE001 - the point of the test
            return "swallowed"
    vt = vthreads.spawn(body)
    assert wait_until(lambda: "SLEEP" in repr(vt))
    vt.cancel()
    with pytest.raises(Cancelled):
        vt.result(10)


def test_cancel_from_another_carrier_and_from_a_thread(two_carriers):
    victims = [vthreads.spawn(vthreads.sleep, 60) for _ in range(200)]

    def canceller(vts):
        for vt in vts:
            vt.cancel()

    c1 = vthreads.spawn(canceller, victims[:100])
    t = threading.Thread(target=canceller, args=(victims[100:],))
    t.start()
    c1.join(10)
    t.join(10)
    for vt in victims:
        assert vt.join(10)
        assert vt.cancelled()


# --- cancel scopes ------------------------------------------------------------------

def test_move_on_after_in_main_thread():
    with vthreads.move_on_after(0.02) as scope:
        vthreads.sleep(10)
        pytest.fail("not cancelled")
    assert scope.cancelled_caught
    assert scope.cancel_called


def test_move_on_after_in_a_threading_thread():
    out = []

    def body():
        with vthreads.move_on_after(0.05) as scope:
            vthreads.sleep(10)
        out.append(scope.cancelled_caught)

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert out == [True]


def test_fail_after_raises_timeout_error_in_vthread_and_thread():
    def body():
        with vthreads.fail_after(0.01):
            vthreads.sleep(10)

    with pytest.raises(TimeoutError):
        vthreads.spawn(body).result(10)
    with pytest.raises(TimeoutError):
        body()


def test_fail_at_and_move_on_at_take_monotonic_deadlines():
    with vthreads.move_on_at(time.monotonic() + 0.01) as scope:
        vthreads.sleep(10)
    assert scope.cancelled_caught
    with pytest.raises(TimeoutError):
        with vthreads.fail_at(time.monotonic() - 1):
            vthreads.checkpoint()


def test_scope_that_is_not_cancelled_does_not_interfere():
    with vthreads.move_on_after(10) as scope:
        vthreads.sleep(0.001)
    assert not scope.cancelled_caught and not scope.cancel_called
    with vthreads.fail_after(10):
        vthreads.sleep(0.001)


def test_shield_hides_outer_cancellation():
    trace = []

    def body():
        with vthreads.move_on_after(0.01) as outer:
            with vthreads.CancelScope(shield=True):
                vthreads.sleep(0.05)          # outlives the outer deadline
                trace.append("shielded sleep finished")
            vthreads.checkpoint()             # the outer deadline has passed
            trace.append("unreachable")
        trace.append(("outer caught", outer.cancelled_caught))

    autojump(body)      # the 0.01 s deadline passes inside the 0.05 s sleep
    assert trace == ["shielded sleep finished", ("outer caught", True)]


def test_shield_hides_vthread_cancel_until_lifted():
    trace = []
    box = []

    def body():
        with vthreads.CancelScope(shield=True) as s:
            box.append(s)
            vthreads.sleep(0.05)
            trace.append("shielded")
            s.shield = False
            vthreads.sleep(10)
            trace.append("unreachable")

    vt = vthreads.spawn(body)
    assert wait_until(lambda: "SLEEP" in repr(vt))
    vt.cancel()
    with pytest.raises(Cancelled):
        vt.result(10)
    assert trace == ["shielded"]


def test_inner_scope_cancel_does_not_cancel_outer():
    def body():
        with vthreads.CancelScope() as outer:
            with vthreads.CancelScope() as inner:
                inner.cancel()
                vthreads.sleep(10)
            vthreads.sleep(0)
            return inner.cancelled_caught, outer.cancelled_caught
    assert vthreads.spawn(body).result(10) == (True, False)


def test_outer_cancel_passes_through_inner_scope():
    def body():
        with vthreads.CancelScope() as outer:
            with vthreads.CancelScope() as inner:
                outer.cancel()
                vthreads.sleep(10)
        return inner.cancelled_caught, outer.cancelled_caught
    assert vthreads.spawn(body).result(10) == (False, True)


def test_deadline_can_be_moved():
    with vthreads.CancelScope() as scope:
        assert scope.deadline == math.inf
        scope.deadline = time.monotonic() + 0.01
        vthreads.sleep(10)
    assert scope.cancelled_caught


def test_deadline_moved_from_another_thread_wakes_sleeper():
    box = []

    def body():
        with vthreads.CancelScope() as scope:
            box.append(scope)
            vthreads.sleep(30)
        return scope.cancelled_caught

    vt = vthreads.spawn(body)
    assert wait_until(lambda: "SLEEP" in repr(vt))
    box[0].deadline = time.monotonic()
    assert vt.result(10) is True


def test_current_effective_deadline():
    assert vthreads.current_effective_deadline() == math.inf
    with vthreads.move_on_at(time.monotonic() + 100):
        with vthreads.move_on_at(time.monotonic() + 50) as inner:
            assert vthreads.current_effective_deadline() == inner.deadline


def test_scope_bad_input_and_misuse():
    with pytest.raises(ValueError):
        vthreads.move_on_after(-1)
    with pytest.raises(ValueError):
        vthreads.CancelScope(deadline=float("nan"))
    s = vthreads.CancelScope()
    with s:
        pass
    with pytest.raises(RuntimeError):
        with s:
            pass


def test_scopes_exited_out_of_order_is_an_error():
    a = vthreads.CancelScope()
    b = vthreads.CancelScope()
    a.__enter__()
    b.__enter__()
    with pytest.raises(RuntimeError, match="out of order"):
        a.__exit__(None, None, None)
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)


def test_cancel_before_enter_cancels_at_first_checkpoint():
    scope = vthreads.CancelScope()
    scope.cancel()
    with scope:
        vthreads.checkpoint()
        pytest.fail("not cancelled")
    assert scope.cancelled_caught


def test_sleep_bad_input():
    with pytest.raises(ValueError):
        vthreads.sleep(-1)
    with pytest.raises(ValueError):
        vthreads.sleep(float("nan"))
    with pytest.raises(TypeError):
        vthreads.sleep("1")
    vthreads.sleep(0)        # a checkpoint in a plain thread


def test_a_park_abandoned_after_a_waker_won_waits_for_its_grant():
    # KeyboardInterrupt can leave a plain thread's park in the instant
    # between a waker's claim of the ticket and its write of the value.
    # The give-back must still see the grant, or a lock or item is lost.
    from vthreads._core import block
    from vthreads._sync._waitq import granted
    seen = []

    def register(ticket):
        task = ticket.claim()                   # a waker won the ticket ...
        threading.Timer(0.05, ticket.deliver, (task, "grant")).start()
        raise KeyboardInterrupt                 # ... and the parker leaves

    def unregister(ticket):
        seen.append(granted(ticket))

    with pytest.raises(KeyboardInterrupt):
        block("TEST", None, register, unregister)   # a plain thread's park
    assert seen == [True]
