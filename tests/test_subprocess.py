"""subprocess and os.read/os.write/os.waitpid, cooperatively."""

import errno
import os
import subprocess
import sys
import textwrap

import pytest

import vthreads
from vthreads._io import os as vos
from conftest import run_in, run_script


def test_waitpid_parks_on_a_pidfd(one_carrier):
    trace = []

    def child():
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
        pid, status = vos.waitpid(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        trace.append(("reaped", pid == p.pid, p.returncode))

    def ticker():
        for i in range(3):
            trace.append(("tick", i))
            vthreads.sleep(0.02)

    def main():
        a, b = vthreads.spawn(child), vthreads.spawn(ticker)
        a.join()
        b.join()

    vthreads.run(main)
    assert trace[-1] == ("reaped", True, 0)
    assert [t for t in trace if t[0] == "tick"] == [("tick", 0), ("tick", 1), ("tick", 2)]


def test_read_write_on_a_pipe_park(one_carrier):
    r, w = os.pipe()
    trace = []

    def reader():
        trace.append(("read", vos.read(r, 100)))

    def main():
        rd = vthreads.spawn(reader)
        vthreads.sleep(0.01)
        trace.append("writing")
        vos.write(w, b"data")
        rd.join()

    try:
        vthreads.run(main)
    finally:
        os.close(r)
        os.close(w)
    assert trace == ["writing", ("read", b"data")]


def test_patched_subprocess_run_and_communicate_do_not_block_carriers(
        tmp_path):
    # Each child waits for a file that another vthread on the same single
    # carrier creates only once the child has started: it can appear only
    # if the parent's wait for the child parks instead of holding the
    # carrier.  Without cooperation the child gives up and says so.
    code = textwrap.dedent("""
        import vthreads.monkey as monkey
        monkey.patch_subprocess(); monkey.patch_time()
        import os, subprocess, sys, time, vthreads
        DIR = @DIR@
        CHILD = (
            "import os, sys, time\\n"
            "d, name = sys.argv[1], sys.argv[2]\\n"
            "open(os.path.join(d, name + '.started'), 'w').close()\\n"
            "end = time.monotonic() + 30\\n"
            "while not os.path.exists(os.path.join(d, name + '.go')):\\n"
            "    if time.monotonic() > end:\\n"
            "        print('no go'); sys.exit(3)\\n"
            "    time.sleep(0.005)\\n"
            "sys.stdout.write(name + ' done ' + sys.stdin.read().upper())\\n")
        def releaser(name):
            started = os.path.join(DIR, name + ".started")
            while not os.path.exists(started):
                time.sleep(0.005)      # parks: the carrier is free meanwhile
            open(os.path.join(DIR, name + ".go"), "w").close()
        def child(name):
            return [sys.executable, "-c", CHILD, DIR, name]
        def work():
            rel = vthreads.spawn(releaser, "first")
            out = subprocess.check_output(child("first"),
                                          stdin=subprocess.DEVNULL)
            rel.join()
            rel = vthreads.spawn(releaser, "second")
            r = subprocess.run(child("second"), input=b"piped",
                               capture_output=True, check=True)
            rel.join()
            p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
            try:
                p.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                p.kill()
            return out, r.stdout, p.wait()
        out, piped, rc = vthreads.run(work, carriers=1)
        assert out == b"first done ", out
        assert piped == b"second done PIPED", piped
        assert rc == -9, rc
        print("ok")
    """)
    r = run_script(code.replace("@DIR@", repr(str(tmp_path))), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_read_write_the_wrong_end_of_a_pipe_fail_as_the_stdlib(where):
    # The read end never becomes writable (nor the write end readable):
    # a wait for it would never end, where the stdlib fails with EBADF.
    r, w = os.pipe()
    try:
        for call in (lambda: vos.write(r, b"x"), lambda: vos.read(w, 1)):
            def attempt():
                try:
                    call()
                except OSError as exc:
                    return exc.errno
            assert run_in(where, attempt) == errno.EBADF
    finally:
        os.close(r)
        os.close(w)
