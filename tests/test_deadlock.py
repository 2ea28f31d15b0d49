"""DeadlockError: run() reports a runtime where every vthread waits on a
primitive and nothing can wake one -- and nothing else.

Each case is a program in a fresh interpreter (a hang must not take the
suite with it), with one and with two carriers.  A program that must not
be reported ends by itself: its waker (an OS thread, a helper job) first
waits until the watch has judged the runtime and declined (``declined``),
then wakes the main vthread, so the check provably ran while only that
waker could help.  The watch's internals are read only for that wait.
"""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MARK = "all vthreads are asleep - deadlock!"

# How a waker waits for the watch's judgement: a condition, polled.
PRELUDE = textwrap.dedent("""
    import os, sys, time, threading
    import vthreads
    from vthreads._core import current_runtime

    def watch_declined():
        while True:
            rt = current_runtime()
            w = rt.watch if rt is not None else None
            if w is not None and w.declined:
                return
            time.sleep(0.001)
""")


@pytest.fixture(params=["1", "2"], ids=["1carrier", "2carriers"])
def env(request):
    return {"VTHREADS_CARRIERS": request.param}


@pytest.fixture
def run(tmp_path):
    """Run the program ``code`` (after PRELUDE) from a file, so that its
    lines show in tracebacks and dumps."""
    def run(code, env=None):
        path = tmp_path / "prog.py"
        path.write_text(PRELUDE + textwrap.dedent(code))
        full = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
        return subprocess.run([sys.executable, str(path)], capture_output=True,
                              text=True, timeout=60, env=full)
    return run


def assert_reported(r, *expect):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "vthreads.DeadlockError: " + MARK in r.stderr, r.stderr
    for text in expect:
        assert text in r.stderr, (text, r.stderr)


def assert_not_reported(r, out):
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert MARK not in r.stderr
    assert r.stdout.strip() == out


# --- reported ---------------------------------------------------------------

@pytest.mark.parametrize("inspect", ["1", "0"], ids=["inspect-on", "inspect-off"])
def test_two_lock_deadlock_is_reported_with_the_dump(run, env, inspect):
    """The inspect listener (on by default) is one of vthreads' own
    threads: it does not count as a waker."""
    r = run("""
        def main():
            a, b = vthreads.Lock(), vthreads.Lock()
            both = vthreads.Barrier(2)
            def one(x, y):
                with x:
                    both.wait()
                    with y:
                        pass
            t1 = vthreads.spawn(one, a, b, name="first")
            t2 = vthreads.spawn(one, b, a, name="second")
            listening = any(t.name == "vthreads-inspect"
                            for t in threading.enumerate())
            assert listening == (os.environ["VTHREADS_INSPECT"] == "1")
            t1.join()
            t2.join()
        vthreads.run(main)
    """, dict(env, VTHREADS_INSPECT=inspect))
    assert_reported(r, "<VThread 'first' parked on LOCK_ACQUIRE",
                    "<VThread 'second' parked on LOCK_ACQUIRE",
                    "parked on JOIN", "in one\n", "with y:", "== carrier 0")


def test_lone_event_wait_is_reported(run, env):
    r = run("""
        def main():
            vthreads.Event().wait()
        vthreads.run(main)
    """, env)
    assert_reported(r, "parked on EVENT_WAIT", "vthreads.Event().wait()")


def test_vthreads_own_dump_signal_handler_is_not_a_waker(run, env):
    r = run("""
        import signal
        assert signal.getsignal(signal.SIGUSR2) not in (
            signal.SIG_DFL, signal.SIG_IGN, None)
        def main():
            vthreads.Event().wait()
        vthreads.run(main)
    """, dict(env, VTHREADS_DUMP_SIGNAL="USR2"))
    assert_reported(r, "parked on EVENT_WAIT")


def test_main_may_catch_it_and_the_error_carries_the_dump(run, env):
    r = run("""
        def main():
            q = vthreads.Queue()
            try:
                q.get()
            except vthreads.DeadlockError as exc:
                assert isinstance(exc, RuntimeError)
                assert "parked on QUEUE_GET" in exc.dump
                assert exc.dump in str(exc)
                return "caught"
        print(vthreads.run(main))
    """, env)
    assert_not_reported(r, "caught")


def test_reported_again_after_main_waits_again(run, env):
    r = run("""
        def main():
            n = 0
            for _ in range(3):
                try:
                    vthreads.Event().wait()
                except vthreads.DeadlockError:
                    n += 1
            return n
        print(vthreads.run(main))
    """, env)
    assert_not_reported(r, "3")


def test_channel_join_and_taskgroup_waits_are_primitives(run, env):
    r = run("""
        def main():
            ch = vthreads.Channel()
            with vthreads.TaskGroup() as tg:
                tg.spawn(ch.recv)
                q = vthreads.Queue()
                q.put(1)            # never task_done(): join() waits
                tg.spawn(q.join)
        vthreads.run(main)
    """, env)
    assert_reported(r, "parked on CHANNEL_RECV", "parked on QUEUE_JOIN",
                    "parked on TASKGROUP")


def test_reported_once_the_os_thread_that_could_wake_has_ended(run, env):
    """An OS thread kept it from being reported; once it ends (having
    woken nothing), the watch looks again."""
    r = run("""
        def main():
            ev = vthreads.Event()
            t = threading.Thread(target=watch_declined)
            t.start()
            ev.wait()
        vthreads.run(main)
    """, env)
    assert_reported(r, "parked on EVENT_WAIT")


def test_testing_run_reports_too_even_on_an_autojump_clock(run):
    r = run("""
        from vthreads import testing
        def main():
            vthreads.sleep(3600)       # the clock jumps: not a deadlock
            vthreads.Event().wait()    # no deadline to jump to: one
        testing.run(main, clock=testing.MockClock(autojump_threshold=0))
    """, {})
    assert_reported(r, "parked on EVENT_WAIT")


# --- not reported -------------------------------------------------------------

def test_an_os_thread_holding_the_primitive_is_a_possible_waker(run, env):
    r = run("""
        def main():
            ev = vthreads.Event()
            def later():
                watch_declined()
                ev.set()
            threading.Thread(target=later).start()
            ev.wait()
            print("woken")
        vthreads.run(main)
    """, env)
    assert_not_reported(r, "woken")


def test_an_abandoned_to_thread_job_is_a_possible_waker(run, env):
    """The vthread that started the job is gone; only the job, still
    running in a helper, can set the event."""
    r = run("""
        def main():
            ev = vthreads.Event()
            def job():
                watch_declined()
                ev.set()
            caller = vthreads.spawn(vthreads.to_thread, job)
            while caller._state != "parked":
                vthreads.sleep(0.001)
            caller.cancel()
            assert caller.exception() is not None
            ev.wait()
            print("woken")
        vthreads.run(main)
    """, env)
    assert_not_reported(r, "woken")


def test_a_sleeping_vthread_is_not_a_deadlock(run, env):
    r = run("""
        def main():
            ev = vthreads.Event()
            def later():
                vthreads.sleep(0.05)
                ev.set()
            vthreads.spawn(later)
            ev.wait()
            print("woken")
        vthreads.run(main)
    """, env)
    assert_not_reported(r, "woken")


def test_a_pending_timer_is_not_a_deadlock(run, env):
    """Every vthread waits on a primitive, but one wait has a timeout."""
    r = run("""
        def main():
            ev = vthreads.Event()
            vthreads.spawn(ev.wait)
            with vthreads.move_on_after(0.05) as scope:
                vthreads.Lock().acquire() and vthreads.Event().wait()
            print(ev.wait(timeout=0.05), scope.cancelled_caught)
            ev.set()
        vthreads.run(main)
    """, env)
    assert_not_reported(r, "False True")


def test_an_fd_wait_is_not_a_deadlock(run, env):
    """The fd is written by another process, which the runtime cannot see."""
    r = run("""
        import subprocess
        def main():
            ev = vthreads.Event()
            p = subprocess.Popen([sys.executable, "-c", "import time; "
                                  "time.sleep(0.1); print('x')"],
                                 stdout=subprocess.PIPE)
            def reader():
                vthreads.wait_readable(p.stdout)
                ev.set()
            vthreads.spawn(reader)
            ev.wait()
            p.wait()
            p.stdout.close()
            print("woken")
        vthreads.run(main)
    """, env)
    assert_not_reported(r, "woken")


@pytest.mark.skipif(sys.platform != "linux", reason="kill from a child: Linux")
def test_a_signal_handler_of_the_program_is_a_possible_waker(run, env):
    r = run("""
        import signal, subprocess
        ev = vthreads.Event()
        signal.signal(signal.SIGUSR1, lambda *a: ev.set())
        def main():
            subprocess.Popen(["sh", "-c", "sleep 0.2; kill -USR1 %d"
                              % os.getpid()])
            ev.wait()
            print("woken")
        vthreads.run(main)
    """, env)
    assert_not_reported(r, "woken")


def test_spawn_and_join_from_an_os_thread_without_run_is_not_watched(run, env):
    """Only run() watches: nobody waits in it here to be told."""
    r = run("""
        ev = vthreads.Event()
        t = vthreads.spawn(ev.wait)
        def later():
            while t._state != "parked":
                time.sleep(0.001)
            ev.set()
        threading.Thread(target=later).start()
        t.join()
        print("joined", current_runtime().watch)
    """, env)
    assert_not_reported(r, "joined None")


def test_the_watch_can_be_turned_off(run):
    r = run("""
        from vthreads._core import _deadlock
        _deadlock.enabled = False
        def main():
            ev = vthreads.Event()
            def later():
                time.sleep(0.05)
                ev.set()
            threading.Thread(target=later).start()
            ev.wait()
            print(current_runtime().watch)
        vthreads.run(main)
    """)
    assert_not_reported(r, "None")


def test_the_runtime_is_shut_down_so_a_program_that_ends_with_it_exits(
        tmp_path, env):
    # Under python -m vthreads, threading.Thread is a vthread: a worker
    # stuck on a queue nobody feeds, joined by the main program.  After the
    # report the interpreter's exit joins the worker's thread; without the
    # shutdown that join would wait for ever.
    prog = tmp_path / "stuck.py"
    prog.write_text(textwrap.dedent("""
        import queue, threading
        q = queue.Queue()
        def worker():
            try:
                q.get()
            finally:
                print("worker unwound", flush=True)
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    """))
    r = subprocess.run([sys.executable, "-m", "vthreads", str(prog)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=ROOT, **env))
    assert_reported(r, "QUEUE_GET", "stuck.py")
    assert r.stdout == "worker unwound\n"      # cancelled, so it ended


def test_after_the_error_the_deadlocked_vthreads_are_cancelled(run, env):
    r = run("""
        e = vthreads.Event()
        waiters = []
        def main():
            waiters.append(vthreads.spawn(e.wait))
            e.wait()
        try:
            vthreads.run(main)
        except vthreads.DeadlockError:
            pass
        print(waiters[0].cancelled(), vthreads.run(lambda: "fresh"))
    """, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "fresh"]
