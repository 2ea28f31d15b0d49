"""The import hook that applies an integration when its library is
imported (vthreads/_importhook.py), and monkey's use of it.

Each test imports modules of its own, written to tmp_path, so that
nothing else sees them; the monkey tests run in a fresh interpreter.
"""

import importlib
import sys
import textwrap

import pytest

from conftest import run_script
from vthreads import _importhook


@pytest.fixture
def modules(tmp_path):
    """write(relative path, code): a module under tmp_path, importable;
    every vt_* module and hook is forgotten afterwards."""
    def write(relpath, code):
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))

    sys.path.insert(0, str(tmp_path))
    yield write
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("vt_")]:
        del sys.modules[name]
    for name in list(_importhook._waiting):
        _importhook.forget(name)
    importlib.invalidate_caches()


def test_hook_runs_once_right_after_the_module_ran(modules):
    modules("vt_hooked.py", "first = 1\nlast = 2\n")
    seen = []

    def hook():
        mod = sys.modules["vt_hooked"]
        seen.append((mod.first, mod.last, type(mod.__loader__).__name__,
                     type(mod.__spec__.loader).__name__))

    _importhook.when_imported("vt_hooked", hook)
    assert seen == []
    import vt_hooked
    # The whole module had run, and its loader is the real one again.
    assert seen == [(1, 2, "SourceFileLoader", "SourceFileLoader")]
    importlib.reload(vt_hooked)
    assert len(seen) == 1
    assert "vt_hooked" not in _importhook._waiting


def test_hook_for_a_module_already_imported_runs_at_once(modules):
    modules("vt_early.py", "x = 1\n")
    import vt_early   # noqa: F401
    seen = []
    _importhook.when_imported("vt_early", lambda: seen.append("now"))
    assert seen == ["now"]


def test_hook_for_a_package_runs_after_its_init_imported_a_submodule(modules):
    modules("vt_pkg/sub.py", "value = 42\n")
    modules("vt_pkg/__init__.py", "from . import sub\n")
    seen = []
    _importhook.when_imported(
        "vt_pkg", lambda: seen.append(sys.modules["vt_pkg"].sub.value))
    import vt_pkg   # noqa: F401
    assert seen == [42]


def test_forget_drops_the_hook(modules):
    modules("vt_forgotten.py", "")
    seen = []
    _importhook.when_imported("vt_forgotten", lambda: seen.append(1))
    _importhook.forget("vt_forgotten")
    import vt_forgotten   # noqa: F401
    assert seen == []


def test_monkey_applies_an_integration_imported_later_or_warns(tmp_path):
    """A library imported after patching gets its integration; one that
    cannot be patched is still imported, with a warning."""
    (tmp_path / "vt_lib.py").write_text("state = 'plain'\n")
    (tmp_path / "vt_lib_integration.py").write_text(textwrap.dedent("""
        import vt_lib
        def patch(): vt_lib.state = 'patched'
        def unpatch(): vt_lib.state = 'plain'
    """))
    (tmp_path / "vt_bad.py").write_text("")
    (tmp_path / "vt_bad_integration.py").write_text(
        "def patch(): raise AttributeError('no such wait')\n"
        "def unpatch(): pass\n")
    r = run_script(f"""if 1:
        import sys, warnings
        sys.path.insert(0, {str(tmp_path)!r})
        import vthreads.monkey as monkey
        monkey.INTEGRATIONS.update(vt_lib="vt_lib_integration",
                                   vt_bad="vt_bad_integration")
        monkey._integrate("vt_lib")
        monkey._integrate("vt_bad")
        assert monkey.is_patched("vt_lib") and "vt_lib" not in sys.modules
        import vt_lib
        assert vt_lib.state == "patched", vt_lib.state
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import vt_bad
        assert [str(w.message) for w in caught] == [
            "vthreads could not patch vt_bad (AttributeError('no such "
            "wait')); its waits block their carrier"], caught
        monkey.unpatch_all()
        assert vt_lib.state == "plain" and not monkey.is_patched("vt_lib")
        print("ok")
    """)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "ok"
