"""python -m vthreads: patches everything, runs the program in a vthread."""

import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, timeout=60):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT
    return subprocess.run([sys.executable, "-m", "vthreads", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_script_runs_patched_in_a_vthread_with_args_and_exit_code(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import sys, socket, threading, time, vthreads
        assert vthreads.current() is not None          # main code in a vthread
        assert socket.socket is vthreads._io.socket    # patched
        assert time.sleep is vthreads.sleep
        assert threading.Thread is vthreads._io.threading.Thread
        print("args", sys.argv[1:], __name__)
        sys.exit(7)
    """))
    r = run_cli("--carriers", "2", str(script), "a", "b")
    assert r.returncode == 7, r.stderr
    assert r.stdout.strip() == "args ['a', 'b'] __main__"


def test_traceback_and_exit_code_match_python(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("def f():\n    raise ValueError('bad')\nf()\n")
    r = run_cli(str(script))
    plain = subprocess.run([sys.executable, str(script)], capture_output=True,
                           text=True, timeout=60)
    assert r.returncode == plain.returncode == 1
    # The same traceback, frame for frame, and no warnings.
    assert r.stderr == plain.stderr


def test_dash_m_module(tmp_path):
    pkg = tmp_path / "mymod.py"
    pkg.write_text("import sys, vthreads\nprint('mod', sys.argv[1:], vthreads.current() is not None)\n")
    env_path = str(tmp_path)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env_path])
    r = subprocess.run([sys.executable, "-m", "vthreads", "-m", "mymod", "x"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "mod ['x'] True"


def test_usage_errors():
    r = run_cli()
    assert r.returncode == 2 and "usage" in r.stderr
    r = run_cli("--carriers", "many", "x.py")
    assert r.returncode == 2
    # The count is checked as run() and configure() check it: 0 hung.
    r = run_cli("--carriers", "0", "x.py", timeout=30)
    assert r.returncode == 2
    assert "carriers must be at least 1, not 0" in r.stderr


def test_help_lists_the_options_and_the_environment():
    r = run_cli("--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("usage: python -m vthreads")
    for word in ("--carriers N", "-m", "script.py", "VTHREADS_CARRIERS"):
        assert word in r.stdout
    # Every environment variable the library reads is listed.
    import re
    import vthreads
    import vthreads.__main__ as cli
    read = set()
    for path in pathlib.Path(vthreads.__file__).parent.rglob("*.py"):
        read |= set(re.findall(r"environ(?:\.get)?\(?\[?[\"'](VTHREADS_\w+)",
                               path.read_text()))
    assert read and read == set(cli.ENVIRONMENT)


def test_options_end_at_the_script_and_the_rest_is_the_programs(tmp_path):
    script = tmp_path / "args.py"
    script.write_text("import sys; from vthreads._core import _runtime\n"
                      "print(sys.argv[1:], _runtime._current.size)\n")
    r = run_cli("--carriers=2", str(script), "-h", "--carriers", "3", "-m", "x")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "['-h', '--carriers', '3', '-m', 'x'] 2\n"


def test_dash_m_takes_the_rest_as_the_modules_too(tmp_path):
    (tmp_path / "mymod.py").write_text("import sys; print(sys.argv[1:])\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, str(tmp_path)])
    for args in (["-m", "mymod"], ["-mmymod"]):
        r = subprocess.run([sys.executable, "-m", "vthreads", "--carriers", "1",
                            *args, "--carriers", "5", "-h"],
                           capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "['--carriers', '5', '-h']\n"


def test_missing_script_or_module_fails_as_python_does(tmp_path):
    for args in ([str(tmp_path / "missing.py")], ["-m", "no_such_module_x"],
                 ["-m", "email"]):
        r = run_cli(*args)
        plain = subprocess.run([sys.executable, *args], capture_output=True,
                               text=True, timeout=60)
        assert (r.returncode, r.stderr) == (plain.returncode, plain.stderr)
        assert r.returncode in (1, 2) and r.stderr.count("\n") == 1


def test_enumerate_lists_the_programs_threads_not_the_runtimes(tmp_path):
    script = tmp_path / "threads.py"
    script.write_text(textwrap.dedent("""
        import socket, threading, vthreads
        socket.getaddrinfo("localhost", 80)     # on a to_thread helper
        vthreads.run_coroutine(__import__("asyncio").sleep(0))  # its loop
        ev = threading.Event()
        t = threading.Thread(target=ev.wait, name="worker")
        t.start()
        real = vthreads.monkey.get_original("threading", "Thread")(
            target=ev.wait, name="os-thread")
        real.start()
        print(sorted(x.name for x in threading.enumerate()),
              threading.active_count(), t in threading.enumerate())
        ev.set(); t.join(); real.join()
        print([x.name for x in threading.enumerate()], threading.active_count())
    """))
    r = run_cli("--carriers", "2", str(script))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "['MainThread', 'os-thread', 'worker'] 3 True",
        "['MainThread'] 1",
    ]


def test_ctrl_c_reaches_the_program_like_plain_python(tmp_path):
    import signal
    script = tmp_path / "waits.py"
    script.write_text(textwrap.dedent("""
        import time
        try:
            print("ready", flush=True)     # inside try: SIGINT may come now
            time.sleep(60)                 # patched: a parked vthread
        finally:
            print("finally ran", flush=True)
    """))
    results = []
    for cmd in ([sys.executable, "-m", "vthreads", str(script)],
                [sys.executable, str(script)]):
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
        try:
            assert p.stdout.readline().strip() == "ready"
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=30)
        finally:
            p.kill()
        results.append((p.returncode, out.strip(), err.strip().splitlines()[-1]))
    assert results[0] == results[1]
    assert results[0] == (-signal.SIGINT, "finally ran", "KeyboardInterrupt")


def test_signal_handlers_from_the_main_vthread_like_plain_python(tmp_path):
    # The program's main code is a vthread on a carrier thread, yet it may
    # install handlers; one that raises interrupts the blocking call it
    # lands on, one that returns lets the call go on (PEP 475).
    script = tmp_path / "handlers.py"
    script.write_text(textwrap.dedent("""
        import selectors, signal, socket, threading, time

        class Alarm(Exception):
            pass

        def raising(signum, frame):
            raise Alarm(signum)

        seen = []
        def quiet(signum, frame):
            seen.append(signum)

        assert signal.signal(signal.SIGALRM, raising) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGALRM) is raising
        a, b = socket.socketpair()
        t0 = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            a.recv(1)
        except Alarm as e:
            print("recv interrupted by", signal.Signals(e.args[0]).name)
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            sel.select(30)
        except Alarm:
            print("select interrupted")
        assert time.monotonic() - t0 < 10

        signal.signal(signal.SIGALRM, quiet)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        threading.Timer(0.5, b.send, (b"x",)).start()
        print("recv got", a.recv(1), "after signals", seen)

        # Any vthread may install one (the main thread does it) ...
        t = threading.Thread(target=lambda: print("vthread may install:",
                      signal.signal(signal.SIGUSR1, quiet) is signal.SIG_DFL))
        t.start(); t.join()
        # ... but a real OS thread may not, as without vthreads.
        def from_a_thread():
            try:
                signal.signal(signal.SIGALRM, raising)
            except ValueError as e:
                print("real thread:", e)
        import vthreads.monkey
        t = vthreads.monkey.get_original("threading", "Thread")(target=from_a_thread)
        t.start(); t.join()
    """))
    r = run_cli(str(script))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "recv interrupted by SIGALRM",
        "select interrupted",
        "recv got b'x' after signals [14]",
        "vthread may install: True",
        "real thread: signal only works in main thread of the main interpreter",
    ]
    assert r.stderr == ""


def test_signals_raised_in_the_main_vthread_run_the_handler_before_returning(tmp_path):
    # As in plain Python: the handler has run when raise_signal returns,
    # and what it raises comes out of raise_signal itself.
    script = tmp_path / "raise_signal.py"
    script.write_text(textwrap.dedent("""
        import os, signal, time
        me = os.open(f"/proc/{os.getpid()}", os.O_DIRECTORY)
        seen = []
        signal.signal(signal.SIGUSR1, lambda s, f: seen.append(s))
        for _ in range(20):
            signal.raise_signal(signal.SIGUSR1)
            assert len(seen) == 1, seen
            seen.clear()
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass
            else:
                raise AssertionError("KeyboardInterrupt not raised")
            # Sent to the process: the kernel gives it to the main thread.
            if hasattr(signal, "pidfd_send_signal"):
                try:
                    signal.pidfd_send_signal(me, signal.SIGINT)
                except KeyboardInterrupt:
                    pass
                else:
                    raise AssertionError("KeyboardInterrupt not raised")
        time.sleep(0.05)     # a park: nothing was left to land here
        print("ok")
    """))
    r = run_cli(str(script))
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_pause_in_the_main_vthread_returns_after_the_handler(tmp_path):
    # The kernel sends the alarm to the main thread, not to the carrier
    # the main vthread runs on; pause() there would sleep through it.
    script = tmp_path / "pause.py"
    script.write_text(textwrap.dedent("""
        import signal
        seen = []
        signal.signal(signal.SIGALRM, lambda s, f: seen.append(s))
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        signal.pause()
        assert seen == [signal.SIGALRM], seen

        def raising(s, f):
            raise OSError("from the handler")
        signal.signal(signal.SIGALRM, raising)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        try:
            signal.pause()
        except OSError as e:
            print("ok", e)
    """))
    try:
        r = run_cli(str(script), timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("pause() never returned") from None
    assert r.returncode == 0 and r.stdout.strip() == "ok from the handler", \
        r.stdout + r.stderr
