"""Short-lived OS threads that use the library leave nothing behind: no
wake-up fd, no greenlet.  2,000 of them, in a fresh interpreter each, so
that the counts are this test's alone."""

import pytest

from conftest import run_script

SCRIPT = """
import gc, os, sys, threading, time
import greenlet
import vthreads

N = 2000

def fds():
    return len(os.listdir("/proc/self/fd"))

def greenlets():
    gc.collect()
    return sum(isinstance(o, greenlet.greenlet) for o in gc.get_objects())

def settle(count, limit):
    # Waits for a condition: greenlet frees a thread's greenlets a little
    # after the thread exits (see _mainthread._reap_deadline).
    end = time.monotonic() + 10
    while count() > limit and time.monotonic() < end:
        vthreads.sleep(0.02)
    return count()

def main():
    r, w = os.pipe()
    os.write(w, b"x")             # readable for good: each wait ends at once

    def one_wait():
        vthreads.wait_readable(r)     # a cooperative fd wait in an OS thread

    one_wait()                      # this thread's own wake-up fd, first
    work = one_wait if sys.argv[2] == "wait" else vthreads.current
    fd0, g0 = fds(), greenlets()
    for _ in range(N):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    # One left per thread would be 2,000; allow a few stragglers.
    print("fds", settle(fds, fd0 + 10) - fd0)
    print("greenlets", settle(greenlets, g0 + 10) - g0)

if sys.argv[1] == "run":
    vthreads.run(main)
else:
    main()
print("ok")
"""


@pytest.mark.parametrize("work", ["wait", "current"])
@pytest.mark.parametrize("where", ["run", "plain"])
def test_short_lived_threads_leave_no_fds_and_no_greenlets(where, work):
    r = run_script(f"import sys; sys.argv[1:] = [{where!r}, {work!r}]\n"
                   + SCRIPT, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    out = dict(line.split() for line in r.stdout.splitlines()[:-1])
    assert r.stdout.splitlines()[-1] == "ok", r.stdout
    assert int(out["fds"]) <= 10, r.stdout
    assert int(out["greenlets"]) <= 10, r.stdout


def test_a_forked_child_makes_its_own_wake_up_fd():
    # The parent's thread goes on with the fd it had: a child sharing it
    # could drain the parent's wake-ups, or the parent the child's.
    r = run_script("""if 1:
        import os, threading
        import vthreads
        from vthreads._core._threadtask import thread_task

        r, w = os.pipe()
        os.write(w, b"x")
        vthreads.wait_readable(r)           # this thread's wake-up fd
        inherited = thread_task()._waker
        quiet, _ = os.pipe()
        pid = os.fork()
        if pid == 0:
            scope = vthreads.CancelScope()
            threading.Timer(0.2, scope.cancel).start()
            with scope:
                vthreads.wait_readable(quiet)   # ended by the cancel only
            mine = thread_task()._waker
            print(scope.cancelled_caught, mine is not inherited, flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        vthreads.wait_readable(r)           # the parent's still works
        print(thread_task()._waker is inherited)
    """, timeout=60)
    assert r.stdout.split() == ["True", "True", "True"], (r.stdout, r.stderr)


def test_the_program_under_run_sees_all_the_fds_of_its_wait_from_its_first_line():
    # The main thread's wake-up fd is made before the program starts, not
    # at its first wait, which a delay here would put after the program's
    # first count (test_servers counted fds that way, and failed at times).
    r = run_script("""if 1:
        import os, time
        import vthreads
        from vthreads._core import _mainthread

        def fds():
            return len(os.listdir("/proc/self/fd"))

        serve_once = _mainthread._serve_once

        def late(*args):
            time.sleep(0.2)
            return serve_once(*args)

        _mainthread._serve_once = late

        def main():
            base = fds()
            vthreads.sleep(0.5)
            return fds() - base

        print(vthreads.run(main))
    """, timeout=60)
    assert r.stdout.split() == ["0"], (r.stdout, r.stderr)


def test_to_thread_helpers_that_come_and_go_leave_no_fds():
    # A server offloading patched socket work: helpers wait on fds, go
    # idle, exit and are made again, cycle after cycle.
    r = run_script("""if 1:
        import os
        import vthreads
        from vthreads._core import _to_thread

        _to_thread.IDLE_EXIT = 0.02

        def fds():
            return len(os.listdir("/proc/self/fd"))

        def main():
            r, w = os.pipe()
            os.write(w, b"x")
            def offload():
                vthreads.to_thread(vthreads.wait_readable, r)
            def cycle():
                vts = [vthreads.spawn(offload) for _ in range(6)]
                for v in vts:
                    v.result(30)
                while _to_thread.helper_thread_count():
                    vthreads.sleep(0.01)
            cycle()
            base = fds()
            for _ in range(40):             # 240 helper lifetimes
                cycle()
            return fds() - base

        print(vthreads.run(main))
    """, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert int(r.stdout) <= 10, r.stdout
