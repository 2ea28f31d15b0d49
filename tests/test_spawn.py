"""Spawning, the VThread handle, and bad input."""

import contextvars
import re
import threading

import pytest

import vthreads
from conftest import run_script


def test_spawn_result_and_join():
    vt = vthreads.spawn(lambda a, b=0: a + b, 2, b=3)
    assert vt.join(timeout=10) is True
    assert vt.done()
    assert vt.result() == 5
    assert vt.exception() is None
    assert not vt.cancelled()


def test_result_reraises_and_exception_returns_it():
    def boom():
        raise KeyError("k")
    vt = vthreads.spawn(boom)
    with pytest.raises(KeyError):
        vt.result(timeout=10)
    assert isinstance(vt.exception(), KeyError)


def test_join_timeout_returns_false_and_result_timeout_raises():
    vt = vthreads.spawn(vthreads.sleep, 5)
    assert vt.join(timeout=0.01) is False
    with pytest.raises(TimeoutError):
        vt.result(timeout=0.01)
    with pytest.raises(TimeoutError):
        vt.exception(timeout=0.01)
    vt.cancel()
    assert vt.join(timeout=10)


def test_name_ident_and_current():
    seen = []

    def body():
        seen.append(vthreads.current())
        return vthreads.current().name

    vt = vthreads.spawn(body, name="worker")
    assert vt.result(timeout=10) == "worker"
    assert seen == [vt]
    assert vthreads.current() is None          # plain OS thread
    other = vthreads.spawn(lambda: None)
    assert other.ident != vt.ident
    assert other.name == f"VThread-{other.ident}"
    other.join(10)


def test_idents_are_unique_across_threads():
    idents = []
    lock = threading.Lock()

    def spawner():
        mine = [vthreads.spawn(lambda: None) for _ in range(500)]
        for v in mine:
            v.join(10)
        with lock:
            idents.extend(v.ident for v in mine)

    ts = [threading.Thread(target=spawner) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(idents) == 2000 and len(set(idents)) == 2000


def test_repr_shows_state_and_wait():
    vt = vthreads.spawn(vthreads.sleep, 5, name="sleeper")
    from conftest import wait_until
    assert wait_until(lambda: "parked" in repr(vt))
    r = repr(vt)
    assert "'sleeper'" in r and "SLEEP" in r and "carrier=" in r
    vt.cancel()
    vt.join(10)
    assert re.search(r"cancelled", repr(vt))
    done = vthreads.spawn(lambda: 1)
    done.join(10)
    assert " done" in repr(done)


def test_spawn_non_callable_is_type_error():
    with pytest.raises(TypeError, match="callable"):
        vthreads.spawn(42)


def test_join_self_is_runtime_error():
    def body():
        with pytest.raises(RuntimeError, match="current vthread"):
            vthreads.current().join()
        return "ok"
    assert vthreads.spawn(body).result(timeout=10) == "ok"


def test_negative_timeouts_are_value_errors():
    vt = vthreads.spawn(lambda: None)
    with pytest.raises(ValueError):
        vt.join(timeout=-1)
    vt.join(10)


def test_spawn_from_vthread_os_thread_and_main():
    out = []

    def child(tag):
        out.append(tag)

    def parent():
        vthreads.spawn(child, "from-vthread").join()

    vthreads.spawn(parent).join(10)
    t = threading.Thread(target=lambda: vthreads.spawn(child, "from-thread").join())
    t.start()
    t.join()
    vthreads.spawn(child, "from-main").join(10)
    assert sorted(out) == ["from-main", "from-thread", "from-vthread"]


def test_each_vthread_runs_in_a_copy_of_its_spawners_context():
    var = contextvars.ContextVar("var", default="unset")
    var.set("parent")

    def child():
        before = var.get()
        var.set("child")          # must not leak back to the spawner
        return before

    assert vthreads.spawn(child).result(timeout=10) == "parent"
    assert var.get() == "parent"

    def grandparent():
        var.set("vthread")
        return vthreads.spawn(child).result()

    assert vthreads.spawn(grandparent).result(timeout=10) == "vthread"
    assert var.get() == "parent"


def test_unretrieved_exception_goes_to_excepthook():
    got = []
    old = vthreads.excepthook
    vthreads.excepthook = got.append
    try:
        def fails():
            raise ValueError("lost?")
        vthreads.spawn(fails, name="failing").join(10)   # handle dropped here
        import gc
        gc.collect()
    finally:
        vthreads.excepthook = old
    assert len(got) == 1
    assert got[0].exc_type is ValueError
    assert str(got[0].exc_value) == "lost?"
    assert got[0].vthread.name == "failing"


def test_retrieved_exception_is_not_reported():
    got = []
    old = vthreads.excepthook
    vthreads.excepthook = got.append
    try:
        def fails():
            raise ValueError("seen")
        vt = vthreads.spawn(fails)
        assert isinstance(vt.exception(timeout=10), ValueError)
        del vt
        import gc
        gc.collect()
    finally:
        vthreads.excepthook = old
    assert got == []


def test_default_excepthook_prints_traceback_to_stderr():
    r = run_script(
        "import vthreads\n"
        "def fails():\n"
        "    raise RuntimeError('nobody joined me')\n"
        "vthreads.spawn(fails, name='orphan').join(10)\n"
        "print('after')\n")
    assert r.returncode == 0, r.stderr
    assert "after" in r.stdout
    assert "Exception in vthread orphan" in r.stderr
    assert "RuntimeError: nobody joined me" in r.stderr
    assert "Traceback" in r.stderr


# Kept greenlets (docs/design.md, "Kept greenlets"): a carrier of a GIL
# build starts its next vthreads on the greenlets of finished ones.
from vthreads._core import _carrier as _carrier_mod
KEPT = _carrier_mod.KEEP > 0


def _one_carrier(main):
    vthreads.shutdown(timeout=10)
    try:
        return vthreads.run(main, carriers=1)
    finally:
        vthreads.shutdown(timeout=10)


@pytest.mark.skipif(not KEPT, reason="no kept greenlets on this build")
def test_a_finished_vthreads_greenlet_runs_the_next_one_on_its_carrier():
    import greenlet

    def main():
        first = vthreads.spawn(greenlet.getcurrent)
        g = first.result(10)
        second = vthreads.spawn(greenlet.getcurrent)
        return g, second.result(10), first, second
    g1, g2, first, second = _one_carrier(main)
    assert g1 is g2                        # reused, not a new greenlet
    assert first.ident != second.ident and first.done() and second.done()


@pytest.mark.skipif(KEPT, reason="kept greenlets on this build")
def test_free_threaded_builds_start_each_vthread_on_a_new_greenlet():
    import greenlet

    def main():
        g = vthreads.spawn(greenlet.getcurrent).result(10)
        return g is vthreads.spawn(greenlet.getcurrent).result(10)
    assert _one_carrier(main) is False


def test_nothing_of_a_vthread_leaks_into_the_next_on_its_greenlet():
    var = contextvars.ContextVar("var", default="unset")

    def first():
        var.set("first's")
        vthreads.current().name = "renamed"
        raise KeyError("first")

    def second():
        return var.get(), vthreads.current().name, vthreads.current_effective_deadline()

    def main():
        a = vthreads.spawn(first, name="a")
        with pytest.raises(KeyError):
            a.result(10)
        with vthreads.move_on_after(1000):
            vthreads.spawn(lambda: None).join(10)  # a deadline of its own
        return vthreads.spawn(second, name="b").result(10)
    value, name, deadline = _one_carrier(main)
    assert value == "unset" and name == "b"
    assert deadline == float("inf")


def test_a_carrier_keeps_at_most_keep_greenlets():
    n = _carrier_mod.KEEP + 50
    started = []

    def wait(gate):
        started.append(1)
        gate.wait()

    def main():
        gate = vthreads.Event()
        vts = [vthreads.spawn(wait, gate) for _ in range(n)]
        while len(started) < n:            # all n greenlets exist at once
            vthreads.sleep(0)
        gate.set()
        for vt in vts:
            vt.join(10)
        return len(vthreads.current()._carrier.kept)
    assert _one_carrier(main) == _carrier_mod.KEEP


def test_an_exception_s_traceback_starts_at_the_vthreads_function():
    def boom():
        raise ValueError("x")

    def main():
        vthreads.spawn(lambda: None).join(10)   # a greenlet to reuse
        return vthreads.spawn(boom).exception()
    exc = _one_carrier(main)
    names = []
    tb = exc.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert names == ["boom"], names
