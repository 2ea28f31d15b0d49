"""TaskGroup: waiting, failure, cancellation, in vthreads and OS threads."""

import threading

import pytest

import vthreads
from vthreads import Cancelled
from conftest import autojump, wait_until


def test_waits_for_every_child(carriers):
    done = []

    def child(i):
        vthreads.sleep(0.001 * (i % 7))
        done.append(i)

    def main():
        with vthreads.TaskGroup() as tg:
            for i in range(200):
                tg.spawn(child, i)
        return sorted(done)

    assert vthreads.run(main) == list(range(200))


def test_works_from_a_plain_thread():
    out = []

    def body():
        with vthreads.TaskGroup() as tg:
            a = tg.spawn(lambda: 1)
            b = tg.spawn(vthreads.sleep, 0.01)
        out.append((a.result(), b.done()))

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert out == [(1, True)]


def test_first_failure_cancels_siblings_and_body():
    trace = []

    def sleeper():
        try:
            vthreads.sleep(10)
        except Cancelled:
            trace.append("sibling cancelled")
            raise

    def fails():
        vthreads.sleep(0.01)
        raise ValueError("child failed")

    def main():
        with pytest.raises(BaseExceptionGroup) as info:
            with vthreads.TaskGroup() as tg:
                tg.spawn(sleeper)
                tg.spawn(fails)
                try:
                    vthreads.sleep(10)
                except Cancelled:
                    trace.append("body cancelled")
                    raise
        return info.value

    eg = autojump(main)
    assert sorted(trace) == ["body cancelled", "sibling cancelled"]
    assert [type(e) for e in eg.exceptions] == [ValueError]
    assert isinstance(eg, ExceptionGroup)


def test_several_errors_are_raised_together():
    def fails(i):
        raise KeyError(i)

    def main():
        try:
            with vthreads.TaskGroup() as tg:
                for i in range(3):
                    tg.spawn(fails, i)
        except BaseExceptionGroup as eg:
            return sorted(e.args[0] for e in eg.exceptions)

    # Each child fails at its first step; the others may be cancelled before
    # they start, so at least one and at most all three errors come out.
    got = vthreads.run(main)
    assert 1 <= len(got) <= 3 and set(got) <= {0, 1, 2}


def test_body_error_cancels_children_and_is_grouped():
    trace = []

    def child():
        try:
            vthreads.sleep(10)
        except Cancelled:
            trace.append("child cancelled")
            raise

    def main():
        with pytest.raises(BaseExceptionGroup) as info:
            with vthreads.TaskGroup() as tg:
                tg.spawn(child)
                vthreads.sleep(0.01)
                raise RuntimeError("body failed")
        return info.value

    eg = autojump(main)
    assert trace == ["child cancelled"]
    assert [type(e) for e in eg.exceptions] == [RuntimeError]


def test_cancelling_the_owner_cancels_the_children():
    trace = []

    def child(i):
        try:
            vthreads.sleep(10)
        except Cancelled:
            trace.append(i)
            raise

    def owner():
        with vthreads.TaskGroup() as tg:
            for i in range(5):
                tg.spawn(child, i)

    vt = vthreads.spawn(owner)
    assert wait_until(lambda: "TASKGROUP" in repr(vt))
    vt.cancel()
    with pytest.raises(Cancelled):
        vt.result(10)
    assert sorted(trace) == [0, 1, 2, 3, 4]


def test_outer_deadline_cancels_children():
    def main():
        with vthreads.move_on_after(0.02) as scope:
            with vthreads.TaskGroup() as tg:
                kids = [tg.spawn(vthreads.sleep, 10) for _ in range(3)]
        return scope.cancelled_caught, [k.cancelled() for k in kids]

    assert vthreads.run(main) == (True, [True, True, True])


def test_child_cancelled_alone_is_not_an_error():
    def main():
        with vthreads.TaskGroup() as tg:
            a = tg.spawn(vthreads.sleep, 10)
            tg.spawn(lambda: a.cancel())
        return a.cancelled()

    assert vthreads.run(main) is True


def test_misuse():
    tg = vthreads.TaskGroup()
    with pytest.raises(RuntimeError):
        tg.spawn(lambda: None)
    with tg:
        with pytest.raises(TypeError):
            tg.spawn(3)
    with pytest.raises(RuntimeError):
        tg.spawn(lambda: None)


def test_child_errors_are_not_reported_to_excepthook():
    got = []
    old = vthreads.excepthook
    vthreads.excepthook = got.append
    try:
        def main():
            try:
                with vthreads.TaskGroup() as tg:
                    tg.spawn(lambda: 1 / 0)
            except BaseExceptionGroup:
                pass
        vthreads.run(main)
        import gc
        gc.collect()
    finally:
        vthreads.excepthook = old
    assert got == []
