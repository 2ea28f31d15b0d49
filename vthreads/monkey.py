"""Monkeypatching: stdlib names mapped to their cooperative versions.

The tables below are plain data: module -> {name: replacement}.  The
originals are saved in one place (``_saved``), the first time each name is
patched, so patching is idempotent and ``get_original`` always answers
with the interpreter's own object.

A compiled module that was patched (``_queue``, ``select``, ``time``) and
is then imported afresh gets its tables again (see "Compiled modules
imported afresh" below).

The patch functions: ``patch_socket``, ``patch_time``, ``patch_select``,
``patch_ssl``, ``patch_dns``, ``patch_subprocess``, ``patch_threading``,
``patch_queue``, ``patch_signal``, the third-party ``patch_psycopg`` and
``patch_psycopg2``, and ``patch_all`` for all of them.  A
table's key is the module name, optionally followed by a label
("socket (dns)"), so one module can have separate patch functions.  A name may be dotted
("SSLContext.sslsocket_class"): the attribute of an object in the module.  The rest of the tables (ssl, select, threading, queue,
subprocess, dns) and ``patch_all`` come with their cooperative shapes.

Third-party libraries (``INTEGRATIONS``) are patched by a module of their
own, ``vthreads/<library>.py``, which imports its library and uses only
vthreads' public API; this module names it and never imports it itself
before the library is imported: at once if it already is, otherwise from
an import hook (_importhook), so patch_all() may come before or after
``import psycopg``.  is_patched(library) answers True from the patch call
on, imported yet or not; get_original() covers the stdlib tables only.

Threads: patching happens at start-up, from one thread; ``_lock`` guards
the tables, ``_saved`` and ``_integrated`` anyway.  An import hook runs in
whichever thread imports the library.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from typing import Any

from . import _importhook
from . import _io
from . import _originals as _o
from . import _sync
from ._core import sleep as _sleep

_MISSING = object()

TABLES: dict[str, dict[str, Any]] = {
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
    "socket (dns)": {
        "getaddrinfo": _io.getaddrinfo,
        "gethostbyname": _io.gethostbyname,
        "gethostbyname_ex": _io.gethostbyname_ex,
        "gethostbyaddr": _io.gethostbyaddr,
        "getnameinfo": _io.getnameinfo,
    },
    "select": {
        "select": _io.select,
        "poll": _io.poll,
        # Linux only.  (devpoll and kqueue, elsewhere, are not patched.)
        **({"epoll": _io.epoll} if _io.epoll is not None else {}),
    },
    "selectors": {
        "DefaultSelector": _io.DefaultSelector,
        "PollSelector": _io.PollSelector,
        "SelectSelector": _io.SelectSelector,
        **({"EpollSelector": _io.EpollSelector}
           if _io.EpollSelector is not None else {}),
    },
    "os": {
        "read": _io.os.read,
        "write": _io.os.write,
        "waitpid": _io.os.waitpid,
    },
    "subprocess": {
        # communicate() waits in this selector ...
        "_PopenSelector": _io.PollSelector,
        # ... and never takes its blocking one-pipe fast path.
        "Popen": _io.Popen,
    },
    "signal": {
        # Handlers are installed by the main thread, which waits in run()
        # while the program's main code runs in a vthread.
        "signal": _io.signal.signal,
        "set_wakeup_fd": _io.signal.set_wakeup_fd,
        # Raised there too, so that its handler has run when it returns.
        "raise_signal": _io.signal.raise_signal,
        "pause": _io.signal.pause,
        **({"pidfd_send_signal": _io.signal.pidfd_send_signal}
           if _o.pidfd_send_signal is not None else {}),
    },
    "threading": {
        "Lock": _sync.Lock,
        "RLock": _sync.RLock,
        "Condition": _sync.Condition,
        "Semaphore": _sync.Semaphore,
        "BoundedSemaphore": _sync.BoundedSemaphore,
        "Event": _sync.Event,
        "Barrier": _sync.Barrier,
    },
    "_thread": {
        "allocate_lock": _sync.Lock,
        "RLock": _sync.RLock,
    },
    "threading (threads)": {
        "Thread": _io.threading.Thread,
        # Captured by threading at import; the tests of its own RLocks
        # (and code that picks one on purpose) find them here.
        "_CRLock": _sync.RLock,
        "_PyRLock": _sync.RLock,
        "current_thread": _io.threading.current_thread,
        "get_ident": _io.threading.get_ident,
        "local": _io.threading.local,
        "enumerate": _io.threading.enumerate,
        "active_count": _io.threading.active_count,
    },
    # These take a pthread_t; get_ident() now answers with vthread idents.
    "signal (threads)": {
        "pthread_kill": _io.threading.pthread_kill,
    } if _o.pthread_kill is not None else {},
    "time (threads)": {
        "pthread_getcpuclockid": _io.threading.pthread_getcpuclockid,
    } if _o.pthread_getcpuclockid is not None else {},
    "_thread (threads)": {
        "start_new_thread": _io.threading.start_new_thread,
        "get_ident": _io.threading.get_ident,
        "_count": _io.threading.thread_count,
        "interrupt_main": _io.threading.interrupt_main,
    },
    "queue": {
        "Queue": _sync.Queue,
        "LifoQueue": _sync.LifoQueue,
        "PriorityQueue": _sync.PriorityQueue,
        "SimpleQueue": _sync.SimpleQueue,
    },
    # The C class behind queue.SimpleQueue, for code that takes it from
    # _queue itself: its get() blocks in C.
    "_queue": {
        "SimpleQueue": _sync.SimpleQueue,
        # What it raises: the same object here, but a fresh copy of _queue
        # (see below) has an Empty of its own that queue takes.
        "Empty": _sync.Empty,
    },
    "socketserver": {
        # Captured from selectors when socketserver was imported; the
        # servers' serve_forever() and handle_request() wait in it.
        "_ServerSelector": _io.PollSelector,
    },
    "ssl": {
        # get_server_certificate() connects with ssl's own reference.
        "create_connection": _io.create_connection,
        # And this: set on the stdlib class itself, so every context --
        # made before or after patching -- wraps cooperatively.  The names
        # ssl.SSLContext and ssl.SSLSocket stay: the stdlib's own methods
        # look those classes up by global name (super(SSLSocket, self),
        # super(SSLContext, SSLContext)), and a subclass there recurses.
        # Our SSLSocket subclasses ssl.SSLSocket, so isinstance() holds.
        "SSLContext.sslsocket_class": _io.SSLSocket,
    },
}

# Third-party library -> the vthreads module whose patch() makes it
# cooperative (and unpatch() undoes).
INTEGRATIONS: dict[str, str] = {
    "psycopg": "vthreads.psycopg",
    "psycopg2": "vthreads.psycopg2",
    "grpc": "vthreads.grpc",
}

# Patched names whose originals do not block: holding one is harmless.
_NOT_BLOCKING = {"get_ident", "current_thread", "local", "enumerate",
                 "active_count", "signal", "set_wakeup_fd", "raise_signal",
                 "pidfd_send_signal", "pthread_kill", "pthread_getcpuclockid"}

_lock = _o.allocate_lock()
_saved: dict[tuple[str, str], tuple[Any, Any]] = {}  # (module name, attribute) -> original, or _MISSING
_integrated: dict[str, types.ModuleType | None] = {}  # library -> its integration module once applied, or None


def _resolve(mod: object, dotted: str) -> tuple[Any, str]:
    """(object holding the attribute, attribute name) for "a.b.c"."""
    *path, attr = dotted.split(".")
    owner = mod
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


_quiet: list[int] = []      # non-empty while patch_all() defers its warnings


def _patch(table: str) -> None:
    modname = table.split(" ", 1)[0]      # "socket (dns)" patches socket
    mod = importlib.import_module(modname)
    with _lock:
        for name, new in TABLES[table].items():
            key = (modname, name)
            owner, attr = _resolve(mod, name)
            if key not in _saved:
                _saved[key] = (owner, getattr(owner, attr, _MISSING))
            setattr(owner, attr, new)
        if _compiled(getattr(mod.__spec__, "loader", None)):
            _fresh.setdefault(modname, []).append(table)
            if _FRESH not in sys.meta_path:
                sys.meta_path.insert(0, _FRESH)
    if not _quiet:
        _warn_early_users(modname)


_BASETYPE = 1 << 10          # Py_TPFLAGS_BASETYPE: the class can be subclassed


def _only_called(original: object) -> bool:
    """Whether a module that holds ``original`` can only call it.  Not a
    class held elsewhere: mostly a base class or an isinstance() target,
    which patching does not need to reach -- unless it cannot be
    subclassed (select.epoll; kombu holds it from import on)."""
    if isinstance(original, type):
        return not original.__flags__ & _BASETYPE
    return callable(original)


# --- Compiled modules imported afresh --------------------------------------
# import_fresh_module() (CPython's tests; some libraries' own) drops a module
# from sys.modules and imports it again.  A Python module made again runs
# its code against the patched names, but a compiled one comes back with
# its own C types, whose waits block the carrier (_queue.SimpleQueue.get()).
# So a compiled module that was patched gets its tables again when it is
# imported afresh; the first module's originals stay the ones in _saved.

_fresh: dict[str, list[str]] = {}      # compiled module name -> its tables, once patched


def _compiled(loader: object) -> bool:
    return loader is importlib.machinery.BuiltinImporter or \
        isinstance(loader, importlib.machinery.ExtensionFileLoader)


class _FreshLoader:
    """Loads as ``loader`` does, then patches the new module."""

    def __init__(self, loader: Any, tables: list[str]) -> None:
        self._loader, self._tables = loader, tables

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        with _lock:
            for table in self._tables:
                for name, new in TABLES[table].items():
                    owner, attr = _resolve(module, name)
                    setattr(owner, attr, new)


class _FreshFinder:
    """On sys.meta_path while a compiled module is patched."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        with _lock:
            tables = _fresh.get(fullname)
        if tables is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: ModuleSpec | None = finder.find_spec(fullname, path, target)
            if spec is not None:
                if _compiled(spec.loader):
                    # a loader by its two methods, as importlib takes it
                    spec.loader = _FreshLoader(  # type: ignore[assignment]
                        spec.loader, list(tables))
                return spec
        return None


_FRESH = _FreshFinder()


def _warn_early_users(modname: str) -> None:
    """Warn about modules that took a reference to an original before
    patching: they keep calling the blocking version."""
    originals = {id(v): (modname, n) for (m, n), (_, v) in _saved.items()
                 if m == modname and v is not _MISSING and "." not in n
                 and _only_called(v) and n not in _NOT_BLOCKING}
    # Modules with a patch table of their own (ssl holds socket's
    # create_connection) are fixed by their own patch function.
    patchable = {t.split(" ", 1)[0] for t in TABLES}
    users = []
    for name, mod in list(sys.modules.items()):
        if mod is None or name == modname or name.startswith("vthreads") \
                or name in patchable:
            continue
        try:
            attrs = vars(mod)
        except TypeError:
            continue
        for attr, value in list(attrs.items()):
            # The module that defines an object may of course hold it, and
            # private aliases (subprocess's _waitpid for WNOHANG polls) are
            # the stdlib's own business.
            if id(value) in originals and not attr.startswith("_") and \
                    getattr(value, "__module__", None) != name:
                users.append(name)
                break
    if users:
        warnings.warn(
            f"{modname} was patched after {', '.join(sorted(users))} took "
            f"references to its blocking functions; those modules keep "
            f"blocking.  Patch before importing them.",
            RuntimeWarning, stacklevel=3)


def patch_socket() -> None:
    """socket.socket and its constructors become cooperative."""
    _patch("socket")


def patch_time() -> None:
    """time.sleep parks vthreads (and honours cancel scopes in threads)."""
    _patch("time")


def patch_dns() -> None:
    """getaddrinfo and friends run on the to_thread helpers: the system
    resolver and /etc/hosts keep working, and no carrier waits on DNS."""
    _patch("socket (dns)")


def patch_subprocess() -> None:
    """Popen.wait, communicate, run and check_output park: os.waitpid on a
    pidfd, os.read/os.write after readiness, communicate's selector.
    (wait(timeout=...) sleeps with time.sleep: patch_time() as well.)"""
    _patch("os")
    _patch("subprocess")


def patch_threading(threads: bool = True) -> None:
    """threading's locks, events, conditions, semaphores and barriers
    become vthreads primitives; with ``threads=True`` (the default)
    threading.Thread and _thread.start_new_thread start vthreads, and
    current_thread(), get_ident() and local are per vthread.
    ``get_original("threading", "Thread")`` still makes a real OS thread."""
    _patch("threading")
    _patch("_thread")
    if threads:
        _patch("threading (threads)")
        _patch("_thread (threads)")
        _patch("signal (threads)")
        _patch("time (threads)")


def patch_signal() -> None:
    """signal.signal and signal.set_wakeup_fd work from the vthread that
    ``vthreads.run()`` (or ``python -m vthreads``) runs as the program's
    main code: the waiting main thread installs the handler."""
    _patch("signal")


def patch_queue() -> None:
    """queue's classes become vthreads queues (same API and exceptions),
    and so does the C SimpleQueue in _queue."""
    _patch("queue")
    _patch("_queue")


def patch_all(threads: bool = True, psycopg: bool = True, psycopg2: bool = True,
              grpc: bool = True) -> None:
    """Everything: socket, DNS, ssl, select/selectors, time, threading
    (with ``threads``), queue, subprocess and signal, and the third-party
    libraries (``psycopg``, ``psycopg2``, ``grpc``: pass False to leave one
    alone) whenever they are imported.  Call it before importing the code to be
    patched; it warns about modules imported too early."""
    _quiet.append(1)
    try:
        patch_socket()
        patch_dns()
        patch_ssl()
        patch_select()
        patch_time()
        patch_threading(threads=threads)
        patch_queue()
        patch_subprocess()
        patch_signal()
    finally:
        _quiet.pop()
    for modname in sorted({m for m, _ in _saved}):
        _warn_early_users(modname)
    if psycopg:
        patch_psycopg()
    if psycopg2:
        patch_psycopg2()
    if grpc:
        patch_grpc()


def _integrate(library: str) -> None:
    """Apply ``library``'s integration now if it is imported, otherwise
    right after its import."""
    with _lock:
        if library in _integrated:
            return
        _integrated[library] = None
    _importhook.when_imported(library, lambda: _apply(library))


def _apply(library: str) -> None:
    with _lock:
        if library not in _integrated or _integrated[library] is not None:
            return           # unpatched meanwhile, or applied already
    try:
        module = importlib.import_module(INTEGRATIONS[library])
        with _lock:
            _integrated[library] = module
        module.patch()
    except Exception as exc:
        # A library version this integration does not know: say so, and
        # let the program's import of it go on.
        warnings.warn(f"vthreads could not patch {library} ({exc!r}); "
                      f"its waits block their carrier", RuntimeWarning)


def patch_psycopg() -> None:
    """psycopg 3 (either implementation; psycopg_pool with it): its waits
    park -- psycopg's own poll-based wait, through select, which this
    patches too -- and a vthread cancelled in a query cancels it in the
    server and leaves the connection usable.  See vthreads/psycopg.py."""
    patch_select()
    _integrate("psycopg")


def patch_psycopg2() -> None:
    """psycopg2: a wait callback that parks, and cancels the server's
    query when the vthread is cancelled.  See vthreads/psycopg2.py."""
    _integrate("psycopg2")


def patch_grpc() -> None:
    """grpcio: its channel and server loops run in real OS threads, and
    blocking unary-response calls park; a vthread cancelled in a call
    cancels the RPC.  See vthreads/grpc.py."""
    _integrate("grpc")


def patch_select() -> None:
    """select.select, select.poll, select.epoll and selectors' Default,
    Poll, Epoll and SelectSelector park (and socketserver's own reference
    to PollSelector)."""
    _patch("select")
    _patch("selectors")
    _patch("socketserver")


def patch_ssl() -> None:
    """ssl's sockets become cooperative, for new and existing contexts."""
    _patch("ssl")


def get_original(module: str, name: str) -> Any:
    """The interpreter's own ``module.name``, patched or not.

    As gevent's ``get_original``: the module is imported if need be, so a
    missing one raises ModuleNotFoundError (an ImportError), and a missing
    name raises AttributeError; both messages name what is missing.  A
    name that patching added (there was no original) is missing too.
    ``name`` may be dotted, as in the tables ("SSLContext.sslsocket_class");
    gevent's sequences of names are not taken: one module, one name, both
    str, else TypeError.
    """
    if not isinstance(module, str) or not isinstance(name, str):
        bad = name if isinstance(module, str) else module
        raise TypeError(f"get_original() takes a module name and an attribute "
                        f"name (str), not {type(bad).__name__}")
    with _lock:
        entry = _saved.get((module, name))
    if entry is not None:
        if entry[1] is _MISSING:
            raise AttributeError(f"{module}.{name} has no original: it did "
                                 f"not exist before patching", name=name)
        return entry[1]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module + ".").startswith(exc.name + "."):
            raise          # the module exists; something it imports does not
        raise ModuleNotFoundError(
            f"get_original({module!r}, {name!r}): no module named "
            f"{exc.name!r}", name=exc.name) from None
    try:
        owner, attr = _resolve(mod, name)
        return getattr(owner, attr)
    except AttributeError:
        raise AttributeError(f"get_original(): module {module!r} has no "
                             f"attribute {name!r}", name=name, obj=mod) from None


def is_patched(module: str) -> bool:
    """True once ``module`` was patched; for a library in INTEGRATIONS,
    once its patch function ran, whether the library is imported yet."""
    with _lock:
        return module in _integrated or any(m == module for m, _ in _saved)


def unpatch_all() -> None:
    """Put every original back (for tests)."""
    with _lock:
        saved = dict(_saved)
        _saved.clear()
        integrated = dict(_integrated)
        _integrated.clear()
        _fresh.clear()
        if _FRESH in sys.meta_path:
            sys.meta_path.remove(_FRESH)
    for library, module in integrated.items():
        _importhook.forget(library)
        if module is not None:
            module.unpatch()
    for (modname, name), (owner, value) in saved.items():
        attr = name.rsplit(".", 1)[-1]
        if value is _MISSING:
            if hasattr(owner, attr):
                delattr(owner, attr)
        else:
            setattr(owner, attr, value)
