"""Monkeypatching: stdlib names mapped to their cooperative versions.

The tables below are plain data: module -> {name: replacement}.  The
originals are saved in one place (``_saved``), the first time each name is
patched, so patching is idempotent and ``get_original`` always answers
with the interpreter's own object.

So far (the cooperative I/O issue is in progress): ``patch_socket`` and
``patch_time``.  The rest of the tables (ssl, select, threading, queue,
subprocess, dns) and ``patch_all`` come with their cooperative shapes.

Threads: patching happens at start-up, from one thread; ``_lock`` guards
the tables and ``_saved`` anyway.
"""

import importlib
import sys
import warnings

from . import _io
from . import _originals as _o
from ._core import sleep as _sleep

_MISSING = object()

TABLES = {
    "socket": {
        "socket": _io.socket,
        "socketpair": _io.socketpair,
        "create_connection": _io.create_connection,
        "create_server": _io.create_server,
        "fromfd": _io.fromfd,
    },
    "time": {
        "sleep": _sleep,
    },
}

_lock = _o.allocate_lock()
_saved = {}          # (module name, attribute) -> original, or _MISSING


def _patch(modname):
    mod = importlib.import_module(modname)
    with _lock:
        for name, new in TABLES[modname].items():
            key = (modname, name)
            if key not in _saved:
                _saved[key] = getattr(mod, name, _MISSING)
            setattr(mod, name, new)
    _warn_early_users(modname)


def _warn_early_users(modname):
    """Warn about modules that took a reference to an original before
    patching: they keep calling the blocking version."""
    originals = {id(v): (modname, n) for (m, n), v in _saved.items()
                 if m == modname and v is not _MISSING}
    users = []
    for name, mod in list(sys.modules.items()):
        if mod is None or name == modname or name.startswith("vthreads"):
            continue
        try:
            attrs = vars(mod)
        except TypeError:
            continue
        for value in list(attrs.values()):
            if id(value) in originals:
                users.append(name)
                break
    if users:
        warnings.warn(
            f"{modname} was patched after {', '.join(sorted(users))} took "
            f"references to its blocking functions; those modules keep "
            f"blocking.  Patch before importing them.",
            RuntimeWarning, stacklevel=3)


def patch_socket():
    """socket.socket and its constructors become cooperative."""
    _patch("socket")


def patch_time():
    """time.sleep parks vthreads (and honours cancel scopes in threads)."""
    _patch("time")


def get_original(module, name):
    """The interpreter's own ``module.name``, patched or not."""
    with _lock:
        value = _saved.get((module, name), _MISSING)
    if value is _MISSING:
        value = getattr(importlib.import_module(module), name)
    return value


def is_patched(module):
    with _lock:
        return any(m == module for m, _ in _saved)


def unpatch_all():
    """Put every original back (for tests)."""
    with _lock:
        saved = dict(_saved)
        _saved.clear()
    for (modname, name), value in saved.items():
        mod = sys.modules.get(modname)
        if mod is None:
            continue
        if value is _MISSING:
            if hasattr(mod, name):
                delattr(mod, name)
        else:
            setattr(mod, name, value)
