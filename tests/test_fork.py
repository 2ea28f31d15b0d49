"""os.fork() with the runtime up: the child goes on with the forking task
only, with a working runtime of its own (see vthreads/_core/_fork.py)."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def run_cli(tmp_path, code, *args):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "vthreads", *args, str(script)],
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("carriers", ["1", "2"])
def test_fork_from_the_main_vthread(tmp_path, carriers):
    r = run_cli(tmp_path, """
        import os, socket, sys, threading, time, warnings
        # 3.12+ warns of fork() with threads running, as it does without us.
        warnings.filterwarnings("ignore", "This process", DeprecationWarning)

        def say(*parts):
            # One write per line: parent and child share the pipe, and
            # print() may write a line in pieces (it does when unbuffered).
            os.write(1, (" ".join(map(str, parts)) + "\\n").encode())

        def ticker():               # must not go on in the child
            while True:
                say("tick", os.getpid())
                time.sleep(0.01)
        threading.Thread(target=ticker, daemon=True).start()
        time.sleep(0.05)

        pid = os.fork()
        if pid == 0:
            # The child's runtime works: parking socket I/O, a new vthread,
            # a sleep -- and the child ends with the script's own status.
            a, b = socket.socketpair()
            threading.Thread(target=lambda: (time.sleep(0.05), b.send(b"hi"))).start()
            say("child", os.getpid(), "got", a.recv(2))
            time.sleep(0.1)
            sys.exit(5)
        _, status = os.waitpid(pid, 0)
        say("child exit status", os.waitstatus_to_exitcode(status), "pid", pid)
    """, "--carriers", carriers)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    child = [l for l in lines if l.startswith("child ")]
    assert len(child) == 2, r.stdout
    pid = child[1].split()[-1]
    assert child == [f"child {pid} got b'hi'", f"child exit status 5 pid {pid}"]
    assert not [l for l in lines if l == f"tick {pid}"], "a vthread ran on in the child"
    assert r.stderr == ""


def test_multiprocessing_process_with_fork(tmp_path):
    r = run_cli(tmp_path, """
        import multiprocessing as mp, time

        def child(q):
            time.sleep(0.01)                # parks in the child's runtime
            q.put(("from child", mp.current_process().name))

        if __name__ == "__main__":
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            procs = [ctx.Process(target=child, args=(q,), name=f"p{i}") for i in range(3)]
            for p in procs:
                p.start()
            got = sorted(q.get(timeout=30) for _ in procs)
            for p in procs:
                p.join(30)
            print(got, [p.exitcode for p in procs])
    """, "--carriers", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("[('from child', 'p0'), ('from child', 'p1'), "
                                "('from child', 'p2')] [0, 0, 0]")


def test_fork_from_a_plain_thread_gives_the_child_a_fresh_runtime(tmp_path):
    code = textwrap.dedent("""
        import os, vthreads
        vthreads.configure(carriers=2)
        assert vthreads.spawn(lambda: 1).result(10) == 1   # runtime up
        pid = os.fork()
        if pid == 0:
            try:
                ok = vthreads.spawn(lambda: (vthreads.sleep(0.01), 42)[1]).result(10)
                os._exit(0 if ok == 42 else 3)
            except BaseException:
                os._exit(4)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"
