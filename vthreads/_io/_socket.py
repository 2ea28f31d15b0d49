"""A cooperative ``socket.socket``.

Facts that shape it:
- The kernel fd is always non-blocking.  The timeout the user sets
  (``settimeout``, ``setblocking``, the default timeout) is kept in
  ``_vt_timeout`` and emulated here: try the operation; on
  BlockingIOError park until the fd is ready (``wait_readable`` /
  ``wait_writable`` through the carrier's poller, or poll() in a plain
  thread), then try again, until the deadline.
- So every blocking method parks a vthread, blocks a plain thread, and
  honours cancel scopes in both; ``settimeout(0)`` still raises
  BlockingIOError at once, and a timeout raises ``socket.timeout``
  (TimeoutError), as the stdlib does.
- Only one task may wait in each direction at a time: a second one gets
  ``BusyResourceError`` (trio's name) rather than a silent race for the
  same bytes.
- Closing the socket wakes its waiters with ``OSError(EBADF)``: the fd
  number may be reused at once, so nobody may keep waiting on it.

Guard: ``_vt_waiters`` (direction -> ticket) is touched by the waiting
tasks and by ``close`` from any thread, under a stripe of ``_LOCKS``.
"""

import _socket
import errno
import os
import socket as _std

from .. import _originals as _o
from .._core import TIMEOUT, block
from .._core._fork import on_child
from .._poller import READ, WRITE
from . import _dns

_Base = _o.socket_class
_LOCKS = tuple(_o.allocate_lock() for _ in range(32))


def _reinit_locks():
    for lock in _LOCKS:
        lock._at_fork_reinit()


on_child(_reinit_locks)
_CLOSED = object()


class BusyResourceError(RuntimeError):
    """Another task is already waiting in that direction on this socket."""


def _lock_of(sock):
    return _LOCKS[(id(sock) >> 4) & 31]


class socket(_Base):
    __slots__ = ("_vt_timeout", "_vt_waiters")

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        super().__init__(family, type, proto, fileno)
        self._vt_waiters = {}
        if fileno is None:
            self._vt_timeout = _o.getdefaulttimeout()
        else:
            t = _Base.gettimeout(self)
            self._vt_timeout = t
        _Base.setblocking(self, False)

    # --- the user-visible timeout -------------------------------------------

    def settimeout(self, value):
        if value is not None:
            if not isinstance(value, (int, float)):
                raise TypeError("Timeout value must be int, float or None")
            value = float(value)
            if value < 0 or value != value:
                raise ValueError("Timeout value out of range")
        self._vt_timeout = value

    def gettimeout(self):
        return self._vt_timeout

    @property
    def timeout(self):
        return self._vt_timeout

    def setblocking(self, flag):
        self._vt_timeout = None if flag else 0.0

    def getblocking(self):
        return self._vt_timeout != 0.0

    # --- waiting ------------------------------------------------------------

    def _deadline(self):
        t = self._vt_timeout
        return None if t is None else _o.monotonic() + t

    def _wait(self, events, deadline, reason):
        fd = self.fileno()
        if fd < 0:
            raise OSError(errno.EBADF, "Bad file descriptor")
        mine = []

        def register(ticket):
            with _lock_of(self):
                if events in self._vt_waiters:
                    raise BusyResourceError(
                        "another task is already waiting to "
                        f"{'read from' if events == READ else 'write to'} "
                        "this socket")
                self._vt_waiters[events] = ticket
            mine.append(ticket)

        def unregister(ticket):
            with _lock_of(self):
                if self._vt_waiters.get(events) is ticket:
                    del self._vt_waiters[events]

        try:
            value = block(reason, self, register, unregister, deadline,
                          io=((fd, events),))
        finally:
            # A readiness wake-up leaves the last ticket registered here.
            for ticket in mine:
                unregister(ticket)
        if value is TIMEOUT:
            raise _std.timeout("timed out")
        if value is _CLOSED:
            raise OSError(errno.EBADF, "Bad file descriptor (socket closed "
                          "while waiting)")

    def _retry(self, op, events, reason, *args):
        deadline = None
        while True:
            try:
                return op(*args)
            except BlockingIOError:
                if self._vt_timeout == 0.0:
                    raise
                if deadline is None:
                    deadline = self._deadline()
                self._wait(events, deadline, reason)

    # --- closing --------------------------------------------------------------

    def _real_close(self, _ss=_socket.socket):
        with _lock_of(self):
            waiters = list(self._vt_waiters.values())
            self._vt_waiters.clear()
        for ticket in waiters:
            ticket.fire(_CLOSED)
        _ss.close(self)

    # --- the blocking methods ---------------------------------------------

    def _resolved(self, address):
        """A host name in an INET address, resolved off the carrier (the C
        connect() would resolve it with a blocking call)."""
        if self.family in (_std.AF_INET, _std.AF_INET6) and \
                isinstance(address, tuple) and isinstance(address[0], str) \
                and not _dns.is_numeric_host(address[0]):
            infos = _dns.getaddrinfo(address[0], address[1], self.family,
                                     self.type, self.proto)
            return infos[0][4]
        return address

    def accept(self):
        fd, addr = self._retry(self._accept, READ, "SOCKET_ACCEPT")
        sock = socket(self.family, self.type, self.proto, fileno=fd)
        # As the stdlib: the new socket has the default timeout, but a
        # listening socket with a timeout and no default gives blocking.
        if _o.getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)
        return sock, addr

    def connect(self, address):
        err = self._connect(address)
        if err:
            raise OSError(err, os.strerror(err))

    def connect_ex(self, address):
        try:
            return self._connect(address)
        except OSError as exc:
            if exc.errno is None:
                raise
            return exc.errno

    def _connect(self, address):
        address = self._resolved(address)
        try:
            _Base.connect(self, address)
            return 0
        except BlockingIOError:
            if self._vt_timeout == 0.0:
                raise
        self._wait(WRITE, self._deadline(), "SOCKET_CONNECT")
        return self.getsockopt(_std.SOL_SOCKET, _std.SO_ERROR)

    def recv(self, *args):
        return self._retry(_Base.recv, READ, "SOCKET_RECV", self, *args)

    def recv_into(self, *args):
        return self._retry(_Base.recv_into, READ, "SOCKET_RECV", self, *args)

    def recvfrom(self, *args):
        return self._retry(_Base.recvfrom, READ, "SOCKET_RECV", self, *args)

    def recvfrom_into(self, *args):
        return self._retry(_Base.recvfrom_into, READ, "SOCKET_RECV", self,
                           *args)

    def recvmsg(self, *args):
        return self._retry(_Base.recvmsg, READ, "SOCKET_RECV", self, *args)

    def recvmsg_into(self, *args):
        return self._retry(_Base.recvmsg_into, READ, "SOCKET_RECV", self,
                           *args)

    def send(self, *args):
        return self._retry(_Base.send, WRITE, "SOCKET_SEND", self, *args)

    def sendto(self, *args):
        return self._retry(_Base.sendto, WRITE, "SOCKET_SEND", self, *args)

    def sendmsg(self, *args):
        return self._retry(_Base.sendmsg, WRITE, "SOCKET_SEND", self, *args)

    def sendall(self, data, flags=0):
        view = memoryview(data).cast("B")
        deadline = None
        total = len(view)
        sent = 0
        while sent < total:
            try:
                sent += _Base.send(self, view[sent:], flags)
            except BlockingIOError:
                if self._vt_timeout == 0.0:
                    raise
                if deadline is None:
                    deadline = self._deadline()
                self._wait(WRITE, deadline, "SOCKET_SENDALL")

    def sendfile(self, file, offset=0, count=None):
        # The stdlib's zero-copy path waits in a selector (blocking the
        # carrier); its send() path goes through our cooperative send().
        return self._sendfile_use_send(file, offset, count)


def socketpair(family=None, type=_std.SOCK_STREAM, proto=0):
    if family is None:
        family = getattr(_std, "AF_UNIX", _std.AF_INET)
    a, b = _o.socketpair(family, type, proto)
    return (socket(a.family, a.type, a.proto, a.detach()),
            socket(b.family, b.type, b.proto, b.detach()))


def fromfd(fd, family, type, proto=0):
    return socket(family, type, proto, os.dup(fd))


def create_server(address, *, family=_std.AF_INET, backlog=None,
                  reuse_port=False, dualstack_ipv6=False):
    s = _o.create_server(address, family=family, backlog=backlog,
                         reuse_port=reuse_port, dualstack_ipv6=dualstack_ipv6)
    return socket(s.family, s.type, s.proto, s.detach())


_GLOBAL_DEFAULT_TIMEOUT = _std._GLOBAL_DEFAULT_TIMEOUT


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT,
                      source_address=None, *, all_errors=False):
    """socket.create_connection, connecting cooperatively."""
    host, port = address
    errors = []
    for family, type_, proto, _, sa in _dns.getaddrinfo(
            host, port, 0, _std.SOCK_STREAM):
        sock = None
        try:
            sock = socket(family, type_, proto)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sa)
            errors.clear()
            return sock
        except OSError as exc:
            errors.append(exc)
            if sock is not None:
                sock.close()
    if errors:
        if all_errors:
            raise ExceptionGroup("create_connection failed", errors)
        raise errors[0]
    raise OSError("getaddrinfo returns an empty list")
