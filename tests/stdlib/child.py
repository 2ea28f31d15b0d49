"""Runs one CPython test module; started by ``run.py``, one process per run.

    python -m vthreads tests/stdlib/child.py run MODULE PROGRESS EXCLUDE
    python tests/stdlib/child.py patch_all|gevent|baseline MODULE PROGRESS EXCLUDE

The modes:
- ``run``: under ``python -m vthreads`` everything is patched and this
  code runs in a vthread, as the program's main code would.
- ``patch_all``: a plain ``vthreads.monkey.patch_all()`` first thing, and
  the tests run in the main OS thread: how gevent users write programs.
- ``gevent``: the same with ``gevent.monkey.patch_all()``, to compare.
- ``baseline``: nothing patched.

PROGRESS gets one JSON line when each test starts and one when it ends,
flushed at once, so that the parent can tell which test hung or crashed
the process.  EXCLUDE names test ids (one per line) that are not run at
all: the ones known to hang or crash.
"""

import sys

# Before anything else is imported, as a program would do it.
MODE = sys.argv[1]
if MODE == "patch_all":
    import vthreads.monkey
    vthreads.monkey.patch_all()
elif MODE == "gevent":
    import gevent.monkey
    gevent.monkey.patch_all()

import json
import os
import signal
import time
import unittest

from test import support

# regrtest's resources, minus those this machine lacks: audio, a GUI,
# multi-gigabyte files and 'urlfetch' (downloads).  'network' stays on: it
# gates local-socket tests too (all of test_timeout), and the tests that
# need the internet skip themselves through transient_internet().
support.use_resources = ["cpu", "decimal", "network", "subprocess", "walltime"]


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


class Recorder(unittest.TestResult):
    """Writes one line per event; a test's outcome is the worst of its own
    and its subtests'."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        self.outcome = {}

    def emit(self, **rec):
        self.out.write(json.dumps(rec) + "\n")
        self.out.flush()

    def startTest(self, test):
        super().startTest(test)
        self.outcome[test.id()] = "pass"
        self.t0 = time.monotonic()
        self.emit(event="start", id=test.id())

    def stopTest(self, test):
        super().stopTest(test)
        self.emit(event="end", id=test.id(), outcome=self.outcome[test.id()],
                  seconds=round(time.monotonic() - self.t0, 3))

    def _bad(self, test, kind, err):
        tid = test.id()
        if self.outcome.get(tid) != "error":
            self.outcome[tid] = kind
        self.emit(event="detail", id=tid, kind=kind,
                  text=self._exc_info_to_string(err, test)[-3000:])

    def addError(self, test, err):
        super().addError(test, err)
        if isinstance(test, unittest.case._SubTest):
            test = test.test_case
        elif not hasattr(test, "_testMethodName"):   # a class or module fixture
            self.emit(event="fixture", id=str(test), kind="error",
                      text=self._exc_info_to_string(err, None)[-3000:])
            return
        self._bad(test, "error", err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._bad(test, "fail", err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            self._bad(test, kind, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if hasattr(test, "_testMethodName"):
            self.outcome[test.id()] = "skip"

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.outcome[test.id()] = "pass"

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.outcome[test.id()] = "fail"


def main():
    module, progress, exclude = sys.argv[2:5]
    # A background job inherits SIGINT ignored, and Python then leaves it
    # so; the interrupt_main() tests need Python's own handler, as in a
    # terminal.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    with open(exclude) as f:
        skip = {line.strip() for line in f if line.strip()}
    loaded = unittest.defaultTestLoader.loadTestsFromName("test." + module)
    tests = [t for t in flatten(loaded) if t.id() not in skip]
    suite = unittest.TestSuite(tests)
    with open(progress, "a") as out:
        rec = Recorder(out)
        rec.emit(event="begin", module=module, count=len(tests),
                 mode=MODE, pid=os.getpid())
        suite.run(rec)
        rec.emit(event="done")
    # Some modules leave helper threads or servers behind; the parent has
    # all it needs, so do not wait for them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
