"""Run a function right after a module's import finishes.

``vthreads.monkey`` patches third-party libraries that may be imported
after ``patch_all()`` -- the usual order: patch at the top, import the
library further down.  ``when_imported(name, fn)`` calls ``fn()`` at once
if ``name`` is imported already, otherwise right after its module's code
has run, before ``import name`` returns to whoever imported it.

How: a finder first in ``sys.meta_path`` answers for the awaited names
only.  It asks the finders after it for the real spec, and wraps that
spec's loader so that ``exec_module`` runs the module, then ``fn``.  The
real loader is put back on the spec and the module before the module's
code runs, so ``importlib.resources`` and friends never see the wrapper.
Once installed, the finder stays (answering None costs a dict lookup):
the import system iterates sys.meta_path itself, and removing an entry
under a concurrent import could make that import skip a finder.

Threads: any thread may import.  ``_lock`` guards ``_waiting``; the import
system's per-module lock already makes one import run a module once, and
a hook is popped before it runs, so it runs once.
"""

import importlib.abc
import sys
from typing import Any, Callable

from . import _originals as _o

_lock = _o.allocate_lock()
# module name -> [functions to call once it is imported]
_waiting: dict[str, list[Callable[[], object]]] = {}


def when_imported(name: str, fn: Callable[[], object]) -> None:
    """Call ``fn()`` once ``name`` is imported: now if it already is."""
    with _lock:
        _waiting.setdefault(name, []).append(fn)
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
    # Checked after registering, so that an import finishing meanwhile in
    # another thread cannot miss them: whoever pops the hooks first runs
    # them (a hook that imports the module waits for a running import).
    if name in sys.modules:
        _run_hooks(name)


def forget(name: str) -> None:
    """Drop the hooks still waiting for ``name`` (for tests)."""
    with _lock:
        _waiting.pop(name, None)


def _run_hooks(name):
    with _lock:
        hooks = _waiting.pop(name, [])
    for fn in hooks:
        fn()


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        with _lock:
            if fullname not in _waiting:
                return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, fullname)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _run_hooks(self._name)


_FINDER = _Finder()
