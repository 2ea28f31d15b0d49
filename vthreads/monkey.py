"""Monkeypatching: stdlib names mapped to their cooperative versions.

The tables below are plain data: module -> {name: replacement}.  The
originals are saved in one place (``_saved``), the first time each name is
patched, so patching is idempotent and ``get_original`` always answers
with the interpreter's own object.

The patch functions: ``patch_socket``, ``patch_time``, ``patch_select``,
``patch_ssl``, ``patch_dns``, ``patch_subprocess``, ``patch_threading``,
``patch_queue``, ``patch_signal``, and ``patch_all`` for all of them.  A
table's key is the module name, optionally followed by a label
("socket (dns)"), so one module can have separate patch functions.  A name may be dotted
("SSLContext.sslsocket_class"): the attribute of an object in the module.  The rest of the tables (ssl, select, threading, queue,
subprocess, dns) and ``patch_all`` come with their cooperative shapes.

Threads: patching happens at start-up, from one thread; ``_lock`` guards
the tables and ``_saved`` anyway.
"""

import importlib
import sys
import warnings

from . import _io
from . import _originals as _o
from . import _sync
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

# Patched names whose originals do not block: holding one is harmless.
_NOT_BLOCKING = {"get_ident", "current_thread", "local", "signal",
                 "set_wakeup_fd", "pthread_kill", "pthread_getcpuclockid"}

_lock = _o.allocate_lock()
_saved = {}          # (module name, attribute) -> original, or _MISSING


def _resolve(mod, dotted):
    """(object holding the attribute, attribute name) for "a.b.c"."""
    *path, attr = dotted.split(".")
    owner = mod
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


_quiet = []      # non-empty while patch_all() defers its warnings


def _patch(table):
    modname = table.split(" ", 1)[0]      # "socket (dns)" patches socket
    mod = importlib.import_module(modname)
    with _lock:
        for name, new in TABLES[table].items():
            key = (modname, name)
            owner, attr = _resolve(mod, name)
            if key not in _saved:
                _saved[key] = (owner, getattr(owner, attr, _MISSING))
            setattr(owner, attr, new)
    if not _quiet:
        _warn_early_users(modname)


def _warn_early_users(modname):
    """Warn about modules that took a reference to an original before
    patching: they keep calling the blocking version."""
    # Functions only: a class held elsewhere is mostly a base class or an
    # isinstance() target, which patching does not need to reach.
    originals = {id(v): (modname, n) for (m, n), (_, v) in _saved.items()
                 if m == modname and v is not _MISSING and "." not in n
                 and not isinstance(v, type) and callable(v)
                 and n not in _NOT_BLOCKING}
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


def patch_socket():
    """socket.socket and its constructors become cooperative."""
    _patch("socket")


def patch_time():
    """time.sleep parks vthreads (and honours cancel scopes in threads)."""
    _patch("time")


def patch_dns():
    """getaddrinfo and friends run on the to_thread helpers: the system
    resolver and /etc/hosts keep working, and no carrier waits on DNS."""
    _patch("socket (dns)")


def patch_subprocess():
    """Popen.wait, communicate, run and check_output park: os.waitpid on a
    pidfd, os.read/os.write after readiness, communicate's selector.
    (wait(timeout=...) sleeps with time.sleep: patch_time() as well.)"""
    _patch("os")
    _patch("subprocess")


def patch_threading(threads=True):
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


def patch_signal():
    """signal.signal and signal.set_wakeup_fd work from the vthread that
    ``vthreads.run()`` (or ``python -m vthreads``) runs as the program's
    main code: the waiting main thread installs the handler."""
    _patch("signal")


def patch_queue():
    """queue's classes become vthreads queues (same API and exceptions)."""
    _patch("queue")


def patch_all(threads=True):
    """Everything: socket, DNS, ssl, select/selectors, time, threading
    (with ``threads``), queue, subprocess and signal.  Call it before importing
    the code to be patched; it warns about modules imported too early."""
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


def patch_select():
    """select.select, select.poll and selectors' Default/PollSelector park
    (and socketserver's own reference to PollSelector)."""
    _patch("select")
    _patch("selectors")
    _patch("socketserver")


def patch_ssl():
    """ssl's sockets become cooperative, for new and existing contexts."""
    _patch("ssl")


def get_original(module, name):
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


def is_patched(module):
    with _lock:
        return any(m == module for m, _ in _saved)


def unpatch_all():
    """Put every original back (for tests)."""
    with _lock:
        saved = dict(_saved)
        _saved.clear()
    for (modname, name), (owner, value) in saved.items():
        attr = name.rsplit(".", 1)[-1]
        if value is _MISSING:
            if hasattr(owner, attr):
                delattr(owner, attr)
        else:
            setattr(owner, attr, value)
