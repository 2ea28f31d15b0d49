"""The start-up of the main vthread, start after start: it is the main
thread from its first bytecode, and a signal at any moment of start-up
reaches the program as it would under plain Python.

Each start is a fresh ``python -m vthreads`` process; they run in
parallel batches.  ``PAUSED`` starts the same program with
``_mainthread._test_pause_after_queue`` set: the main thread sleeps right
after it queued the main vthread, where the program already runs while the
main thread is not yet waiting for it -- the widest point of both races.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Imports at the very top: importlib's module locks record their owner by
# get_ident(), and one that changes in the middle fails the import.
IDENT = textwrap.dedent("""
    import threading
    first = threading.get_ident()
    import json, decimal, email.parser, http.client, xml.dom.minidom
    import logging, argparse, fractions, csv, tarfile, zipfile
    second = threading.get_ident()
    import time
    time.sleep(0.001)
    print(first == second == threading.get_ident()
          == threading.main_thread().ident,
          threading.current_thread() is threading.main_thread())
""")

CTRL_C = textwrap.dedent("""
    import json, decimal, email.parser, http.client
    import time
    try:
        print("ready", flush=True)     # inside try: SIGINT may come now
        time.sleep(10)                 # patched: a parked vthread
    finally:
        print("finally ran", flush=True)
""")


def command(script, pause=None):
    if pause is None:
        return [sys.executable, "-m", "vthreads", str(script)]
    return [sys.executable, "-c",
            "import vthreads._core._mainthread as m\n"
            f"m._test_pause_after_queue = {pause}\n"
            "from vthreads.__main__ import main\n"
            f"main([{str(script)!r}])\n"]


def popen(cmd):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT
    return subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(p, timeout=60):
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        p.kill()
    return p.returncode, out, err


def starts(cmd, n, batch=8):
    """Run ``cmd`` ``n`` times, ``batch`` at once; their results."""
    results = []
    for i in range(0, n, batch):
        ps = [popen(cmd) for _ in range(min(batch, n - i))]
        results += [finish(p) for p in ps]
    return results


def check_idents(results):
    bad = [r for r in results if r[:2] != (0, "True True\n")]
    assert bad == [], f"{len(bad)} of {len(results)} starts: {bad[0]}"


def test_the_main_vthread_is_the_main_thread_from_its_first_line(tmp_path):
    script = tmp_path / "idents.py"
    script.write_text(IDENT)
    check_idents(starts(command(script), 24))


def test_the_main_vthread_is_the_main_thread_when_its_start_is_slow(tmp_path):
    script = tmp_path / "idents.py"
    script.write_text(IDENT)
    check_idents(starts(command(script, pause=0.05), 8))


def expect_like_python(rc, out, err):
    """What plain Python gives for the program above, whenever SIGINT
    comes: killed by it; a traceback, if any, ends in KeyboardInterrupt;
    and once the program printed "ready" (inside its try), its finally.
    (Before the interpreter itself is up, it fails as it always does.)"""
    if rc == 1 and (err.startswith("Could not import runpy module")
                    or "Fatal Python error: init_" in err):
        return
    if rc == 0 and _lost_in_a_callback(err):
        # Plain Python loses a KeyboardInterrupt that its handler raises
        # inside a weakref callback or finalizer ("Exception ignored in"),
        # and the program runs on.  Before serve() begins, importlib's
        # module-lock callbacks run in the main thread at every import:
        # the program then sleeps its 10 s and ends normally.
        assert out.split() == ["ready", "finally", "ran"], (out, err)
        return
    if rc == 0 and _lost_in_a_pth(err):
        # Before the program, site.py runs the .pth files (the editable
        # install's among them) and reports what one raised as an
        # Exception, then goes on: a KeyboardInterrupt inside a class body's
        # __set_name__ reaches it as the RuntimeError 3.11 wraps it in.
        assert out.split() == ["ready", "finally", "ran"], (out, err)
        return
    assert rc == -signal.SIGINT, (rc, out, err)
    lines = _without_notes(err.strip().splitlines())
    assert not lines or lines[-1] == "KeyboardInterrupt", err
    if "ready" in out.split():
        assert out.split() == ["ready", "finally", "ran"], (out, err)


# Notes the interpreter itself adds to an exception raised where it calls
# into Python code, printed after the exception's own line (PEP 678):
# a KeyboardInterrupt inside an enum's ``__set_name__`` while ``signal``
# is first imported gets "Error calling __set_name__ on ...".
_INTERPRETER_NOTES = ("Error calling __set_name__ on ",)


def _without_notes(lines):
    while lines and lines[-1].startswith(_INTERPRETER_NOTES):
        lines = lines[:-1]
    return lines


def _lost_in_a_pth(err):
    lines = err.strip().splitlines()
    return (len(lines) >= 2 and lines[0].startswith("Error processing line")
            and ".pth" in lines[0]
            and lines[-1] == "Remainder of file ignored")


def _lost_in_a_callback(err):
    lines = err.strip().splitlines()
    return (len(lines) >= 2 and lines[0].startswith("Exception ignored in")
            and lines[-1].startswith("KeyboardInterrupt")
            and "<frozen importlib._bootstrap>" in err)


def test_ctrl_c_while_the_main_thread_starts_the_program(tmp_path):
    # The program runs and waits; the main thread has not begun its wait
    # yet.  The signal must still end the program's sleep, in its try.
    script = tmp_path / "waits.py"
    script.write_text(CTRL_C)
    ps = [popen(command(script, pause=2.0)) for _ in range(4)]
    for p in ps:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGINT)
    for p in ps:
        rc, out, err = finish(p)
        assert (rc, out) == (-signal.SIGINT, "finally ran\n"), (rc, out, err)
        assert err.strip().splitlines()[-1] == "KeyboardInterrupt", err


def test_ctrl_c_at_any_moment_of_start_up_ends_the_program_as_python(tmp_path):
    script = tmp_path / "waits.py"
    script.write_text(CTRL_C)
    # How long this machine takes, now, to get to "ready": the signals are
    # spread over that, from the interpreter's start to the program's wait.
    t0 = time.monotonic()
    p = popen(command(script))
    assert p.stdout.readline() == "ready\n"
    ready = time.monotonic() - t0
    p.send_signal(signal.SIGINT)
    results = [finish(p)]
    rng = random.Random(10)
    for _ in range(3):
        ps = [(rng.uniform(0.0, 1.2 * ready), popen(command(script)))
              for _ in range(8)]
        t0 = time.monotonic()
        for delay, p in sorted(ps, key=lambda x: x[0]):
            time.sleep(max(0.0, t0 + delay - time.monotonic()))
            p.send_signal(signal.SIGINT)
        results += [finish(p) for _, p in ps]
    for r in results:
        expect_like_python(*r)


def test_ctrl_c_handled_inside_a_finalizer_of_the_main_thread_is_not_lost(
        tmp_path):
    # The collector runs finalizers and weakref callbacks in whichever
    # thread allocates: the main thread too, for the program's garbage.  A
    # signal handled there raised KeyboardInterrupt inside one, where it
    # was lost as "Exception ignored in".  (Made deterministic here: the
    # finalizer raises as the default SIGINT handler would.)
    script = tmp_path / "finalizer.py"
    script.write_text(textwrap.dedent("""
        import time
        from vthreads._core._mainthread import call_in_main

        class Dies:
            def __del__(self):
                raise KeyboardInterrupt

        try:
            call_in_main(lambda: [Dies()] and None)
            time.sleep(30)
        except KeyboardInterrupt:
            print("the program got it")
    """))
    rc, out, err = finish(popen(command(script)))
    assert (rc, out, err) == (0, "the program got it\n", "")
