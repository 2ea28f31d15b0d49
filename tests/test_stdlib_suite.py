"""CPython's own test suites under patch_all(): the quick part.

tests/stdlib/run.py runs the chosen modules, each in a fresh
``python -m vthreads`` process, against tests/stdlib/known_failures.txt.
CI runs the modules that finish in seconds (run.QUICK); the full run and
its counts are in docs/compatibility.md.  The known-failures list is made
for one CPython minor version (it names test ids of that version's
``test`` package), so other versions skip.
"""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "stdlib", "run.py")
sys.path.insert(0, os.path.join(HERE, "stdlib"))
import run as stdlib_run  # noqa: E402


def _list_version():
    with open(stdlib_run.KNOWN) as f:
        for line in f:
            if line.startswith("# made for CPython "):
                return tuple(int(x) for x in line.split()[-1].split("."))
    return None


def _have_test_package():
    import importlib.util
    return importlib.util.find_spec("test.support") is not None


@pytest.mark.skipif(_list_version() != sys.version_info[:2],
                    reason=f"known_failures.txt is made for CPython "
                           f"{_list_version()}")
@pytest.mark.skipif(not _have_test_package(),
                    reason="this interpreter has no 'test' package")
@pytest.mark.parametrize("module", stdlib_run.QUICK)
def test_cpython_suite_quick(module):
    r = subprocess.run([sys.executable, RUN, "--stall", "60", module],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert f"{module}:" in r.stdout and "0 unexpected" in r.stdout
