"""A cooperative ``ssl.SSLSocket``.

The stdlib SSLSocket drives OpenSSL on its own fd; on a non-blocking fd
every OpenSSL call that needs the network raises SSLWantReadError or
SSLWantWriteError.  This class sits on the cooperative ``socket`` (MRO:
SSLSocket -> ssl.SSLSocket -> our socket -> socket.socket), so the fd is
non-blocking and the user's timeout is emulated, and it retries each
OpenSSL call after parking on the direction OpenSSL asked for.
Everything else -- plain-text recv before wrapping, connect, accept,
makefile -- already goes through the cooperative socket.

``SSLContext`` is ``ssl.SSLContext`` with ``sslsocket_class`` set to this
class, so ``ctx.wrap_socket(sock)`` gives a cooperative socket.

Threads: as for the socket; one waiter per direction.
"""

import ssl as _ssl

from .._poller import READ, WRITE
from ._socket import socket


class SSLSocket(_ssl.SSLSocket, socket):
    def _ssl_retry(self, reason, fn, *args):
        deadline = None
        while True:
            try:
                return fn(*args)
            except _ssl.SSLWantReadError:
                if self._vt_timeout == 0.0:
                    raise
                events = READ
            except _ssl.SSLWantWriteError:
                if self._vt_timeout == 0.0:
                    raise
                events = WRITE
            if deadline is None:
                deadline = self._deadline()
            self._wait(events, deadline, reason)

    def do_handshake(self, block=False):
        self._check_connected()
        if self._vt_timeout == 0.0 and not block:
            return self._sslobj.do_handshake()
        return self._ssl_retry("SSL_HANDSHAKE", self._sslobj.do_handshake)

    def read(self, len=1024, buffer=None):
        return self._ssl_retry("SSL_READ", _ssl.SSLSocket.read, self, len,
                               buffer)

    def write(self, data):
        return self._ssl_retry("SSL_WRITE", _ssl.SSLSocket.write, self, data)

    def send(self, data, flags=0):
        if self._sslobj is None:
            return socket.send(self, data, flags)
        if flags != 0:
            raise ValueError(
                f"non-zero flags not allowed in calls to send() on {type(self)}")
        return self.write(data)

    def sendall(self, data, flags=0):
        if self._sslobj is None:
            return socket.sendall(self, data, flags)
        if flags != 0:
            raise ValueError(
                f"non-zero flags not allowed in calls to sendall() on {type(self)}")
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            sent += self.write(view[sent:])

    def unwrap(self):
        if not self._sslobj:
            raise ValueError("No SSL wrapper around " + str(self))
        s = self._ssl_retry("SSL_UNWRAP", self._sslobj.shutdown)
        self._sslobj = None
        return s


class SSLContext(_ssl.SSLContext):
    sslsocket_class = SSLSocket
