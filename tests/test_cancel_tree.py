"""The cancel tree: a task group's children see every scope around the group.

Its own scope, the scopes that enclose the ``with TaskGroup()``, their
deadlines and shields -- as trio's nursery children do.  Plain ``spawn``
stays outside the tree.  Each test runs on one and on two carriers.
"""

import threading
import time

import pytest

import vthreads
from vthreads import Cancelled
from conftest import autojump, run_in, wait_until


def _run(carriers, main):
    """One carrier: on the autojump clock, where ``sleep(0.01)`` means
    "once every other vthread is parked"; two: the real clock."""
    return autojump(main) if carriers == 1 else vthreads.run(main)


def _sleeper(trace, label, seconds=10):
    def child():
        try:
            vthreads.sleep(seconds)
        except Cancelled:
            trace.append(f"{label} cancelled")
            raise
        trace.append(f"{label} slept")
    return child


def test_the_issue_example_cancels_the_children_at_once(carriers):
    def main():
        t0 = vthreads.current_time()
        with vthreads.TaskGroup() as tg:
            kids = [tg.spawn(vthreads.sleep, 5) for _ in range(3)]
            vthreads.spawn(lambda: (vthreads.sleep(0.2),
                                    tg.cancel_scope.cancel()))
        return (vthreads.current_time() - t0, tg.cancel_scope.cancelled_caught,
                [k.cancelled() for k in kids])

    elapsed, caught, cancelled = _run(carriers, main)
    assert caught is True
    assert cancelled == [True, True, True]
    assert elapsed < 3          # not the children's 5 s


def test_cancelling_the_group_scope_from_a_thread_wakes_parked_children(
        carriers):
    trace = []
    box = []

    def main():
        with vthreads.TaskGroup() as tg:
            box.append(tg)
            for i in range(3):
                tg.spawn(_sleeper(trace, f"child{i}"))
        trace.append("group left")
        return tg.cancel_scope.cancelled_caught

    vt = vthreads.spawn(main)
    assert wait_until(lambda: "TASKGROUP" in repr(vt))
    box[0].cancel_scope.cancel()
    assert vt.result(10) is True
    assert sorted(trace[:3]) == ["child0 cancelled", "child1 cancelled",
                                 "child2 cancelled"]
    assert trace[3:] == ["group left"]


def test_the_body_cancelled_with_the_children_is_caught_by_the_group(
        carriers):
    trace = []

    def main():
        with vthreads.TaskGroup() as tg:
            tg.spawn(_sleeper(trace, "child"))
            tg.spawn(lambda: (vthreads.sleep(0.01), tg.cancel_scope.cancel()))
            _sleeper(trace, "body")()
            trace.append("unreachable")
        trace.append("group left")
        return tg.cancel_scope.cancelled_caught

    assert _run(carriers, main) is True
    assert sorted(trace[:2]) == ["body cancelled", "child cancelled"]
    assert trace[2:] == ["group left"]


@pytest.mark.parametrize("when", ["before spawning", "after spawning"])
def test_a_deadline_on_the_group_scope_reaches_the_children(carriers, when):
    trace = []

    def main():
        with vthreads.TaskGroup() as tg:
            if when == "before spawning":
                tg.cancel_scope.deadline = vthreads.current_time() + 0.02
            kid = tg.spawn(_sleeper(trace, "child"))
            if when == "after spawning":
                vthreads.sleep(0.01)        # the child is parked by now
                tg.cancel_scope.deadline = vthreads.current_time() + 0.02
        return tg.cancel_scope.cancelled_caught, kid.cancelled()

    assert _run(carriers, main) == (True, True)
    assert trace == ["child cancelled"]


def test_a_deadline_moved_later_lets_the_children_finish(carriers):
    trace = []

    def main():
        with vthreads.TaskGroup() as tg:
            tg.cancel_scope.deadline = vthreads.current_time() + 0.05
            tg.spawn(_sleeper(trace, "child", 0.1))
            vthreads.sleep(0.01)
            tg.cancel_scope.deadline = vthreads.current_time() + 30
        return tg.cancel_scope.cancelled_caught

    assert _run(carriers, main) is False
    assert trace == ["child slept"]


def test_an_outer_scope_reaches_the_children_while_the_body_is_shielded(
        carriers):
    trace = []

    def main():
        with vthreads.CancelScope() as outer:
            with vthreads.TaskGroup() as tg:
                tg.spawn(_sleeper(trace, "child"))
                vthreads.spawn(lambda: (vthreads.sleep(0.01), outer.cancel()))
                with vthreads.CancelScope(shield=True):
                    # The child is cancelled now, not when the body ends.
                    assert wait_until_cooperative(lambda: trace)
                    trace.append("body shield left")
        return outer.cancelled_caught, tg.cancel_scope.cancelled_caught

    assert _run(carriers, main) == (True, False)
    assert trace == ["child cancelled", "body shield left"]


def test_an_outer_move_on_after_reaches_grandchildren(carriers):
    trace = []

    def middle():
        with vthreads.TaskGroup() as inner:
            inner.spawn(_sleeper(trace, "grandchild"))
        trace.append("unreachable: the Cancelled goes through")

    def main():
        with vthreads.move_on_after(0.02) as outer:
            with vthreads.TaskGroup() as tg:
                tg.spawn(middle)
                with vthreads.CancelScope(shield=True):
                    assert wait_until_cooperative(lambda: trace)
        return outer.cancelled_caught

    assert _run(carriers, main) is True
    assert trace == ["grandchild cancelled"]


def test_cancelling_the_outer_group_reaches_grandchildren(carriers):
    trace = []
    scopes = []

    def middle():
        with vthreads.TaskGroup() as inner:
            scopes.append(inner.cancel_scope)
            inner.spawn(_sleeper(trace, "grandchild"))
            inner.spawn(lambda: (vthreads.sleep(0.01),
                                 scopes[0].cancel()))

    def main():
        with vthreads.TaskGroup() as tg:
            scopes.insert(0, tg.cancel_scope)
            mid = tg.spawn(middle)
        return mid.cancelled(), [s.cancelled_caught for s in scopes]

    # The inner group's scope was not the one cancelled: it lets the
    # Cancelled through, and the outer group's scope catches it.
    assert _run(carriers, main) == (True, [True, False])
    assert trace == ["grandchild cancelled"]


def test_a_shield_inside_a_child_protects_it(carriers):
    trace = []

    def child():
        with vthreads.CancelScope(shield=True):
            vthreads.sleep(0.05)
            trace.append("shielded sleep done")
        _sleeper(trace, "child")()

    def main():
        with vthreads.TaskGroup() as tg:
            tg.spawn(child)
            vthreads.sleep(0.01)
            tg.cancel_scope.cancel()
        return tg.cancel_scope.cancelled_caught

    assert _run(carriers, main) is True
    assert trace == ["shielded sleep done", "child cancelled"]


def test_a_shield_around_the_group_protects_the_children(carriers):
    trace = []

    def main():
        with vthreads.move_on_after(0.02) as outer:
            with vthreads.CancelScope(shield=True):
                with vthreads.TaskGroup() as tg:
                    tg.spawn(_sleeper(trace, "child", 0.1))
            trace.append("shield left")
            vthreads.checkpoint()
            trace.append("unreachable")
        return outer.cancelled_caught, tg.cancel_scope.cancelled_caught

    assert _run(carriers, main) == (True, False)
    assert trace == ["child slept", "shield left"]


def test_a_shield_lifted_around_the_group_lets_the_cancel_in(carriers):
    trace = []
    box = []

    def main():
        with vthreads.CancelScope() as outer:
            with vthreads.CancelScope(shield=True) as shield:
                box.append(shield)
                with vthreads.TaskGroup() as tg:
                    tg.spawn(_sleeper(trace, "child"))
                    outer.cancel()
                    tg.spawn(lambda: (vthreads.sleep(0.02),
                                      trace.append("lifting"),
                                      setattr(shield, "shield", False)))
        return outer.cancelled_caught

    assert _run(carriers, main) is True
    assert trace == ["lifting", "child cancelled"]


def test_cancelling_the_owner_vthread_reaches_grandchildren(carriers):
    trace = []

    def middle():
        with vthreads.TaskGroup() as inner:
            inner.spawn(_sleeper(trace, "grandchild"))
            with vthreads.CancelScope(shield=True):
                vthreads.sleep(0.05)   # the owner's cancel lands in here
                trace.append("middle shield left")

    def owner():
        with vthreads.TaskGroup() as tg:
            tg.spawn(middle)

    vt = vthreads.spawn(owner)
    assert wait_until(lambda: "TASKGROUP" in repr(vt))
    vt.cancel()
    with pytest.raises(Cancelled):
        vt.result(10)
    assert trace == ["grandchild cancelled", "middle shield left"]


def test_plain_spawn_stays_outside_the_tree(carriers):
    trace = []

    def main():
        with vthreads.TaskGroup() as tg:
            with vthreads.move_on_after(0.01):
                loose = vthreads.spawn(_sleeper(trace, "loose", 0.05))
            tg.cancel_scope.cancel()
        return loose.result(10), tg.cancel_scope.cancelled_caught

    # The group's exit is a checkpoint in its cancelled scope: caught there.
    assert _run(carriers, main) == (None, True)
    assert trace == ["loose slept"]


@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_a_group_owned_by_any_task_passes_its_deadline_on(where):
    trace = []

    def body():
        with vthreads.TaskGroup() as tg:
            tg.cancel_scope.deadline = time.monotonic() + 0.02
            tg.spawn(_sleeper(trace, "child"))
        return tg.cancel_scope.cancelled_caught

    assert run_in(where, body) is True
    assert trace == ["child cancelled"]


def test_scopes_in_os_threads_still_work_beside_groups():
    out = []

    def body():
        with vthreads.move_on_after(0.02) as scope:
            with vthreads.TaskGroup() as tg:
                tg.spawn(vthreads.sleep, 10)
                vthreads.sleep(10)
        out.append(scope.cancelled_caught)

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert out == [True]


def wait_until_cooperative(pred, timeout=5.0):
    """Park in short sleeps until ``pred`` holds (inside a vthread)."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        vthreads.sleep(0.001)
    return True


def test_a_cancel_racing_new_groups_and_children_leaves_none_asleep(
        two_carriers):
    # Children and grandchildren keep being spawned, into groups still being
    # opened, while another thread cancels the outer scope: each one is
    # either found by the cancel or sees it at its first park.  One that
    # slipped through would sleep its 30 s and hold the group open.
    def spawner():
        with vthreads.TaskGroup() as mine:
            while True:
                mine.spawn(vthreads.sleep, 30)
                with vthreads.TaskGroup() as inner:
                    inner.spawn(vthreads.sleep, 30)
                    vthreads.checkpoint()

    def main(box):
        with vthreads.TaskGroup() as tg:
            box.append(tg)
            for _ in range(3):
                tg.spawn(spawner)
        return tg.cancel_scope.cancelled_caught

    for i in range(30):
        box = []
        vt = vthreads.spawn(main, box)
        assert wait_until(lambda: box)
        time.sleep(0.001 * (i % 5))
        box[0].cancel_scope.cancel()
        assert vt.result(10) is True
