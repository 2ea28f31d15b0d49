"""Shared test plumbing.

Every test ends by itself: a watchdog (faulthandler) dumps every thread's
stack and kills the process if one test runs longer than TEST_TIMEOUT.
The dump goes to the real stderr, past pytest's output capture, so that a
hang in CI shows where it hung.

On a free-threaded build every test also checks that the GIL is still off
when it ends: an extension without free-threading support (psycopg2 today)
turns it back on for the rest of the process, which would leave the rest
of the lane testing a GIL build.  Such libraries are imported only in child
processes (``skip_unless_importable``).

The suite tests whichever vthreads the interpreter imports: the source
tree (an editable install, or running from the checkout), or a wheel
installed in a venv, which .ci/run's wheel lanes test from a copy of
tests/ outside the source tree.  There VTHREADS_TEST_INSTALLED=1 makes
the run stop at once unless vthreads comes from the interpreter's own
prefix; tests/test_install.py checks that child processes import the
same one.  The header of every run names it.
"""

import faulthandler
import os
import signal
import subprocess
import sys

import pytest

import vthreads

# The plugin (@pytest.mark.vthreads); a no-op where its entry point has
# already loaded it.
pytest_plugins = ["vthreads.testing"]

TEST_TIMEOUT = float(os.environ.get("VTHREADS_TEST_TIMEOUT", "120"))
_watchdog_out = sys.__stderr__
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _installed_here():
    """Whether vthreads was imported from this interpreter's prefix (a
    venv's site-packages) rather than from a source tree."""
    pkg = os.path.realpath(os.path.dirname(vthreads.__file__))
    prefix = os.path.realpath(sys.prefix)
    return os.path.commonpath([pkg, prefix]) == prefix


def pytest_report_header(config):
    from vthreads._core import _spot
    return (f"vthreads {vthreads.__version__} from "
            f"{os.path.dirname(vthreads.__file__)} "
            f"(C helper: {'yes' if _spot.AVAILABLE else 'no'})")


def pytest_configure(config):
    global _watchdog_out
    # The Ctrl-C tests send SIGINT to child programs, which inherit an
    # ignored SIGINT: a background job of a non-interactive shell starts
    # with it ignored (bash does that), and Python then leaves it so.
    # Restore Python's own handler, which children see as the default.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if os.environ.get("VTHREADS_TEST_INSTALLED") == "1" and not _installed_here():
        raise pytest.UsageError(
            f"VTHREADS_TEST_INSTALLED=1 but vthreads comes from "
            f"{vthreads.__file__}, outside {sys.prefix}")
    capman = config.pluginmanager.getplugin("capturemanager")
    try:   # pytest keeps a dup of the real fd 2 while it captures
        fd = capman._global_capturing.err.targetfd_save
        _watchdog_out = os.fdopen(os.dup(fd), "w")
    except Exception:
        _watchdog_out = sys.__stderr__


@pytest.fixture(autouse=True)
def _watchdog():
    faulthandler.dump_traceback_later(TEST_TIMEOUT, exit=True,
                                      file=_watchdog_out)
    yield
    faulthandler.cancel_dump_traceback_later()


_GIL_OFF_AT_START = not getattr(sys, "_is_gil_enabled", lambda: True)()


@pytest.fixture(autouse=True)
def _gil_stays_off():
    yield
    if _GIL_OFF_AT_START and sys._is_gil_enabled():
        pytest.fail("this test turned the GIL back on (an extension without "
                    "free-threading support was imported in the test "
                    "process): import it in a child process instead")


_importable = {}


def skip_unless_importable(name, env=None):
    """Skip the test unless ``import name`` works, tried in a child process
    so that the import cannot turn the GIL back on in this one."""
    key = (name, tuple(sorted((env or {}).items())))
    if key not in _importable:
        r = subprocess.run([sys.executable, "-c", f"import {name}"],
                           env=dict(os.environ, **(env or {})),
                           capture_output=True)
        _importable[key] = r.returncode == 0
    if not _importable[key]:
        pytest.skip(f"{name} is not importable")


def autojump(main, *args):
    """``main(*args)`` in a fresh one-carrier runtime on an autojump clock
    (vthreads.testing): a ``sleep(0.01)`` there returns once every other
    vthread is parked -- a condition, not a guess at how long that takes --
    and a timeout fires as soon as nothing else can happen."""
    from vthreads import testing    # after pytest_plugins imported it
    return testing.run(main, *args,
                       clock=testing.MockClock(autojump_threshold=0))


def fresh_runtime(n):
    vthreads.shutdown(timeout=10)
    vthreads.configure(carriers=n)


@pytest.fixture(params=[1, 2], ids=["1carrier", "2carriers"])
def carriers(request):
    """Run the test on a fresh runtime with 1 and with 2 carriers."""
    fresh_runtime(request.param)
    yield request.param
    assert vthreads.shutdown(timeout=10)
    vthreads.configure(None)


@pytest.fixture
def one_carrier():
    """A fresh single-carrier runtime: nothing can be stolen, so the order of
    events is fully defined."""
    fresh_runtime(1)
    yield 1
    assert vthreads.shutdown(timeout=10)
    vthreads.configure(None)


@pytest.fixture
def two_carriers():
    fresh_runtime(2)
    yield 2
    assert vthreads.shutdown(timeout=10)
    vthreads.configure(None)


def run_script(code, timeout=60, env=None, input=None):
    """Run ``code`` in a fresh interpreter; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
        + [p for p in [full_env.get("PYTHONPATH")] if p])
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=timeout, env=full_env,
                          input=input)


def wait_until(pred, timeout=10.0):
    """Poll ``pred`` from a plain thread (for tests only); True when it holds."""
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.001)
    return pred()


def run_in(where, fn):
    """Run ``fn`` in a vthread or a plain thread; return its result or
    re-raise its exception here."""
    import threading
    if where == "vthread":
        return vthreads.spawn(fn).result(30)
    out = []

    def body():
        try:
            out.append(("ok", fn()))
        except BaseException as exc:      # re-raised in the caller
            out.append(("err", exc))

    t = threading.Thread(target=body)
    t.start()
    t.join(30)
    assert not t.is_alive()
    kind, value = out[0]
    if kind == "err":
        raise value
    return value
