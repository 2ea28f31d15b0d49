"""The inspect listener: how ``python -m vthreads ps PID`` asks a process.

When a runtime first starts, the process listens on a Unix socket,
``<dir>/<pid>.sock``, where ``<dir>`` is ``$XDG_RUNTIME_DIR/vthreads`` or,
without that variable, ``/tmp/vthreads-<uid>``.  One OS thread of the
runtime's own (``_ownthread``) waits in ``accept()``; to each connection
from a process of the same user it sends ``dump(format="json")`` and
closes.  Nothing else is answered: there is no command that runs code, so
the worst a peer can do is read the dump.  ``VTHREADS_INSPECT=0`` (read
when the first runtime starts) turns it off: no socket, no thread.

Why this is safe (docs/design.md, "Dumps from outside"):
- the directory is made 0700 and must be ours: a directory that exists
  with another owner, other permissions or as a symlink is refused (and
  the process goes without a listener, with a RuntimeWarning), so nobody
  else can reach, replace or pre-create the socket;
- the socket itself is 0600 (set right after ``bind``, while the 0700
  directory already keeps everyone else out);
- each peer's uid is checked with ``SO_PEERCRED`` (Linux) before a byte
  is sent: only the same uid is answered (not even root, who can read
  the process's memory anyway);
- the request is one short line, read with a time limit, so a peer that
  connects and sends nothing holds the listener for at most a second.

Cost: the thread sleeps in ``accept()``; no hot path reads anything of
this module.  The socket file goes at exit (threading's atexit, after
the runtime's own), and a stale one left by a killed process with the same
pid is replaced at bind.  After ``os.fork()`` the child closes its copy
of the parent's socket (without removing the parent's file) and, if it
goes on with a runtime, listens on its own pid.

Threads and guards: ``_lock`` guards ``_listener`` (start, fork, exit);
``ensure_listening`` runs in whichever thread starts a runtime, ``_serve``
in the listener thread, ``_at_exit`` at exit, ``_after_fork`` in a forked
child.
"""

from __future__ import annotations

import os
import socket as _sm     # constants only: the class is the original's
import stat
import struct
import warnings
from typing import Any

from .. import _originals as _o
from ._dump import dump
from ._fork import on_child
from ._ownthread import OwnThread
from ._runtime import forked_carrier, on_runtime_start

__all__ = ["ensure_listening", "socket_dir", "socket_path", "enabled"]

_lock = _o.allocate_lock()
_listener: _Listener | None = None
_atexit_registered = False
_REQUEST_TIMEOUT = 1.0      # seconds a peer has to send its request line
_REQUEST = b"dump"


def enabled() -> bool:
    """False if VTHREADS_INSPECT turns the listener off."""
    return os.environ.get("VTHREADS_INSPECT", "1").strip().lower() \
        not in ("0", "off", "no", "false")


def socket_dir(uid: int | None = None) -> str:
    """The per-user directory of the sockets."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isabs(base):
        return os.path.join(base, "vthreads")
    return f"/tmp/vthreads-{os.getuid() if uid is None else uid}"


def socket_path(pid: int) -> str:
    """Where process ``pid`` of this user listens."""
    return os.path.join(socket_dir(), f"{pid}.sock")


def check_private_dir(path: str) -> None:
    """Make ``path`` 0700 if it is missing; OSError unless it is then a
    real directory of ours that nobody else may enter."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{path} is not a directory")
    if st.st_uid != os.getuid():
        raise OSError(f"{path} belongs to uid {st.st_uid}, not to us")
    if st.st_mode & 0o077:
        raise OSError(f"{path} is open to others "
                      f"(mode {stat.S_IMODE(st.st_mode):o}, not 700)")


def peer_uid(conn: Any) -> int | None:
    """The uid of the process at the other end, or None where the
    platform cannot tell (no SO_PEERCRED)."""
    opt = getattr(_sm, "SO_PEERCRED", None)
    if opt is None:     # pragma: no cover - not Linux
        return None
    raw = conn.getsockopt(_sm.SOL_SOCKET, opt,
                          struct.calcsize("3i"))
    return struct.unpack("3i", raw)[1]


class _Listener:
    __slots__ = ("pid", "path", "sock", "thread", "closed")

    def __init__(self):
        self.pid = os.getpid()
        d = socket_dir()
        check_private_dir(d)
        self.path = os.path.join(d, f"{self.pid}.sock")
        self.closed = False
        sock = _o.socket_class(_sm.AF_UNIX, _sm.SOCK_STREAM)
        try:
            try:
                os.unlink(self.path)    # stale: a dead process, same pid
            except FileNotFoundError:
                pass
            sock.bind(self.path)
            os.chmod(self.path, 0o600)
            sock.listen(8)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.thread = OwnThread(self._serve, "vthreads-inspect")
        self.thread.start()

    def _serve(self):
        sock = self.sock
        while not self.closed:
            try:
                conn, _ = sock.accept()
            except OSError:
                if self.closed:
                    return
                continue
            try:
                self._answer(conn)
            except Exception:       # a peer that went away, a bad request
                pass
            finally:
                conn.close()

    def _answer(self, conn):
        uid = peer_uid(conn)
        if uid is not None and uid != os.getuid():
            return                  # not a byte to another user
        conn.settimeout(_REQUEST_TIMEOUT)
        request = b""
        while b"\n" not in request and len(request) < 64:
            chunk = conn.recv(64)
            if not chunk:
                break
            request += chunk
        words = request.split()
        if not words or words[0] != _REQUEST:
            conn.sendall(b'{"error": "unknown request"}\n')
            return
        timeout = 1.0
        if len(words) > 1:
            timeout = min(max(float(words[1]), 0.0), 30.0)
        report = dump(file=False, format="json", timeout=timeout)
        conn.settimeout(10.0)
        conn.sendall(report.encode())

    def remove(self):
        """At exit: remove the file if it is this process's, so that ps
        finds no socket.  The thread is left in ``accept()``, a daemon to
        the end: woken now, it would end while the interpreter finalizes,
        and a thread that ends then is one more thing for greenlet to
        clean up at the worst moment (seen as an abort on 3.13t)."""
        self.closed = True
        if self.pid == os.getpid():
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def drop_copy(self):
        """In a forked child: close the copy of the parent's socket; its
        file is the parent's, and the child has no listener thread."""
        self.closed = True
        self.sock.close()


def ensure_listening() -> None:
    """Start the listener of this process, once (see the header).  Called
    as a runtime starts; a directory that is not private only warns."""
    global _listener, _atexit_registered
    if _listener is not None and _listener.pid == os.getpid():
        return
    if not enabled():
        return
    with _lock:
        if _listener is not None and _listener.pid == os.getpid():
            return
        try:
            _listener = _Listener()
        except OSError as exc:
            warnings.warn(f"vthreads: no inspect socket for python -m "
                          f"vthreads ps: {exc}", RuntimeWarning, stacklevel=2)
            return
        if not _atexit_registered:
            _o.register_atexit(_at_exit)
            _atexit_registered = True


def current_path() -> str | None:
    """The socket this process listens on, or None."""
    lst = _listener
    return lst.path if lst is not None and not lst.closed \
        and lst.pid == os.getpid() else None


def _at_exit():
    global _listener
    with _lock:
        lst, _listener = _listener, None
    if lst is not None:
        lst.remove()


def _after_fork():
    """The child: close the parent's socket, leave the parent's file."""
    global _listener, _lock
    _lock = _o.allocate_lock()
    lst, _listener = _listener, None
    if lst is not None:
        lst.drop_copy()
        # Forked from a carrier, the child goes on with a runtime (_fork):
        # it listens on its own pid.  Otherwise its next runtime start will.
        if forked_carrier() is not None:
            ensure_listening()


on_child(_after_fork)
on_runtime_start(ensure_listening)
