"""The vthreads under test is the one every child process imports.

Many tests run programs in fresh interpreters (run_script, dbload's
run_program, python -m vthreads); they must load the same vthreads as the
test process -- the source tree here, the installed wheel in .ci/run's
wheel lanes -- or those lanes would test the wrong files.
"""

import os
import sys

import vthreads
from conftest import ROOT, _installed_here, run_script
from dbload import run_program
from test_main import run_cli

WHERE = "import vthreads; print(vthreads.__file__)"


def test_run_script_children_import_this_vthreads():
    r = run_script(WHERE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == vthreads.__file__


def test_python_dash_m_vthreads_children_import_this_vthreads(tmp_path):
    script = tmp_path / "where.py"
    script.write_text(WHERE + "\n")
    r = run_cli(str(script))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == vthreads.__file__


def test_dbload_programs_import_this_vthreads():
    assert run_program(WHERE).strip() == vthreads.__file__


def test_installed_mode_means_an_installed_vthreads():
    installed = os.environ.get("VTHREADS_TEST_INSTALLED") == "1"
    source = os.path.join(ROOT, "vthreads", "__init__.py")
    if installed:
        assert _installed_here() and vthreads.__file__ != source
        assert not os.path.exists(source), (
            "the wheel lanes run a copy of tests/ with no source tree beside it")
    else:
        assert vthreads.__file__ == source or _installed_here(), sys.path
