"""CPython's own test suites under vthreads' patching: the quick part.

tests/stdlib/run.py runs the chosen modules in both modes -- each in a
fresh ``python -m vthreads`` process, and with a plain ``patch_all()`` and
the tests in the main OS thread -- against each mode's known-failure list.
CI runs the modules that finish in seconds (run.QUICK), in both modes;
the full run and its counts are in docs/compatibility.md.  The lists are
made for one CPython minor version (they name test ids of that version's
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
    with open(stdlib_run.known_path("run")) as f:
        for line in f:
            if line.startswith("# made for CPython "):
                return tuple(int(x) for x in line.split()[-1].split("."))
    return None


def _have_test_package():
    import importlib.util
    return importlib.util.find_spec("test.support") is not None


@pytest.mark.skipif(_list_version() != sys.version_info[:2],
                    reason=f"the known-failure lists are made for CPython "
                           f"{_list_version()}")
@pytest.mark.skipif(not _have_test_package(),
                    reason="this interpreter has no 'test' package")
@pytest.mark.parametrize("module", stdlib_run.QUICK)
@pytest.mark.parametrize("mode", stdlib_run.MODES)
def test_cpython_suite_quick(mode, module):
    r = subprocess.run([sys.executable, RUN, "--stall", "60", "--mode", mode,
                        module], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert f"[{mode}] {module}:" in r.stdout and "0 unexpected" in r.stdout
