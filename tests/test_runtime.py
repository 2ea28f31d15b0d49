"""The runtime's life: configure, run, shutdown, exit, Ctrl-C."""

import os
import signal
import subprocess
import sys
import sysconfig
import textwrap
import threading

import pytest

import vthreads

from vthreads._core import _runtime
from conftest import run_script, wait_until


@pytest.fixture
def stopped():
    vthreads.shutdown(timeout=10)
    yield
    vthreads.shutdown(timeout=10)
    vthreads.configure(None)


def _carrier_count():
    return _runtime._current.size


def test_run_returns_result_and_raises_errors(stopped):
    assert vthreads.run(lambda a, b: a * b, 6, 7) == 42
    with pytest.raises(ZeroDivisionError):
        vthreads.run(lambda: 1 / 0)


def test_run_can_be_called_many_times_and_keeps_the_runtime(stopped):
    assert vthreads.run(lambda: 1) == 1
    rt = _runtime._current
    assert vthreads.run(lambda: 2) == 2
    assert _runtime._current is rt


def test_run_with_carriers_starts_that_many_and_rejects_a_mismatch(stopped):
    assert vthreads.run(threading.get_ident, carriers=2) in {
        c.thread_id for c in _runtime._current.carriers}
    assert _carrier_count() == 2
    assert vthreads.run(lambda: 1, carriers=2) == 1
    with pytest.raises(RuntimeError, match="already running with 2"):
        vthreads.run(lambda: 1, carriers=3)


def test_configure(stopped):
    vthreads.configure(carriers=3)
    vthreads.spawn(lambda: None).join(10)
    assert _carrier_count() == 3
    with pytest.raises(RuntimeError, match="before the runtime starts"):
        vthreads.configure(carriers=2)
    vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=1)
    vthreads.spawn(lambda: None).join(10)
    assert _carrier_count() == 1


def test_configure_bad_input(stopped):
    with pytest.raises(ValueError):
        vthreads.configure(carriers=0)
    with pytest.raises(TypeError):
        vthreads.configure(carriers="2")
    with pytest.raises(TypeError):
        vthreads.configure(carriers=True)


def test_every_entry_point_checks_the_carrier_count_as_configure_does():
    # run() hung for ever in Runtime.start on 0 or -1, and compared "x"
    # with the running size; it now raises what configure() raises.
    r = run_script(textwrap.dedent("""
        import vthreads
        for bad in (0, -1, "x", 2.5, True, None.__class__):
            for call in (lambda: vthreads.run(print, carriers=bad),
                         lambda: vthreads.configure(carriers=bad)):
                try:
                    call()
                except (TypeError, ValueError) as e:
                    print(type(e).__name__, e)
        print(vthreads.run(lambda: "still runs", carriers=1))
    """), timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "still runs"
    assert lines[:-1] == [line for line in [
        "ValueError carriers must be at least 1, not 0",
        "ValueError carriers must be at least 1, not -1",
        "TypeError carriers must be an int, not str",
        "TypeError carriers must be an int, not float",
        "TypeError carriers must be an int, not bool",
        "TypeError carriers must be an int, not type",
    ] for _ in range(2)]


def test_default_carrier_count_follows_the_build():
    r = run_script("import vthreads, threading\n"
                   "vthreads.spawn(lambda: None).join(10)\n"
                   "from vthreads._core import _runtime\n"
                   "print(_runtime._current.size)\n",
                   env={"VTHREADS_CARRIERS": ""})
    assert r.returncode == 0, r.stderr
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    expected = 1 if gil else len(os.sched_getaffinity(0))
    assert int(r.stdout) == expected


def test_env_var_sets_the_count_and_bad_values_are_clear():
    r = run_script("import vthreads\n"
                   "vthreads.spawn(lambda: None).join(10)\n"
                   "from vthreads._core import _runtime\n"
                   "print(_runtime._current.size)\n",
                   env={"VTHREADS_CARRIERS": "3"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"
    r = run_script("import vthreads\nvthreads.spawn(print)\n",
                   env={"VTHREADS_CARRIERS": "many"})
    assert r.returncode != 0
    assert "VTHREADS_CARRIERS must be a positive integer" in r.stderr


def test_shutdown_cancels_the_rest_and_next_spawn_starts_fresh(stopped):
    sleepers = [vthreads.spawn(vthreads.sleep, 60) for _ in range(50)]
    assert wait_until(lambda: all("SLEEP" in repr(v) for v in sleepers))
    old = _runtime._current
    old_threads = [c.thread for c in old.carriers]
    assert vthreads.shutdown(timeout=10) is True
    assert all(v.cancelled() for v in sleepers)
    assert not any(t.is_alive() for t in old_threads)
    assert vthreads.spawn(lambda: "again").result(10) == "again"
    assert _runtime._current is not old


def test_shutdown_from_inside_a_vthread_is_refused(stopped):
    def body():
        with pytest.raises(RuntimeError, match="cannot be called from a vthread"):
            vthreads.shutdown()
        return "ok"
    assert vthreads.run(body) == "ok"


def test_shutdown_cancels_unstarted_vthreads(stopped):
    ran = []

    def main():
        return [vthreads.spawn(ran.append, i) for i in range(100)]

    # main returns before its children start (it never parks); the single
    # carrier may run some of them before shutdown reaches it.
    vthreads.configure(carriers=1)
    kids = vthreads.run(main)
    vthreads.shutdown(timeout=10)
    assert all(k.done() for k in kids)
    assert len(ran) + sum(k.cancelled() for k in kids) == 100


def test_interpreter_exit_stops_carriers_cleanly():
    code = textwrap.dedent("""
        import vthreads, sys
        def forever():
            try:
                vthreads.sleep(3600)
            finally:
                print("cancelled at exit", flush=True)
        vthreads.configure(carriers=2)
        vts = [vthreads.spawn(forever) for _ in range(3)]
        vthreads.sleep(0.05)
        print("main done", flush=True)
    """)
    r = run_script(code, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("cancelled at exit") == 3
    assert r.stderr == ""


def test_ctrl_c_raises_in_main_at_its_park_and_reaches_the_caller():
    code = textwrap.dedent("""
        import vthreads, sys
        def main():
            print("ready", flush=True)
            try:
                vthreads.sleep(60)
            except KeyboardInterrupt:
                print("main got KeyboardInterrupt", flush=True)
                raise
        try:
            vthreads.run(main)
        except KeyboardInterrupt:
            print("KeyboardInterrupt reached the caller", flush=True)
            sys.exit(3)
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 3, err
    assert out.splitlines() == ["main got KeyboardInterrupt",
                                "KeyboardInterrupt reached the caller"]


@pytest.mark.skipif(not sysconfig.get_config_var("Py_GIL_DISABLED"),
                    reason="free-threaded build only")
def test_free_threaded_build_really_runs_without_the_gil():
    assert sys._is_gil_enabled() is False
    vthreads.spawn(lambda: None).join(10)   # importing greenlet kept it off
    assert sys._is_gil_enabled() is False


def test_exit_never_crashes():
    """Regression: a carrier's main greenlet released by the main thread
    during interpreter finalization crashed the process about half the
    time.  Twenty clean exits in a row."""
    code = ("import vthreads\n"
            "vthreads.spawn(lambda: None).join(10)\n"
            "vthreads.run(vthreads.sleep, 0.001)\n")
    for _ in range(20):
        r = run_script(code, timeout=30)
        assert r.returncode == 0, (r.returncode, r.stderr)


@pytest.mark.parametrize("wait", ["sleep", "lock", "fd"])
def test_a_finalizer_that_parks_on_a_hub_raises_and_the_carrier_goes_on(wait):
    # A vthread cancelled before it starts is finished by its carrier's
    # hub, which drops its arguments there: the object's only reference.
    code = textwrap.dedent(f"""
        import socket, sys, vthreads
        seen = []
        sys.unraisablehook = lambda u: seen.append(
            (type(u.exc_value).__name__, str(u.exc_value).split(":")[0]))
        vthreads.configure(carriers=1)
        held = vthreads.Lock()
        held.acquire()
        a, b = socket.socketpair()

        class ParksWhenCollected:
            def __del__(self):
                {{"sleep": lambda: vthreads.sleep(5),
                  "lock": lambda: held.acquire(timeout=5),
                  "fd": lambda: vthreads.wait_readable(a, 5)}}[{wait!r}]()

        def main():
            vt = vthreads.spawn(lambda obj: None, ParksWhenCollected())
            vt.cancel()
            vt.join()
            return vthreads.spawn(lambda: 1).result()

        print(vthreads.run(main), seen)
    """)
    r = run_script(code, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (
        "1 [('RuntimeError', \"cannot park in the carrier's hub\")]")
