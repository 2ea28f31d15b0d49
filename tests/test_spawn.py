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
