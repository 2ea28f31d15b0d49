"""Cooperative shapes of the blocking stdlib: drop-ins that park a vthread
(or block a plain thread, cancellably) instead of blocking a carrier.

Built on ``vthreads._core`` (fd waits, scopes) and ``vthreads._sync``.
The real stdlib objects come from ``vthreads._originals``.
"""

from ._socket import (BusyResourceError, create_connection, create_server,
                      fromfd, socket, socketpair)
from ._dns import (getaddrinfo, gethostbyaddr, gethostbyname,
                   gethostbyname_ex, getnameinfo)
from . import _os as os
from . import _signal as signal
from ._executor import VThreadPoolExecutor
from ._subprocess import Popen
from . import _threading as threading
from ._select import (DefaultSelector, EpollSelector, PollSelector,
                      SelectSelector, epoll, poll, select)
from ._ssl import SSLContext, SSLSocket

__all__ = ["BusyResourceError", "Popen", "VThreadPoolExecutor", "os", "signal",
           "threading", "DefaultSelector", "EpollSelector", "PollSelector",
           "SelectSelector",
           "SSLContext", "SSLSocket", "create_connection", "create_server",
           "fromfd", "getaddrinfo", "gethostbyaddr", "gethostbyname",
           "gethostbyname_ex", "getnameinfo", "epoll", "poll", "select",
           "socket", "socketpair"]
