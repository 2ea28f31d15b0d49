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
- Every wait follows an operation that failed with EAGAIN (SSL's want-read
  and want-write too), or ``recv``'s short read (below), and the fd behind
  one socket object never changes.  So the waits pass the poller a key
  (``_vt_key``), which lets epoll keep the fd armed between waits instead
  of re-arming it on each one.
- After ``recv(n)`` on a stream returns fewer than n bytes, the next
  ``recv(n)`` waits without trying first (``_vt_drained``); see ``recv``
  and docs/design.md for why no data or end of stream can be missed.

Guard: ``_vt_waiters`` (direction -> ticket) is touched by the waiting
tasks and by ``close`` from any thread, through single dict operations
only (atomic under the GIL, and under the dict's own lock on free-threaded
builds): a waiter claims its direction with ``setdefault``; ``close`` sets
``_vt_closed`` first, then pops every waiter and fires it.  A waiter
checks ``_vt_closed`` after its ``setdefault``, so it is either popped
and fired by close, or sees the flag and fires itself.  ``_vt_drained`` is
a hint of the socket's reader, by plain attribute stores; two readers
racing on it can at worst both wait, and the second one gets
``BusyResourceError``, as two waiting readers always do.
"""

import _socket
import errno
import os
import socket as _std

from .. import _originals as _o
from .._core import clock as _clock
from .._core import TIMEOUT, block
from .._poller import ERR, HUP, READ, WRITE
from . import _dns

_Base = _o.socket_class
_CLOSED = object()
# What a readiness that says the stream ended or failed carries.
_END = HUP | ERR


# A plain int: socket's constant is an IntFlag, whose & costs a Python call.
_DONTWAIT = int(getattr(_std, "MSG_DONTWAIT", 0))


def _dontwait(args, at, kwargs):
    if 0 <= at < len(args):
        flags = args[at]
    elif kwargs:
        flags = kwargs.get("flags", 0)
    else:
        return False
    return isinstance(flags, int) and flags & _DONTWAIT != 0


def _buffers_once(args):
    """recvmsg_into/sendmsg args with their buffers in a list: the call may
    be made again after a wait, and a generator is used up by the first.
    What list() refuses is left for the real call to reject in its words."""
    if args and not isinstance(args[0], (list, tuple)):
        try:
            return (list(args[0]),) + args[1:]
        except TypeError:
            pass
    return args


class BusyResourceError(RuntimeError):
    """Another task is already waiting in that direction on this socket."""


class socket(_Base):
    __slots__ = ("_vt_timeout", "_vt_waiters", "_vt_closed", "_vt_key",
                 "_vt_drained")

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        super().__init__(family, type, proto, fileno)
        self._vt_waiters = {}
        self._vt_closed = False
        # This object's open file, for the poller: a wait here always
        # follows an EAGAIN, so the fd may stay armed between waits.
        self._vt_key = object()
        # recv's hint (see recv): False, True after a short read, None for
        # good (not a stream, or the end or an error was seen).
        self._vt_drained = False if self.type == _std.SOCK_STREAM else None
        # What the C socket chose: the default timeout, 0.0 for a type with
        # SOCK_NONBLOCK, or, for an fd, its own blocking mode.
        self._vt_timeout = _Base.gettimeout(self)
        _Base.setblocking(self, False)

    # --- the user-visible timeout -------------------------------------------

    def settimeout(self, value):
        if value is not None:
            if not isinstance(value, (int, float)):
                raise TypeError("Timeout value must be int, float or None")
            value = float(value)
            if value < 0 or value != value:
                raise ValueError("Timeout value out of range")
        _Base.setblocking(self, False)     # as the stdlib: EBADF if closed
        self._vt_timeout = value

    def gettimeout(self):
        return self._vt_timeout

    @property
    def timeout(self):
        return self._vt_timeout

    def setblocking(self, flag):
        _Base.setblocking(self, False)     # as the stdlib: EBADF if closed
        self._vt_timeout = None if flag else 0.0

    def getblocking(self):
        return self._vt_timeout != 0.0

    # --- waiting ------------------------------------------------------------

    def _deadline(self):
        t = self._vt_timeout
        return None if t is None else _clock.now() + t

    # One function per direction, each a single call: they run on every
    # park.
    def _claim_read(self, ticket):
        if self._vt_waiters.setdefault(READ, ticket) is not ticket:
            raise BusyResourceError(
                "another task is already waiting to read from this socket")
        if self._vt_closed:
            ticket.fire(_CLOSED)

    def _claim_write(self, ticket):
        if self._vt_waiters.setdefault(WRITE, ticket) is not ticket:
            raise BusyResourceError(
                "another task is already waiting to write to this socket")
        if self._vt_closed:
            ticket.fire(_CLOSED)

    def _release_read(self, ticket):
        if self._vt_waiters.get(READ) is ticket:
            self._vt_waiters.pop(READ, None)

    def _release_write(self, ticket):
        if self._vt_waiters.get(WRITE) is ticket:
            self._vt_waiters.pop(WRITE, None)

    def _wait(self, events, deadline, reason):
        fd = self.fileno()
        if fd < 0:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if events == READ:
            claim, release = self._claim_read, self._release_read
        else:
            claim, release = self._claim_write, self._release_write
        value = block(reason, self, claim, release, deadline,
                      io=((fd, events, self._vt_key),))
        if value is not TIMEOUT and value is not _CLOSED:
            # Woken by readiness: our claim is still here, and nobody else
            # can claim this direction while it is.  (A timeout, a
            # cancellation or a claim error released it inside block();
            # close() popped it.)
            self._vt_waiters.pop(events, None)
            # Only readiness (a Ready) is left: close() fires _CLOSED.
            if events == READ and value.events & _END:
                # The peer's end or an error is queued behind the data, and
                # this wake-up was its only edge: recv may never again
                # wait without asking first.
                self._vt_drained = None
        if value is TIMEOUT:
            raise _std.timeout("timed out")
        if value is _CLOSED:
            raise OSError(errno.EBADF, "Bad file descriptor (socket closed "
                          "while waiting)")

    def _retry(self, op, events, reason, flags_at, *args, _deadline=None,
               **kwargs):
        """``op(*args)`` until it does not raise BlockingIOError.  The call's
        flags, if any, are ``args[flags_at]``: MSG_DONTWAIT never waits.
        ``_deadline``: the call's deadline, if it already waited."""
        deadline = _deadline
        while True:
            try:
                return op(*args, **kwargs)
            except BlockingIOError:
                if self._vt_timeout == 0.0 or _dontwait(args, flags_at,
                                                       kwargs):
                    raise
                if deadline is None:
                    deadline = self._deadline()
                self._wait(events, deadline, reason)

    # --- closing --------------------------------------------------------------

    def _real_close(self, _ss=_socket.socket):
        self._vt_closed = True
        waiters = self._vt_waiters
        for events in (READ, WRITE):
            ticket = waiters.pop(events, None)
            if ticket is not None:
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
        fd, addr = self._retry(self._accept, READ, "SOCKET_ACCEPT", -1)
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
        except _std.gaierror:
            raise         # as the stdlib: resolving is not connecting
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
        deadline = self._deadline()
        while True:
            self._wait(WRITE, deadline, "SOCKET_CONNECT")
            err = self.getsockopt(_std.SOL_SOCKET, _std.SO_ERROR)
            if err:
                return err
            try:
                self.getpeername()
                return 0
            except OSError as exc:
                if exc.errno != errno.ENOTCONN:
                    raise
            # Woken but not connected: a stale wake-up while the connect
            # goes on, or a Unix socket whose listener was full (EAGAIN).
            # Asking again tells which: EALREADY or EAGAIN waits again.
            try:
                _Base.connect(self, address)
                return 0
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno != errno.EISCONN:
                    raise
                return 0

    # The flags' position in each call's arguments (self is args[0]).
    def recv(self, *args):
        if self._vt_drained and len(args) == 1 and self._vt_timeout != 0.0:
            # The last recv(n) of this stream came back short: its queue
            # was empty then, and whatever came since raised an edge that
            # the poller either still holds or met with a waiter (or it
            # re-armed the fd, see _poller/_epoll.py).  So wait for it,
            # instead of asking the kernel for an EAGAIN first.
            self._vt_drained = False
            data = None
        else:
            try:               # the common case first, with one frame less
                data = _Base.recv(self, *args)
            except BlockingIOError:
                if self._vt_timeout == 0.0 or (len(args) > 1
                                               and _dontwait(args, 1, None)):
                    raise
                data = None
        if data is None:       # (outside the except: no chained context)
            data = self._recv_after_waits(args)
        if self._vt_drained is False and len(args) == 1 \
                and 0 < len(data) < args[0]:
            self._vt_drained = True
        return data

    def _recv_after_waits(self, args):
        """recv's slow path: wait, then try again (_retry's loop, inline)."""
        deadline = self._deadline()
        while True:
            self._wait(READ, deadline, "SOCKET_RECV")
            try:
                return _Base.recv(self, *args)
            except BlockingIOError:
                if self._vt_timeout == 0.0:
                    raise

    def recv_into(self, *args, **kwargs):
        return self._retry(_Base.recv_into, READ, "SOCKET_RECV", 3, self,
                           *args, **kwargs)

    def recvfrom(self, *args):
        return self._retry(_Base.recvfrom, READ, "SOCKET_RECV", 2, self,
                           *args)

    def recvfrom_into(self, *args, **kwargs):
        return self._retry(_Base.recvfrom_into, READ, "SOCKET_RECV", 3, self,
                           *args, **kwargs)

    def recvmsg(self, *args):
        return self._retry(_Base.recvmsg, READ, "SOCKET_RECV", 3, self, *args)

    def recvmsg_into(self, *args):
        return self._retry(_Base.recvmsg_into, READ, "SOCKET_RECV", 3, self,
                           *_buffers_once(args))

    def send(self, *args):
        return self._retry(_Base.send, WRITE, "SOCKET_SEND", 2, self, *args)

    def sendto(self, *args):
        # sendto(data, address) or sendto(data, flags, address)
        return self._retry(_Base.sendto, WRITE, "SOCKET_SEND",
                           2 if len(args) == 3 else -1, self, *args)

    def sendmsg(self, *args):
        return self._retry(_Base.sendmsg, WRITE, "SOCKET_SEND", 3, self,
                           *_buffers_once(args))

    def sendall(self, data, flags=0):
        sent = 0
        if type(data) is bytes:
            # The common case, without a memoryview: one send takes it all.
            try:
                sent = _Base.send(self, data, flags)
            except BlockingIOError:
                if self._vt_timeout == 0.0 or flags & _DONTWAIT:
                    raise
            if sent == len(data):
                return
        view = memoryview(data).cast("B")
        deadline = None
        total = len(view)
        while sent < total:
            try:
                sent += _Base.send(self, view[sent:], flags)
            except BlockingIOError:
                if self._vt_timeout == 0.0 or flags & _DONTWAIT:
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


_GLOBAL_DEFAULT_TIMEOUT = _std._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT,
                      source_address=None, *, all_errors=False):
    """socket.create_connection, connecting cooperatively."""
    host, port = address
    errors = []
    # socket.socket as it is now -- ours once patched, or a test's mock --
    # but never the blocking original.
    cls = _std.socket if _std.socket is not _Base else socket
    for family, type_, proto, _, sa in _dns.getaddrinfo(
            host, port, 0, _std.SOCK_STREAM):
        sock = None
        try:
            sock = cls(family, type_, proto)
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
